package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
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
		{[]string{"backup"}, false, "usage: accessd backup [--database accessd.db] FILE"},
		{[]string{"restore"}, false, "usage: accessd restore [--database accessd.db] FILE"},
		{[]string{"bench"}, false, "usage: accessd bench [flags]"},
		{[]string{"version"}, false, "Usage of accessd version:"},
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
		{[]string{"version", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"version", "extra"}, "unexpected arguments: [extra]"},
		{[]string{"backup"}, "give exactly one FILE"},
		{[]string{"backup", "a.db", "b.db"}, "give exactly one FILE"},
		{[]string{"backup", "--no-such-flag", "a.db"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"backup", "a.db"}, "database accessd.db: stat accessd.db: no such file or directory"},
		{[]string{"backup", "--database", "postgres://u@localhost/db", "a.db"}, "back up PostgreSQL with pg_dump"},
		{[]string{"restore"}, "give exactly one FILE"},
		{[]string{"restore", "missing.db"}, "backup stat missing.db: no such file or directory"},
		{[]string{"restore", "--database", "postgres://u@localhost/db", "a.db"}, "restore with pg_restore"},
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

func TestDescribeBuild(t *testing.T) {
	built := func(version string, settings ...debug.BuildSetting) *debug.BuildInfo {
		info := &debug.BuildInfo{GoVersion: "go1.99.1", Settings: settings}
		info.Main.Version = version
		return info
	}
	revision := debug.BuildSetting{Key: "vcs.revision", Value: "5566790abcdef0123456789abcdef0123456789a"}
	tests := []struct {
		name     string
		override string
		info     *debug.BuildInfo
		want     string
	}{
		{"nothing recorded", "", nil, "(devel), " + runtime.Version()},
		{"no module version", "", built(""), "(devel), go1.99.1"},
		{"go run: no commit", "", built("(devel)"), "(devel), go1.99.1"},
		{"a tagged build", "", built("v1.2.3", revision, debug.BuildSetting{Key: "vcs.modified", Value: "false"}),
			"v1.2.3, commit 5566790abcdef0123456789abcdef0123456789a, go1.99.1"},
		{"a modified tree", "", built("v1.2.4-0.20260101000000-5566790abcde+dirty", revision, debug.BuildSetting{Key: "vcs.modified", Value: "true"}),
			"v1.2.4-0.20260101000000-5566790abcde+dirty, commit 5566790abcdef0123456789abcdef0123456789a (modified), go1.99.1"},
		{"-X main.version wins", "v9.9.9", built("v1.2.3", revision), "v9.9.9, commit 5566790abcdef0123456789abcdef0123456789a, go1.99.1"},
		{"-X main.version with nothing recorded", "v9.9.9", nil, "v9.9.9, " + runtime.Version()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeBuild(tt.override, tt.info); got != tt.want {
				t.Errorf("describeBuild(%q, …) = %q, want %q", tt.override, got, tt.want)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	t.Run("this build", func(t *testing.T) {
		code, stdout, stderr := runIn(t, t.TempDir(), "version")
		// A test binary records this toolchain and no commit.
		if code != 0 || !strings.HasPrefix(stdout, "accessd ") || !strings.HasSuffix(stdout, ", "+runtime.Version()+"\n") || stderr != "" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("-ldflags -X main.version", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds the binary")
		}
		bin := filepath.Join(t.TempDir(), "accessd")
		build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.9.9-test", "-o", bin, ".")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		out, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := string(out); !strings.HasPrefix(got, "accessd v9.9.9-test, ") || !strings.HasSuffix(got, ", "+runtime.Version()+"\n") {
			t.Errorf("accessd version printed %q", got)
		}
	})
}

// docs/configuration.md promises every flag of every command; this holds
// it to that as flags are added. The commands are the ones accessd's own
// usage names, so a new command is covered the day it appears there.
func TestConfigurationDocNamesEveryFlag(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, usage, _ := runIn(t, t.TempDir(), "-h")
	var commands []string
	for _, line := range strings.Split(usage, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "accessd "); ok {
			commands = append(commands, strings.Fields(rest)[0])
		}
	}
	if len(commands) < 5 {
		t.Fatalf("found the commands %q in the usage:\n%s", commands, usage)
	}
	for _, cmd := range commands {
		section := "## `accessd " + cmd + "`"
		start := strings.Index(string(doc), section)
		if start < 0 {
			t.Errorf("docs/configuration.md has no section %q", section)
			continue
		}
		text := string(doc[start+len(section):])
		if end := strings.Index(text, "\n## "); end >= 0 {
			text = text[:end]
		}
		_, _, help := runIn(t, t.TempDir(), cmd, "-h")
		for _, line := range strings.Split(help, "\n") {
			name, ok := strings.CutPrefix(line, "  -")
			if !ok {
				continue
			}
			name, _, _ = strings.Cut(name, " ")
			if !strings.Contains(text, "`--"+name+"`") && !strings.Contains(text, "`--"+name+" ") {
				t.Errorf("the section %s does not name --%s", section, name)
			}
		}
	}
}
