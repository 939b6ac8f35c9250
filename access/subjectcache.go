package access

import "sync"

// DirectoryVersioner is a Store that can say when no user or service
// principal has changed since an earlier moment. Version moves on after
// every transaction that changed one; ok is false when changes may happen
// where the store cannot see them (another replica), and then nothing is
// cached. A directory object another process creates (accessd token
// creates service principals) needs no new version: only objects found are
// cached, never the absence of one.
type DirectoryVersioner interface {
	DirectoryVersion() (version uint64, ok bool)
}

// maxCachedSubjects bounds the subject cache: about 200 bytes each, so a
// full cache is a few megabytes. Past it the cache starts again empty,
// which is simpler than evicting one by one and as good for pages that
// expand the same few thousand targets over and over.
const maxCachedSubjects = 20000

// subjectCache keeps the subjects that expanded pages looked up, for as
// long as the directory's version stays the one they were read at. A page
// of 100 assignments with $expand=target then costs no directory reads at
// all once its targets have been seen, where it cost a quarter of the
// page's time.
type subjectCache struct {
	mu       sync.Mutex
	version  uint64
	subjects map[string]Subject
}

// lookUp copies into out the subjects of ids cached at version, and
// returns the ids it does not hold.
func (c *subjectCache) lookUp(version uint64, ids []string, out map[string]Subject) (missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version {
		return ids
	}
	for _, id := range ids {
		if sub, ok := c.subjects[id]; ok {
			out[id] = sub
		} else {
			missing = append(missing, id)
		}
	}
	return missing
}

// keep caches subjects read at version. Subjects read at an older version
// than the cache holds are dropped; a newer version empties the cache first.
func (c *subjectCache) keep(version uint64, subjects map[string]Subject) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version < c.version {
		return
	}
	if version > c.version || c.subjects == nil || len(c.subjects)+len(subjects) > maxCachedSubjects {
		c.version, c.subjects = version, make(map[string]Subject, len(subjects))
	}
	for id, sub := range subjects {
		c.subjects[id] = sub
	}
}
