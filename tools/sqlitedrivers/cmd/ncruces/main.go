// Command ncruces measures github.com/ncruces/go-sqlite3 (SQLite compiled to
// Wasm, then translated to Go); see package bench.
//
// In v0.37.0 the SQLite build is part of the module itself: importing
// github.com/ncruces/go-sqlite3/embed is no longer needed, and that package
// now only prints a deprecation notice.
package main

import (
	"github.com/accessd/accessd/tools/sqlitedrivers/bench"

	_ "github.com/ncruces/go-sqlite3/driver"
)

func main() { bench.Main("github.com/ncruces/go-sqlite3", "sqlite3") }
