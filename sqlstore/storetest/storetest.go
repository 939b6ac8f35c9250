// Package storetest opens fresh sqlstore databases for tests, on SQLite and
// on PostgreSQL, so that every package's tests can run on both engines.
//
// PostgreSQL tests need a server: ACCESSD_TEST_POSTGRES holds the URL of a
// database on it (for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable) in which the
// tests may create and drop schemas. Without it the PostgreSQL tests are
// skipped, except in CI (CI=true), where they fail. Each store gets a schema
// of its own, dropped when its test ends, so tests may run in parallel.
//
// ACCESSD_TEST_STORE picks the engine of harnesses that test something else
// on top of a store: "sqlite" (the default) or "postgres"; see Backend.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/sqlstore"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// The engines, as Backend names them.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Backends lists every engine, in the order Each runs them.
var Backends = []string{SQLite, Postgres}

// Environment variables the package reads.
const (
	EnvPostgres = "ACCESSD_TEST_POSTGRES" // a PostgreSQL URL the tests may create schemas in
	EnvStore    = "ACCESSD_TEST_STORE"    // the engine Backend picks
)

// Backend is the engine that ACCESSD_TEST_STORE names: "sqlite" when it is
// empty. It panics on a name it does not know, so that a typo in CI does
// not quietly test SQLite twice.
func Backend() string {
	switch b := strings.ToLower(strings.TrimSpace(os.Getenv(EnvStore))); b {
	case "", SQLite:
		return SQLite
	case Postgres, "postgresql", "pg":
		return Postgres
	default:
		panic(fmt.Sprintf("storetest: %s=%q: want %q or %q", EnvStore, b, SQLite, Postgres))
	}
}

// Each runs fn once per engine, as subtests named "sqlite" and "postgres".
// open returns an empty, migrated store of that engine that closes when
// the test that asked for it ends; every call opens a new database (SQLite)
// or schema (PostgreSQL).
func Each(t *testing.T, fn func(t *testing.T, open func(t *testing.T) access.Store)) {
	t.Helper()
	for _, backend := range Backends {
		t.Run(backend, func(t *testing.T) {
			RequireBackend(t, backend)
			fn(t, func(t *testing.T) access.Store { return Open(t, backend) })
		})
	}
}

// Open returns an empty, migrated store on backend ("sqlite" or
// "postgres"), closed when t ends. Its dynamic type is *sqlstore.Store.
func Open(t *testing.T, backend string) access.Store {
	t.Helper()
	return OpenStore(t, backend, sqlstore.Options{})
}

// OpenStore is Open for tests that need the *sqlstore.Store itself or
// options of their own; it takes benchmarks too. opt is completed as
// OpenUnmigrated says.
func OpenStore(tb testing.TB, backend string, opt sqlstore.Options) *sqlstore.Store {
	tb.Helper()
	s := OpenUnmigrated(tb, DSN(tb, backend), opt)
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("storetest: migrate: %v", err)
	}
	return s
}

// TestMaxOpenConns is the pool size of the PostgreSQL stores this package
// opens when the options name none: smaller than sqlstore's default, so
// that test packages running at once, each with a few stores, stay well
// below the server's max_connections (100 by default).
const TestMaxOpenConns = 8

// OpenUnmigrated opens a store on dsn, closed when tb ends. A nil
// opt.Logger discards the store's logs; a zero opt.MaxOpenConns is
// TestMaxOpenConns.
func OpenUnmigrated(tb testing.TB, dsn string, opt sqlstore.Options) *sqlstore.Store {
	tb.Helper()
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opt.MaxOpenConns == 0 {
		opt.MaxOpenConns = TestMaxOpenConns
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlstore.Open(ctx, dsn, opt)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("storetest: closing the store: %v", err)
		}
	})
	return s
}

// DSN returns the name of a new, empty database of backend for
// sqlstore.Open (or accessd's --database): a file in a temporary directory
// for SQLite, the URL of a new schema for PostgreSQL. The schema is dropped
// when tb ends, after the stores opened on it were closed, provided they
// were opened after DSN was called and close in tb's Cleanup.
func DSN(tb testing.TB, backend string) string {
	tb.Helper()
	switch backend {
	case SQLite:
		return filepath.Join(tb.TempDir(), "accessd.db")
	case Postgres:
		RequireBackend(tb, Postgres)
		return newSchema(tb)
	default:
		tb.Fatalf("storetest: unknown backend %q: want %q or %q", backend, SQLite, Postgres)
		return ""
	}
}

// RequireBackend skips tb when backend cannot run here: PostgreSQL without
// ACCESSD_TEST_POSTGRES. In CI (CI=true) it fails tb instead.
func RequireBackend(tb testing.TB, backend string) {
	tb.Helper()
	if backend != Postgres || os.Getenv(EnvPostgres) != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI needs PostgreSQL: set %s", EnvPostgres)
	}
	tb.Skipf("no PostgreSQL to test on: set %s to a database URL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", EnvPostgres)
}

// admins holds one pool per PostgreSQL URL for the whole test binary, with
// which schemas are created and dropped.
var admins struct {
	sync.Mutex
	pools map[string]*sql.DB
}

func admin(dsn string) (*sql.DB, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return nil, fmt.Errorf("%s must be a postgres:// URL", EnvPostgres)
	}
	admins.Lock()
	defer admins.Unlock()
	if db, ok := admins.pools[dsn]; ok {
		return db, nil
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	if admins.pools == nil {
		admins.pools = map[string]*sql.DB{}
	}
	admins.pools[dsn] = db
	return db, nil
}

// newSchema creates a schema with a random name in the database of
// ACCESSD_TEST_POSTGRES and returns its URL with a search_path that names
// that schema alone.
func newSchema(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvPostgres)
	db, err := admin(base)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	schema := "accessd_test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("storetest: create schema on %s: %v", EnvPostgres, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(tb, base, schema)
}

// WithSearchPath returns the PostgreSQL URL dsn with search_path set to schema.
func WithSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("storetest: %s is not a URL: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
