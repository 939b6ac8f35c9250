package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/accessd/accessd/access"
	json "github.com/segmentio/encoding/json"
)

// tx is an access.Tx on one database/sql transaction. Once Update or View
// returns, every method fails with sql.ErrTxDone, wrapped as an internal error.
type tx struct {
	ctx context.Context
	// sql is the database/sql transaction. A View's begins with its first
	// statement (begin), so that one that finds everything it reads in the
	// row cache costs no transaction at all; over is set once the
	// transaction has ended, and every method then fails.
	sql     *sql.Tx
	begin   func() (*sql.Tx, error)
	over    bool
	dialect dialect
	counts  *counters // the store's
	// write is true in an Update transaction, where reads of the rows the
	// transaction goes on to rewrite lock them (dialect.rowLock) and Lock
	// takes its named locks.
	write bool
	// lost is the first error that said the transaction lost a race with
	// another: Update runs it again, whatever fn made of the error.
	lost error
	// queuedWork is set when the transaction announced or rescheduled work, so
	// that other replicas hear of it when it commits (dialect.notifyWork).
	queuedWork bool
	// directoryChanged is set when the transaction wrote or deleted a user
	// or a service principal, so that Update can move DirectoryVersion on.
	directoryChanged bool
	// stored is what this transaction knows of the rows of the requests
	// it read or wrote (see PutRequest).
	stored map[string]storedRequest
	// cache is the Store's row cache (nouncache.go); cacheGen its
	// generation when the transaction began (on PostgreSQL: when it was
	// first needed, and cacheGenRead says whether that was yet);
	// cacheWriter whether the transaction wrote rows it caches.
	cache        *rowCache
	cacheGen     uint64
	cacheGenRead bool
	cacheWriter  bool
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// conn is the transaction's database/sql transaction, begun now if it has
// not been yet.
func (t *tx) conn() (*sql.Tx, error) {
	switch {
	case t.sql != nil:
		return t.sql, nil
	case t.over || t.begin == nil:
		return nil, sql.ErrTxDone
	}
	st, err := t.begin()
	if err != nil {
		return nil, err
	}
	t.sql = st
	return st, nil
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	t.counts.statements.Add(1)
	t.notesWrite(query)
	c, err := t.conn()
	if err != nil {
		return nil, t.fail(err)
	}
	res, err := c.ExecContext(t.ctx, t.dialect.rebind(query), args...)
	if err != nil {
		return nil, t.fail(err)
	}
	return res, nil
}

// execCount runs a statement and reports how many rows it changed.
func (t *tx) execCount(query string, args ...any) (int64, error) {
	res, err := t.exec(query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, access.Internal(err)
	}
	return n, nil
}

// fail turns a driver error into an *access.Error: a broken uniqueness
// constraint is a conflict the client can act on, anything else is internal.
// It notes an error that says the transaction lost a race, which Update
// answers by running the transaction again.
func (t *tx) fail(err error) error {
	if t.lost == nil && t.dialect.isRetryable(err) {
		t.lost = err
	}
	if t.dialect.isUniqueViolation(err) {
		return &access.Error{Kind: access.KindConflict, Message: "another object already has the same key", Err: err}
	}
	return access.Internal(err)
}

// rowLock is what ends a SELECT of a row that the transaction goes on to
// rewrite: the dialect's rowLock in an Update transaction, else nothing.
func (t *tx) rowLock() string {
	if t.write {
		return t.dialect.rowLock
	}
	return ""
}

// queryRows and queryRow run a query of the transaction; with exec, every
// statement the store's methods run goes through them and is counted.
func (t *tx) queryRows(query string, args ...any) (*sql.Rows, error) {
	t.counts.statements.Add(1)
	c, err := t.conn()
	if err != nil {
		return nil, err
	}
	return c.QueryContext(t.ctx, t.dialect.rebind(query), args...)
}

func (t *tx) queryRow(query string, args ...any) scanner {
	t.counts.statements.Add(1)
	c, err := t.conn()
	if err != nil {
		return failedRow{err}
	}
	return c.QueryRowContext(t.ctx, t.dialect.rebind(query), args...)
}

// failedRow is the row of a query that could not run.
type failedRow struct{ err error }

func (r failedRow) Scan(...any) error { return r.err }

// get scans the one row query finds, or returns notFound when there is none.
func get[T any](t *tx, scan func(scanner) (T, error), notFound error, query string, args ...any) (T, error) {
	v, err := scan(t.queryRow(query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return v, notFound
	}
	if err != nil {
		return v, t.fail(err)
	}
	return v, nil
}

// list scans every row query finds.
func list[T any](t *tx, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := t.queryRows(query, args...)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, t.fail(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail(err)
	}
	return out, nil
}

// count runs a query that returns one number.
func (t *tx) count(query string, args ...any) (int, error) {
	var n int
	if err := t.queryRow(query, args...).Scan(&n); err != nil {
		return 0, t.fail(err)
	}
	return n, nil
}

// scanDoc reads a row whose only column is the JSON doc of a T.
func scanDoc[T any](s scanner) (T, error) {
	var v T
	var doc []byte
	if err := s.Scan(&doc); err != nil {
		return v, err
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		return v, fmt.Errorf("decode stored %T: %w", v, err)
	}
	return v, nil
}

// encode is a document about to be written.
func (t *tx) encode(v any) (string, error) {
	t.counts.documents.Add(1)
	b, err := json.Marshal(v)
	if err != nil {
		return "", access.Internal(fmt.Errorf("encode %T: %w", v, err))
	}
	return string(b), nil
}

// checkLimit refuses a limit below 1: a caller's bug, never a client's.
func checkLimit(limit int) error {
	if limit < 1 {
		return access.Internal(fmt.Errorf("sqlstore: limit %d is below 1", limit))
	}
	return nil
}

// pageQuery completes a SELECT … FROM … so that it returns page p ordered by
// idCol. where, when not empty, is a condition the rows must also meet, and
// args are its arguments.
func pageQuery(selectFrom, idCol, where string, p access.Page, args ...any) (string, []any, error) {
	if err := checkLimit(p.Limit); err != nil {
		return "", nil, err
	}
	var b strings.Builder
	b.WriteString(selectFrom)
	b.WriteString(" WHERE ")
	if where != "" {
		b.WriteString(where)
		b.WriteString(" AND ")
	}
	fmt.Fprintf(&b, "%s > ? ORDER BY %s LIMIT ?", idCol, idCol)
	return b.String(), append(args, p.After, p.Limit), nil
}

// listPage lists one page of the docs in table, all of them or those whose
// filterCol equals filter when filter is not "".
func listPage[T any](t *tx, table, filterCol, filter string, p access.Page) ([]T, error) {
	where, args := "", []any(nil)
	if filter != "" {
		where, args = filterCol+" = ?", []any{filter}
	}
	q, args, err := pageQuery("SELECT doc FROM "+table, "id", where, p, args...)
	if err != nil {
		return nil, err
	}
	return list(t, scanDoc[T], q, args...)
}

// countRows counts the rows of table, all of them or those whose filterCol
// equals filter when filter is not "".
func (t *tx) countRows(table, filterCol, filter string) (int, error) {
	if filter == "" {
		return t.count("SELECT COUNT(*) FROM " + table)
	}
	return t.count("SELECT COUNT(*) FROM "+table+" WHERE "+filterCol+" = ?", filter)
}

// deleteByID deletes one row by id, or returns notFound when there was none.
func (t *tx) deleteByID(table, id string, notFound error) error {
	n, err := t.execCount("DELETE FROM "+table+" WHERE id = ?", id)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// upsert builds the statement that inserts a row or replaces every column
// of the row with the same id. cols starts with "id".
func upsert(table string, cols ...string) string {
	sets := make([]string, 0, len(cols)-1)
	for _, c := range cols[1:] {
		sets = append(sets, c+" = excluded."+c)
	}
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (id) DO UPDATE SET %s",
		table, strings.Join(cols, ", "), marks(len(cols)), strings.Join(sets, ", "))
}

// newestFirstQuery completes a SELECT … FROM … so that it returns page p
// ordered by id, descending: After is the smallest id of the previous page.
func newestFirstQuery(selectFrom string, p access.Page) (string, []any, error) {
	if err := checkLimit(p.Limit); err != nil {
		return "", nil, err
	}
	if p.After == "" {
		return selectFrom + " ORDER BY id DESC LIMIT ?", []any{p.Limit}, nil
	}
	return selectFrom + " WHERE id < ? ORDER BY id DESC LIMIT ?", []any{p.After, p.Limit}, nil
}

// conds collects the conditions of a filter, to be AND-ed.
type conds struct {
	sql  []string
	args []any
}

// add appends a condition with its arguments.
func (c *conds) add(cond string, args ...any) {
	c.sql = append(c.sql, cond)
	c.args = append(c.args, args...)
}

// eq appends col = v, unless v is "", which matches everything.
func (c *conds) eq(col, v string) {
	if v != "" {
		c.add(col+" = ?", v)
	}
}

// where is the AND of the conditions, "" when there are none.
func (c *conds) where() string { return strings.Join(c.sql, " AND ") }

// listWhere lists one page of the docs in table that meet c, ordered by id.
func listWhere[T any](t *tx, table string, c conds, p access.Page) ([]T, error) {
	q, args, err := pageQuery("SELECT doc FROM "+table, "id", c.where(), p, c.args...)
	if err != nil {
		return nil, err
	}
	return list(t, scanDoc[T], q, args...)
}

// countWhere counts the rows of table that meet c.
func (t *tx) countWhere(table string, c conds) (int, error) {
	if len(c.sql) == 0 {
		return t.count("SELECT COUNT(*) FROM " + table)
	}
	return t.count("SELECT COUNT(*) FROM "+table+" WHERE "+c.where(), c.args...)
}

// marks returns n comma-separated placeholders, for IN (…).
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
