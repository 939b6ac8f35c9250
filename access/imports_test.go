package access

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The domain imports the standard library only (see doc.go). The test reads
// the import lines of every .go file of this directory, whatever its build
// constraints, except the tests, which may use test helpers.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, spec := range f.Imports {
			path, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				t.Fatalf("%s: import %s: %v", name, spec.Path.Value, err)
			}
			if !isStandard(path) {
				t.Errorf("%s imports %q: package access may import the standard library only", name, path)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("found no .go files to check")
	}
}

// isStandard reports whether an import path is in the standard library:
// the first element of every other path is a domain name, with a dot.
// "C" is cgo, not a package of the standard library.
func isStandard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return path != "C" && !strings.Contains(first, ".")
}

func TestIsStandard(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"fmt", true},
		{"encoding/json", true},
		{"net/http/httptest", true},
		{"github.com/segmentio/encoding/json", false},
		{"golang.org/x/sync/errgroup", false},
		{"github.com/accessd/accessd/sqlstore", false},
		{"example.com", false},
		{"C", false},
	} {
		if got := isStandard(tc.path); got != tc.want {
			t.Errorf("isStandard(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}
