package access

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

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

// VirtualClock is the clock of --dev mode: the machine's time plus an offset
// that only grows. The service stores the offset in the database, so it
// survives restarts.
type VirtualClock struct {
	Base   Clock
	offset atomic.Int64 // nanoseconds
}

func (c *VirtualClock) Now() time.Time { return c.Base.Now().Add(time.Duration(c.offset.Load())) }

// Offset is how far the clock runs ahead of its base.
func (c *VirtualClock) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// SetOffset moves the clock; the service checks that it only moves forward.
func (c *VirtualClock) SetOffset(d time.Duration) { c.offset.Store(int64(d)) }
