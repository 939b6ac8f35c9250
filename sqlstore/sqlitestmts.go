package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"

	"modernc.org/sqlite"
)

// SQLite parses a statement again every time a connection runs one that
// database/sql did not prepare; under load that parsing took about a sixth
// of the server's CPU, inside the one writer connection where it holds up
// every other write. stmtCachingConnector gives each connection a cache of
// prepared statements by their text: the driver keeps a prepared statement
// and resets it between runs, so each query is parsed once per connection.

// maxCachedStmts bounds a connection's cache; statements past it are
// prepared and closed as usual.
const maxCachedStmts = 256

type stmtCachingConnector struct {
	dsn string
	drv *sqlite.Driver
}

func (c stmtCachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &stmtCachingConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c stmtCachingConnector) Driver() driver.Driver { return c.drv }

// stmtCachingConn hides the driver's ExecContext and QueryContext, so that
// database/sql always prepares through PrepareContext, where the cache is.
// database/sql uses a connection from one goroutine at a time.
type stmtCachingConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

func (c *stmtCachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *stmtCachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil || len(c.stmts) >= maxCachedStmts {
		return st, err
	}
	cs := &cachedStmt{Stmt: st}
	c.stmts[query] = cs
	return cs, nil
}

func (c *stmtCachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *stmtCachingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *stmtCachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *stmtCachingConn) Close() error {
	var errs []error
	for _, st := range c.stmts {
		errs = append(errs, st.Stmt.Close())
	}
	c.stmts = nil
	return errors.Join(append(errs, c.Conn.Close())...)
}

// cachedStmt stays open when database/sql closes it after a call; the
// connection closes it when it closes itself.
type cachedStmt struct {
	driver.Stmt
}

func (s *cachedStmt) Close() error { return nil }

func (s *cachedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *cachedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}
