package access

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// The years a time may fall in: what Graph's DateTimeOffset can write, and
// what every time accessd stores, computes or moves its clock to stays within.
var (
	MinTime = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, time.December, 31, 23, 59, 59, 999999999, time.UTC)
)

// InTimeRange reports whether t lies in the years 0001 to 9999.
func InTimeRange(t time.Time) bool { return !t.Before(MinTime) && !t.After(MaxTime) }

// Clock is where every rule reads the time, so tests and the virtual clock of
// --dev mode can move it.
type Clock interface {
	Now() time.Time
}

// SystemClock reads the machine's clock in UTC.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now().UTC() }

// IDSource makes ids for new objects. Tests inject a predictable one.
type IDSource interface {
	NewID() string
}

// TimeOrderedIDs makes version 7 UUIDs: random, yet ordered by creation time,
// so listing by id lists in creation order and keyset paging stays stable.
type TimeOrderedIDs struct {
	Clock Clock

	mu   sync.Mutex
	last uint64 // last millisecond<<12 | counter, so ids within one ms still ascend
}

func (g *TimeOrderedIDs) NewID() string {
	ms := uint64(g.Clock.Now().UnixMilli())
	g.mu.Lock()
	seq := ms << 12
	if seq <= g.last {
		seq = g.last + 1
	}
	g.last = seq
	g.mu.Unlock()

	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the runtime guarantees this never happens
	}
	ts := seq >> 12
	binary.BigEndian.PutUint16(b[4:6], uint16(ts)) // low 16 bits of the ms, high 32 below
	binary.BigEndian.PutUint32(b[0:4], uint32(ts>>16))
	b[6] = 0x70 | byte(seq>>8&0x0f) // version 7 and the top bits of the counter
	b[7] = byte(seq)
	b[8] = 0x80 | b[8]&0x3f // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// VirtualClock is the clock of --dev mode: the machine's time, moved
// forward. It is kept as an anchor, a pair of times (the machine's time and
// the virtual time it stood for), rather than as an offset, because an
// offset in time.Duration holds only 292 years and the clock may move as far
// as the year 9999. The service stores the anchor in the database, so it
// survives restarts and replicas share it.
type VirtualClock struct {
	Base   Clock
	anchor atomic.Pointer[clockAnchor] // nil: the clock has never moved
}

type clockAnchor struct{ base, virtual time.Time }

func (c *VirtualClock) Now() time.Time { return c.at(c.Base.Now()) }

// at is the virtual time when the base clock reads base.
func (c *VirtualClock) at(base time.Time) time.Time {
	a := c.anchor.Load()
	if a == nil {
		return base
	}
	// A clock moved to the last moments of 9999 stops there rather than
	// run into years that no date in the API can show.
	if now := a.virtual.Add(base.Sub(a.base)); now.Before(MaxTime) {
		return now
	}
	return MaxTime
}

// Anchor is the pair of times the clock runs from; ok is false until it has moved.
func (c *VirtualClock) Anchor() (base, virtual time.Time, ok bool) {
	a := c.anchor.Load()
	if a == nil {
		return time.Time{}, time.Time{}, false
	}
	return a.base, a.virtual, true
}

// SetAnchor makes the clock read virtual when its base reads base. The
// service checks that it only moves forward.
func (c *VirtualClock) SetAnchor(base, virtual time.Time) {
	c.anchor.Store(&clockAnchor{base: base.UTC(), virtual: virtual.UTC()})
}

// Offset is how far the clock runs ahead of its base, at most about 292
// years (time.Duration's range); for logs and tests.
func (c *VirtualClock) Offset() time.Duration {
	base := c.Base.Now()
	return c.at(base).Sub(base)
}
