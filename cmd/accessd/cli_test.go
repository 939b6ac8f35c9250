package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// runIn runs accessd with args in dir as the working directory, with no
// ACCESSD_ variables set, as if from a shell there.
func runIn(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Chdir(dir)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &cancelOnWrite{cancel: cancel}
	var errOut bytes.Buffer
	code = run(ctx, args, out, &errOut, func(string) string { return "" })
	return code, out.String(), errOut.String()
}

// cancelOnWrite is the stdout of a command under test. Whatever the
// command prints first cancels its context, so that one that wrongly went
// on to start a server stops once it says "listening on …", rather than
// serve until the test times out; the files it made stay behind to see.
type cancelOnWrite struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.cancel()
	return w.Buffer.Write(p)
}

func wantEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) > 0 {
		t.Errorf("the command created %q in its working directory", names)
	}
}

// -h and --help print the usage, exit 0 and do nothing else: serve -h used
// to go on and start a server on accessd.db, and migrate -h to migrate it.
func TestHelpDoesNothingElse(t *testing.T) {
	tests := []struct {
		args     []string // the help flag is appended
		toStdout bool     // accessd's own usage goes to stdout, a command's (the flag package's) to stderr
		want     string
	}{
		{nil, true, "usage:\n  accessd serve"},
		{[]string{"serve"}, false, "Usage of accessd serve:"},
		{[]string{"migrate"}, false, "Usage of accessd migrate:"},
		{[]string{"token"}, false, "Usage of accessd token:"},
		{[]string{"bench"}, false, "usage: accessd bench [flags]"},
		// Flags before the help flag are parsed first; it still stops there.
		{[]string{"serve", "--addr", "127.0.0.1:0", "--database", "other.db"}, false, "Usage of accessd serve:"},
	}
	for _, tt := range tests {
		for _, help := range []string{"-h", "--help"} {
			args := append(append([]string{}, tt.args...), help)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				dir := t.TempDir()
				code, stdout, stderr := runIn(t, dir, args...)
				if code != 0 {
					t.Errorf("exit code %d, want 0; stderr %q", code, stderr)
				}
				usage, other := stderr, stdout
				if tt.toStdout {
					usage, other = stdout, stderr
				}
				if !strings.Contains(usage, tt.want) {
					t.Errorf("the usage %q does not contain %q", usage, tt.want)
				}
				if other != "" {
					t.Errorf("printed more than the usage: %q", other)
				}
				wantEmptyDir(t, dir)
			})
		}
	}
}

func TestBadArgumentsFail(t *testing.T) {
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"serve", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"serve", "--workers", "many"}, `invalid value "many" for flag -workers`},
		{[]string{"serve", "extra"}, "unexpected arguments: [extra]"},
		{[]string{"migrate", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"migrate", "extra"}, "unexpected arguments: [extra]"},
		{[]string{"token", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"bench", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			code, stdout, stderr := runIn(t, dir, tt.args...)
			if code == 0 {
				t.Errorf("exit code 0, want non-zero")
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			wantEmptyDir(t, dir)
		})
	}
}
