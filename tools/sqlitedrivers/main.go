// Command sqlitedrivers reproduces the comparison of SQLite drivers in
// docs/benchmarks.md ("SQLite driver choice") on which accessd's choice of
// modernc.org/sqlite was made. It is a module of its own so that accessd's
// go.mod never depends on the two drivers it did not choose.
//
// Each driver is measured by its own program, cmd/modernc, cmd/mattn and
// cmd/ncruces (package bench holds the measurement): mattn and ncruces both
// register the database/sql driver name "sqlite3", so they cannot share one
// binary. This command builds those programs, runs them one after another
// and prints their rows as one markdown table. Run it from this directory:
//
//	go run . -seconds 5 -runs 3
//
// Cold build time and binary size are measured with shell commands given in
// docs/benchmarks.md.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	seconds := flag.String("seconds", "5", "seconds of commits, then seconds of reads, per run")
	runs := flag.String("runs", "3", "runs per driver; the median is printed")
	drivers := flag.String("drivers", "modernc,mattn,ncruces", "comma-separated drivers, each a program under cmd/")
	flag.Parse()

	rows, err := measure(strings.Split(*drivers, ","), *seconds, *runs)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("| driver | single-row commits/s | point reads/s |")
	fmt.Println("|---|---|---|")
	for _, row := range rows {
		fmt.Print(row)
	}
}

// measure builds and runs the program of each driver and returns the table
// rows they print.
func measure(drivers []string, seconds, runs string) ([]string, error) {
	dir, err := os.MkdirTemp("", "sqlitedrivers-bin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	var rows []string
	for _, name := range drivers {
		name = strings.TrimSpace(name)
		bin := filepath.Join(dir, name)
		build := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("building ./cmd/%s: %w", name, err)
		}

		var row bytes.Buffer
		run := exec.Command(bin, "-seconds", seconds, "-runs", runs)
		run.Stdout, run.Stderr = &row, os.Stderr
		if err := run.Run(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, row.String())
	}
	return rows, nil
}
