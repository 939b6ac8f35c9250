package sqlstore

import (
	"context"
	"database/sql"
	"io/fs"
	"path"
	"slices"
	"strconv"

	"github.com/accessd/accessd/access"
)

// What the external tests (package sqlstore_test, which may import
// storetest) need to see of the inside.

const MaxAttempts = maxAttempts

var ResetTables = resetTables

// Exec runs a statement in tx, the way the store's own methods do.
func Exec(t access.Tx, query string, args ...any) error {
	_, err := t.(*tx).exec(query, args...)
	return err
}

// Retries counts the transactions s ran again after they lost a race.
func Retries(s *Store) int64 { return s.retries.Load() }

// ListenerPID is the server process of s's newest listening connection.
func ListenerPID(s *Store) uint32 { return s.listenerPID.Load() }

// PoolStats describes the pool of s's Update transactions.
func PoolStats(s *Store) sql.DBStats { return s.write.Stats() }

// Strings runs a query outside any transaction and returns its first column.
func Strings(s *Store, query string, args ...any) ([]string, error) {
	rows, err := s.read.QueryContext(context.Background(), s.dialect.rebind(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v.String)
	}
	return out, rows.Err()
}

// Tables lists the tables of s's database (SQLite) or schema (PostgreSQL), by name.
func Tables(s *Store) ([]string, error) {
	if s.pg == nil {
		return Strings(s, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	}
	return Strings(s, `SELECT table_name FROM information_schema.tables
WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
}

// MigrationVersions lists the versions of the embedded migrations, in
// order, each once, as goose records them ("1", "2", …).
func MigrationVersions() ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range names {
		n, err := strconv.Atoi(path.Base(name)[:5])
		if err != nil {
			return nil, err
		}
		if v := strconv.Itoa(n); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// MigrateTo brings s's schema up to version and no further, as an older
// accessd would have left it.
func MigrateTo(ctx context.Context, s *Store, version int64) error {
	p, err := s.migrationProvider(s.write)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// MigrateDownTo rolls s's schema back to version, as an operator going back
// to an older accessd would.
func MigrateDownTo(ctx context.Context, s *Store, version int64) error {
	p, err := s.migrationProvider(s.write)
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, version)
	return err
}
