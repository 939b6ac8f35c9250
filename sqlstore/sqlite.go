package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
)

// openSQLite opens two pools on one SQLite file: a single writer connection
// whose transactions start with BEGIN IMMEDIATE, and read-only connections
// for View. In WAL mode readers never wait for the writer, and since every
// write transaction takes the write lock when it begins, none has to upgrade
// a read lock later, the upgrade that can fail with SQLITE_BUSY at once.
func openSQLite(ctx context.Context, dsn string, opt Options) (*Store, error) {
	if strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory") {
		return nil, errors.New("sqlstore: SQLite needs a file: an in-memory database cannot be shared between the reader and writer connections")
	}
	var synchronous string
	switch strings.ToLower(opt.Synchronous) {
	case "", "normal":
		synchronous = "NORMAL"
	case "full":
		synchronous = "FULL"
	default:
		return nil, fmt.Errorf("sqlstore: synchronous must be normal or full, not %q", opt.Synchronous)
	}

	// The driver applies these parameters to every connection it opens, so a
	// connection the pool opens later is set up like the first one.
	params := url.Values{}
	params.Set("_busy_timeout", fmt.Sprint(opt.BusyTimeout.Milliseconds()))
	params.Set("_foreign_keys", "1")
	params.Set("_journal_mode", "WAL")
	params.Set("_synchronous", synchronous)
	// Savepoints (group commit, groupcommit.go) and statements that may fail
	// halfway keep the pages they change in a sub-journal; in memory that
	// costs a copy, in a temporary file a write system call per page.
	params.Add("_pragma", "temp_store(memory)")
	writeParams, readParams := maps.Clone(params), maps.Clone(params)
	writeParams.Set("_txlock", "immediate")
	// The writer reads every page it changes; a larger page cache than the
	// default 2 MiB saves most of those reads from the file. It fills only
	// as pages are used.
	writeParams.Add("_pragma", "cache_size(-32768)")
	// Checkpoints copy the WAL back into the database file and wait for the
	// disk; a connection of their own runs them (runCheckpoints), so that
	// the writer, which every write waits for, does not. The writer still
	// checkpoints itself should the WAL pass 32 MiB.
	writeParams.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", writerCheckpointPages))
	checkpointParams := maps.Clone(params)
	readParams.Set("_query_only", "1")
	// Each reader keeps its own page cache, which lasts across transactions
	// while nothing is written. A page outside it costs a read system call;
	// 16 MiB holds the upper levels of every index and the directory's hot
	// pages, where the default 2 MiB holds a fraction of one large table's.
	readParams.Add("_pragma", "cache_size(-16384)")

	write := sql.OpenDB(stmtCachingConnector{dsn: withParams(dsn, writeParams), drv: &sqlite.Driver{}})
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	// Open the writer first: it switches a new file to WAL, which a read-only
	// connection could not do.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", dsn, err)
	}

	read := sql.OpenDB(stmtCachingConnector{dsn: withParams(dsn, readParams), drv: &sqlite.Driver{}})
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxIdleTime(0)
	read.SetConnMaxLifetime(0)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", dsn, err)
	}
	checkpoint := sql.OpenDB(stmtCachingConnector{dsn: withParams(dsn, checkpointParams), drv: &sqlite.Driver{}})
	checkpoint.SetMaxOpenConns(1)
	checkpoint.SetMaxIdleConns(1)
	checkpoint.SetConnMaxIdleTime(0)
	checkpoint.SetConnMaxLifetime(0)
	return &Store{dialect: sqliteDialect, write: write, read: read, checkpoint: checkpoint, log: opt.Logger, cache: newRowCache()}, nil
}

// writerCheckpointPages is the WAL size, in 4 KiB pages, past which the
// writer checkpoints itself because runCheckpoints has fallen behind.
const writerCheckpointPages = 8192

// checkpointEvery is how often runCheckpoints copies the WAL into the
// database file. SQLite's own default is every 1,000 pages (4 MiB) of WAL.
const checkpointEvery = 100 * time.Millisecond

// runCheckpoints runs passive checkpoints until the store closes. A passive
// checkpoint never waits for the writer or for readers: it copies what it
// can, and the writer starts the WAL over once everything is copied.
func (s *Store) runCheckpoints() {
	defer s.listeners.Done()
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	failing := false // logged once per run of failures, not ten times a second
	for {
		select {
		case <-s.closing.Done():
			return
		case <-tick.C:
		}
		_, err := s.checkpoint.ExecContext(s.closing, "PRAGMA wal_checkpoint(PASSIVE)")
		switch {
		case s.closing.Err() != nil:
		case err != nil && !failing:
			s.log.Warn("WAL checkpoints fail; the writer checkpoints past 32 MiB of WAL instead", "err", err)
		case err == nil && failing:
			s.log.Info("WAL checkpoints work again")
		}
		failing = err != nil
	}
}

// withParams appends driver parameters to a path or file: URI, which may
// already carry a query of its own.
func withParams(dsn string, params url.Values) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + params.Encode()
}
