package sqlstore

import (
	"cmp"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/accessd/accessd/access"
)

// Update transactions on PostgreSQL run READ COMMITTED: each statement
// sees what was committed when it began, and nothing stops two
// transactions from reading the same rows, deciding, and both writing. The
// rules that span rows are therefore held by one of three things, which
// docs/design.md (section 6) lists rule by rule:
//
//   - a constraint of the schema (a unique index: one open request per
//     target and package, a user's userPrincipalName, a role held once);
//   - a row lock: an Update transaction reads a request or an assignment
//     FOR NO KEY UPDATE (dialect.rowLock), so that the transactions that
//     change one request take turns, each reading what the last wrote;
//   - a named lock the Service takes (Tx.Lock) before it checks a rule that
//     neither of the above can hold: PostgreSQL's transaction-scoped
//     advisory locks, on a 64-bit hash of the schema and the name.
//
// On SQLite all three but the constraint are unneeded, since write
// transactions run one at a time, and Lock does nothing.

// Lock takes the named locks in one statement, in name order, exclusive
// before shared where a name comes twice (the exclusive one is then all
// that is taken). Transactions that take several names in one call thus
// take them in the same order and cannot deadlock each other through them.
func (t *tx) Lock(locks ...access.Lock) error {
	if !t.write || t.dialect.lockQuery == nil || len(locks) == 0 {
		return nil
	}
	sorted := slices.Clone(locks)
	slices.SortFunc(sorted, func(a, b access.Lock) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmpBool(a.Shared, b.Shared)
	})
	sorted = slices.CompactFunc(sorted, func(a, b access.Lock) bool { return a.Name == b.Name })
	shared := make([]bool, len(sorted))
	args := make([]any, len(sorted))
	for i, l := range sorted {
		if l.Name == "" {
			return access.Internal(errors.New("sqlstore: a lock needs a name"))
		}
		shared[i], args[i] = l.Shared, l.Name
	}
	_, err := t.exec(t.dialect.lockQuery(shared), args...)
	return err
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	return cmp.Compare(boolInt(a), boolInt(b))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// advisoryLocks is PostgreSQL's lockQuery: one transaction-scoped advisory
// lock per name, on a hash of the schema and the name, so that two accessd
// schemas of one database never wait for each other (a collision of two
// hashes only makes two transactions wait that need not). The functions of
// a SELECT list run left to right.
func advisoryLocks(shared []bool) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, sh := range shared {
		if i > 0 {
			b.WriteString(", ")
		}
		if sh {
			b.WriteString("pg_advisory_xact_lock_shared")
		} else {
			b.WriteString("pg_advisory_xact_lock")
		}
		b.WriteString("(hashtextextended(current_schema() || ' ' || CAST(? AS TEXT), 0))")
	}
	return b.String()
}

// HoldWork locks the work row with the rest of the request and assignment
// rows a transaction rewrites (dialect.rowLock): a second transaction that
// holds the same work waits, and then finds it gone if the first deleted it.
func (t *tx) HoldWork(id string) (bool, error) {
	q := "SELECT 1 FROM work WHERE id = ?"
	if t.write {
		q += t.dialect.rowLock
	}
	var one int
	err := t.queryRow(q, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, t.fail(err)
	}
	return true, nil
}
