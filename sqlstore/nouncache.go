package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// On SQLite the rows of catalogs, access packages, policies and custom
// extensions are cached in memory: every request reads its package, policy
// and extensions when it is submitted, and every callout body its package,
// catalog and policy, while they change only when an administrator edits
// them. Only one process serves an SQLite file (it holds a lock), so every
// write to these tables goes through this Store, which can tell when the
// cache must be dropped. PostgreSQL has no cache: replicas share the
// database and would not hear of each other's writes.
//
// The cache holds what the rows were as of a generation. A transaction
// that writes to one of the tables counts as a writer from its first such
// write until it has ended, committed or not; then the generation moves
// on, which drops every entry. While any writer is counted nobody reads
// from the cache or fills it: a transaction committed with the same group
// (group commit) sees the writer's rows, and the cache does not. A
// transaction reads the generation when it begins and uses the cache only
// while the generation is still that one, so a reader whose snapshot is
// older than a write never fills the cache with what that write replaced.

// cachedTables are the tables whose rows the cache keeps; a write
// statement that names one ends the cache's generation.
var cachedTables = []string{"catalogs", "access_packages", "assignment_policies", "custom_extensions",
	"package_incompatibilities", "policy_extension_bindings"}

// maxCachedRows bounds the cache; past it, it starts over.
const maxCachedRows = 4096

type rowCache struct {
	mu      sync.Mutex
	gen     uint64
	writers int
	rows    map[string][]any // by query and argument: the row's column values, or the list's
}

func newRowCache() *rowCache { return &rowCache{rows: map[string][]any{}} }

// generation is what a transaction notes when it begins.
func (c *rowCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// lookup returns the cached values of key, if a transaction that began at
// generation gen may use them.
func (c *rowCache) lookup(gen uint64, key string) ([]any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writers > 0 || c.gen != gen {
		return nil, false
	}
	v, ok := c.rows[key]
	return v, ok
}

// fill keeps what a transaction that began at generation gen read.
func (c *rowCache) fill(gen uint64, key string, values []any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writers > 0 || c.gen != gen {
		return
	}
	if len(c.rows) >= maxCachedRows {
		clear(c.rows)
	}
	c.rows[key] = values
}

func (c *rowCache) writerStarted() {
	c.mu.Lock()
	c.writers++
	c.mu.Unlock()
}

// writerEnded is called once a writer's transaction is over, whether it
// committed or not.
func (c *rowCache) writerEnded() {
	c.mu.Lock()
	c.gen++
	c.writers--
	clear(c.rows)
	c.mu.Unlock()
}

// notesWrite counts t as a writer of cached rows if query writes to one of
// their tables. Only statements run through exec write.
func (t *tx) notesWrite(query string) {
	if t.cache == nil || t.cacheWriter {
		return
	}
	for _, table := range cachedTables {
		if strings.Contains(query, table) {
			t.cacheWriter = true
			t.cache.writerStarted()
			return
		}
	}
}

// ended tells the cache that t's transaction is over.
func (t *tx) ended() {
	if t.cacheWriter {
		t.cacheWriter = false
		t.cache.writerEnded()
	}
}

// getCached is get through the cache: the row's columns are kept as the
// driver returned them and scanned again for every reader, so no reader
// shares a value with another. A missing row is not cached.
func getCached[T any](t *tx, scan func(scanner) (T, error), notFound error, columns int, query, arg string) (T, error) {
	if t.cache == nil {
		return get(t, scan, notFound, query, arg)
	}
	key := query + "\x00" + arg
	if values, ok := t.cache.lookup(t.cacheGen, key); ok {
		v, err := scan(replay(values))
		if err != nil {
			return v, t.fail(err)
		}
		return v, nil
	}
	values := make([]any, columns)
	dest := make([]any, columns)
	for i := range values {
		dest[i] = &values[i]
	}
	var zero T
	err := t.queryRow(query, arg).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return zero, notFound
	}
	if err != nil {
		return zero, t.fail(err)
	}
	t.cache.fill(t.cacheGen, key, values)
	v, err := scan(replay(values))
	if err != nil {
		return v, t.fail(err)
	}
	return v, nil
}

// listStringsCached is a list of strings through the cache.
func listStringsCached(t *tx, query, arg string) ([]string, error) {
	if t.cache == nil {
		return list(t, scanString, query, arg)
	}
	key := query + "\x00" + arg
	if values, ok := t.cache.lookup(t.cacheGen, key); ok {
		out := make([]string, len(values))
		for i, v := range values {
			out[i] = v.(string)
		}
		return slices.Clip(out), nil
	}
	out, err := list(t, scanString, query, arg)
	if err != nil {
		return nil, err
	}
	values := make([]any, len(out))
	for i, s := range out {
		values[i] = s
	}
	t.cache.fill(t.cacheGen, key, values)
	return out, nil
}

// replay scans cached column values as if they came from the database.
type replay []any

func (r replay) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("sqlstore: cached row has %d columns, %d scanned", len(r), len(dest))
	}
	for i, d := range dest {
		switch d := d.(type) {
		case *[]byte:
			switch v := r[i].(type) {
			case []byte:
				*d = slices.Clone(v)
			case string:
				*d = []byte(v)
			case nil:
				*d = nil
			default:
				return fmt.Errorf("sqlstore: cached column %d is %T, scanned into []byte", i, v)
			}
		case *sql.NullString:
			switch v := r[i].(type) {
			case []byte:
				*d = sql.NullString{String: string(v), Valid: true}
			case string:
				*d = sql.NullString{String: v, Valid: true}
			case nil:
				*d = sql.NullString{}
			default:
				return fmt.Errorf("sqlstore: cached column %d is %T, scanned into NullString", i, v)
			}
		default:
			return fmt.Errorf("sqlstore: a cached column cannot be scanned into %T", d)
		}
	}
	return nil
}
