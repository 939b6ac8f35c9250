//go:build !unix

package main

// lockDatabase does nothing where there is no flock(2) (Windows): there
// nothing keeps a second `accessd serve` off an SQLite file, and running
// only one is up to the operator. See dblock_unix.go.
func lockDatabase(dsn string) (unlock func(), err error) {
	return func() {}, nil
}
