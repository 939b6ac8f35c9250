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
	readParams.Set("_query_only", "1")

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
	return &Store{dialect: sqliteDialect, write: write, read: read, log: opt.Logger}, nil
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
