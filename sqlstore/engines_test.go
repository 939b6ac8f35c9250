package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/access/accesstest"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
	"github.com/jackc/pgx/v5/pgconn"
)

// Tests that hold on both engines but look at more than access.Store shows.

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// eachEngine runs fn on a fresh migrated *sqlstore.Store of each engine.
func eachEngine(t *testing.T, fn func(t *testing.T, s *sqlstore.Store)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, open func(t *testing.T) access.Store) {
		fn(t, open(t).(*sqlstore.Store))
	})
}

func TestOpenDoesNotMigrate(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			s := storetest.OpenUnmigrated(t, storetest.DSN(t, backend), sqlstore.Options{})
			if s.Engine() != backend {
				t.Errorf("Engine() = %q, want %q", s.Engine(), backend)
			}
			tables, err := sqlstore.Tables(s)
			if err != nil {
				t.Fatal(err)
			}
			if len(tables) != 0 {
				t.Errorf("Open created tables %v", tables)
			}
		})
	}
}

// ResetData must empty every table a migration adds, except the ones it
// keeps: the signing keys, the settings, goose's versions, and the row
// cache's generation (PostgreSQL), which moves on as ResetData deletes.
func TestResetDataNamesEveryTable(t *testing.T) {
	eachEngine(t, func(t *testing.T, s *sqlstore.Store) {
		all, err := sqlstore.Tables(s)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for _, name := range all {
			if !slices.Contains([]string{"signing_keys", "settings", "goose_db_version", "cache_generation"}, name) {
				tables = append(tables, name)
			}
		}
		want := slices.Sorted(slices.Values(sqlstore.ResetTables))
		if !slices.Equal(tables, want) {
			t.Errorf("tables %v, but ResetData empties %v", tables, want)
		}
	})
}

// The schema's unique indexes back the Service's own checks; breaking one
// is a conflict, told by the driver's error code (SQLite's extended result
// code, PostgreSQL's SQLSTATE), never by its message.
func TestUniqueViolationIsConflict(t *testing.T) {
	eachEngine(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		a, b := accesstest.NewUser("u-1"), accesstest.NewUser("u-2")
		b.UserPrincipalName = strings.ToUpper(a.UserPrincipalName)
		err := s.Update(ctx, func(tx access.Tx) error { return errors.Join(tx.PutUser(a), tx.PutUser(b)) })
		if access.KindOf(err) != access.KindConflict {
			t.Errorf("two users with one UPN: %v, want a conflict", err)
		}
		var pgErr *pgconn.PgError
		if s.Engine() == storetest.Postgres && (!errors.As(err, &pgErr) || pgErr.Code != "23505") {
			t.Errorf("two users with one UPN: %v, want it to wrap SQLSTATE 23505", err)
		}
		x, y := accesstest.NewServicePrincipal("sp-1"), accesstest.NewServicePrincipal("sp-2")
		y.AppID = x.AppID
		err = s.Update(ctx, func(tx access.Tx) error { return errors.Join(tx.PutServicePrincipal(x), tx.PutServicePrincipal(y)) })
		if access.KindOf(err) != access.KindConflict {
			t.Errorf("two service principals with one appId: %v, want a conflict", err)
		}
		// Any number may have no appId.
		x.AppID, y.AppID = "", ""
		if err := s.Update(ctx, func(tx access.Tx) error { return errors.Join(tx.PutServicePrincipal(x), tx.PutServicePrincipal(y)) }); err != nil {
			t.Errorf("two service principals without appId: %v", err)
		}
		// A primary key too.
		err = s.Update(ctx, func(tx access.Tx) error {
			return sqlstore.Exec(tx, "INSERT INTO catalogs (id, display_name, doc) VALUES (?, ?, ?), (?, ?, ?)", "c", "", "{}", "c", "", "{}")
		})
		if access.KindOf(err) != access.KindConflict {
			t.Errorf("two catalogs with one id: %v, want a conflict", err)
		}
		// Other driver errors are internal.
		err = s.Update(ctx, func(tx access.Tx) error { return sqlstore.Exec(tx, "INSERT INTO no_such_table VALUES (1)") })
		if access.KindOf(err) != access.KindInternal {
			t.Errorf("a bad statement: %v, want an internal error", err)
		}
		err = s.Update(ctx, func(tx access.Tx) error {
			return sqlstore.Exec(tx, "INSERT INTO policy_extension_bindings (policy_id, stage, extension_id) VALUES ('no-such-policy', 's', 'x')")
		})
		if access.KindOf(err) != access.KindInternal {
			t.Errorf("a broken foreign key: %v, want an internal error", err)
		}
	})
}

func TestPageLimitBelowOneIsRefused(t *testing.T) {
	eachEngine(t, func(t *testing.T, s *sqlstore.Store) {
		err := s.View(context.Background(), func(tx access.Tx) error { _, err := tx.Users(access.Page{}); return err })
		if err == nil {
			t.Error("a page without a limit was accepted")
		}
	})
}

func TestUpdateHonoursContext(t *testing.T) {
	eachEngine(t, func(t *testing.T, s *sqlstore.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Update(ctx, func(tx access.Tx) error { return tx.PutSetting("x", "y") })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Update with a canceled context: %v", err)
		}
	})
}

// WorkNotifications has nothing to report on SQLite: one process owns the file.
func TestWorkNotificationsOnSQLite(t *testing.T) {
	s := storetest.OpenStore(t, storetest.SQLite, sqlstore.Options{})
	ch, err := s.WorkNotifications(t.Context())
	if ch != nil || err != nil {
		t.Errorf("WorkNotifications on SQLite = %v, %v; want nil, nil", ch, err)
	}
}

// BenchmarkCommitSingleRow measures Update transactions that write one
// row, one after another: on SQLite with each synchronous setting, and on
// the PostgreSQL server of ACCESSD_TEST_POSTGRES (SERIALIZABLE, with the
// server's own fsync and synchronous_commit settings).
func BenchmarkCommitSingleRow(b *testing.B) {
	cases := []struct {
		name, backend string
		opt           sqlstore.Options
	}{
		{"synchronous=normal", storetest.SQLite, sqlstore.Options{Synchronous: "normal"}},
		{"synchronous=full", storetest.SQLite, sqlstore.Options{Synchronous: "full"}},
		{"postgres", storetest.Postgres, sqlstore.Options{}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := storetest.OpenStore(b, c.backend, c.opt)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				if err := s.Update(ctx, func(tx access.Tx) error { return tx.PutSetting("bench", fmt.Sprint(i)) }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}

// Analyze leaves the planners statistics of the tables it was given rows
// in: SQLite's sqlite_stat1, PostgreSQL's reltuples (-1 until a table was
// first analyzed).
func TestAnalyzeGathersStatistics(t *testing.T) {
	eachEngine(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		err := s.Update(ctx, func(tx access.Tx) error {
			for i := range 20 {
				id := fmt.Sprintf("u%02d", i)
				if err := tx.PutUser(access.User{ID: id, DisplayName: id, UserPrincipalName: id + "@contoso.test"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		query := "SELECT stat FROM sqlite_stat1 WHERE tbl = 'users'"
		if s.Engine() == "postgres" {
			query = "SELECT reltuples::text FROM pg_class WHERE oid = 'users'::regclass"
		}
		if err := s.Analyze(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := sqlstore.Strings(s, query)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || (s.Engine() == "postgres" && got[0] != "20") || (s.Engine() == "sqlite" && !strings.HasPrefix(got[0], "20")) {
			t.Errorf("statistics of users after Analyze: %q, want 20 rows counted", got)
		}
	})
}

// Counts adds up what transactions do: one write transaction writing one
// document, then a read of one row, which is one statement and writes none.
func TestCountsAddUpStatementsDocumentsAndWrites(t *testing.T) {
	eachEngine(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		before := s.Counts()
		err := s.Update(ctx, func(tx access.Tx) error {
			return tx.PutUser(access.User{ID: "u1", DisplayName: "U", UserPrincipalName: "u1@contoso.test"})
		})
		if err != nil {
			t.Fatal(err)
		}
		written := s.Counts()
		if d := written.WriteTransactions - before.WriteTransactions; d != 1 {
			t.Errorf("%d write transactions counted, want 1", d)
		}
		if d := written.Documents - before.Documents; d != 1 {
			t.Errorf("%d documents counted, want 1", d)
		}
		if d := written.Statements - before.Statements; d < 1 {
			t.Errorf("%d statements counted for a write", d)
		}
		if err := s.View(ctx, func(tx access.Tx) error { _, err := tx.User("u1"); return err }); err != nil {
			t.Fatal(err)
		}
		read := s.Counts()
		if d := read.Statements - written.Statements; d != 1 {
			t.Errorf("%d statements counted for one read, want 1", d)
		}
		if read.Documents != written.Documents || read.WriteTransactions != written.WriteTransactions {
			t.Errorf("a read counted as a write: %+v after %+v", read, written)
		}
	})
}
