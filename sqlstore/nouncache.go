package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// On SQLite the rows of catalogs, access packages, policies and custom
// extensions are cached in memory: every request reads its package, policy
// and extensions when it is submitted, and every callout body its package,
// catalog and policy, while they change only when an administrator edits
// them. Only one process serves an SQLite file (it holds a lock), so every
// write to these tables goes through this Store, which can tell when the
// cache must be dropped.
//
// On PostgreSQL other replicas write the same tables unseen, so the
// generation is kept in the database instead: triggers on the cached tables
// add one to the single row of cache_generation in the writing transaction
// (migration 00012). A transaction reads that number once, before its first
// cached row, and uses what was cached at that generation; a row missing
// from the cache is read in one statement together with the generation it
// belongs to, so every cached row is exactly what the database held at its
// generation. That costs one statement per transaction and saves one per
// cached row.
//
// The cache holds what the rows were as of a generation. A transaction
// that writes to one of the tables counts as a writer from its first such
// write until it has ended, committed or not; then the generation moves
// on, which drops every entry. While any writer is counted nobody reads
// from the cache or fills it: a transaction committed with the same group
// (group commit) sees the writer's rows, and the cache does not. A
// transaction reads the generation when it begins and uses the cache only
// while the generation is still that one, so a reader whose snapshot is
// older than a write never fills the cache with what that write replaced.

// cachedTables are the tables whose rows the cache keeps; a write
// statement that names one ends the cache's generation.
var cachedTables = []string{"catalogs", "access_packages", "assignment_policies", "custom_extensions",
	"package_incompatibilities", "policy_extension_bindings"}

// maxCachedRows bounds the cache; past it, it starts over.
const maxCachedRows = 4096

type rowCache struct {
	mu sync.Mutex
	// shared is true where the generation comes from the database
	// (PostgreSQL), not from this process's count of ended writers.
	shared  bool
	gen     uint64
	writers int
	rows    map[string][]any // by query and argument: the row's column values, or the list's
}

func newRowCache() *rowCache { return &rowCache{rows: map[string][]any{}} }

// newSharedRowCache is the cache of a Store whose generations are read
// from the database's cache_generation row.
func newSharedRowCache() *rowCache { return &rowCache{shared: true, rows: map[string][]any{}} }

// generation is what a transaction notes when it begins.
func (c *rowCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// lookup returns the cached values of key, if a transaction that began at
// generation gen may use them.
func (c *rowCache) lookup(gen uint64, key string) ([]any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writers > 0 || c.gen != gen {
		return nil, false
	}
	v, ok := c.rows[key]
	return v, ok
}

// fill keeps what a transaction that began at generation gen read.
// On PostgreSQL gen is the generation read with the row, which may be
// newer than any this process has seen: the cache then moves on to it.
func (c *rowCache) fill(gen uint64, key string, values []any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shared && gen > c.gen {
		c.gen = gen
		clear(c.rows)
	}
	if c.writers > 0 || c.gen != gen {
		return
	}
	if len(c.rows) >= maxCachedRows {
		clear(c.rows)
	}
	c.rows[key] = values
}

func (c *rowCache) writerStarted() {
	c.mu.Lock()
	c.writers++
	c.mu.Unlock()
}

// writerEnded is called once a writer's transaction is over, whether it
// committed or not.
func (c *rowCache) writerEnded() {
	c.mu.Lock()
	if !c.shared {
		c.gen++ // on PostgreSQL the trigger moved the database's on
	}
	c.writers--
	clear(c.rows)
	c.mu.Unlock()
}

// notesWrite counts t as a writer of cached rows if query writes to one of
// their tables. Only statements run through exec write.
func (t *tx) notesWrite(query string) {
	if t.cacheWriter {
		return
	}
	for _, table := range cachedTables {
		if strings.Contains(query, table) {
			t.cacheWriter = true
			t.cache.writerStarted()
			return
		}
	}
}

// observe moves a shared cache on to the database's generation gen, which
// a transaction has just read.
func (c *rowCache) observe(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen > c.gen {
		c.gen = gen
		clear(c.rows)
	}
}

// generationOf is the generation t may use cached rows of. On PostgreSQL
// it is read from the database the first time t asks.
func (t *tx) generationOf() (uint64, error) {
	if !t.cache.shared || t.cacheGenRead {
		return t.cacheGen, nil
	}
	var gen int64
	if err := t.queryRow(selectGeneration).Scan(&gen); err != nil {
		return 0, t.fail(err)
	}
	t.cacheGen, t.cacheGenRead = uint64(gen), true
	t.cache.observe(t.cacheGen)
	return t.cacheGen, nil
}

const selectGeneration = "SELECT n FROM cache_generation"

// withGeneration is query, which names the columns of at most one row or
// of a list of strings, rewritten to return the generation first and then
// its columns, from one snapshot: NULLs when query finds nothing, and the
// list in the order of its first column.
func withGeneration(query string) string {
	return "SELECT g.n, q.* FROM cache_generation g LEFT JOIN (" + query + ") q ON true ORDER BY 2"
}

// ended tells the cache that t's transaction is over; from now on t
// refuses even reads the cache could answer.
func (t *tx) ended() {
	t.over = true
	if t.cacheWriter {
		t.cacheWriter = false
		t.cache.writerEnded()
	}
}

// getCached is get through the cache: the row's columns are kept as the
// driver returned them and scanned again for every reader, so no reader
// shares a value with another. A missing row is not cached.
func getCached[T any](t *tx, scan func(scanner) (T, error), notFound error, columns int, query, arg string) (T, error) {
	var zero T
	if t.over {
		return zero, t.fail(sql.ErrTxDone)
	}
	if t.cacheWriter {
		return get(t, scan, notFound, query, arg)
	}
	gen, err := t.generationOf()
	if err != nil {
		return zero, err
	}
	key := query + "\x00" + arg
	if values, ok := t.cache.lookup(gen, key); ok {
		v, err := scan(replay(values))
		if err != nil {
			return v, t.fail(err)
		}
		return v, nil
	}
	values := make([]any, columns)
	dest := make([]any, 0, columns+1)
	var readGen int64 // on PostgreSQL: the generation read with the row
	if t.cache.shared {
		dest = append(dest, &readGen)
		query = withGeneration(query)
	}
	for i := range values {
		dest = append(dest, &values[i])
	}
	err = t.queryRow(query, arg).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) || err == nil && values[0] == nil {
		return zero, notFound
	}
	if err != nil {
		return zero, t.fail(err)
	}
	if t.cache.shared {
		gen = uint64(readGen)
	}
	t.cache.fill(gen, key, values)
	v, err := scan(replay(values))
	if err != nil {
		return v, t.fail(err)
	}
	return v, nil
}

// listStringsCached is a list of strings through the cache.
func listStringsCached(t *tx, query, arg string) ([]string, error) {
	if t.over {
		return nil, t.fail(sql.ErrTxDone)
	}
	if t.cacheWriter {
		return list(t, scanString, query, arg)
	}
	gen, err := t.generationOf()
	if err != nil {
		return nil, err
	}
	key := query + "\x00" + arg
	if values, ok := t.cache.lookup(gen, key); ok {
		out := make([]string, len(values))
		for i, v := range values {
			out[i] = v.(string)
		}
		return slices.Clip(out), nil
	}
	var out []string
	if t.cache.shared {
		gen, out, err = listStringsWithGeneration(t, query, arg)
	} else {
		out, err = list(t, scanString, query, arg)
	}
	if err != nil {
		return nil, err
	}
	values := make([]any, len(out))
	for i, s := range out {
		values[i] = s
	}
	t.cache.fill(gen, key, values)
	return out, nil
}

// listStringsWithGeneration reads a list of strings and the generation it
// belongs to in one statement.
func listStringsWithGeneration(t *tx, query, arg string) (gen uint64, out []string, err error) {
	rows, err := t.queryRows(withGeneration(query), arg)
	if err != nil {
		return 0, nil, t.fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n int64
		var s sql.NullString
		if err := rows.Scan(&n, &s); err != nil {
			return 0, nil, t.fail(err)
		}
		gen = uint64(n)
		if s.Valid {
			out = append(out, s.String)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, t.fail(err)
	}
	return gen, out, nil
}

// replay scans cached column values as if they came from the database.
type replay []any

func (r replay) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("sqlstore: cached row has %d columns, %d scanned", len(r), len(dest))
	}
	for i, d := range dest {
		switch d := d.(type) {
		case *[]byte:
			switch v := r[i].(type) {
			case []byte:
				*d = slices.Clone(v)
			case string:
				*d = []byte(v)
			case nil:
				*d = nil
			default:
				return fmt.Errorf("sqlstore: cached column %d is %T, scanned into []byte", i, v)
			}
		case *sql.NullString:
			switch v := r[i].(type) {
			case []byte:
				*d = sql.NullString{String: string(v), Valid: true}
			case string:
				*d = sql.NullString{String: v, Valid: true}
			case nil:
				*d = sql.NullString{}
			default:
				return fmt.Errorf("sqlstore: cached column %d is %T, scanned into NullString", i, v)
			}
		default:
			return fmt.Errorf("sqlstore: a cached column cannot be scanned into %T", d)
		}
	}
	return nil
}
