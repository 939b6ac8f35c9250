package access_test

import (
	"slices"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

// Approval through the service and a real store: approvers resolved from
// the directory as it is when a stage starts, each subject set accessd
// knows, and deciding as the approvers do.

// apWorld is a directory for approval: the requestor Rita (managed by Mia,
// managed by Max), the target Tom (managed by Mo, managed by Meg), a group
// of leads with direct members Lee, a service principal and a nested group,
// a disabled user Dora, and the approver bot.
type apWorld struct {
	*env
	requestor access.Caller
	app       access.Caller
}

func newApWorld(t *testing.T) *apWorld {
	t.Helper()
	e := newEnv(t)
	e.base(t)
	w := &apWorld{env: e}
	user := func(id, manager string, enabled bool) {
		u := newUser(id)
		u.ManagerID, u.AccountEnabled = manager, enabled
		must[access.User](t)(e.svc.CreateUser(e.ctx, u))
	}
	for _, u := range []struct {
		id, manager string
		enabled     bool
	}{{"max", "", true}, {"mia", "max", true}, {"rita", "mia", true}, {"meg", "", true}, {"mo", "meg", true},
		{"tom", "mo", true}, {"lee", "", true}, {"nina", "", true}, {"dora", "", false}, {"vic", "", true}} {
		user(u.id, u.manager, u.enabled)
	}
	must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{ID: "sp-bot", AppID: "bot-app", DisplayName: "Approver bot"}))
	must[access.Group](t)(e.svc.CreateGroup(e.ctx, newGroup("g-nested"), []string{"nina"}, nil))
	must[access.Group](t)(e.svc.CreateGroup(e.ctx, newGroup("g-leads"), []string{"lee", "sp-bot", "g-nested", "dora", "tom"}, nil))
	// rita sends admin requests as an Access package assignment manager of cat1.
	w.requestor = access.Caller{ObjectID: "rita", UPN: "rita@contoso.test", Scopes: access.WriteEntitlements,
		HeldRoles: []access.HeldRole{{RoleID: access.RoleAccessPackageAssignmentManager, CatalogID: "cat1"}}, Rule: access.RuleRequestor}
	w.app = access.Caller{ObjectID: "app", IsApp: true, DisplayName: "Admin app", Roles: access.WriteEntitlements}
	return w
}

func apSet(typ string, edit func(*access.SubjectSet)) access.SubjectSet {
	s := access.SubjectSet{Type: typ}
	if edit != nil {
		edit(&s)
	}
	return s
}

// policy creates a policy of pkg1 that requires approval in the stages.
func (w *apWorld) policy(t *testing.T, id string, stages ...access.ApprovalStage) {
	t.Helper()
	p := newPolicy(id, "pkg1")
	p.RequestApprovalSettings = access.ApprovalSettings{IsApprovalRequiredForAdd: true, Stages: stages}
	must[access.AssignmentPolicy](t)(w.svc.CreateAssignmentPolicy(w.ctx, admin, p))
}

// submit submits a request and returns it as stored: SubmitRequest answers
// with the request as accepted, before its approval began.
func (w *apWorld) submit(t *testing.T, by access.Caller, policy, target string) access.Request {
	t.Helper()
	r := must[access.Request](t)(w.svc.SubmitRequest(w.ctx, by, access.RequestInput{
		Type: access.RequestAdminAdd, AccessPackageID: "pkg1", PolicyID: policy, TargetID: target}))
	return must[access.Request](t)(w.svc.Request(w.ctx, admin, r.ID))
}

func stageApprovers(r access.Request, k int) []string {
	ids := []string{}
	for _, a := range r.Approval[k].Approvers {
		ids = append(ids, a.ID)
	}
	return ids
}

func TestServiceResolvesEachSubjectSet(t *testing.T) {
	fallback := []access.SubjectSet{user("vic")}
	for _, tc := range []struct {
		name string
		set  access.SubjectSet
		want []string // before the fallback; nil: the fallback (vic) approves
		gone string   // a user or group deleted after the policy was saved
	}{
		{"singleUser", user("lee"), []string{"lee"}, ""},
		{"singleUser, disabled", user("dora"), nil, ""},
		{"singleUser, deleted since the policy was saved", user("lee"), nil, "lee"},
		{"groupMembers: direct members only, enabled users and service principals, not the target",
			apSet("groupMembers", func(s *access.SubjectSet) { s.GroupID = "g-leads" }), []string{"lee", "sp-bot"}, ""},
		{"groupMembers of a group deleted since", apSet("groupMembers", func(s *access.SubjectSet) { s.GroupID = "g-nested" }), nil, "g-nested"},
		{"requestorManager level 1", apSet("requestorManager", func(s *access.SubjectSet) { s.ManagerLevel = 1 }), []string{"mia"}, ""},
		{"requestorManager level 2", apSet("requestorManager", func(s *access.SubjectSet) { s.ManagerLevel = 2 }), []string{"max"}, ""},
		{"targetManager level 1", apSet("targetManager", func(s *access.SubjectSet) { s.ManagerLevel = 1 }), []string{"mo"}, ""},
		{"targetManager level 2", apSet("targetManager", func(s *access.SubjectSet) { s.ManagerLevel = 2 }), []string{"meg"}, ""},
		{"singleServicePrincipal", apSet("singleServicePrincipal", func(s *access.SubjectSet) { s.ServicePrincipalID = "sp-bot" }), []string{"sp-bot"}, ""},
		{"internalSponsors", apSet("internalSponsors", nil), nil, ""},
		{"externalSponsors", apSet("externalSponsors", nil), nil, ""},
		{"targetUserSponsors", apSet("targetUserSponsors", nil), nil, ""},
		{"targetApplicationOwners", apSet("targetApplicationOwners", nil), nil, ""},
		{"targetAgentIdentitySponsorsOrOwners", apSet("targetAgentIdentitySponsorsOrOwners", nil), nil, ""},
		{"connectedOrganizationMembers", apSet("connectedOrganizationMembers", func(s *access.SubjectSet) { s.ConnectedOrganizationID = "org-1" }), nil, ""},
		{"attributeRuleMembers", apSet("attributeRuleMembers", func(s *access.SubjectSet) { s.MembershipRule = `user.department -eq "Sales"` }), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newApWorld(t)
			st := validStage()
			st.PrimaryApprovers, st.FallbackPrimaryApprovers = []access.SubjectSet{tc.set}, fallback
			w.policy(t, "pol", st)
			switch {
			case tc.gone == "lee":
				noErr(t, w.svc.DeleteUser(w.ctx, tc.gone))
			case tc.gone != "":
				noErr(t, w.svc.DeleteGroup(w.ctx, tc.gone))
			}
			stored := w.submit(t, w.requestor, "pol", "tom")
			want := tc.want
			if want == nil {
				want = []string{"vic"}
			}
			if diff := cmp.Diff(want, stageApprovers(stored, 0)); diff != "" {
				t.Errorf("stored approvers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceApprovalFlow(t *testing.T) {
	w := newApWorld(t)
	first := validStage()
	first.PrimaryApprovers = []access.SubjectSet{apSet("groupMembers", func(s *access.SubjectSet) { s.GroupID = "g-leads" })}
	second := validStage()
	second.PrimaryApprovers = []access.SubjectSet{apSet("targetManager", func(s *access.SubjectSet) { s.ManagerLevel = 1 })}
	w.policy(t, "pol", first, second)
	r := w.submit(t, w.app, "pol", "tom")
	lee := access.Caller{ObjectID: "lee", UPN: "lee@contoso.test", Scopes: access.WriteEntitlements}
	mo := access.Caller{ObjectID: "mo", UPN: "mo@contoso.test", Scopes: access.WriteEntitlements}
	nina := access.Caller{ObjectID: "nina", UPN: "nina@contoso.test", Scopes: access.WriteEntitlements}

	pendingFor := func(c access.Caller) []string {
		t.Helper()
		rs, _, err := w.svc.ApprovalsToDecide(w.ctx, c, access.Page{Limit: 10})
		noErr(t, err)
		ids := []string{}
		for _, x := range rs {
			ids = append(ids, x.ID)
		}
		return ids
	}
	if got := pendingFor(lee); !slices.Equal(got, []string{r.ID}) {
		t.Errorf("lee's pending approvals %v, want %v", got, []string{r.ID})
	}
	if got := pendingFor(mo); len(got) != 0 {
		t.Errorf("mo approves stage 2 only, yet sees %v before stage 1 is decided", got)
	}
	if _, err := w.svc.Approval(w.ctx, nina, r.ID); !access.IsNotFound(err) {
		t.Errorf("a nested group's member sees the approval: %v", err)
	}
	if _, err := w.svc.Approval(w.ctx, lee, r.ID); err != nil {
		t.Errorf("an approver cannot see the approval: %v", err)
	}

	// Changes in the directory after the stage started do not move it.
	noErr(t, w.svc.RemoveFromGroup(w.ctx, "g-leads", access.GroupMembers, "lee"))
	second2 := r.Approval[1].ID
	err := w.svc.DecideApproval(w.ctx, mo, access.ApprovalDecision{RequestID: r.ID, StageID: second2, Decision: access.Decision{Approve: true}})
	if access.KindOf(err) != access.KindConflict {
		t.Errorf("stage 2's approver decides before stage 1: %v, want 409", err)
	}
	err = w.svc.DecideApproval(w.ctx, nina, access.ApprovalDecision{RequestID: r.ID, StageID: r.Approval[0].ID, Decision: access.Decision{Approve: true}})
	if access.KindOf(err) != access.KindForbidden {
		t.Errorf("a non-approver decides: %v, want 403", err)
	}
	err = w.svc.DecideApproval(w.ctx, lee, access.ApprovalDecision{RequestID: r.ID, StageID: "nope", Decision: access.Decision{Approve: true}})
	if !access.IsNotFound(err) {
		t.Errorf("an unknown stage: %v, want 404", err)
	}
	err = w.svc.DecideApproval(w.ctx, lee, access.ApprovalDecision{RequestID: r.ID, StageID: r.Approval[0].ID, BodyErr: access.Invalidf("bad body")})
	if access.KindOf(err) != access.KindInvalid {
		t.Errorf("a bad body: %v, want 400", err)
	}
	w.clock.Advance(time.Hour)
	noErr(t, w.svc.DecideApproval(w.ctx, lee, access.ApprovalDecision{RequestID: r.ID, StageID: r.Approval[0].ID,
		Decision: access.Decision{Approve: true, Justification: "fine"}}))
	if got := pendingFor(lee); len(got) != 0 {
		t.Errorf("lee still sees %v after deciding", got)
	}
	if got := pendingFor(mo); !slices.Equal(got, []string{r.ID}) {
		t.Errorf("mo's pending approvals %v after stage 1, want the request", got)
	}
	if _, err := w.svc.Approval(w.ctx, lee, r.ID); err != nil {
		t.Errorf("an approver of a decided stage no longer sees the approval: %v", err)
	}
	err = w.svc.DecideApproval(w.ctx, lee, access.ApprovalDecision{RequestID: r.ID, StageID: r.Approval[0].ID, Decision: access.Decision{Approve: false}})
	if access.KindOf(err) != access.KindConflict {
		t.Errorf("a second decision: %v, want 409", err)
	}
	noErr(t, w.svc.DecideApproval(w.ctx, mo, access.ApprovalDecision{RequestID: r.ID, StageID: second2, Decision: access.Decision{Approve: true}}))
	done := must[access.Request](t)(w.svc.Request(w.ctx, admin, r.ID))
	if done.State != access.StateDelivered || done.AssignmentID == "" {
		t.Errorf("after both stages: %s, assignment %q", done.State, done.AssignmentID)
	}
	if st := done.Approval[0]; st.ReviewedBy.ID != "lee" || st.ReviewedBy.DisplayName != "User lee" || st.Justification != "fine" || st.ReviewedDateTime == nil || !st.ReviewedDateTime.Equal(t0.Add(time.Hour)) {
		t.Errorf("stage 1 as stored: %+v", st)
	}
	if got := pendingFor(mo); len(got) != 0 {
		t.Errorf("mo still sees %v after the request was delivered", got)
	}
	history := must[[]access.HistoryEntry](t)(func() ([]access.HistoryEntry, error) {
		h, _, err := w.svc.History(w.ctx, admin, r.ID, access.Page{Limit: 100})
		return h, err
	}())
	var actions []string
	for _, h := range history {
		if h.Action != "transition" {
			actions = append(actions, h.Action+":"+h.ActorID)
		}
	}
	want := []string{"submitted:app", "approvalStageStarted:app", "approvalStageApproved:lee", "approvalStageStarted:lee", "approvalStageApproved:mo"}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

// A dynamic approval stage needs a request-workflow extension that waits,
// in the package's catalog; the extension cannot be deleted while a policy
// names it.
func TestServiceDynamicApprovalStagePolicy(t *testing.T) {
	w := newApWorld(t)
	dynamic := access.ApprovalStage{Type: access.DynamicApprovalStage, CustomExtensionID: "xreq"}
	w.policy(t, "pol", dynamic)
	stored := must[access.AssignmentPolicy](t)(w.svc.AssignmentPolicy(w.ctx, admin, "pol"))
	if st := stored.RequestApprovalSettings.Stages[0]; st.Type != access.DynamicApprovalStage || st.CustomExtensionID != "xreq" {
		t.Errorf("stored stage %+v", st)
	}
	err := w.svc.DeleteCustomExtension(w.ctx, admin, "cat1", "xreq")
	wantKind(t, err, access.KindConflict, "xreq")

	for _, tc := range []struct {
		name  string
		stage access.ApprovalStage
		words []string
	}{
		{"an unknown extension", access.ApprovalStage{Type: access.DynamicApprovalStage, CustomExtensionID: "ghost"}, []string{"stages[0].customExtension", "ghost"}},
		{"an assignment-workflow extension", access.ApprovalStage{Type: access.DynamicApprovalStage, CustomExtensionID: "xasg"}, []string{"callbackConfiguration"}},
		{"no extension", access.ApprovalStage{Type: access.DynamicApprovalStage}, []string{"customExtension.id"}},
		{"approvers of its own", access.ApprovalStage{Type: access.DynamicApprovalStage, CustomExtensionID: "xreq", PrimaryApprovers: []access.SubjectSet{user("lee")}}, []string{"name none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPolicy("bad", "pkg1")
			p.RequestApprovalSettings = access.ApprovalSettings{IsApprovalRequiredForAdd: true, Stages: []access.ApprovalStage{tc.stage}}
			_, err := w.svc.CreateAssignmentPolicy(w.ctx, admin, p)
			wantInvalid(t, err, tc.words...)
		})
	}

	r := w.submit(t, w.app, "pol", "tom")
	if r.State != access.StatePendingApproval || r.Status != access.StatusWaitingForCallback {
		t.Errorf("at the dynamic stage: %s/%s", r.State, r.Status)
	}
	if b, ok := r.Policy.BindingOf(access.StageDeterminingApproval, "xreq"); !ok || !b.Waits || b.CallbackTimeout.IsZero() {
		t.Errorf("the request's snapshot does not say how long it waits for the extension: %+v", r.Policy.Bindings)
	}
}
