package graph

import (
	"strings"
	"testing"

	"github.com/accessd/accessd/access"
)

// Regression: a body nested 10,000 levels deep took seconds to read (each
// level built its property path again), and 100,000 took minutes. Bodies
// deeper than maxBodyDepth are now refused, and reading is linear.
func TestDecodeRefusesDeepBodies(t *testing.T) {
	var dst struct{}
	for _, depth := range []int{maxBodyDepth + 1, 10000, 100000} {
		body := `{"a":` + strings.Repeat(`[`, depth) + strings.Repeat(`]`, depth) + `}`
		err := decodeJSON([]byte(body), &dst)
		if access.KindOf(err) != access.KindInvalid || !strings.Contains(err.Error(), "nests deeper") {
			t.Errorf("depth %d: %v, want a 400 saying it nests too deeply", depth, err)
		}
	}
	ok := `{"a":` + strings.Repeat(`[`, maxBodyDepth-1) + strings.Repeat(`]`, maxBodyDepth-1) + `}`
	var any map[string]any
	if err := decodeJSON([]byte(ok), &any); err != nil {
		t.Errorf("a body %d levels deep: %v", maxBodyDepth, err)
	}
	// Paths still name the property at fault, with indexes.
	err := decodeJSON([]byte(`{"a":[{"b":1},{"c":{"d":"x\u0000"}}]}`), &any)
	if err == nil || !strings.Contains(err.Error(), "a[1].c.d") {
		t.Errorf("NUL deep in a body: %v, want it named a[1].c.d", err)
	}
}
