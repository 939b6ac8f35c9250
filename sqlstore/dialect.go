package sqlstore

import (
	"errors"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds everything that differs between the SQL engines accessd
// runs on. The queries themselves are written once, in the SQL that SQLite
// and PostgreSQL share (ON CONFLICT upserts, LIMIT ?, no engine functions),
// with ? placeholders; a dialect only renumbers placeholders and recognises
// its driver's errors. How connections are pooled and set up is the job of
// each engine's open function (openSQLite).
//
// A PostgreSQL dialect will also need: rebind turning ? into $1, $2, …;
// id columns declared COLLATE "C" (or ORDER BY … COLLATE "C"), because
// keyset paging relies on the byte order SQLite uses; and View running at
// REPEATABLE READ, for one snapshot per transaction as on SQLite.
type dialect struct {
	name  string
	goose goose.Dialect
	// rebind turns the ? placeholders of a query into the engine's own.
	rebind func(query string) string
	// isUniqueViolation reports whether err is a broken UNIQUE or PRIMARY KEY constraint.
	isUniqueViolation func(err error) bool
	// claimSuffix ends the SELECT with which ClaimWork finds the rows it then
	// leases in the same transaction. On SQLite it is "": the one writer
	// connection runs claims one after another. PostgreSQL needs
	// " FOR UPDATE SKIP LOCKED", so that concurrent claimers skip each
	// other's rows instead of leasing them twice or waiting.
	claimSuffix string
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
}
