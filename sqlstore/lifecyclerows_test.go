package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
	"github.com/google/go-cmp/cmp"
)

// Migration 00010 turns history rows of one entry into rows of a
// transition's entries, and moves work out of its JSON document into
// columns. A database written before it must read the same afterwards:
// the same history, entry for entry and byte for byte in JSON, and the same
// work, claimable as before.
func TestMigrationLifecycleRowsConvertsExistingData(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := storeAtVersion(t, backend, 9)

			// What the build before 00010 wrote: one row per entry, its
			// doc the entry's JSON; work with its fields in a doc, except
			// the due time and attempt, which have columns.
			at := time.Date(2026, 12, 1, 8, 0, 0, 123000000, time.UTC)
			var entries []access.HistoryEntry
			for i, action := range []string{"submitted", "calloutQueued", "transition", "calloutSent", "callback", "transition"} {
				entries = append(entries, access.HistoryEntry{ID: fmt.Sprintf("0193a000-%04x-7000-8000-000000000000", i),
					RequestID: "req-1", At: at.Add(time.Duration(i) * time.Millisecond), ActorID: "actor", ActorName: "Actor",
					Action: action, Stage: access.StageRequestCreated, Source: "src", Type: "type", Detail: "detail é \"quoted\"",
					Outcome: "continue", State: access.StateSubmitted, Status: access.StatusWaitingForCallback})
			}
			other := access.HistoryEntry{ID: "0193a000-0001-7000-8000-000000000001", RequestID: "req-2", At: at, Action: "submitted"}
			works := []access.Work{
				{ID: "work-1", Kind: access.WorkCallout, RequestID: "req-1", Stage: access.StageRequestCreated, InstanceID: "inst-1",
					ExtensionID: "ext-1", DueAt: at, RequestState: access.StateSubmitted, RequestStatus: access.StatusAccepted},
				{ID: "work-2", Kind: access.WorkCallbackTimeout, RequestID: "req-1", Stage: access.StageRequestCreated, InstanceID: "inst-1",
					ExtensionID: "ext-1", DueAt: at.Add(time.Minute), Attempt: 3},
				{ID: "work-3", Kind: access.WorkApprovalEscalation, RequestID: "req-2", ApprovalStepID: "step-1", DueAt: at.Add(2 * time.Minute)},
				{ID: "work-4", Kind: access.WorkCallout, AssignmentID: "asg-1", Stage: access.StageOneDayBeforeExpiry, InstanceID: "inst-2",
					ExtensionID: "ext-2", DueAt: at.Add(3 * time.Minute)},
			}
			err := s.Update(ctx, func(tx access.Tx) error {
				for _, h := range append(entries, other) {
					doc, err := json.Marshal(h)
					if err != nil {
						return err
					}
					if err := sqlstore.Exec(tx, "INSERT INTO history (id, request_id, doc) VALUES (?, ?, ?)", h.ID, h.RequestID, string(doc)); err != nil {
						return err
					}
				}
				for _, w := range works {
					stored := w
					stored.DueAt, stored.Attempt = time.Time{}, 0
					doc, err := json.Marshal(stored)
					if err != nil {
						return err
					}
					if err := sqlstore.Exec(tx, `INSERT INTO work (id, kind, request_id, assignment_id, due_us, attempt, doc)
VALUES (?, ?, ?, ?, ?, ?, ?)`, w.ID, string(w.Kind), w.RequestID, w.AssignmentID, w.DueAt.UnixMicro(), w.Attempt, string(doc)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}

			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}

			var all []access.HistoryEntry
			err = s.View(ctx, func(tx access.Tx) error {
				var err error
				all, err = tx.History("req-1", access.Page{Limit: 100})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(entries, all); diff != "" {
				t.Errorf("history after the migration (-before +after):\n%s", diff)
			}
			before, _ := json.Marshal(entries)
			after, _ := json.Marshal(all)
			if string(before) != string(after) {
				t.Errorf("history as JSON after the migration:\n%s\nwant\n%s", after, before)
			}
			for _, limit := range []int{1, 2, 4} {
				var paged []access.HistoryEntry
				p := access.Page{Limit: limit}
				for {
					var page []access.HistoryEntry
					err := s.View(ctx, func(tx access.Tx) error {
						var err error
						page, err = tx.History("req-1", p)
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
					if len(page) == 0 {
						break
					}
					paged = append(paged, page...)
					p.After = page[len(page)-1].ID
				}
				if diff := cmp.Diff(entries, paged); diff != "" {
					t.Errorf("history paged by %d after the migration (-before +after):\n%s", limit, diff)
				}
			}

			// New rows of several entries page together with converted ones.
			later := []access.HistoryEntry{
				{ID: "0193a000-0100-7000-8000-000000000000", RequestID: "req-1", At: at.Add(time.Second), Action: "transition"},
				{ID: "0193a000-0101-7000-8000-000000000000", RequestID: "req-1", At: at.Add(time.Second), Action: "calloutQueued"},
			}
			var claimed []access.Work
			err = s.Update(ctx, func(tx access.Tx) error {
				if err := tx.AddHistory(later...); err != nil {
					return err
				}
				var err error
				claimed, err = tx.ClaimWork(at.Add(time.Hour), "owner", at.Add(2*time.Hour), 10)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			err = s.View(ctx, func(tx access.Tx) error {
				got, err := tx.History("req-1", access.Page{After: entries[4].ID, Limit: 3})
				if diff := cmp.Diff(append([]access.HistoryEntry{entries[5]}, later...), got); diff != "" {
					t.Errorf("history after a new row (-want +got):\n%s", diff)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(works, claimed); diff != "" {
				t.Errorf("work after the migration (-before +after):\n%s", diff)
			}
		})
	}
}
