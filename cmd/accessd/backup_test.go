package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/accessd/accessd/access"
)

// accessd backup copies a database that a server is serving and writing;
// accessd restore refuses while a server holds the file, and puts the
// backup in place as a new file, on which a server starts with the data
// (users, and the keys and issuers that keep old tokens valid).
func TestBackupWhileServingAndRestore(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "live.db")
	srv := startServer(t, bin, "--database", db)
	token := mintToken(t, bin, db, "--app", "backup", "--roles", "Directory.ReadWrite.All")
	api := apiClient(t, srv.url, token)

	// A writer creates users until told to stop; the users it created
	// before the backup began must all be in the backup.
	var mu sync.Mutex
	var created []string
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
			u, err := api.CreateUser(t.Context(), access.User{AccountEnabled: true, DisplayName: fmt.Sprint("Backup ", i),
				UserPrincipalName: fmt.Sprintf("backup%d@contoso.test", i)})
			if err != nil {
				t.Errorf("create user %d: %v", i, err)
				return
			}
			mu.Lock()
			created = append(created, u.ID)
			mu.Unlock()
		}
	}()
	createdSoFar := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), created...)
	}
	waitFor(t, "the writer to create 20 users", func() bool { return len(createdSoFar()) >= 20 })
	before := createdSoFar()
	backupFile := filepath.Join(dir, "backup.db")
	out, err := exec.Command(bin, "backup", "--database", db, backupFile).CombinedOutput()
	if err != nil {
		t.Fatalf("accessd backup while serving: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "integrity ok") {
		t.Errorf("accessd backup said %q", out)
	}
	waitFor(t, "the writer to go on beside the backup", func() bool { return len(createdSoFar()) >= len(before)+10 })
	close(stop)
	writer.Wait()

	if out, err := exec.Command(bin, "backup", "--database", db, backupFile).CombinedOutput(); err == nil || !strings.Contains(string(out), "already exists") {
		t.Errorf("a second backup onto %s: %v %s, want a refusal", backupFile, err, out)
	}
	out, err = exec.Command(bin, "restore", "--database", db, backupFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "is already being served by another accessd") {
		t.Errorf("restore onto the served database: %v %s, want a refusal naming the server", err, out)
	}

	restored := filepath.Join(dir, "restored.db")
	if out, err := exec.Command(bin, "restore", "--database", restored, backupFile).CombinedOutput(); err != nil {
		t.Fatalf("accessd restore: %v\n%s", err, out)
	}
	srv.stop(t)
	back := startServer(t, bin, "--database", restored)
	// The token minted before the backup is still good: the keys and the
	// issuer it names came back with the data.
	backAPI := apiClient(t, back.url, token)
	for _, id := range before {
		if _, err := backAPI.GetUser(t.Context(), id); err != nil {
			t.Errorf("user %s, created before the backup: %v", id, err)
		}
	}
	back.stop(t)
}
