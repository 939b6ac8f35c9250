// Package sqlstore keeps accessd's objects in SQL: in an embedded SQLite file
// by default. Every object is stored as JSON in a doc column next to the few
// columns that lookups, filters and ordering need, so the schema stays small
// and the same on every engine.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/pressly/goose/v3"
)

// Options tune how a Store opens its database.
type Options struct {
	// Synchronous is SQLite's synchronous setting: "normal" (the default)
	// loses nothing when the process dies but may lose the last commits on a
	// power failure; "full" survives power failures and commits more slowly.
	Synchronous string
	// BusyTimeout is how long SQLite waits for a lock another process holds
	// before it gives up; 5 s when zero.
	BusyTimeout time.Duration
	// Logger receives migration progress and failures to roll back; slog.Default() when nil.
	Logger *slog.Logger
}

// Store is an access.Store on an SQL database. It is safe for concurrent use.
type Store struct {
	dialect dialect
	// write runs Update transactions. On SQLite it holds one connection, so
	// writers queue in Go instead of meeting as SQLITE_BUSY inside SQLite.
	write *sql.DB
	// read runs View transactions; on SQLite its connections are read-only.
	read *sql.DB
	log  *slog.Logger
}

var _ access.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database that dsn names: a file path or a file: URI
// for SQLite. It does not migrate; call Migrate for that.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.BusyTimeout == 0 {
		opt.BusyTimeout = 5 * time.Second
	}
	if opt.BusyTimeout < 0 {
		return nil, fmt.Errorf("sqlstore: busy timeout %v is negative", opt.BusyTimeout)
	}
	switch {
	case dsn == "":
		return nil, errors.New("sqlstore: no database given")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return nil, errors.New("sqlstore: PostgreSQL is not supported yet")
	default:
		return openSQLite(ctx, dsn, opt)
	}
}

// Migrate brings the schema up to the newest embedded migration. Running it
// on an up-to-date database does nothing.
func (s *Store) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(s.dialect.goose, s.write, fsys,
		goose.WithSlog(s.log), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		if r.Error == nil {
			s.log.Info("applied database migration", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// Update runs fn in one read-write transaction. An error from fn rolls the
// transaction back and is returned unchanged, so callers can read its Kind.
func (s *Store) Update(ctx context.Context, fn func(access.Tx) error) error {
	return s.run(ctx, s.write, nil, fn)
}

// View runs fn in a read-only transaction that sees one consistent snapshot.
func (s *Store) View(ctx context.Context, fn func(access.Tx) error) error {
	return s.run(ctx, s.read, &sql.TxOptions{ReadOnly: true}, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(access.Tx) error) error {
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return access.Internal(fmt.Errorf("begin transaction: %w", err))
	}
	// Roll back on every way out but a commit, a panic in fn included:
	// otherwise the one writer connection would stay inside the transaction.
	finished := false
	defer func() {
		if finished {
			return
		}
		if err := sqlTx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
			s.log.Error("rolling back a transaction failed", "err", err)
		}
	}()
	if err := fn(&tx{ctx: ctx, sql: sqlTx, dialect: s.dialect}); err != nil {
		return err
	}
	finished = true
	if err := sqlTx.Commit(); err != nil {
		return access.Internal(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// Ping runs a trivial query on a read connection.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return access.Internal(fmt.Errorf("ping: %w", err))
	}
	return nil
}

// Close closes every connection; transactions still running fail.
func (s *Store) Close() error {
	return errors.Join(s.read.Close(), s.write.Close())
}
