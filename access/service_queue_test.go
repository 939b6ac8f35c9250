package access_test

import (
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

// A request waiting at the created stage has its callout due and its
// callback deadline queued; QueueStats shows every kind, the wait, and the
// deadline as a timer only once it is due.
func TestServiceQueueStats(t *testing.T) {
	e := newEnv(t)
	e.base(t)
	pol := newPolicy("pol1", "pkg1")
	pol.ExtensionBindings = []access.ExtensionBinding{{Stage: access.StageRequestCreated, CustomExtensionID: "xreq"}}
	must[access.AssignmentPolicy](t)(e.svc.CreateAssignmentPolicy(e.ctx, admin, pol))
	must[access.User](t)(e.svc.CreateUser(e.ctx, newUser("bob")))
	app := access.Caller{ObjectID: "app", IsApp: true, DisplayName: "Admin app", Roles: access.WriteEntitlements}
	must[access.Request](t)(e.svc.SubmitRequest(e.ctx, app, access.RequestInput{
		Type: access.RequestAdminAdd, AccessPackageID: "pkg1", PolicyID: "pol1", TargetID: "bob"}))

	kinds := func(edit map[access.WorkKind]access.WorkKindStats) []access.WorkKindStats {
		var out []access.WorkKindStats
		for _, k := range access.WorkKinds {
			st := edit[k]
			st.Kind = k
			out = append(out, st)
		}
		return out
	}
	e.clock.Advance(time.Minute)
	for _, tc := range []struct {
		name    string
		advance time.Duration
		want    access.QueueStats
	}{
		{"a minute after submission", 0, access.QueueStats{At: t0.Add(time.Minute), WaitingForCallback: 1,
			Kinds: kinds(map[access.WorkKind]access.WorkKindStats{
				access.WorkCallout:         {Due: 1, OldestDue: t0},
				access.WorkCallbackTimeout: {Later: 1},
			})}},
		{"past the callback deadline", time.Hour, access.QueueStats{At: t0.Add(61 * time.Minute), WaitingForCallback: 1, TimersDue: 1,
			Kinds: kinds(map[access.WorkKind]access.WorkKindStats{
				access.WorkCallout:         {Due: 1, OldestDue: t0},
				access.WorkCallbackTimeout: {Due: 1, OldestDue: t0.Add(time.Hour)},
			})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Advance(tc.advance)
			got := must[access.QueueStats](t)(e.svc.QueueStats(e.ctx))
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("QueueStats mismatch (-want +got):\n%s", d)
			}
		})
	}
}
