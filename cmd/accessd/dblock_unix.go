//go:build unix

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/accessd/accessd/sqlstore"
)

// lockDatabase keeps a second `accessd serve` off the SQLite file that dsn
// names, until unlock is called or the process ends. Two servers on one
// file would each record their own public URL and run their own engine
// against a database built for one writer; replicas need PostgreSQL, which
// is never locked.
//
// The lock is flock(2) on a file beside the database (accessd.db.lock for
// accessd.db), not on the database itself: SQLite's own locks are fcntl
// locks, which a second descriptor on the database file would disturb. The
// kernel drops the lock when the process dies, however it dies, so a
// restart after kill -9 finds it free. The file stays behind, holding the
// id of the last process that took it, for the error message. Other
// commands (token, migrate) do not take it: SQLite lets them in beside a
// running server.
//
// The returned function keeps the lock file open; the file is closed, and
// the lock with it, only when unlock runs.
func lockDatabase(dsn string) (unlock func(), err error) {
	file, ok := sqlstore.SQLiteFile(dsn)
	if !ok {
		return func() {}, nil
	}
	// One lock per database, whatever symbolic link names it.
	resolved := file
	if real, err := filepath.EvalSymlinks(file); err == nil {
		resolved = real
	}
	lockPath := resolved + ".lock"
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock database %s: %w", file, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := io.ReadAll(io.LimitReader(f, 32))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("database %s is already being served by another accessd (process %s holds %s): stop that server first, or give this one a --database of its own; servers that share a database need PostgreSQL",
				file, strings.TrimSpace(string(holder)), lockPath)
		}
		return nil, fmt.Errorf("lock database %s: %w", file, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
