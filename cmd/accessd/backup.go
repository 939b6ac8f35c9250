package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/accessd/accessd/sqlstore"
)

// pgBackupHint is where an operator of PostgreSQL is sent instead.
const pgBackupHint = "accessd backs up and restores SQLite files only; back up PostgreSQL with pg_dump and restore with pg_restore (docs/operations.md)"

// backup writes a consistent copy of an SQLite database to a new file.
// It only reads the database, so it does not take serve's lock and runs
// beside a server that serves the file.
func backup(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := defaultConfig(getenv)
	fs := flag.NewFlagSet("accessd backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Database, "database", cfg.Database, "SQLite database file to back up (env ACCESSD_DATABASE)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: accessd backup [--database accessd.db] FILE\n\nWrites a consistent copy of the database to FILE, which must not exist, while a server may be serving it.")
		fs.PrintDefaults()
	}
	file, err := parseFileArg(fs, args)
	if err != nil {
		return err
	}
	check, err := sqlstore.BackupSQLite(ctx, cfg.Database, file)
	if errors.Is(err, sqlstore.ErrNotSQLite) {
		return errors.New(pgBackupHint)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s: %d bytes, schema at migration %d, integrity ok\n", cfg.Database, file, check.Bytes, check.Version)
	return nil
}

// restore puts a backup in place as a database that does not exist yet.
// It takes serve's lock for as long as it runs, so no server starts on
// the file halfway; a server that holds it already makes restore refuse.
func restore(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := defaultConfig(getenv)
	fs := flag.NewFlagSet("accessd restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Database, "database", cfg.Database, "SQLite database file to create from the backup; it must not exist (env ACCESSD_DATABASE)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: accessd restore [--database accessd.db] FILE\n\nChecks the backup FILE (integrity, and a schema this accessd can serve) and puts it in place as the database, which must not exist.")
		fs.PrintDefaults()
	}
	file, err := parseFileArg(fs, args)
	if err != nil {
		return err
	}
	if _, ok := sqlstore.SQLiteFile(cfg.Database); !ok {
		return errors.New(pgBackupHint)
	}
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("backup %w", err) // before the lock leaves a file behind
	}
	unlock, err := lockDatabase(cfg.Database)
	if err != nil {
		return err
	}
	defer unlock()
	check, err := sqlstore.RestoreSQLite(ctx, file, cfg.Database)
	if err != nil {
		return err
	}
	note := ""
	if check.Version < check.Newest {
		note = fmt.Sprintf("; serve will migrate it from %d to %d when it starts", check.Version, check.Newest)
	}
	fmt.Fprintf(stdout, "restored %s from %s: schema at migration %d, integrity ok%s\n", cfg.Database, file, check.Version, note)
	return nil
}

// parseFileArg parses flags followed by exactly one file name.
func parseFileArg(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", errUsage
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		fmt.Fprintf(fs.Output(), "give exactly one FILE after the options, not %q\n", fs.Args())
		fs.Usage()
		return "", errUsage
	}
	return fs.Arg(0), nil
}
