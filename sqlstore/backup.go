package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"modernc.org/sqlite"
)

// Backups of SQLite databases. A backup is taken with VACUUM INTO on a
// connection of its own: SQLite writes a consistent snapshot of the
// database as one read transaction sees it, while a server goes on writing
// (in WAL mode readers and the writer never wait for each other). The copy
// is compact, an ordinary database file without a WAL beside it.

// ErrNotSQLite is returned for a PostgreSQL URL, which pg_dump backs up.
var ErrNotSQLite = errors.New("not an SQLite database")

// FileCheck is what CheckSQLiteFile found in a database file.
type FileCheck struct {
	Version int64 // the newest migration applied to it
	Newest  int64 // the newest migration this build knows
	Bytes   int64
}

// BackupSQLite writes a consistent copy of the SQLite database that dsn
// names to dest, which must not exist, and checks the copy. It only reads
// the database, so it runs beside a server that serves it.
func BackupSQLite(ctx context.Context, dsn, dest string) (FileCheck, error) {
	file, ok := SQLiteFile(dsn)
	if !ok {
		return FileCheck{}, ErrNotSQLite
	}
	if _, err := os.Stat(file); err != nil {
		return FileCheck{}, fmt.Errorf("database %s: %w", file, err)
	}
	if err := checkIsAccessdDatabase(ctx, dsn, file); err != nil {
		return FileCheck{}, err
	}
	// O_EXCL: a file that exists, or appears meanwhile, is never written
	// over. VACUUM INTO fills the empty file.
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return FileCheck{}, fmt.Errorf("%s already exists: a backup never writes over a file; name a new one", dest)
		}
		return FileCheck{}, err
	}
	out.Close()
	done := false
	defer func() {
		if !done {
			os.Remove(dest)
		}
	}()
	db := sql.OpenDB(stmtCachingConnector{dsn: withParams(dsn, url.Values{"_busy_timeout": {"5000"}}), drv: &sqlite.Driver{}})
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dest); err != nil {
		return FileCheck{}, fmt.Errorf("back up %s: %w", file, err)
	}
	if err := syncFile(dest); err != nil {
		return FileCheck{}, fmt.Errorf("back up %s: %w", file, err)
	}
	check, err := CheckSQLiteFile(ctx, dest)
	if err != nil {
		return FileCheck{}, fmt.Errorf("the backup %s does not check out: %w", dest, err)
	}
	done = true
	return check, nil
}

// checkIsAccessdDatabase refuses a file that holds no accessd schema, so
// that a backup of the wrong file fails at once rather than at restore.
func checkIsAccessdDatabase(ctx context.Context, dsn, file string) error {
	db := sql.OpenDB(stmtCachingConnector{dsn: withParams(dsn, url.Values{"_busy_timeout": {"5000"}, "_query_only": {"1"}}), drv: &sqlite.Driver{}})
	defer db.Close()
	if _, err := migrationVersion(ctx, db); err != nil {
		return fmt.Errorf("database %s: %w", file, err)
	}
	return nil
}

// CheckSQLiteFile checks a database file without changing it: SQLite's
// integrity check passes, and it is an accessd database whose schema this
// build can serve (no migration newer than the ones it knows).
func CheckSQLiteFile(ctx context.Context, file string) (FileCheck, error) {
	info, err := os.Stat(file)
	if err != nil {
		return FileCheck{}, err
	}
	if !info.Mode().IsRegular() {
		return FileCheck{}, fmt.Errorf("%s is not a regular file", file)
	}
	if err := checkSQLiteHeader(file); err != nil {
		return FileCheck{}, err
	}
	dsn := "file:" + (&url.URL{Path: file}).EscapedPath() + "?mode=ro&_query_only=1&_busy_timeout=5000"
	db := sql.OpenDB(stmtCachingConnector{dsn: dsn, drv: &sqlite.Driver{}})
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return FileCheck{}, fmt.Errorf("integrity check: %w", err)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return FileCheck{}, fmt.Errorf("integrity check: %w", err)
		}
		problems = append(problems, line)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return FileCheck{}, fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) != 1 || problems[0] != "ok" {
		if len(problems) > 5 {
			problems = append(problems[:5], "…")
		}
		return FileCheck{}, fmt.Errorf("integrity check failed: %s", strings.Join(problems, "; "))
	}
	version, err := migrationVersion(ctx, db)
	if err != nil {
		return FileCheck{}, err
	}
	newest, err := newestMigration()
	if err != nil {
		return FileCheck{}, err
	}
	if version > newest {
		return FileCheck{}, fmt.Errorf("its schema is at migration %d, newer than this accessd knows (%d): use the accessd release that wrote it, or a later one", version, newest)
	}
	return FileCheck{Version: version, Newest: newest, Bytes: info.Size()}, nil
}

// checkSQLiteHeader refuses a file that is not an SQLite database before
// SQLite is asked to open it.
func checkSQLiteHeader(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	header := make([]byte, 16)
	if _, err := io.ReadFull(f, header); err != nil || string(header) != "SQLite format 3\x00" {
		return fmt.Errorf("%s is not an SQLite database", file)
	}
	return nil
}

// migrationVersion is the newest migration goose recorded in db.
func migrationVersion(ctx context.Context, db *sql.DB) (int64, error) {
	var version sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT MAX(version_id) FROM goose_db_version WHERE is_applied").Scan(&version)
	if err != nil || !version.Valid {
		return 0, errors.New("it holds no accessd schema (no record of migrations)")
	}
	return version.Int64, nil
}

// newestMigration is the newest migration this build knows: files are
// named <version>_<name>[.<engine>].sql.
func newestMigration() (int64, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return 0, err
	}
	var newest int64
	for _, name := range names {
		digits, _, _ := strings.Cut(path.Base(name), "_")
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migration %s has no version: %w", name, err)
		}
		newest = max(newest, v)
	}
	return newest, nil
}

// RestoreSQLite puts a backup in place as the SQLite database dsn names,
// after checking it. It refuses when a database is there already (or a
// write-ahead log of one, which SQLite would apply to the restored file):
// the operator moves the old files away first. The caller keeps servers
// off the file meanwhile (serve's lock).
func RestoreSQLite(ctx context.Context, backup, dsn string) (FileCheck, error) {
	file, ok := SQLiteFile(dsn)
	if !ok {
		return FileCheck{}, ErrNotSQLite
	}
	check, err := CheckSQLiteFile(ctx, backup)
	if err != nil {
		return FileCheck{}, fmt.Errorf("backup %s: %w", backup, err)
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		if _, err := os.Lstat(file + suffix); err == nil {
			return FileCheck{}, fmt.Errorf("%s exists: restore never writes over a database; move %s and its -wal and -shm files away first", file+suffix, file)
		}
	}
	// Copy beside the target, then link it into place: the database
	// appears whole or not at all, and never replaces a file that
	// appeared meanwhile.
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".restoring-*")
	if err != nil {
		return FileCheck{}, err
	}
	defer os.Remove(tmp.Name())
	in, err := os.Open(backup)
	if err != nil {
		tmp.Close()
		return FileCheck{}, err
	}
	_, err = io.Copy(tmp, in)
	in.Close()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return FileCheck{}, fmt.Errorf("copy %s: %w", backup, err)
	}
	if err := os.Link(tmp.Name(), file); err != nil {
		return FileCheck{}, fmt.Errorf("put the backup in place as %s: %w", file, err)
	}
	if err := syncDir(filepath.Dir(file)); err != nil {
		return FileCheck{}, err
	}
	return check, nil
}

// syncFile flushes a file, and the directory that names it, to the disk.
func syncFile(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(file))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
