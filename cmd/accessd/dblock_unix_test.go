//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lockOrFail takes the lock on dsn, released when the test ends.
func lockOrFail(t *testing.T, dsn string) func() {
	t.Helper()
	unlock, err := lockDatabase(dsn)
	if err != nil {
		t.Fatalf("lockDatabase(%s): %v", dsn, err)
	}
	t.Cleanup(unlock)
	return unlock
}

// flock locks belong to an open file, so a second lock from this very
// process is refused as one from another process would be.
func TestLockDatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "accessd.db")
	link := filepath.Join(dir, "link.db")
	if err := os.WriteFile(db, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(db, link); err != nil {
		t.Fatal(err)
	}
	unlock := lockOrFail(t, db)

	for _, dsn := range []string{db, link, "file:" + db + "?mode=rw"} {
		_, err := lockDatabase(dsn)
		if err == nil {
			t.Fatalf("a second lock on %s was granted", dsn)
		}
		named, _ := strings.CutPrefix(strings.TrimSuffix(dsn, "?mode=rw"), "file:")
		for _, want := range []string{
			"database " + named + " is already being served by another accessd",
			"process " + strconv.Itoa(os.Getpid()) + " holds " + db + ".lock",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("lockDatabase(%s) = %q; want it to say %q", dsn, err, want)
			}
		}
	}
	lockOrFail(t, filepath.Join(dir, "other.db")) // another database is another lock

	unlock()
	lockOrFail(t, db)
}

func TestLockDatabaseLeavesDatabasesWithoutAFileAlone(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, dsn := range []string{"postgres://u@localhost/db", "postgresql://u@localhost/db"} {
		lockOrFail(t, dsn)
		lockOrFail(t, dsn) // replicas share a PostgreSQL database
	}
	wantEmptyDir(t, ".")
}

// A second server on the same SQLite file stops with an error naming the
// file while the first goes on serving; once the first is killed, a new
// one starts. token and migrate run beside a server.
func TestOneServerPerSQLiteFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills real processes")
	}
	bin := buildBinary(t)
	db := filepath.Join(t.TempDir(), "accessd.db")
	first := startServer(t, bin, "--database", db)
	token := mintToken(t, bin, db, "--app", "lock", "--roles", "EntitlementManagement.Read.All")
	if out, err := exec.Command(bin, "migrate", "--database", db).CombinedOutput(); err != nil {
		t.Errorf("accessd migrate beside a server: %v\n%s", err, out)
	}

	second := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--database", db)
	var stdout, stderr strings.Builder
	second.Stdout, second.Stderr = &stdout, &stderr
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- second.Wait() }()
	select {
	case err := <-exited:
		if err == nil {
			t.Errorf("a second serve on %s exited 0", db)
		}
	case <-time.After(30 * time.Second):
		second.Process.Kill()
		t.Fatalf("a second serve on %s is still running; stdout %q", db, stdout.String())
	}
	if want := "accessd: database " + db + " is already being served by another accessd"; !strings.Contains(stderr.String(), want) {
		t.Errorf("the second serve said %q, want %q", stderr.String(), want)
	}
	if stdout.Len() != 0 {
		t.Errorf("the second serve printed %q", stdout.String())
	}
	wantStatus(t, first.url, token, 200, "")

	first.kill(t)
	third := startServer(t, bin, "--database", db)
	wantStatus(t, third.url, token, 200, "")
	third.stop(t)
}
