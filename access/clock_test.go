package access_test

import (
	"encoding/binary"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/google/uuid"
)

// stepClock is a test clock that only moves when told to.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var uuidText = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// checkUUIDv7 checks the text form and returns the 48-bit millisecond timestamp.
func checkUUIDv7(t *testing.T, id string) uint64 {
	t.Helper()
	if !uuidText.MatchString(id) {
		t.Fatalf("%q is not lower-case UUID text with version 7 and variant 10xx", id)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	if v := b[6] >> 4; v != 7 {
		t.Fatalf("%s: version nibble %d, want 7", id, v)
	}
	if b[8]&0xc0 != 0x80 {
		t.Fatalf("%s: variant bits %02b, want 10", id, b[8]>>6)
	}
	u, err := uuid.Parse(id)
	if err != nil {
		t.Fatalf("uuid.Parse(%q): %v", id, err)
	}
	if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		t.Fatalf("%s: uuid says version %d variant %v", id, u.Version(), u.Variant())
	}
	var ts [8]byte
	copy(ts[2:], b[0:6])
	return binary.BigEndian.Uint64(ts[:])
}

func TestTimeOrderedIDsAscendWithinOneMillisecond(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 123_000_000, time.UTC)
	g := &access.TimeOrderedIDs{Clock: &stepClock{t: at}}
	const n = 10000
	prev := ""
	seen := make(map[string]bool, n)
	for i := range n {
		id := g.NewID()
		if ms := checkUUIDv7(t, id); i < 4096 && ms != uint64(at.UnixMilli()) {
			// The first 4096 ids fit the 12-bit counter of the clock's millisecond.
			t.Fatalf("id %d %s carries ms %d, want %d", i, id, ms, at.UnixMilli())
		}
		if id <= prev {
			t.Fatalf("id %d %s does not sort after %s", i, id, prev)
		}
		if seen[id] {
			t.Fatalf("id %s repeats", id)
		}
		seen[id] = true
		prev = id
	}
}

func TestTimeOrderedIDsLaterMillisecondSortsAfter(t *testing.T) {
	clock := &stepClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	g := &access.TimeOrderedIDs{Clock: clock}
	var last string
	for range 100 {
		last = g.NewID()
	}
	clock.Advance(time.Millisecond)
	next := g.NewID()
	if next <= last {
		t.Fatalf("id of a later ms %s does not sort after %s", next, last)
	}
	if got, want := checkUUIDv7(t, next), uint64(clock.Now().UnixMilli()); got != want {
		t.Errorf("timestamp %d, want %d", got, want)
	}
	// A fresh generator at a later millisecond also sorts after, since the
	// timestamp leads the id.
	clock.Advance(time.Second)
	if other := (&access.TimeOrderedIDs{Clock: clock}).NewID(); other <= next {
		t.Errorf("fresh generator's id %s does not sort after %s", other, next)
	}
}

func TestTimeOrderedIDsClockGoingBackStillAscend(t *testing.T) {
	clock := &stepClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	g := &access.TimeOrderedIDs{Clock: clock}
	a := g.NewID()
	clock.Advance(-time.Second)
	b := g.NewID()
	if b <= a {
		t.Errorf("after the clock went back, %s does not sort after %s", b, a)
	}
	checkUUIDv7(t, b)
}

func TestTimeOrderedIDsConcurrent(t *testing.T) {
	g := &access.TimeOrderedIDs{Clock: &stepClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}}
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				id := g.NewID()
				mu.Lock()
				seen[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 4000 {
		t.Errorf("%d distinct ids from 4000 calls", len(seen))
	}
}

func TestSystemClockIsUTC(t *testing.T) {
	now := access.SystemClock{}.Now()
	if now.Location() != time.UTC {
		t.Errorf("SystemClock location %v, want UTC", now.Location())
	}
	if d := time.Since(now); d < 0 || d > time.Minute {
		t.Errorf("SystemClock is %v away from time.Now", d)
	}
}
