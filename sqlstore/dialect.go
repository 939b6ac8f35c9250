package sqlstore

import (
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds everything that differs between the SQL engines accessd
// runs on. The queries themselves are written once, in the SQL that SQLite
// and PostgreSQL share (ON CONFLICT upserts, LIMIT ?, no engine functions),
// with ? placeholders, and so are the migrations. What differs is listed
// here, field by field, and nowhere else:
//
//   - placeholders: ? on SQLite, $1, $2, … on PostgreSQL (rebind);
//   - how a broken UNIQUE constraint and a lost race look in the driver's
//     errors (isUniqueViolation, isRetryable): SQLite's extended result
//     codes, PostgreSQL's SQLSTATE codes; never the message text;
//   - how ClaimWork keeps concurrent claimers apart (claimSuffix);
//   - the isolation of Update and View transactions (updateTx, viewTx):
//     on SQLite writers take turns on one connection and every transaction
//     is serializable already; on PostgreSQL Update runs READ COMMITTED,
//     locking the rows it reads to rewrite (rowLock) and taking the named
//     locks the Service asks for (lockQuery), and is retried when it
//     deadlocks (see Store.Update); View runs REPEATABLE READ READ ONLY,
//     one snapshot per transaction as on SQLite;
//   - telling other processes that work was queued (notifyWork): NOTIFY on
//     PostgreSQL; nothing on SQLite, where one process owns the file and
//     the Service's in-process wake-up is enough;
//   - text order: SQLite compares TEXT byte by byte, PostgreSQL by the
//     database's collation, often a language's. Lists page by id, so the
//     one migration that only PostgreSQL runs,
//     migrations/00003_text_in_byte_order.postgres.sql, declares every TEXT
//     column COLLATE "C" (byte order); its SQLite twin does nothing. A
//     migration file named *.<dialect name>.sql runs on that engine only;
//     every other file runs on both.
//   - one more behaviour that no field can hide: after a failed statement
//     PostgreSQL refuses every further statement of the transaction, where
//     SQLite goes on. So the store never relies on a statement failing
//     inside a transaction that goes on (ON CONFLICT DO NOTHING instead),
//     and callers treat any error from a Tx method as the end of the
//     transaction.
//
// How connections are pooled and set up is the job of each engine's open
// function (openSQLite, openPostgres).
type dialect struct {
	name  string // also the middle part of the migration files only it runs
	goose goose.Dialect
	// rebind turns the ? placeholders of a query into the engine's own.
	rebind func(query string) string
	// isUniqueViolation reports whether err is a broken UNIQUE or PRIMARY KEY constraint.
	isUniqueViolation func(err error) bool
	// losesRaces is true where concurrent Update transactions may fail
	// because of each other, so that Update runs them again; isRetryable
	// reports whether err says that the transaction lost such a race.
	losesRaces  bool
	isRetryable func(err error) bool
	// claimSuffix ends the SELECT with which ClaimWork finds the rows it then
	// leases in the same transaction. On SQLite it is "": the one writer
	// connection runs claims one after another. PostgreSQL needs
	// " FOR UPDATE SKIP LOCKED", so that concurrent claimers skip each
	// other's rows instead of leasing them twice or waiting.
	claimSuffix string
	// updateTx and viewTx are the options Update and View begin their
	// transactions with.
	updateTx, viewTx *sql.TxOptions
	// rowLock ends the SELECT with which an Update transaction reads a
	// request or an assignment, which it usually goes on to rewrite: on
	// PostgreSQL " FOR NO KEY UPDATE", so that two transactions that
	// change the same request take turns and the second reads what the
	// first wrote. "" on SQLite, where writers take turns anyway.
	rowLock string
	// lockQuery is the statement that takes Tx.Lock's named locks, given
	// how many there are and which are shared; nil where Lock does nothing.
	// Its arguments are the names.
	lockQuery func(shared []bool) string
	// notifyWork, when not "", runs last in every Update transaction that
	// queued or rescheduled work. On PostgreSQL it is NOTIFY accessd_work
	// (as pg_notify, to say which schema), delivered to every listener when,
	// and only if, the transaction commits.
	notifyWork string

	// How a List reads the stored JSON document (the doc column) and
	// compares what it finds. Paths are field names from access.FieldsOf,
	// never a client's text.
	//
	// jsonArrayHas is a condition true when the JSON array of strings in
	// column holds the statement's next argument.
	jsonArrayHas func(column string) string
	// jsonText is the text at a path of doc (NULL where there is none).
	jsonText func(path []string) string
	// jsonBool is the boolean at a path of doc.
	jsonBool func(path []string) string
	// microsOf turns an RFC 3339 text expression into microseconds since
	// the Unix epoch, as the store's time columns hold them.
	microsOf func(text string) string
	// boolAsInt turns a boolean expression into 1 or 0, for order keys.
	boolAsInt func(expr string) string
	// boolArg is how a boolean literal is passed.
	boolArg func(b bool) any
}

var sqliteDialect = dialect{
	name:        "sqlite",
	goose:       goose.DialectSQLite3,
	rebind:      func(q string) string { return q }, // SQLite reads ? itself
	claimSuffix: "",
	isUniqueViolation: func(err error) bool {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		// The driver turns on extended result codes, so Code tells which constraint broke.
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
	// Writers take turns on one connection whose transactions begin with
	// BEGIN IMMEDIATE; a lock another process holds is waited for (the busy
	// timeout), so no transaction ever loses a race it could win by retrying.
	losesRaces:  false,
	isRetryable: func(error) bool { return false },
	updateTx:    nil,
	rowLock:     "",
	lockQuery:   nil,
	viewTx:      &sql.TxOptions{ReadOnly: true},
	notifyWork:  "",
	jsonArrayHas: func(column string) string {
		return "EXISTS (SELECT 1 FROM json_each(" + column + ") WHERE json_each.value = ?)"
	},
	jsonText: func(path []string) string { return "json_extract(doc, '$." + strings.Join(path, ".") + "')" },
	jsonBool: func(path []string) string { return "json_extract(doc, '$." + strings.Join(path, ".") + "')" }, // 1 or 0
	microsOf: func(text string) string {
		return "CAST(round(unixepoch(" + text + ", 'subsec') * 1000000) AS INTEGER)"
	},
	boolAsInt: func(expr string) string { return expr },
	boolArg: func(b bool) any {
		if b {
			return 1
		}
		return 0
	},
}

// workChannel is the PostgreSQL notification channel of the work queue.
// Channels belong to a database, not to a schema, so each notification
// carries the name of the schema whose queue changed, and listeners ignore
// those of other schemas (another accessd, another test).
const workChannel = "accessd_work"

// PostgreSQL's SQLSTATE codes that the store acts on.
const (
	pgUniqueViolation      = "23505"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

var postgresDialect = dialect{
	name:        "postgres",
	goose:       goose.DialectPostgres,
	rebind:      dollarPlaceholders,
	claimSuffix: " FOR UPDATE SKIP LOCKED",
	isUniqueViolation: func(err error) bool {
		return pgCode(err) == pgUniqueViolation
	},
	// READ COMMITTED raises no serialization failures (40001) of its own,
	// but a lock taken FOR UPDATE or by name may deadlock (40P01); both
	// are run again.
	losesRaces: true,
	isRetryable: func(err error) bool {
		code := pgCode(err)
		return code == pgSerializationFailure || code == pgDeadlockDetected
	},
	updateTx:     &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	rowLock:      " FOR NO KEY UPDATE",
	lockQuery:    advisoryLocks,
	viewTx:       &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	notifyWork:   "SELECT pg_notify('" + workChannel + "', current_schema())",
	jsonArrayHas: func(column string) string { return column + "::jsonb @> jsonb_build_array(CAST(? AS TEXT))" },
	jsonText:     func(path []string) string { return "(doc::jsonb #>> '{" + strings.Join(path, ",") + "}')" },
	jsonBool:     func(path []string) string { return "((doc::jsonb #>> '{" + strings.Join(path, ",") + "}')::boolean)" },
	microsOf: func(text string) string {
		return "(round(extract(epoch from (" + text + ")::timestamptz) * 1000000))::bigint"
	},
	boolAsInt: func(expr string) string { return "(" + expr + ")::int" },
	boolArg:   func(b bool) any { return b },
}

// pgCode is the SQLSTATE code of a PostgreSQL error, or "" for any other error.
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// dollarPlaceholders numbers the ? placeholders of a query $1, $2, … in
// order, leaving alone a ? inside a string literal. The store's queries use
// none of PostgreSQL's operators that contain a ? (jsonb's ?, ?| and ?&).
func dollarPlaceholders(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted // a doubled '' inside a literal toggles twice
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
