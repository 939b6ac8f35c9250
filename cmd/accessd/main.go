// Command accessd is a self-hosted entitlement-management server that speaks
// the Microsoft Graph API. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/accessd/accessd/bench"
)

// version, when set at build time with -ldflags "-X main.version=…",
// replaces the module version the go command records, for a build whose
// recorded version says nothing useful (one from a source tarball, say).
var version string

const usage = `accessd: a self-hosted Microsoft Graph entitlement-management server

usage:
  accessd serve   [--addr 127.0.0.1:8080] [--database accessd.db] [--public-url URL] [--seed FILE] [--dev]
                  [--auth builtin|oidc|both --oidc-issuer URL --oidc-audience AUD --tenant-id ID [--oidc-create-principals]]
  accessd migrate [--database accessd.db]
  accessd backup  [--database accessd.db] FILE
  accessd restore [--database accessd.db] FILE
  accessd token   [--database accessd.db] (--app NAME --roles A,B | --user ID_OR_UPN --scopes A,B) [--ttl 1h] [--max-ttl 24h]
  accessd bench   [--scenario wait|continue|waiting] [--concurrency 64 | --rate R] [--duration 10s] [--database postgres://…] [--url URL --token T] [--json]
  accessd version

Run "accessd COMMAND -h" for a command's options.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr, getenv)
	case "migrate":
		err = migrate(ctx, args[1:], stdout, stderr, getenv)
	case "token":
		err = token(ctx, args[1:], stdout, stderr, getenv)
	case "backup":
		err = backup(ctx, args[1:], stdout, stderr, getenv)
	case "restore":
		err = restore(ctx, args[1:], stdout, stderr, getenv)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		err = printVersion(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "accessd: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) { // the usage is printed, as asked
		return 0
	}
	if err != nil {
		if !errors.Is(err, errUsage) && !errors.Is(err, bench.ErrUsage) {
			fmt.Fprintln(stderr, "accessd:", err)
		}
		return 1
	}
	return 0
}

// runBench runs the load tool with this very binary as the server it starts.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this binary to start the server: %w", err)
	}
	return bench.Run(ctx, exe, args, stdout, stderr)
}

// printVersion prints which build this is, so that a bug report names it
// exactly.
func printVersion(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("accessd version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, "accessd", describeBuild(version, info))
	return nil
}

// describeBuild is the version, the commit (and whether the tree had
// changes not committed) and the Go release of a build, from what the go
// command recorded in it; info is nil when it recorded nothing. go build
// in a git checkout records all of them; go run, go test, -buildvcs=false
// and a build in a linked git worktree (golang/go#58218) record no commit,
// and then the version is "(devel)".
func describeBuild(override string, info *debug.BuildInfo) string {
	v, goVersion := "(devel)", runtime.Version()
	var commit, modified string
	if info != nil {
		goVersion = info.GoVersion
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision":
				commit = s.Value
			case s.Key == "vcs.modified" && s.Value == "true":
				modified = " (modified)"
			}
		}
	}
	if override != "" {
		v = override
	}
	if commit != "" {
		v += ", commit " + commit + modified
	}
	return v + ", " + goVersion
}
