package access

import (
	"fmt"
	"slices"
	"testing"
)

// TestSubjectCache checks what the cache answers after each kind of keep:
// a hit only at the version an entry was read at, nothing kept from a read
// older than what is cached, and a fresh start past the size bound.
func TestSubjectCache(t *testing.T) {
	alice := Subject{ID: "a", DisplayName: "Alice"}
	bob := Subject{ID: "b", DisplayName: "Bob"}
	tests := []struct {
		name        string
		keep        func(c *subjectCache)
		ask         []string // a and b when nil
		askAt       uint64
		wantFound   []string
		wantMissing []string
	}{
		{"empty cache", func(c *subjectCache) {}, nil, 0, nil, []string{"a", "b"}},
		{"same version", func(c *subjectCache) { c.keep(3, map[string]Subject{"a": alice}) }, nil, 3, []string{"a"}, []string{"b"}},
		{"newer version asked", func(c *subjectCache) { c.keep(3, map[string]Subject{"a": alice, "b": bob}) }, nil, 4, nil, []string{"a", "b"}},
		{"older read not kept", func(c *subjectCache) {
			c.keep(5, map[string]Subject{"a": alice})
			c.keep(4, map[string]Subject{"b": bob})
		}, nil, 5, []string{"a"}, []string{"b"}},
		{"newer read starts again", func(c *subjectCache) {
			c.keep(5, map[string]Subject{"a": alice})
			c.keep(6, map[string]Subject{"b": bob})
		}, nil, 6, []string{"b"}, []string{"a"}},
		{"past the bound starts again", func(c *subjectCache) {
			many := map[string]Subject{}
			for i := range maxCachedSubjects {
				many[fmt.Sprint(i)] = Subject{ID: fmt.Sprint(i)}
			}
			c.keep(1, many)
			c.keep(1, map[string]Subject{"a": alice})
		}, []string{"0", "a", "b"}, 1, []string{"a"}, []string{"0", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c subjectCache
			tt.keep(&c)
			out := map[string]Subject{}
			ask := tt.ask
			if ask == nil {
				ask = []string{"a", "b"}
			}
			missing := c.lookUp(tt.askAt, ask, out)
			var found []string
			for id := range out {
				found = append(found, id)
			}
			slices.Sort(found)
			if !slices.Equal(found, tt.wantFound) || !slices.Equal(missing, tt.wantMissing) {
				t.Errorf("found %v, missing %v; want %v and %v", found, missing, tt.wantFound, tt.wantMissing)
			}
		})
	}
}
