package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// recordingObserver keeps what a store told it.
type recordingObserver struct {
	mu        sync.Mutex
	started   []bool  // write, per transaction begun
	ended     []error // outcome, per transaction ended
	ctxValues []any   // the test's value in each started transaction's context
	grouped   int     // transactions committed in groups
	busy      time.Duration
	groups    int
	racesLost int
}

type testKey struct{}

func (o *recordingObserver) TransactionStarted(ctx context.Context, write bool) func(error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started = append(o.started, write)
	o.ctxValues = append(o.ctxValues, ctx.Value(testKey{}))
	return func(err error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.ended = append(o.ended, err)
	}
}

func (o *recordingObserver) GroupCommitted(transactions int, busy time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.groups++
	o.grouped += transactions
	o.busy += busy
}

func (o *recordingObserver) RaceLost() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.racesLost++
}

func openObserved(t *testing.T, backend string) (*sqlstore.Store, *recordingObserver) {
	t.Helper()
	o := &recordingObserver{}
	return storetest.OpenStore(t, backend, sqlstore.Options{Observer: o}), o
}

// Every Update and View is reported as it begins, in its caller's context,
// and again as it ends, with its outcome.
func TestObserverHearsEachTransaction(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			storetest.RequireBackend(t, backend)
			s, o := openObserved(t, backend)
			*o = recordingObserver{} // forget what migrating did
			ctx := context.WithValue(testCtx(t), testKey{}, "caller's")
			refused := access.Conflictf("refused by the test")
			if err := s.Update(ctx, func(tx access.Tx) error { return tx.PutSetting("a", "1") }); err != nil {
				t.Fatal(err)
			}
			if err := s.View(ctx, func(tx access.Tx) error { return refused }); !errors.Is(err, refused) {
				t.Fatalf("View: %v, want the test's error", err)
			}
			o.mu.Lock()
			defer o.mu.Unlock()
			if len(o.started) != 2 || !o.started[0] || o.started[1] {
				t.Errorf("started %v, want [true false] (an Update, then a View)", o.started)
			}
			if len(o.ended) != 2 || o.ended[0] != nil || !errors.Is(o.ended[1], refused) {
				t.Errorf("ended with %v, want [nil, the View's error]", o.ended)
			}
			for i, v := range o.ctxValues {
				if v != "caller's" {
					t.Errorf("transaction %d began in a context without the caller's value (%v)", i, v)
				}
			}
		})
	}
}

// On SQLite the writer reports each group it commits: every Update
// transaction is in exactly one group, and the writer was busy for a while.
func TestObserverHearsGroupCommits(t *testing.T) {
	s, o := openObserved(t, storetest.SQLite)
	*o = recordingObserver{}
	const writers = 50
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if err := s.Update(testCtx(t), func(tx access.Tx) error {
				return tx.PutSetting("k"+strings.Repeat("x", i), "v")
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.grouped != writers {
		t.Errorf("groups held %d transactions in all, want %d", o.grouped, writers)
	}
	if o.groups < 1 || o.groups > writers {
		t.Errorf("%d groups for %d transactions", o.groups, writers)
	}
	if o.busy <= 0 {
		t.Errorf("the writer was busy for %v, want more than nothing", o.busy)
	}
}

// On PostgreSQL each lost race is reported once, as Update runs the
// transaction again.
func TestObserverHearsLostRaces(t *testing.T) {
	storetest.RequireBackend(t, storetest.Postgres)
	s, o := openObserved(t, storetest.Postgres)
	runs := 0
	err := s.Update(testCtx(t), func(tx access.Tx) error {
		runs++
		if runs < 3 {
			return raise(tx, "40001")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.racesLost != 2 {
		t.Errorf("%d lost races reported, want 2", o.racesLost)
	}
	if o.groups != 0 {
		t.Errorf("%d group commits reported on PostgreSQL, want none", o.groups)
	}
}

// A database behind the binary's newest migration is not current; one
// ahead of it, as a newer replica leaves it during a rolling upgrade, is.
func TestMigrationsCurrent(t *testing.T) {
	eachEngine(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := testCtx(t)
		if err := s.MigrationsCurrent(ctx); err != nil {
			t.Fatalf("a freshly migrated database: %v", err)
		}
		versions, err := sqlstore.MigrationVersions()
		if err != nil {
			t.Fatal(err)
		}
		newest := versions[len(versions)-1]
		for _, tc := range []struct {
			name, statement string
			want            string // in the error; "" for current
		}{
			{"behind", "DELETE FROM goose_db_version WHERE version_id = " + newest,
				"at migration " + versions[len(versions)-2] + ", this binary's newest is " + newest},
			{"ahead", "INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, TRUE)", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := storetest.OpenStore(t, s.Engine(), sqlstore.Options{})
				if err := s.Update(ctx, func(tx access.Tx) error { return sqlstore.Exec(tx, tc.statement) }); err != nil {
					t.Fatal(err)
				}
				err := s.MigrationsCurrent(ctx)
				switch {
				case tc.want == "" && err != nil:
					t.Errorf("MigrationsCurrent: %v, want current", err)
				case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
					t.Errorf("MigrationsCurrent: %v, want an error saying %q", err, tc.want)
				}
			})
		}
	})
}
