package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/access/accesstest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openTemp opens a migrated store on a new file in the test's temp dir.
func openTemp(t testing.TB, opt Options) *Store {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quiet
	}
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "accessd.db"), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreSuiteSynchronousFull(t *testing.T) {
	if testing.Short() {
		t.Skip("the suite already ran with synchronous=normal")
	}
	accesstest.RunStoreSuite(t, func(t *testing.T) access.Store { return openTemp(t, Options{Synchronous: "full"}) })
}

// pragma reads one PRAGMA on every connection a pool can hold at once, so
// that connections the pool opened after the first are checked too.
func pragmas(t *testing.T, s *Store, name string) (write string, read []string) {
	t.Helper()
	ctx := context.Background()
	if err := s.write.QueryRowContext(ctx, "PRAGMA "+name).Scan(&write); err != nil {
		t.Fatal(err)
	}
	n := s.read.Stats().MaxOpenConnections
	for range n {
		c, err := s.read.Conn(ctx) // held, so that the next Conn is another connection
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var v string
		if err := c.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		read = append(read, v)
	}
	if got := s.read.Stats().OpenConnections; got != n {
		t.Fatalf("%d read connections open, want %d", got, n)
	}
	return write, read
}

func TestPragmasOnEveryConnection(t *testing.T) {
	for _, tc := range []struct {
		option, want string
	}{
		{"", "1"}, // normal
		{"normal", "1"},
		{"FULL", "2"},
	} {
		t.Run("synchronous="+tc.option, func(t *testing.T) {
			s := openTemp(t, Options{Synchronous: tc.option})
			want := map[string]string{"journal_mode": "wal", "synchronous": tc.want, "foreign_keys": "1", "busy_timeout": "5000"}
			for name, v := range want {
				w, r := pragmas(t, s, name)
				if w != v {
					t.Errorf("writer: %s = %s, want %s", name, w, v)
				}
				for i, got := range r {
					if got != v {
						t.Errorf("reader %d: %s = %s, want %s", i, name, got, v)
					}
				}
			}
			if w, r := pragmas(t, s, "query_only"); w != "0" || strings.Join(r, "") != strings.Repeat("1", len(r)) {
				t.Errorf("query_only: writer %s, readers %v; want 0 and all 1", w, r)
			}
		})
	}
}

func TestBusyTimeoutOption(t *testing.T) {
	s := openTemp(t, Options{BusyTimeout: 1234e6})
	w, r := pragmas(t, s, "busy_timeout")
	if w != "1234" || r[0] != "1234" {
		t.Errorf("busy_timeout: writer %s, reader %s; want 1234", w, r[0])
	}
}

func TestInvalidOptionsAreRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		dsn string
		opt Options
	}{
		{filepath.Join(dir, "a.db"), Options{Synchronous: "off"}},
		{filepath.Join(dir, "b.db"), Options{Synchronous: "extra"}},
		{filepath.Join(dir, "c.db"), Options{BusyTimeout: -1}},
		{filepath.Join(dir, "d.db"), Options{MaxOpenConns: -1}},
		{filepath.Join(dir, "e.db"), Options{ConnMaxLifetime: -1}},
		{":memory:", Options{}},
		{"", Options{}},
	} {
		if s, err := Open(context.Background(), tc.dsn, tc.opt); err == nil {
			s.Close()
			t.Errorf("Open(%q, %+v) succeeded", tc.dsn, tc.opt)
		}
	}
}

func TestMigrateIsIdempotentAndReopenWorks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "accessd.db")
	s, err := Open(ctx, path, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := s.Update(ctx, func(tx access.Tx) error { return tx.PutCatalog(accesstest.NewCatalog("cat-1")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A file: URI names the same database.
	s, err = Open(ctx, "file:"+path, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after reopening: %v", err)
	}
	if err := s.View(ctx, func(tx access.Tx) error { _, err := tx.Catalog("cat-1"); return err }); err != nil {
		t.Fatalf("reading after reopening: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkPutPolicy(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := context.Background()
	pkg := accesstest.NewAccessPackage("pkg-1", "cat-1")
	p := accesstest.NewFullPolicy("pol-1", pkg, "u-1", "ext-1")
	for b.Loop() {
		if err := s.Update(ctx, func(tx access.Tx) error { return tx.PutAssignmentPolicy(p) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

func BenchmarkGetPolicy(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := context.Background()
	pkg := accesstest.NewAccessPackage("pkg-1", "cat-1")
	p := accesstest.NewFullPolicy("pol-1", pkg, "u-1", "ext-1")
	if err := s.Update(ctx, func(tx access.Tx) error { return tx.PutAssignmentPolicy(p) }); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.View(ctx, func(tx access.Tx) error { _, err := tx.AssignmentPolicy(p.ID); return err }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkClaimWork(b *testing.B) {
	for _, sync := range []string{"normal", "full"} {
		b.Run("synchronous="+sync, func(b *testing.B) {
			s := openTemp(b, Options{Synchronous: sync})
			ctx := context.Background()
			now := accesstest.Epoch
			batch := 0
			fill := func() { // 1000 due items, so that claims search a real queue
				batch++
				err := s.Update(ctx, func(tx access.Tx) error {
					for i := range 1000 {
						id, due := fmt.Sprintf("w-%04d-%04d", batch, i), now.Add(-time.Duration(i)*time.Millisecond)
						if err := tx.AddWork(accesstest.NewWork(id, access.WorkCallout, "req-1", "", due)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			fill()
			for b.Loop() {
				// One op is what a worker does with one item: claim it, then delete it when done.
				var got []access.Work
				err := s.Update(ctx, func(tx access.Tx) error {
					var err error
					got, err = tx.ClaimWork(now, "bench", now.Add(30*time.Second), 1)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				if len(got) == 0 {
					b.StopTimer()
					fill()
					b.StartTimer()
					continue
				}
				if err := s.Update(ctx, func(tx access.Tx) error { return tx.DeleteWork(got[0].ID) }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

func BenchmarkPutRequestWithWork(b *testing.B) {
	for _, sync := range []string{"normal", "full"} {
		b.Run("synchronous="+sync, func(b *testing.B) {
			s := openTemp(b, Options{Synchronous: sync})
			ctx := context.Background()
			pkg := accesstest.NewAccessPackage("pkg-1", "cat-1")
			pol := accesstest.NewFullPolicy("pol-1", pkg, "u-approver", "ext-1")
			i := 0
			for b.Loop() {
				i++
				// What submitting a request stores: the request, its first work and its first history entry.
				r := accesstest.NewRequest(fmt.Sprintf("req-%09d", i), pol, "u-1")
				w := accesstest.NewWork(fmt.Sprintf("work-%09d", i), access.WorkCallout, r.ID, "", accesstest.Epoch)
				h := access.HistoryEntry{ID: fmt.Sprintf("hist-%09d", i), RequestID: r.ID, At: accesstest.Epoch, Action: "submitted",
					State: r.State, Status: r.Status}
				err := s.Update(ctx, func(tx access.Tx) error {
					return errors.Join(tx.PutRequest(r), tx.AddWork(w), tx.AddHistory(h))
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}

// The writer leaves checkpoints to a connection of their own: with a WAL far
// below the writer's own threshold, the database file still receives the
// committed pages.
func TestCheckpointsRunOffTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accessd.db")
	s, err := Open(context.Background(), path, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w, _ := pragmas(t, s, "wal_autocheckpoint"); w != strconv.Itoa(writerCheckpointPages) {
		t.Errorf("writer: wal_autocheckpoint = %s, want %d", w, writerCheckpointPages)
	}
	if w, r := pragmas(t, s, "temp_store"); w != "2" || strings.Join(r, "") != strings.Repeat("2", len(r)) {
		t.Errorf("temp_store: writer %s, readers %v; want 2 (memory) on all", w, r)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("x", 10_000)
	for i := range 300 { // about 3 MB, a tenth of what makes the writer checkpoint
		if err := s.Update(context.Background(), func(tx access.Tx) error {
			return tx.PutSetting(fmt.Sprintf("big-%d", i), value)
		}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() >= before.Size()+2_000_000 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes (%d before the writes): no checkpoint ran", st.Size(), before.Size())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A View that reads only rows the cache holds begins no SQLite transaction
// (a callout's body is built so); one that runs a statement does.
func TestViewOfCachedRowsBeginsNoTransaction(t *testing.T) {
	s := openTemp(t, Options{})
	ctx := context.Background()
	if err := s.Update(ctx, func(atx access.Tx) error {
		return atx.PutCatalog(access.Catalog{ID: "cat-1", DisplayName: "Sales"})
	}); err != nil {
		t.Fatal(err)
	}
	began := func(read func(access.Tx) error) bool {
		t.Helper()
		var inner *tx
		if err := s.View(ctx, func(atx access.Tx) error { inner = atx.(*tx); return read(atx) }); err != nil {
			t.Fatal(err)
		}
		return inner.sql != nil
	}
	catalog := func(atx access.Tx) error { _, err := atx.Catalog("cat-1"); return err }
	if !began(catalog) {
		t.Error("the first read of the catalog, which fills the cache, began no transaction")
	}
	if began(catalog) {
		t.Error("a read of the cached catalog began a transaction")
	}
	if !began(func(atx access.Tx) error { _, _, err := atx.Setting("none"); return err }) {
		t.Error("a read of a setting began no transaction")
	}
}
