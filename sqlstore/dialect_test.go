package sqlstore

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgconn"
)

// PostgreSQL errors are told apart by their SQLSTATE code alone: a message
// depends on the server's language and version, a code does not.
func TestPostgresErrorsByCode(t *testing.T) {
	d := postgresDialect
	for _, tc := range []struct {
		err              error
		unique, retrying bool
	}{
		{&pgconn.PgError{Code: "23505", Message: "doppelter Schlüsselwert verletzt Unique-Constraint"}, true, false},
		{fmt.Errorf("exec: %w", &pgconn.PgError{Code: "23505"}), true, false},
		{&pgconn.PgError{Code: "23503", Message: "duplicate key value violates unique constraint"}, false, false},
		{errors.New(`ERROR: duplicate key value violates unique constraint "users_upn" (SQLSTATE 23505)`), false, false},
		{&pgconn.PgError{Code: "40001", Message: "could not serialize access"}, false, true},
		{fmt.Errorf("commit: %w", &pgconn.PgError{Code: "40P01"}), false, true},
		{&pgconn.PgError{Code: "25P02", Message: "current transaction is aborted"}, false, false},
		{errors.New("could not serialize access due to concurrent update (SQLSTATE 40001)"), false, false},
		{nil, false, false},
	} {
		if got := d.isUniqueViolation(tc.err); got != tc.unique {
			t.Errorf("isUniqueViolation(%v) = %v", tc.err, got)
		}
		if got := d.isRetryable(tc.err); got != tc.retrying {
			t.Errorf("isRetryable(%v) = %v", tc.err, got)
		}
		if sqliteDialect.isRetryable(tc.err) || sqliteDialect.isUniqueViolation(tc.err) {
			t.Errorf("SQLite's dialect takes %v for one of its own", tc.err)
		}
	}
}

func TestDollarPlaceholders(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT 1":                                           "SELECT 1",
		"SELECT doc FROM users WHERE id = ?":                 "SELECT doc FROM users WHERE id = $1",
		"INSERT INTO t (a, b, c) VALUES (?, ?, ?)":           "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)",
		"SELECT ? FROM t WHERE a = 'who?' AND b = ?":         "SELECT $1 FROM t WHERE a = 'who?' AND b = $2",
		"SELECT 'it''s ?' , ? , '?'":                         "SELECT 'it''s ?' , $1 , '?'",
		"x IN (" + marks(11) + ") LIMIT ?":                   "x IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) LIMIT $12",
		"VALUES (?, 'current', ?, ?) ON CONFLICT DO NOTHING": "VALUES ($1, 'current', $2, $3) ON CONFLICT DO NOTHING",
	} {
		if got := dollarPlaceholders(q); got != want {
			t.Errorf("dollarPlaceholders(%q)\n got %q\nwant %q", q, got, want)
		}
	}
}

// Every migration runs on both engines, but for pairs named
// *.sqlite.sql and *.postgres.sql, which run on one each.
func TestMigrationsPerEngine(t *testing.T) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	all, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []dialect{sqliteDialect, postgresDialect} {
		excluded, err := otherDialectsMigrations(fsys, d.name)
		if err != nil {
			t.Fatal(err)
		}
		versions := map[string]string{}
		for _, name := range all {
			if slices.Contains(excluded, name) {
				continue
			}
			v := name[:5]
			if other, ok := versions[v]; ok {
				t.Errorf("%s runs both %s and %s", d.name, other, name)
			}
			versions[v] = name
		}
		if len(versions) != len(all)-len(excluded) || len(excluded) == 0 {
			t.Errorf("%s runs %v, excludes %v", d.name, versions, excluded)
		}
	}
	// The engines run the same versions.
	s, _ := otherDialectsMigrations(fsys, "sqlite")
	p, _ := otherDialectsMigrations(fsys, "postgres")
	if len(s) != len(p) {
		t.Errorf("SQLite skips %v, PostgreSQL %v: the engines would not record the same versions", s, p)
	}
	if _, err := otherDialectsMigrations(fstestFS("00009_x.mysql.sql"), "sqlite"); err == nil {
		t.Error("a migration for an unknown engine was accepted")
	}
}

func fstestFS(names ...string) fs.FS {
	m := fstest.MapFS{}
	for _, n := range names {
		m[n] = &fstest.MapFile{Data: []byte("-- +goose Up\nSELECT 1;\n")}
	}
	return m
}
