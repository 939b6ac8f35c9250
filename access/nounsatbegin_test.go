package access_test

import (
	"context"
	"strings"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
	"github.com/google/go-cmp/cmp"
)

// parallelStore is a store that says its writes run side by side, as
// PostgreSQL's do, and counts read transactions.
type parallelStore struct {
	*sqlstore.Store
	parallel bool
	views    int
}

func (s *parallelStore) WritesInParallel() bool { return s.parallel }

func (s *parallelStore) View(ctx context.Context, fn func(access.Tx) error) error {
	s.views++
	return s.Store.View(ctx, fn)
}

// Where writes run side by side, a callout handed to the local engine has
// its package, catalog and policy read in the transaction that queued it,
// and its body needs no read transaction of its own. The body is the same
// either way.
func TestCalloutBodyReadAtBeginWhereWritesRunInParallel(t *testing.T) {
	body := func(t *testing.T, parallel bool) (string, int) {
		st := &parallelStore{Store: storetest.OpenStore(t, storetest.Backend(), sqlstore.Options{}), parallel: parallel}
		e := newEnvOn(t, st.Store, st)
		engine := &handingEngine{}
		e.svc.SetLocalEngine(engine)
		e.submitToCallout(t, func() {})
		if len(engine.handed) != 1 {
			t.Fatalf("%d callouts handed over, want 1", len(engine.handed))
		}
		plan := engine.handed[0].Plan
		st.views = 0
		noErr(t, e.svc.CalloutBody(e.ctx, plan))
		if plan.Extension.ID != "xreq" {
			t.Errorf("the plan's extension is %q, want xreq", plan.Extension.ID)
		}
		return string(plan.Body), st.views
	}
	turns, turnViews := body(t, false)
	parallel, parallelViews := body(t, true)
	if turnViews != 1 || parallelViews != 0 {
		t.Errorf("building the body took %d read transactions where writes take turns and %d where they run in parallel; want 1 and 0",
			turnViews, parallelViews)
	}
	if d := cmp.Diff(turns, parallel); d != "" {
		t.Errorf("the bodies differ (-turns +parallel):\n%s", d)
	}
	for _, want := range []string{`"AccessPackage":{"Id":"pkg1","DisplayName":"Package pkg1"`,
		`"AccessPackageCatalog":{"Id":"cat1","DisplayName":"Catalog cat1"`, `"AssignmentPolicy":{"Id":"pol1","DisplayName":"Policy pol1"}`} {
		if !strings.Contains(parallel, want) {
			t.Errorf("the body has no %s: %s", want, parallel)
		}
	}
}
