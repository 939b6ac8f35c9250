package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/access/accesstest"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// Tests of what only PostgreSQL does: several replicas on one database.
// They need ACCESSD_TEST_POSTGRES (see storetest).

// replicas opens n stores on one new, migrated schema, each with a pool of
// its own, as n accessd processes would.
func replicas(t *testing.T, n int) []*sqlstore.Store {
	t.Helper()
	dsn := storetest.DSN(t, storetest.Postgres)
	var stores []*sqlstore.Store
	for range n {
		stores = append(stores, storetest.OpenUnmigrated(t, dsn, sqlstore.Options{}))
	}
	if err := stores[0].Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return stores
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Replicas that start together all migrate at once: the advisory lock
// lets one migrate and the others find nothing left to do.
func TestPostgresMigrateConcurrently(t *testing.T) {
	storetest.RequireBackend(t, storetest.Postgres)
	dsn := storetest.DSN(t, storetest.Postgres)
	const n = 5
	stores := make([]*sqlstore.Store, n)
	for i := range stores {
		stores[i] = storetest.OpenUnmigrated(t, dsn, sqlstore.Options{})
	}
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			<-start
			errs[i] = s.Migrate(testCtx(t))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Migrate: %v", i, err)
		}
	}

	s := stores[n-1]
	tables, err := sqlstore.Tables(s)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(append([]string{"cache_generation", "goose_db_version", "settings", "signing_keys"}, sqlstore.ResetTables...)))
	if !slices.Equal(tables, want) {
		t.Errorf("tables %v, want %v", tables, want)
	}
	// Each migration was applied once.
	versions, err := sqlstore.Strings(s, "SELECT version_id::text FROM goose_db_version WHERE version_id > 0 ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	wantVersions, err := sqlstore.MigrationVersions()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, wantVersions) {
		t.Errorf("applied migrations %v, want %v once each", versions, wantVersions)
	}
	checkTextInByteOrder(t, s)
	if err := s.Migrate(testCtx(t)); err != nil {
		t.Errorf("Migrate once more: %v", err)
	}
	// And the schema works.
	if err := stores[0].Update(testCtx(t), func(tx access.Tx) error { return tx.PutCatalog(accesstest.NewCatalog("cat-1")) }); err != nil {
		t.Fatal(err)
	}
}

// checkTextInByteOrder fails the test unless every TEXT column of the
// schema compares bytes (COLLATE "C"), as SQLite does.
func checkTextInByteOrder(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	cols, err := sqlstore.Strings(s, `SELECT table_name || '.' || column_name || ' ' || COALESCE(collation_name, 'default')
FROM information_schema.columns
WHERE table_schema = current_schema() AND data_type = 'text' AND table_name <> 'goose_db_version'
  AND collation_name IS DISTINCT FROM 'C'`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) > 0 {
		t.Errorf("TEXT columns not in byte order (COLLATE \"C\"): %v", cols)
	}
	n, err := sqlstore.Strings(s, `SELECT COUNT(*)::text FROM information_schema.columns
WHERE table_schema = current_schema() AND data_type = 'text'`)
	if err != nil || n[0] == "0" {
		t.Errorf("no TEXT columns found (%v): is the schema there?", err)
	}
}

// The conformance suite once more, in a database whose own collation is a
// language's (en-US, where "a" < "B"), so that any ordering the schema
// leaves to the database shows.
func TestPostgresSuiteOnLanguageCollation(t *testing.T) {
	storetest.RequireBackend(t, storetest.Postgres)
	if testing.Short() {
		t.Skip("the suite already ran on PostgreSQL")
	}
	base := os.Getenv(storetest.EnvPostgres)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("accessd_test_icu_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(testCtx(t), "CREATE DATABASE "+name+
		" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"); err != nil {
		t.Skipf("cannot create a database with an ICU collation here: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	t.Setenv(storetest.EnvPostgres, u.String()) // storetest makes its schemas there

	s := storetest.OpenStore(t, storetest.Postgres, sqlstore.Options{})
	if got, err := sqlstore.Strings(s, "SELECT ('B' < 'a')::text"); err != nil || got[0] != "false" {
		t.Fatalf("the database orders 'B' before 'a' (%v, %v): it does not test what it should", got, err)
	}
	checkTextInByteOrder(t, s)
	accesstest.RunStoreSuite(t, func(t *testing.T) access.Store { return storetest.Open(t, storetest.Postgres) })
}

// raise runs a statement that fails with the given SQLSTATE.
func raise(tx access.Tx, code string) error {
	return sqlstore.Exec(tx, "DO $$ BEGIN RAISE EXCEPTION 'raised by the test' USING ERRCODE = '"+code+"'; END $$")
}

func TestPostgresUpdateRetriesLostRaces(t *testing.T) {
	storetest.RequireBackend(t, storetest.Postgres)
	s := replicas(t, 1)[0]
	ctx := testCtx(t)

	// A transaction that loses once runs again, and only what its second
	// run wrote is kept.
	runs := 0
	err := s.Update(ctx, func(tx access.Tx) error {
		runs++
		if err := tx.PutSetting("run-"+strconv.Itoa(runs), "written"); err != nil {
			return err
		}
		if runs == 1 {
			return raise(tx, "40001")
		}
		return nil
	})
	if err != nil || runs != 2 {
		t.Fatalf("a transaction that lost once: %v after %d runs, want success after 2", err, runs)
	}
	err = s.View(ctx, func(tx access.Tx) error {
		_, first, err1 := tx.Setting("run-1")
		_, second, err2 := tx.Setting("run-2")
		if first || !second {
			t.Errorf("after the retry: run-1 stored %v, run-2 stored %v; want only run-2", first, second)
		}
		return errors.Join(err1, err2)
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		fn       func(tx access.Tx) error
		wantRuns int
		wantKind access.Kind
	}{
		{"serialization failures", func(tx access.Tx) error { return raise(tx, "40001") }, sqlstore.MaxAttempts, access.KindInternal},
		{"deadlocks", func(tx access.Tx) error { return raise(tx, "40P01") }, sqlstore.MaxAttempts, access.KindInternal},
		// fn's view of the error does not matter: the transaction is lost.
		{"a lost race fn ignores", func(tx access.Tx) error { raise(tx, "40001"); return nil }, sqlstore.MaxAttempts, access.KindInternal},
		{"a lost race fn turns into its own error", func(tx access.Tx) error {
			if raise(tx, "40001") != nil {
				return access.Invalidf("fn's own error")
			}
			return nil
		}, sqlstore.MaxAttempts, access.KindInternal},
		{"a unique violation", func(tx access.Tx) error { return raise(tx, "23505") }, 1, access.KindConflict},
		{"another error", func(tx access.Tx) error { return raise(tx, "22012") }, 1, access.KindInternal},
		{"fn's own error", func(tx access.Tx) error { return access.Conflictf("no") }, 1, access.KindConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := 0
			before := sqlstore.Retries(s)
			start := time.Now()
			err := s.Update(ctx, func(tx access.Tx) error { runs++; return tc.fn(tx) })
			if runs != tc.wantRuns {
				t.Errorf("fn ran %d times, want %d", runs, tc.wantRuns)
			}
			if access.KindOf(err) != tc.wantKind {
				t.Errorf("Update: %v (%v), want %v", err, access.KindOf(err), tc.wantKind)
			}
			if got := sqlstore.Retries(s) - before; got != int64(tc.wantRuns-1) {
				t.Errorf("%d retries counted, want %d", got, tc.wantRuns-1)
			}
			t.Logf("%d runs in %v", runs, time.Since(start).Round(time.Millisecond))
		})
	}

	// Waiting to run again ends with the context.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err = s.Update(cctx, func(tx access.Tx) error { return raise(tx, "40001") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Update losing until its context ends: %v", err)
	}
}

// Two replicas deadlock for real: each holds one row the other wants.
// PostgreSQL fails one of them (40P01), which runs again and succeeds.
func TestPostgresDeadlockIsRetried(t *testing.T) {
	storetest.RequireBackend(t, storetest.Postgres)
	rs := replicas(t, 2)
	ctx := testCtx(t)
	if err := rs[0].Update(ctx, func(tx access.Tx) error {
		return errors.Join(tx.PutSetting("a", "0"), tx.PutSetting("b", "0"))
	}); err != nil {
		t.Fatal(err)
	}
	var both sync.WaitGroup
	both.Add(2)
	var wg sync.WaitGroup
	for i, first := range []string{"a", "b"} {
		second := map[string]string{"a": "b", "b": "a"}[first]
		var once sync.Once
		wg.Go(func() {
			err := rs[i].Update(ctx, func(tx access.Tx) error {
				if err := tx.PutSetting(first, strconv.Itoa(i)); err != nil {
					return err
				}
				once.Do(func() { both.Done(); both.Wait() }) // both hold their first row
				return tx.PutSetting(second, strconv.Itoa(i))
			})
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := sqlstore.Retries(rs[0]) + sqlstore.Retries(rs[1]); n < 1 {
		t.Errorf("no transaction was run again")
	}
	// One ran after the other: both settings hold the later one's value.
	vals, err := sqlstore.Strings(rs[0], "SELECT value FROM settings WHERE name IN ('a', 'b') ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 2 || vals[0] != vals[1] {
		t.Errorf("settings a, b = %v: the transactions interleaved", vals)
	}
}

// "Count, then insert" from several replicas at once. Under the target's
// named lock the transactions check one after another, and the losers fail
// with the Service's own error; without it, all count none, and the unique
// index requests_open_per_target lets exactly one insert and refuses the
// others with a conflict, never an internal error.
func TestPostgresCheckThenInsertAcrossReplicas(t *testing.T) {
	storetest.RequireBackend(t, storetest.Postgres)
	for _, locked := range []bool{true, false} {
		t.Run(fmt.Sprintf("locked=%v", locked), func(t *testing.T) { checkThenInsert(t, locked) })
	}
}

func checkThenInsert(t *testing.T, locked bool) {
	rs := replicas(t, 3)
	ctx := testCtx(t)
	pol := accesstest.NewPolicy("pol-1", accesstest.NewAccessPackage("pkg-1", "cat-1"))
	const rounds, racers = 10, 6
	for round := range rounds {
		target := fmt.Sprintf("u-%d", round)
		var ok, conflicts int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				err := rs[i%len(rs)].Update(ctx, func(tx access.Tx) error {
					if locked {
						if err := tx.Lock(access.Lock{Name: "target:" + target}); err != nil {
							return err
						}
					}
					n, err := tx.CountOpenRequests(access.RequestFilter{TargetID: target, AccessPackageID: pol.AccessPackageID})
					if err != nil {
						return err
					}
					if n > 0 {
						return access.Conflictf("%s already has an open request", target)
					}
					return tx.PutRequest(accesstest.NewRequest(fmt.Sprintf("req-%d-%d", round, i), pol, target))
				})
				mu.Lock()
				defer mu.Unlock()
				switch access.KindOf(err) {
				case access.KindConflict:
					// Unlocked, a racer that counts after the winner's commit
					// says so itself; one that counted before meets the index.
					own := target + " already has an open request"
					index := fmt.Sprintf("target %q already has an open request for access package %q", target, pol.AccessPackageID)
					if msg := err.(*access.Error).Message; msg != own && (locked || msg != index) {
						t.Errorf("racer %d: %v", i, err)
					}
					conflicts++
				default:
					if err != nil {
						t.Errorf("racer %d: %v", i, err)
						return
					}
					ok++
				}
			})
		}
		wg.Wait()
		if ok != 1 || conflicts != racers-1 {
			t.Errorf("round %d: %d inserted, %d conflicts; want 1 and %d", round, ok, conflicts, racers-1)
		}
		var open int
		if err := rs[0].View(ctx, func(tx access.Tx) error {
			var err error
			open, err = tx.CountOpenRequests(access.RequestFilter{TargetID: target})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if open != 1 {
			t.Errorf("round %d: %d open requests for %s, want 1", round, open, target)
		}
	}
	var retries int64
	for _, s := range rs {
		retries += sqlstore.Retries(s)
	}
	t.Logf("%d rounds of %d racers: %d transactions run again", rounds, racers, retries)
}

// Replicas racing to insert the first signing key agree on one.
func TestPostgresSigningKeyRaceAcrossReplicas(t *testing.T) {
	storetest.RequireBackend(t, storetest.Postgres)
	rs := replicas(t, 5)
	ctx := testCtx(t)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range rs {
		wg.Go(func() {
			<-start
			k := access.SigningKey{ID: fmt.Sprintf("kid-%d", i), PrivatePEM: []byte("pem"), CreatedAt: accesstest.Epoch}
			if err := s.Update(ctx, func(tx access.Tx) error { return tx.InsertSigningKeyIfAbsent(k) }); err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for i, s := range rs {
		var keys []access.SigningKey
		if err := s.View(ctx, func(tx access.Tx) error { var err error; keys, err = tx.SigningKeys(); return err }); err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 {
			t.Errorf("replica %d sees %d signing keys, want 1", i, len(keys))
		}
	}
}

// claimIn claims up to limit items in one Update of s.
func claimIn(ctx context.Context, s *sqlstore.Store, owner string, limit int) ([]access.Work, error) {
	var got []access.Work
	err := s.Update(ctx, func(tx access.Tx) error {
		var err error
		got, err = tx.ClaimWork(accesstest.Epoch, owner, accesstest.Epoch.Add(time.Minute), limit)
		return err
	})
	return got, err
}

func workIDs(ws []access.Work) []string {
	var ids []string
	for _, w := range ws {
		ids = append(ids, w.ID)
	}
	return ids
}

func addWork(t *testing.T, s *sqlstore.Store, n int) []string {
	t.Helper()
	var ids []string
	err := s.Update(testCtx(t), func(tx access.Tx) error {
		ids = nil
		for i := range n {
			id := fmt.Sprintf("w-%04d", i)
			ids = append(ids, id)
			if err := tx.AddWork(accesstest.NewWork(id, access.WorkCallout, "req-"+id, "", accesstest.Epoch.Add(-time.Duration(i)*time.Millisecond))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// A claim skips rows another replica's open claim has locked, instead of
// waiting for it or leasing them twice.
func TestPostgresClaimSkipsLockedRows(t *testing.T) {
	storetest.RequireBackend(t, storetest.Postgres)
	rs := replicas(t, 2)
	all := addWork(t, rs[0], 10)
	ctx := testCtx(t)

	claimed, release := make(chan []string, 1), make(chan struct{})
	var once sync.Once
	var first []access.Work
	done := make(chan error)
	go func() {
		done <- rs[0].Update(ctx, func(tx access.Tx) error {
			var err error
			first, err = tx.ClaimWork(accesstest.Epoch, "replica-0", accesstest.Epoch.Add(time.Minute), 5)
			if err != nil {
				return err
			}
			once.Do(func() { claimed <- workIDs(first) })
			<-release // hold the transaction, and its row locks, open
			return nil
		})
	}()
	held := <-claimed

	quick, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	second, err := claimIn(quick, rs[1], "replica-1", 10)
	if err != nil {
		t.Fatalf("claiming beside an open claim: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the first claim: %v", err)
	}
	if len(held) != 5 || len(second) != 5 {
		t.Errorf("claimed %v and then %v, want 5 items each", held, workIDs(second))
	}
	got := append(workIDs(first), workIDs(second)...)
	slices.Sort(got)
	if !slices.Equal(got, all) {
		t.Errorf("the two claims got %v together, want each of %v once", got, all)
	}
}

// Replicas claiming at once lease every item to exactly one of them.
func TestPostgresReplicasClaimEachItemOnce(t *testing.T) {
	storetest.RequireBackend(t, storetest.Postgres)
	rs := replicas(t, 4)
	const items, workersPerReplica, limit = 400, 3, 7
	all := addWork(t, rs[0], items)
	ctx := testCtx(t)
	var mu sync.Mutex
	times := map[string]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for r, s := range rs {
		for w := range workersPerReplica {
			wg.Go(func() {
				owner := fmt.Sprintf("replica-%d-worker-%d", r, w)
				for {
					got, err := claimIn(ctx, s, owner, limit)
					if err != nil {
						t.Errorf("%s: %v", owner, err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, w := range got {
						times[w.ID]++
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, id := range all {
		if times[id] != 1 {
			t.Errorf("%s was claimed %d times, want once", id, times[id])
		}
	}
	var retries int64
	for _, s := range rs {
		retries += sqlstore.Retries(s)
	}
	t.Logf("%d items claimed by %d workers on %d replicas in %v; %d transactions run again",
		items, workersPerReplica*len(rs), len(rs), time.Since(start).Round(time.Millisecond), retries)
}

// expectSignal waits for a value on ch.
func expectSignal(t *testing.T, ch <-chan struct{}, within time.Duration, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the channel closed", what)
		}
	case <-time.After(within):
		t.Fatalf("%s: no notification within %v", what, within)
	}
}

// expectSilence fails the test if a value arrives on ch within d.
func expectSilence(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Errorf("%s: a notification came", what)
	case <-time.After(d):
	}
}

func TestPostgresWorkNotifications(t *testing.T) {
	storetest.RequireBackend(t, storetest.Postgres)
	rs := replicas(t, 2)
	listener, writer := rs[0], rs[1]
	other := storetest.OpenStore(t, storetest.Postgres, sqlstore.Options{}) // another schema
	ctx := testCtx(t)
	listenCtx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	ch, err := listener.WorkNotifications(listenCtx)
	if err != nil || ch == nil {
		t.Fatalf("WorkNotifications: %v, %v", ch, err)
	}
	update := func(fn func(tx access.Tx) error) error { return writer.Update(ctx, fn) }
	work := func(id string) access.Work {
		return accesstest.NewWork(id, access.WorkCallout, "req-1", "", accesstest.Epoch.Add(time.Hour))
	}
	const quiet, deadline = 300 * time.Millisecond, 5 * time.Second

	announced := func(w access.Work) func(tx access.Tx) error {
		return func(tx access.Tx) error { tx.AnnounceWork(); return tx.AddWork(w) }
	}

	// Nothing for a transaction that queues no work, queues work without
	// announcing it, rolls back, or works on another schema.
	if err := update(func(tx access.Tx) error { return tx.PutSetting("x", "y") }); err != nil {
		t.Fatal(err)
	}
	rollback := errors.New("roll back")
	if err := update(func(tx access.Tx) error { return tx.AddWork(work("w-unannounced")) }); err != nil {
		t.Fatal(err)
	}
	if err := update(func(tx access.Tx) error { return errors.Join(announced(work("w-rolled-back"))(tx), rollback) }); !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	if err := other.Update(ctx, announced(work("w-other"))); err != nil {
		t.Fatal(err)
	}
	expectSilence(t, ch, quiet, "no work queued in this schema")

	// Work queued by another replica, or rescheduled, is heard of.
	start := time.Now()
	if err := update(func(tx access.Tx) error {
		return errors.Join(announced(work("w-1"))(tx), announced(work("w-2"))(tx))
	}); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, ch, deadline, "work added")
	t.Logf("a notification arrived %v after the Update began", time.Since(start).Round(time.Microsecond))
	expectSilence(t, ch, quiet, "one transaction, one notification")
	if err := update(func(tx access.Tx) error { return tx.RetryWork("w-1", accesstest.Epoch, 1) }); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, ch, deadline, "work rescheduled")

	// A listener that loses its connection connects again and says so,
	// since it may have missed notifications; then it hears the next ones.
	pid := sqlstore.ListenerPID(listener)
	if _, err := sqlstore.Strings(writer, "SELECT pg_terminate_backend(?)::text", int64(pid)); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, ch, 10*time.Second, "connected again")
	if sqlstore.ListenerPID(listener) == pid {
		t.Errorf("the listener did not connect again")
	}
	if err := update(announced(work("w-3"))); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, ch, deadline, "work added after connecting again")

	// The channel closes when the context ends, and when the store closes.
	stopListening()
	select {
	case _, ok := <-ch:
		if ok {
			t.Errorf("a value after the context ended")
		}
	case <-time.After(deadline):
		t.Errorf("the channel stays open after the context ended")
	}
	ch2, err := writer.WorkNotifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ch2; ok {
		t.Errorf("a value after the store closed")
	}
}

func TestPostgresPoolOptions(t *testing.T) {
	storetest.RequireBackend(t, storetest.Postgres)
	dsn := storetest.DSN(t, storetest.Postgres)
	s, err := sqlstore.Open(testCtx(t), dsn, sqlstore.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if got := sqlstore.PoolStats(s).MaxOpenConnections; got != 20 {
		t.Errorf("default MaxOpenConns: %d, want 20", got)
	}
	s.Close()
	s = storetest.OpenUnmigrated(t, dsn, sqlstore.Options{MaxOpenConns: 3, MaxIdleConns: 5})
	if got := sqlstore.PoolStats(s).MaxOpenConnections; got != 3 {
		t.Errorf("MaxOpenConns: %d, want 3", got)
	}
	if got, err := sqlstore.Strings(s, "SELECT current_setting('application_name')"); err != nil || got[0] != "accessd" {
		t.Errorf("application_name = %v, %v; want accessd", got, err)
	}
	for _, bad := range []string{
		"postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5", // nothing listens
		"postgres://%zz",
	} {
		if s, err := sqlstore.Open(testCtx(t), bad, sqlstore.Options{Logger: quiet}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	// Migrate needs a schema to migrate.
	noSchema := storetest.WithSearchPath(t, dsn, "accessd_no_such_schema")
	s = storetest.OpenUnmigrated(t, noSchema, sqlstore.Options{})
	if err := s.Migrate(testCtx(t)); err == nil {
		t.Errorf("Migrate without a schema succeeded")
	}
}
