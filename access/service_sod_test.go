package access_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

// Separation of duties through the service and a real store: a request is
// refused when its target holds, or has asked for, something incompatible
// with what it asks for.

// sodWorld is a catalog cat1 with packages pkg-a and pkg-b (policies
// pol-pkg-a and pol-pkg-b, no approval), the group g-blocked, and the users
// alice, bob and approver.
type sodWorld struct{ *dlWorld }

func newSodWorld(t *testing.T) *sodWorld {
	t.Helper()
	w := &sodWorld{newDlWorld(t)}
	must[access.User](t)(w.svc.CreateUser(w.ctx, newUser("approver")))
	must[access.Group](t)(w.svc.CreateGroup(w.ctx, newGroup("g-blocked"), nil, nil))
	w.pkg(t, "pkg-a", nil)
	w.pkg(t, "pkg-b", nil)
	return w
}

func (w *sodWorld) incompatible(t *testing.T, pkgID string, kind access.Incompatibility, otherID string) {
	t.Helper()
	noErr(t, w.svc.AddIncompatible(w.ctx, admin, pkgID, kind, otherID))
}

func (w *sodWorld) ask(pkgID, targetID string) (access.Request, error) {
	return w.svc.SubmitRequest(w.ctx, w.app, access.RequestInput{Type: access.RequestAdminAdd, AccessPackageID: pkgID,
		PolicyID: "pol-" + pkgID, TargetID: targetID})
}

func TestServiceSeparationOfDuties(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(t *testing.T, w *sodWorld)
		ask       string   // the package alice asks for
		fragments []string // what the 409 names; nil: the request goes through
	}{
		{"A lists B, and the target holds B", func(t *testing.T, w *sodWorld) {
			w.incompatible(t, "pkg-a", access.IncompatiblePackage, "pkg-b")
			w.submit(t, "pkg-b", "alice")
		}, "pkg-a", []string{"Package pkg-b (pkg-b)", "alice"}},
		{"A lists B, and the target holds A (the reverse)", func(t *testing.T, w *sodWorld) {
			w.incompatible(t, "pkg-a", access.IncompatiblePackage, "pkg-b")
			w.submit(t, "pkg-a", "alice")
		}, "pkg-b", []string{"Package pkg-a (pkg-a)", "alice"}},
		{"the target has an open request for an incompatible package", func(t *testing.T, w *sodWorld) {
			w.incompatible(t, "pkg-a", access.IncompatiblePackage, "pkg-b")
			p := must[access.AssignmentPolicy](t)(w.svc.AssignmentPolicy(w.ctx, admin, "pol-pkg-b"))
			p.RequestApprovalSettings = access.ApprovalSettings{IsApprovalRequiredForAdd: true, Stages: []access.ApprovalStage{validStage()}}
			must[access.AssignmentPolicy](t)(w.svc.ReplaceAssignmentPolicy(w.ctx, admin, p.ID, p))
			if r := w.submit(t, "pkg-b", "alice"); r.State != access.StatePendingApproval {
				t.Fatalf("the request for pkg-b is %s, want it open, pending approval", r.State)
			}
		}, "pkg-a", []string{"Package pkg-b (pkg-b)"}},
		{"the target is a member of an incompatible group", func(t *testing.T, w *sodWorld) {
			w.incompatible(t, "pkg-a", access.IncompatibleGroup, "g-blocked")
			noErr(t, w.svc.AddToGroup(w.ctx, "g-blocked", access.GroupMembers, "alice"))
		}, "pkg-a", []string{"Group g-blocked (g-blocked)", "alice"}},

		{"A lists B, and someone else holds B", func(t *testing.T, w *sodWorld) {
			w.incompatible(t, "pkg-a", access.IncompatiblePackage, "pkg-b")
			w.submit(t, "pkg-b", "bob")
		}, "pkg-a", nil},
		{"A lists B, and the target's assignment of B has ended", func(t *testing.T, w *sodWorld) {
			w.incompatible(t, "pkg-a", access.IncompatiblePackage, "pkg-b")
			r := w.submit(t, "pkg-b", "alice")
			w.remove(t, r.AssignmentID)
			w.drain(t)
		}, "pkg-a", nil},
		{"the target owns the incompatible group", func(t *testing.T, w *sodWorld) {
			w.incompatible(t, "pkg-a", access.IncompatibleGroup, "g-blocked")
			noErr(t, w.svc.AddToGroup(w.ctx, "g-blocked", access.GroupOwners, "alice"))
		}, "pkg-a", nil},
		{"the incompatibility was removed", func(t *testing.T, w *sodWorld) {
			w.incompatible(t, "pkg-a", access.IncompatiblePackage, "pkg-b")
			w.submit(t, "pkg-b", "alice")
			noErr(t, w.svc.RemoveIncompatible(w.ctx, admin, "pkg-a", access.IncompatiblePackage, "pkg-b"))
		}, "pkg-a", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newSodWorld(t)
			tc.setup(t, w)
			r, err := w.ask(tc.ask, "alice")
			asked := access.RequestFilter{TargetID: "alice", AccessPackageID: tc.ask}
			stored := must[[]access.Request](t)(firstPage(w.svc.Requests(w.ctx, asked, access.Page{Limit: 10})))
			if tc.fragments == nil {
				noErr(t, err)
				if len(stored) != 1 || stored[0].ID != r.ID || stored[0].State != access.StateDelivered {
					t.Errorf("%d stored requests (%+v), want the one asked for, delivered", len(stored), stored)
				}
				return
			}
			wantKind(t, err, access.KindConflict, tc.fragments...)
			if len(stored) != 0 {
				t.Errorf("a refused request was stored: %+v", stored)
			}
		})
	}
}

// Two requests for incompatible packages, for one target, submitted at the
// same moment: one goes through, the other is refused, whichever comes
// first. Checking and writing in one transaction keeps the rule.
func TestServiceSeparationOfDutiesUnderConcurrency(t *testing.T) {
	w := newSodWorld(t)
	w.incompatible(t, "pkg-a", access.IncompatiblePackage, "pkg-b")
	const rounds = 8
	for round := range rounds {
		target := fmt.Sprintf("target-%d", round)
		must[access.User](t)(w.svc.CreateUser(w.ctx, newUser(target)))
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := map[string]error{}
		var mu sync.Mutex
		for _, pkgID := range []string{"pkg-a", "pkg-b"} {
			wg.Go(func() {
				<-start
				_, err := w.ask(pkgID, target)
				mu.Lock()
				defer mu.Unlock()
				errs[pkgID] = err
			})
		}
		close(start)
		wg.Wait()

		granted, refused := 0, 0
		for pkgID, err := range errs {
			switch {
			case err == nil:
				granted++
			case access.KindOf(err) == access.KindConflict:
				refused++
			default:
				t.Errorf("round %d, %s: %v, want success or a conflict", round, pkgID, err)
			}
		}
		if granted != 1 || refused != 1 {
			t.Errorf("round %d: %d granted and %d refused (%v), want exactly one of each", round, granted, refused, errs)
		}
		held := must[[]access.Assignment](t)(firstPage(w.svc.Assignments(w.ctx, access.AssignmentFilter{TargetID: target, Active: true}, access.Page{Limit: 10})))
		if len(held) != 1 {
			t.Errorf("round %d: the target holds %d assignments, want 1", round, len(held))
		}
	}
}

// additionalAccess lists the assignments of one package whose targets also
// hold the other: those who held both before the rule came.
func TestServiceAdditionalAccess(t *testing.T) {
	w := newSodWorld(t)
	holdsA := map[string]string{} // target -> assignment of pkg-a
	for _, u := range []struct {
		id   string
		a, b bool
	}{{"u1", true, true}, {"u2", true, true}, {"u3", true, true}, {"u4", true, false}, {"u5", false, true}, {"u6", true, true}} {
		must[access.User](t)(w.svc.CreateUser(w.ctx, newUser(u.id)))
		if u.a {
			holdsA[u.id] = w.submit(t, "pkg-a", u.id).AssignmentID
		}
		if u.b {
			w.submit(t, "pkg-b", u.id)
		}
	}
	// u6 no longer holds pkg-b: only active assignments count.
	u6b := must[[]access.Assignment](t)(firstPage(w.svc.Assignments(w.ctx, access.AssignmentFilter{TargetID: "u6", AccessPackageID: "pkg-b"}, access.Page{Limit: 1})))
	w.remove(t, u6b[0].ID)
	w.drain(t)
	w.incompatible(t, "pkg-a", access.IncompatiblePackage, "pkg-b")

	page := func(after string, limit int) ([]string, bool) {
		t.Helper()
		items, more, err := w.svc.AdditionalAccess(w.ctx, admin, "pkg-a", "pkg-b", access.Page{After: after, Limit: limit})
		noErr(t, err)
		var targets []string
		for _, a := range items {
			if a.AccessPackageID != "pkg-a" || a.ID != holdsA[a.Target.ID] {
				t.Errorf("listed assignment %s of %s for %s, want the target's assignment of pkg-a", a.ID, a.AccessPackageID, a.Target.ID)
			}
			targets = append(targets, a.Target.ID)
		}
		return targets, more
	}
	first, more := page("", 2)
	if diff := cmp.Diff([]string{"u1", "u2"}, first); diff != "" || !more {
		t.Errorf("first page (-want +got):\n%s more %v, want true", diff, more)
	}
	second, more := page(holdsA["u2"], 2)
	if diff := cmp.Diff([]string{"u3"}, second); diff != "" || more {
		t.Errorf("second page (-want +got):\n%s more %v, want false", diff, more)
	}
	all, more := page("", 10)
	if diff := cmp.Diff([]string{"u1", "u2", "u3"}, all); diff != "" || more {
		t.Errorf("one page of all (-want +got):\n%s more %v, want false", diff, more)
	}
	exact, more := page("", 3)
	if diff := cmp.Diff([]string{"u1", "u2", "u3"}, exact); diff != "" || more {
		t.Errorf("a page exactly as long as the list (-want +got):\n%s more %v, want false", diff, more)
	}
	// The other way round it lists the assignments of pkg-b of the same targets.
	items, _, err := w.svc.AdditionalAccess(w.ctx, admin, "pkg-b", "pkg-a", access.Page{Limit: 10})
	noErr(t, err)
	var targets []string
	for _, a := range items {
		if a.AccessPackageID != "pkg-b" {
			t.Errorf("listed an assignment of %s, want pkg-b", a.AccessPackageID)
		}
		targets = append(targets, a.Target.ID)
	}
	if diff := cmp.Diff([]string{"u1", "u2", "u3"}, targets); diff != "" {
		t.Errorf("holders of pkg-b who hold pkg-a (-want +got):\n%s", diff)
	}
}
