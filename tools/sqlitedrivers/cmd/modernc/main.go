// Command modernc measures modernc.org/sqlite (pure Go, translated from C);
// see package bench.
package main

import (
	"github.com/accessd/accessd/tools/sqlitedrivers/bench"

	_ "modernc.org/sqlite"
)

func main() { bench.Main("modernc.org/sqlite", "sqlite") }
