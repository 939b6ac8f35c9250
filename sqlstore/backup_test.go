package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/access/accesstest"
	"github.com/accessd/accessd/sqlstore"
	_ "modernc.org/sqlite"
)

func openMigrated(t *testing.T, dsn string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// A backup taken while the database is written holds every write that
// committed before it began, checks out, and restores to a database that
// a store opens and reads.
func TestBackupWhileWritingAndRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := openMigrated(t, filepath.Join(dir, "live.db"))

	var mu sync.Mutex
	var committed []string
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("u-%05d", i)
			if err := live.Update(ctx, func(tx access.Tx) error { return tx.PutUser(accesstest.NewUser(id)) }); err != nil {
				t.Errorf("write %s: %v", id, err)
				return
			}
			mu.Lock()
			committed = append(committed, id)
			mu.Unlock()
		}
	}()
	waitCommitted := func(n int) []string {
		for {
			mu.Lock()
			got := append([]string(nil), committed...)
			mu.Unlock()
			if len(got) >= n {
				return got
			}
		}
	}
	before := waitCommitted(50)
	backup := filepath.Join(dir, "backup.db")
	check, err := sqlstore.BackupSQLite(ctx, filepath.Join(dir, "live.db"), backup)
	if err != nil {
		t.Fatalf("backup while writing: %v", err)
	}
	waitCommitted(len(before) + 20) // the writer went on beside the backup
	close(stop)
	writer.Wait()
	if check.Version != check.Newest || check.Version == 0 || check.Bytes == 0 {
		t.Errorf("backup check = %+v, want the newest migration and some bytes", check)
	}

	restored := filepath.Join(dir, "restored.db")
	if _, err := sqlstore.RestoreSQLite(ctx, backup, restored); err != nil {
		t.Fatalf("restore: %v", err)
	}
	back := openMigrated(t, restored)
	err = back.View(ctx, func(tx access.Tx) error {
		for _, id := range before {
			if _, err := tx.User(id); err != nil {
				return fmt.Errorf("user %s, written before the backup began: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestBackupRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	openMigrated(t, live)
	existing := filepath.Join(dir, "existing.db")
	writeFile(t, existing, "keep me")
	if _, err := sqlstore.BackupSQLite(ctx, live, existing); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("backup onto an existing file: %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("the existing file now holds %q", b)
	}
	if _, err := sqlstore.BackupSQLite(ctx, "postgres://x@127.0.0.1/db", filepath.Join(dir, "pg.db")); !errors.Is(err, sqlstore.ErrNotSQLite) {
		t.Errorf("backup of PostgreSQL: %v, want ErrNotSQLite", err)
	}
	if _, err := sqlstore.BackupSQLite(ctx, filepath.Join(dir, "missing.db"), filepath.Join(dir, "b1.db")); err == nil {
		t.Error("backup of a missing database succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("backup of a missing database created it: %v", err)
	}
	empty := filepath.Join(dir, "empty.db")
	db, err := sql.Open("sqlite", empty)
	if err != nil {
		t.Fatal(err)
	}
	db.Exec("CREATE TABLE t (x)")
	db.Close()
	if _, err := sqlstore.BackupSQLite(ctx, empty, filepath.Join(dir, "b2.db")); err == nil || !strings.Contains(err.Error(), "no accessd schema") {
		t.Errorf("backup of a database without accessd's schema: %v, want a refusal", err)
	}
	for _, name := range []string{"b1.db", "b2.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed backup left %s behind", name)
		}
	}
}

func TestRestoreRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	openMigrated(t, live)
	backup := filepath.Join(dir, "backup.db")
	if _, err := sqlstore.BackupSQLite(ctx, live, backup); err != nil {
		t.Fatal(err)
	}

	// Never over a database, nor beside a write-ahead log SQLite would apply.
	if _, err := sqlstore.RestoreSQLite(ctx, backup, live); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("restore over a database: %v, want a refusal", err)
	}
	target := filepath.Join(dir, "target.db")
	writeFile(t, target+"-wal", "old log")
	if _, err := sqlstore.RestoreSQLite(ctx, backup, target); err == nil || !strings.Contains(err.Error(), "-wal") {
		t.Errorf("restore beside an old WAL: %v, want a refusal", err)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused restore created %s", target)
	}

	// Not a database, a damaged one, one from a newer accessd.
	garbage := filepath.Join(dir, "garbage.db")
	writeFile(t, garbage, strings.Repeat("not a database ", 100))
	damaged := filepath.Join(dir, "damaged.db")
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4096; i < len(b); i += 4096 { // every page but the first loses its header
		copy(b[i:i+8], "\xff\xff\xff\xff\xff\xff\xff\xff")
	}
	writeFile(t, damaged, string(b))
	newer := filepath.Join(dir, "newer.db")
	if _, err := sqlstore.BackupSQLite(ctx, live, newer); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, 1)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, tt := range []struct{ backup, want string }{
		{garbage, "not an SQLite database"},
		{damaged, "integrity check"},
		{newer, "newer than this accessd knows"},
		{filepath.Join(dir, "missing.db"), "no such file"},
	} {
		to := filepath.Join(dir, "to-"+filepath.Base(tt.backup))
		if _, err := sqlstore.RestoreSQLite(ctx, tt.backup, to); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("restore of %s: %v, want an error saying %q", filepath.Base(tt.backup), err, tt.want)
		}
		if _, err := os.Stat(to); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused restore of %s created the database", filepath.Base(tt.backup))
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
