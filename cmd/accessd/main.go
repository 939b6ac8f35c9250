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
	"syscall"

	"github.com/accessd/accessd/bench"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `accessd: a self-hosted Microsoft Graph entitlement-management server

usage:
  accessd serve   [--addr 127.0.0.1:8080] [--database accessd.db] [--public-url URL] [--seed FILE] [--dev]
  accessd migrate [--database accessd.db]
  accessd token   [--database accessd.db] (--app NAME --roles A,B | --user ID_OR_UPN --scopes A,B) [--ttl 1h]
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
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "accessd", version)
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
