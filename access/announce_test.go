package access_test

import (
	"context"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// announcingStore counts the write transactions that announced work, which
// on PostgreSQL wakes every other replica's engine.
type announcingStore struct {
	*sqlstore.Store
	announced int
}

func (s *announcingStore) Update(ctx context.Context, fn func(access.Tx) error) error {
	announced := false
	err := s.Store.Update(ctx, func(tx access.Tx) error {
		announced = false // a run that lost a race starts over
		return fn(announcingTx{tx, &announced})
	})
	if err == nil && announced {
		s.announced++
	}
	return err
}

type announcingTx struct {
	access.Tx
	announced *bool
}

func (t announcingTx) AnnounceWork() { *t.announced = true; t.Tx.AnnounceWork() }

// handingEngine takes every callout a transaction offers it.
type handingEngine struct{ handed []access.Claimed }

func (h *handingEngine) Owner() string               { return "local" }
func (h *handingEngine) Lease() time.Duration        { return time.Minute }
func (h *handingEngine) Reserve() bool               { return true }
func (h *handingEngine) Unreserve()                  {}
func (h *handingEngine) HandOver(c access.Claimed)   { h.handed = append(h.handed, c) }
func (h *handingEngine) TakeFinished() []string      { return nil }
func (h *handingEngine) ReturnFinished(ids []string) {}
func (h *handingEngine) Answered(instances []string) {}

// newEnvOn is newEnv with the Service on svcStore, which wraps inner.
func newEnvOn(t *testing.T, inner *sqlstore.Store, svcStore access.Store) *env {
	t.Helper()
	e := &env{store: inner, clock: &stepClock{t: t0}, ids: &seqIDs{}, ctx: context.Background()}
	e.svc = access.NewService(svcStore, e.clock, e.ids)
	return e
}

// submitToCallout makes base's world with policy pol1 binding xreq at
// assignmentRequestCreated and user bob, calls before, and submits an
// admin's request for bob: its callout is due at once.
func (e *env) submitToCallout(t *testing.T, before func()) access.Request {
	t.Helper()
	e.base(t)
	pol := newPolicy("pol1", "pkg1")
	pol.ExtensionBindings = []access.ExtensionBinding{{Stage: access.StageRequestCreated, CustomExtensionID: "xreq"}}
	must[access.AssignmentPolicy](t)(e.svc.CreateAssignmentPolicy(e.ctx, admin, pol))
	must[access.User](t)(e.svc.CreateUser(e.ctx, newUser("bob")))
	before()
	app := access.Caller{ObjectID: "app", IsApp: true, DisplayName: "Admin app", Roles: access.WriteEntitlements}
	return must[access.Request](t)(e.svc.SubmitRequest(e.ctx, app, access.RequestInput{
		Type: access.RequestAdminAdd, AccessPackageID: "pkg1", PolicyID: "pol1", TargetID: "bob"}))
}

// A submission announces its work only when some of it is due now and
// nobody holds it: a callout without a local engine to take it. A callout
// handed to the local engine and a callback deadline an hour away wake
// no other replica.
func TestSubmissionAnnouncesOnlyWorkDueNowAndUnheld(t *testing.T) {
	for _, tc := range []struct {
		name          string
		localEngine   bool
		wantAnnounced int
		wantHanded    int
	}{
		{"no local engine: the callout waits for any replica's claim", false, 1, 0},
		{"the local engine takes the callout; the deadline is an hour away", true, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &announcingStore{Store: storetest.OpenStore(t, storetest.Backend(), sqlstore.Options{})}
			e := newEnvOn(t, st.Store, st)
			engine := &handingEngine{}
			if tc.localEngine {
				e.svc.SetLocalEngine(engine)
			}
			e.submitToCallout(t, func() { st.announced = 0 })
			if st.announced != tc.wantAnnounced || len(engine.handed) != tc.wantHanded {
				t.Errorf("%d transactions announced work and %d callouts were handed over; want %d and %d",
					st.announced, len(engine.handed), tc.wantAnnounced, tc.wantHanded)
			}
		})
	}
}
