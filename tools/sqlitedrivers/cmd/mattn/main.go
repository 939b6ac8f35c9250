// Command mattn measures github.com/mattn/go-sqlite3 (cgo); see package
// bench. It needs CGO_ENABLED=1 and a C compiler.
package main

import (
	"github.com/accessd/accessd/tools/sqlitedrivers/bench"

	_ "github.com/mattn/go-sqlite3"
)

func main() { bench.Main("github.com/mattn/go-sqlite3", "sqlite3") }
