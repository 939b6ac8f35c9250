package sqlstore

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// SQLiteFile names the very file SQLite opens (and creates), whatever form
// the dsn takes.
func TestSQLiteFileIsTheFileSQLiteOpens(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		dsn  string
		want string
	}{
		{"plain.db", "plain.db"},
		{filepath.Join(dir, "absolute.db"), filepath.Join(dir, "absolute.db")},
		{"query.db?_busy_timeout=100", "query.db"},
		{"file:uri.db", "uri.db"},
		{"file:uri-query.db?mode=rwc", "uri-query.db"},
		{"file:with%20space.db", "with space.db"},
		{"file:" + filepath.Join(dir, "uri-absolute.db"), filepath.Join(dir, "uri-absolute.db")},
		{"file://" + filepath.Join(dir, "uri-authority.db"), filepath.Join(dir, "uri-authority.db")},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			path, ok := SQLiteFile(tt.dsn)
			if !ok || path != tt.want {
				t.Fatalf("SQLiteFile(%q) = %q, %v; want %q, true", tt.dsn, path, ok, tt.want)
			}
			s, err := Open(context.Background(), tt.dsn, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			s.Close()
			if _, err := os.Stat(path); err != nil {
				t.Errorf("SQLite did not open %s: %v", path, err)
			}
		})
	}
}

func TestSQLiteFileOfDatabasesWithoutAFile(t *testing.T) {
	for _, dsn := range []string{
		"postgres://u@localhost/db",
		"postgresql://u@localhost/db?sslmode=disable",
		":memory:",
		"file::memory:?cache=shared",
		"file:data.db?mode=memory",
		"",
	} {
		if path, ok := SQLiteFile(dsn); ok {
			t.Errorf("SQLiteFile(%q) = %q, true; want no file", dsn, path)
		}
	}
}
