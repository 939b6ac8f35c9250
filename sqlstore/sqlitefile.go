package sqlstore

import (
	"net/url"
	"strings"
)

// SQLiteFile is the path of the file an SQLite dsn names, as Open reads
// dsn; ok is false for a PostgreSQL URL and for an in-memory database,
// which have no file. Callers use it to say which file they mean, and to
// find it before SQLite would create it.
func SQLiteFile(dsn string) (path string, ok bool) {
	if isPostgres(dsn) || strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory") {
		return "", false
	}
	if !strings.HasPrefix(dsn, "file:") {
		// The driver cuts the query off a plain path.
		path, _, _ = strings.Cut(dsn, "?")
		return path, path != ""
	}
	// A file: URI, as SQLite reads it: file:data.db, file:/abs/data.db,
	// file:///abs/data.db, with %-escapes and a query.
	u, err := url.Parse(dsn)
	if err != nil {
		return "", false
	}
	path = u.Path
	if u.Opaque != "" {
		if path, err = url.PathUnescape(u.Opaque); err != nil {
			return "", false
		}
	}
	return path, path != ""
}

// isPostgres reports whether dsn is a PostgreSQL URL rather than an SQLite file.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
