// Package bench measures one SQLite database/sql driver the way accessd uses
// SQLite: one connection, WAL, synchronous=NORMAL, single-row write
// transactions that begin with BEGIN IMMEDIATE, and point reads by primary key.
//
// Each program under cmd/ imports exactly one driver and calls Main, so that
// the drivers never share a binary (mattn and ncruces both register the
// driver name "sqlite3") and each binary's size is that driver's.
package bench

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"time"
)

// Main measures the database/sql driver registered as driverName, which the
// module modulePath provides, and prints one row of a markdown table to
// standard output: the driver, then the median single-row commits per second
// and point reads per second of the runs. Each run is printed to standard
// error as it ends.
func Main(modulePath, driverName string) {
	seconds := flag.Float64("seconds", 5, "seconds of commits, then seconds of reads, per run")
	runs := flag.Int("runs", 3, "runs; the median is printed")
	flag.Parse()
	if *runs < 1 || *seconds <= 0 {
		fail(errors.New("-runs must be at least 1 and -seconds above 0"))
	}
	d := time.Duration(*seconds * float64(time.Second))

	label := fmt.Sprintf("`%s` %s", modulePath, moduleVersion(modulePath))
	var commits, reads []float64
	for i := range *runs {
		c, r, err := run(driverName, d)
		if err != nil {
			fail(fmt.Errorf("%s: run %d: %w", modulePath, i+1, err))
		}
		fmt.Fprintf(os.Stderr, "%s run %d: %.0f commits/s, %.0f reads/s\n", modulePath, i+1, c, r)
		commits = append(commits, c)
		reads = append(reads, r)
	}
	fmt.Printf("| %s | %s | %s |\n", label, thousands(median(commits)), thousands(median(reads)))
}

// run measures one fresh database in a new temporary directory.
func run(driverName string, d time.Duration) (commitsPerSec, readsPerSec float64, err error) {
	dir, err := os.MkdirTemp("", "sqlitedrivers-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)

	db, err := sql.Open(driverName, filepath.Join(dir, "bench.db"))
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	// Everything runs on this one connection, so the per-connection
	// synchronous setting holds for every statement.
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()

	if err := setUp(ctx, conn); err != nil {
		return 0, 0, err
	}
	n, commitsPerSec, err := commit(ctx, conn, d)
	if err != nil {
		return 0, 0, err
	}
	readsPerSec, err = read(ctx, conn, n, d)
	if err != nil {
		return 0, 0, err
	}
	return commitsPerSec, readsPerSec, nil
}

// setUp sets WAL and synchronous=NORMAL, checks that both took, and creates
// the table.
func setUp(ctx context.Context, conn *sql.Conn) error {
	for _, q := range []string{"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	var journalMode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journalMode); err != nil {
		return err
	}
	var synchronous int
	if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&synchronous); err != nil {
		return err
	}
	if journalMode != "wal" || synchronous != 1 {
		return fmt.Errorf("journal_mode=%s synchronous=%d, want wal and 1 (NORMAL)", journalMode, synchronous)
	}
	_, err := conn.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
	return err
}

// commit inserts one row per transaction for d and returns the number of
// rows, which are ids 1 to n, and the commits per second.
func commit(ctx context.Context, conn *sql.Conn, d time.Duration) (n int, perSec float64, err error) {
	start := time.Now()
	for time.Since(start) < d {
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return 0, 0, err
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO t (v) VALUES (?)", "a value of some length"); err != nil {
			return 0, 0, err
		}
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			return 0, 0, err
		}
		n++
	}
	elapsed := time.Since(start)

	var rows int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&rows); err != nil {
		return 0, 0, err
	}
	if rows != n {
		return 0, 0, fmt.Errorf("%d rows after %d commits", rows, n)
	}
	return n, float64(n) / elapsed.Seconds(), nil
}

// read looks up random rows among ids 1 to n by primary key for d, through
// one prepared statement, and returns the reads per second.
func read(ctx context.Context, conn *sql.Conn, n int, d time.Duration) (perSec float64, err error) {
	if n == 0 {
		return 0, errors.New("no rows to read")
	}
	stmt, err := conn.PrepareContext(ctx, "SELECT v FROM t WHERE id = ?")
	if err != nil {
		return 0, err
	}
	defer stmt.Close()

	reads := 0
	var v string
	start := time.Now()
	for time.Since(start) < d {
		if err := stmt.QueryRowContext(ctx, rand.IntN(n)+1).Scan(&v); err != nil {
			return 0, err
		}
		reads++
	}
	return float64(reads) / time.Since(start).Seconds(), nil
}

// moduleVersion is the version of the module modulePath built into this
// program, as go.mod requires it.
func moduleVersion(modulePath string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == modulePath {
				return dep.Version
			}
		}
	}
	return "(unknown version)"
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// thousands formats 25912.3 as 25.9k.
func thousands(x float64) string {
	return fmt.Sprintf("%.1fk", x/1000)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
