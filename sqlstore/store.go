// Package sqlstore keeps accessd's objects in SQL: in an embedded SQLite file
// by default, or in PostgreSQL, which several accessd replicas can share.
// Every object is stored as JSON in a doc column next to the few columns
// that lookups, filters and ordering need, so the schema stays small and the
// same on every engine. dialect.go lists what differs between the engines.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
)

// Options tune how a Store opens its database. The SQLite settings are
// ignored on PostgreSQL and the pool settings on SQLite.
type Options struct {
	// Synchronous is SQLite's synchronous setting: "normal" (the default)
	// loses nothing when the process dies but may lose the last commits on a
	// power failure; "full" survives power failures and commits more slowly.
	Synchronous string
	// BusyTimeout is how long SQLite waits for a lock another process holds
	// before it gives up; 5 s when zero.
	BusyTimeout time.Duration

	// MaxOpenConns caps the connections to PostgreSQL that one Store opens
	// for its transactions; 20 when zero. Every replica has its own pool, and
	// each also holds one connection while it listens for work
	// (WorkNotifications), so replicas × (MaxOpenConns + 1) must stay below
	// the server's max_connections (100 by default, 3 of them reserved).
	MaxOpenConns int
	// MaxIdleConns is how many of those connections stay open while unused;
	// MaxOpenConns when zero, so that bursts do not pay for new connections.
	MaxIdleConns int
	// ConnMaxIdleTime closes a connection unused for that long; 5 minutes when zero.
	ConnMaxIdleTime time.Duration
	// ConnMaxLifetime closes a connection after that long, so that a pool
	// finds a server that moved (a failover, a new proxy); 1 hour when zero.
	ConnMaxLifetime time.Duration

	// Logger receives migration progress and failures to roll back; slog.Default() when nil.
	Logger *slog.Logger
	// Observer, when set, hears of transactions, group commits and lost races.
	Observer Observer
}

// Store is an access.Store on an SQL database. It is safe for concurrent use.
type Store struct {
	dialect dialect
	// write runs Update transactions. On SQLite it holds one connection, so
	// writers queue in Go instead of meeting as SQLITE_BUSY inside SQLite.
	// On PostgreSQL it is the same pool as read.
	write *sql.DB
	// read runs View transactions; on SQLite its connections are read-only.
	read *sql.DB
	// checkpoint runs SQLite's WAL checkpoints (runCheckpoints); nil on PostgreSQL.
	checkpoint *sql.DB
	log        *slog.Logger
	observer   Observer // nil: nobody listens

	// pg is the PostgreSQL connection configuration, for the connections
	// that listen for notifications outside the pool; nil on SQLite.
	pg *pgx.ConnConfig

	// retries counts the transactions run again after losing a race.
	retries atomic.Int64
	// counts is what Counts reports.
	counts counters
	// directoryVersion moves on after every Update that wrote a user or a
	// service principal (see DirectoryVersion).
	directoryVersion atomic.Uint64
	// cache keeps catalog rows in memory (nouncache.go).
	cache *rowCache
	// turns lets an Update transaction that keeps losing races run alone:
	// Update transactions hold it for reading, such a one for writing.
	turns sync.RWMutex
	// listenerPID is the server process of the newest listening
	// connection, so that tests can break it; 0 before the first.
	listenerPID atomic.Uint32

	// jobs carries Update transactions to the writer goroutine on SQLite,
	// which commits them in groups (groupcommit.go); nil on PostgreSQL.
	jobs chan writeJob

	// closing ends the listeners and the writer; listeners is how many of
	// them are running.
	closing   context.Context
	close     context.CancelFunc
	listeners sync.WaitGroup
}

var _ access.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database that dsn names: a postgres:// or
// postgresql:// URL for PostgreSQL, else a file path or a file: URI for
// SQLite. It does not migrate; call Migrate for that.
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
	if opt.MaxOpenConns < 0 || opt.MaxIdleConns < 0 || opt.ConnMaxIdleTime < 0 || opt.ConnMaxLifetime < 0 {
		return nil, errors.New("sqlstore: connection pool settings must not be negative")
	}
	var s *Store
	var err error
	switch {
	case dsn == "":
		return nil, errors.New("sqlstore: no database given")
	case isPostgres(dsn):
		s, err = openPostgres(ctx, dsn, opt)
	default:
		s, err = openSQLite(ctx, dsn, opt)
	}
	if err != nil {
		return nil, err
	}
	s.observer = opt.Observer
	s.closing, s.close = context.WithCancel(context.Background())
	if !s.dialect.losesRaces {
		s.jobs = make(chan writeJob)
		s.listeners.Add(2)
		go s.runWriter()
		go s.runCheckpoints()
	}
	return s, nil
}

// Engine names the database engine: "sqlite" or "postgres".
func (s *Store) Engine() string { return s.dialect.name }

// Migrate brings the schema up to the newest embedded migration. Running it
// on an up-to-date database does nothing. On PostgreSQL it holds an
// advisory lock while it runs, so replicas that start together migrate one
// after the other; the others then find nothing left to do.
func (s *Store) Migrate(ctx context.Context) error {
	var opts []goose.ProviderOption
	if s.pg != nil {
		locker, err := s.migrationLocker(ctx)
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := s.migrationProvider(s.write, opts...)
	if err != nil {
		return err
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

// migrationProvider is goose on db with this engine's embedded migrations.
func (s *Store) migrationProvider(db *sql.DB, extra ...goose.ProviderOption) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	exclude, err := otherDialectsMigrations(fsys, s.dialect.name)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	opts := append([]goose.ProviderOption{goose.WithSlog(s.log), goose.WithDisableGlobalRegistry(true),
		goose.WithExcludeNames(exclude)}, extra...)
	p, err := goose.NewProvider(s.dialect.goose, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	return p, nil
}

// otherDialectsMigrations lists the migration files that belong to another
// engine: a file named <version>_<name>.<dialect>.sql runs only on that one.
func otherDialectsMigrations(fsys fs.FS, dialect string) ([]string, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var exclude []string
	for _, name := range names {
		base := strings.TrimSuffix(name, ".sql")
		dot := strings.LastIndexByte(base, '.')
		if dot < 0 {
			continue // runs everywhere
		}
		switch only := base[dot+1:]; only {
		case sqliteDialect.name, postgresDialect.name:
			if only != dialect {
				exclude = append(exclude, name)
			}
		default:
			return nil, fmt.Errorf("migration %s names no engine accessd knows", name)
		}
	}
	return exclude, nil
}

// Transactions that lose races: how often Update runs one at most, and
// after how many lost races it runs alone among the Store's transactions.
// Running alone holds back only this process's transactions: replicas on
// one database keep racing it. Under SERIALIZABLE, on a small, busy
// database a request once lost 10 races in a row under CI's load and was
// answered 500; READ COMMITTED loses races only to deadlocks, which are
// rare, and the bound stays as a backstop. 25 attempts wait about 5 s in
// all before giving up.
const (
	maxAttempts = 25
	aloneAfter  = 3
)

// Update runs fn in one read-write transaction. An error from fn rolls the
// transaction back and is returned unchanged, so callers can read its Kind.
//
// On PostgreSQL the transaction is READ COMMITTED: each statement sees what
// was committed when it began. A request or an assignment that fn reads is
// locked until the end (FOR NO KEY UPDATE), so fn may read, change and
// write it back; a rule that spans rows ("count the open requests, then
// insert one") is held by a constraint or by the named locks fn takes with
// Tx.Lock before it reads (locks.go). When PostgreSQL finds that two
// transactions deadlocked (SQLSTATE 40P01), or, from a statement that
// asked for it, could not run one after the other (40001), it fails one of
// them; Update then rolls it back and runs fn again from the start, in a new
// transaction, after a short random pause (about 1–2 ms after the first lost
// race, doubling each time up to 250 ms), up to maxAttempts runs in all;
// then it returns an internal error. So that a transaction that keeps losing does
// not starve while newer ones win, its runs after the third lost race wait
// for this Store's other Update transactions to end and keep new ones from
// starting until they end: within one replica it then cannot lose. fn must
// therefore work only through its Tx, and may only set, never accumulate,
// what it hands out through variables it closes over.
//
// On SQLite, where writers take turns, the Update transactions waiting for
// their turn commit together, each in a savepoint (see groupcommit.go). fn
// then runs once, unless the group as a whole fails, when it runs again
// alone. Once fn has started it runs to the end even if ctx is canceled.
func (s *Store) Update(ctx context.Context, fn func(access.Tx) error) (err error) {
	if ended := s.transactionStarted(ctx, true); ended != nil {
		defer func() { ended(err) }()
	}
	s.counts.writeTransactions.Add(1)
	// DirectoryVersion moves on once a transaction that changed a user or a
	// service principal has ended, not before its commit: a reader that read
	// the version before the commit may have seen the old objects or the new,
	// and what it cached carries a version that is then behind. (A rollback
	// moves it on too, which costs a cache miss and nothing else.)
	changedDirectory := false
	work := fn
	fn = func(atx access.Tx) error {
		err := work(atx)
		if t, ok := atx.(*tx); ok && t.directoryChanged {
			changedDirectory = true
		}
		return err
	}
	defer func() {
		if changedDirectory {
			s.directoryVersion.Add(1)
		}
	}()
	if !s.dialect.losesRaces {
		return s.updateGrouped(ctx, fn)
	}
	for attempt := 1; ; attempt++ {
		err, lost := s.runTurn(ctx, attempt > aloneAfter, fn)
		if lost == nil {
			return err
		}
		if attempt == maxAttempts {
			return access.Internal(fmt.Errorf("sqlstore: a transaction lost a race with others %d times in a row: %w", attempt, lost))
		}
		s.retries.Add(1)
		if s.observer != nil {
			s.observer.RaceLost()
		}
		if err := sleep(ctx, retryPause(attempt)); err != nil {
			return access.Internal(fmt.Errorf("sqlstore: waiting to run a transaction again: %w", err))
		}
	}
}

// runTurn runs an Update transaction once, alone among the Store's Update
// transactions or beside them.
func (s *Store) runTurn(ctx context.Context, alone bool, fn func(access.Tx) error) (err, lost error) {
	if alone {
		s.turns.Lock()
		defer s.turns.Unlock()
	} else {
		s.turns.RLock()
		defer s.turns.RUnlock()
	}
	return s.runOnce(ctx, true, fn)
}

// View runs fn in a read-only transaction that sees one consistent snapshot
// (on PostgreSQL: REPEATABLE READ READ ONLY, which never loses a race).
func (s *Store) View(ctx context.Context, fn func(access.Tx) error) (err error) {
	if ended := s.transactionStarted(ctx, false); ended != nil {
		defer func() { ended(err) }()
	}
	err, _ = s.runOnce(ctx, false, fn)
	return err
}

// retryPause is how long Update waits before its next run: a random time
// between half and all of 2 ms after the first lost race, of 4 ms after the
// second, and so on up to 250 ms, so that transactions that keep meeting
// spread out.
func retryPause(attempt int) time.Duration {
	limit := min(time.Millisecond<<attempt, 250*time.Millisecond)
	return limit/2 + rand.N(limit/2)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runOnce runs fn in one transaction, an Update's when write is true, else
// a View's. lost is not nil when the transaction lost a race and may be run
// again; err is then what fn or the commit said.
func (s *Store) runOnce(ctx context.Context, write bool, fn func(access.Tx) error) (err, lost error) {
	if !write {
		return s.runView(ctx, fn)
	}
	gen := s.cache.generation() // before the transaction's snapshot
	sqlTx, err := s.write.BeginTx(ctx, s.dialect.updateTx)
	if err != nil {
		return access.Internal(fmt.Errorf("begin transaction: %w", err)), nil
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
	t := s.newTx(ctx, sqlTx, gen, write)
	defer t.ended()
	// A statement that lost a race dooms the transaction, whatever fn made
	// of its error: PostgreSQL refuses every later statement.
	if err := fn(t); err != nil || t.lost != nil {
		return err, t.lost
	}
	if t.queuedWork && s.dialect.notifyWork != "" {
		if _, err := t.exec(s.dialect.notifyWork); err != nil {
			return err, t.lost
		}
	}
	finished = true
	if err := sqlTx.Commit(); err != nil {
		if s.dialect.isRetryable(err) {
			return access.Internal(fmt.Errorf("commit: %w", err)), err
		}
		return access.Internal(fmt.Errorf("commit: %w", err)), nil
	}
	return nil, nil
}

// runView runs fn in a read-only transaction that begins with fn's first
// statement: on SQLite a View that reads only cached rows (a callout's
// body) needs none. Both engines take a read transaction's snapshot at its
// first statement anyway, so beginning later changes nothing it sees; the
// cache's generation is read before, as for any transaction.
func (s *Store) runView(ctx context.Context, fn func(access.Tx) error) (err, lost error) {
	t := s.newTx(ctx, nil, s.cache.generation(), false)
	t.begin = func() (*sql.Tx, error) {
		sqlTx, err := s.read.BeginTx(ctx, s.dialect.viewTx)
		if err != nil {
			return nil, access.Internal(fmt.Errorf("begin transaction: %w", err))
		}
		return sqlTx, nil
	}
	committed := false
	defer func() {
		if t.sql != nil && !committed {
			if err := t.sql.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
				s.log.Error("rolling back a transaction failed", "err", err)
			}
		}
	}()
	defer t.ended()
	if err := fn(t); err != nil || t.lost != nil {
		return err, t.lost
	}
	if t.sql == nil {
		return nil, nil
	}
	committed = true
	if err := t.sql.Commit(); err != nil {
		return access.Internal(fmt.Errorf("commit: %w", err)), nil
	}
	return nil, nil
}

// DirectoryVersion says which version of the users and service principals
// this process last wrote; ok is false where others may write them unseen.
// On SQLite one server holds the file (the lock file sees to it), so every
// change goes through this Store and the version is exact; on PostgreSQL
// another replica may change a user at any time, so nothing may be cached.
func (s *Store) DirectoryVersion() (version uint64, ok bool) {
	return s.directoryVersion.Load(), s.pg == nil
}

// newTx is a transaction of the store's on sqlTx, which began at the
// cache's generation gen; write says whether it is an Update's.
func (s *Store) newTx(ctx context.Context, sqlTx *sql.Tx, gen uint64, write bool) *tx {
	return &tx{ctx: ctx, sql: sqlTx, dialect: s.dialect, counts: &s.counts, cache: s.cache, cacheGen: gen, write: write}
}

// Analyze refreshes the statistics the query planners choose indexes by.
// After a bulk load they matter: PostgreSQL, guessing a package holds a
// hundred assignments where it holds ten thousand, sorts them all rather
// than reading the index in order, until autovacuum analyzes the table;
// SQLite keeps no statistics until asked. SQLite samples each index
// (analysis_limit), so this takes a moment even on a large file.
func (s *Store) Analyze(ctx context.Context) error {
	if s.pg == nil {
		for _, stmt := range []string{"PRAGMA analysis_limit = 1000", "ANALYZE"} {
			if _, err := s.write.ExecContext(ctx, stmt); err != nil {
				return access.Internal(fmt.Errorf("analyze: %w", err))
			}
		}
		return nil
	}
	// ANALYZE alone would visit every schema of the database.
	rows, err := s.write.QueryContext(ctx, `SELECT quote_ident(table_name) FROM information_schema.tables
WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		return access.Internal(fmt.Errorf("analyze: %w", err))
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return access.Internal(fmt.Errorf("analyze: %w", err))
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return access.Internal(fmt.Errorf("analyze: %w", err))
	}
	for _, t := range tables {
		if _, err := s.write.ExecContext(ctx, "ANALYZE "+t); err != nil {
			return access.Internal(fmt.Errorf("analyze %s: %w", t, err))
		}
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

// Close ends the listeners of WorkNotifications and closes every
// connection; transactions still running fail.
func (s *Store) Close() error {
	s.close()
	s.listeners.Wait()
	if s.read == s.write {
		return s.write.Close()
	}
	var checkpoint error
	if s.checkpoint != nil {
		checkpoint = s.checkpoint.Close()
	}
	return errors.Join(s.read.Close(), s.write.Close(), checkpoint)
}

// WritesInParallel says whether Update transactions run side by side
// (PostgreSQL) rather than one after another (SQLite): see
// access.ParallelWriter.
func (s *Store) WritesInParallel() bool { return s.pg != nil }
