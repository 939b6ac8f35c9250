package access

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"
)

// RequestInput is a request as a client submits it.
type RequestInput struct {
	Type            RequestType
	AccessPackageID string
	PolicyID        string
	TargetID        string
	TargetEmail     string // a target known only by email (connected organisations)
	AssignmentID    string // the assignment to update or remove
	Justification   string
	Answers         []Answer
	Schedule        *Schedule // nil when the request names none
}

// OnWork sets a function called after a commit that queued work, so the
// engine starts it within milliseconds instead of at its next poll.
func (s *Service) OnWork(fn func()) { s.onWork = fn }

func (s *Service) workQueued() {
	if s.onWork != nil {
		s.onWork()
	}
}

func (s *Service) env(actor Subject) Env {
	return Env{Now: s.Now(), NewID: s.ids.NewID, Actor: actor}
}

// callerSubject describes the caller as a requestor.
func callerSubject(c Caller) Subject {
	kind := SubjectUser
	if c.IsApp {
		kind = SubjectServicePrincipal
	}
	return Subject{ID: c.ObjectID, Kind: kind, DisplayName: c.Name(), PrincipalName: c.UPN}
}

// SubmitRequest checks a new request against its policy, the target and the
// target's other requests and assignments, and stores it with its first work
// in one transaction. That transaction already runs the request as far as
// it goes without waiting (a callout, an approval, delivery), so that no
// speed is lost; what it returns is the request as accepted (Accept), which
// is what Graph answers a submission with. Read the request again for where
// it stands now.
func (s *Service) SubmitRequest(ctx context.Context, by Caller, in RequestInput) (Request, error) {
	if err := checkRequester(by, in.Type); err != nil {
		return Request{}, err
	}
	var accepted Request
	queued := false
	err := s.update(ctx, func(tx Tx) error {
		r, a, err := s.prepare(tx, by, in)
		if err != nil {
			return err
		}
		env, dir := s.env(r.Requestor), &storeDirectory{tx: tx}
		env.Directory, env.Roles = dir, dir
		t := Submit(r, a, env)
		if dir.err != nil {
			return dir.err
		}
		accepted = Accept(r, env.Now)
		queued, err = s.saveTransition(tx, t)
		return err
	})
	if err != nil {
		return Request{}, err
	}
	if queued {
		s.workQueued()
	}
	return accepted, nil
}

// checkRequester applies the rules that depend only on who asks for what.
func checkRequester(by Caller, t RequestType) error {
	switch {
	case t == "":
		return Invalidf("requestType is required")
	case t == RequestSystemAdd || t == RequestSystemRemove:
		return Invalidf("requestType %s is reserved for accessd itself", t)
	case t.IsSelfService() && by.IsApp:
		return E(KindForbidden, "%s is a self-service request and needs a signed-in user; applications send admin requests", t)
	case !t.IsSelfService() && !by.IsApp && !by.Has(WriteEntitlements):
		// The self-service scope covers the user types only (RuleRequestor).
		return E(KindForbidden, "%s needs EntitlementManagement.ReadWrite.All", t)
	}
	return nil
}

// prepare builds the request (and finds the assignment it acts on) after every submission check.
func (s *Service) prepare(tx Tx, by Caller, in RequestInput) (Request, *Assignment, error) {
	r := Request{ID: s.ids.NewID(), Type: in.Type, Justification: in.Justification, Answers: in.Answers, Requestor: callerSubject(by)}
	if in.Schedule != nil {
		r.Schedule = *in.Schedule
	}
	if in.Type.IsAdd() {
		return s.prepareAdd(tx, by, in, r)
	}
	return s.prepareChange(tx, by, in, r)
}

func (s *Service) prepareAdd(tx Tx, by Caller, in RequestInput, r Request) (Request, *Assignment, error) {
	if in.TargetEmail != "" && in.TargetID == "" {
		return r, nil, Invalidf("assignment.target names only an email; targets outside the directory (connected organisations) are not supported yet, give assignment.targetId")
	}
	if in.AccessPackageID == "" {
		return r, nil, Invalidf("assignment.accessPackageId is required")
	}
	if in.PolicyID == "" {
		return r, nil, Invalidf("assignment.assignmentPolicyId is required")
	}
	// Everything below is read under the package's shared lock (no change
	// of it, its policies or their extensions commits meanwhile) and the
	// target's exclusive one (the target's other add requests are checked
	// and stored one at a time: one open request per package, no active
	// assignment, no incompatible package). See locks.go.
	locks := []Lock{packageLock(in.AccessPackageID, true)}
	if id := in.TargetID; id != "" || in.Type == RequestUserAdd {
		if id == "" {
			id = by.ObjectID
		}
		locks = append(locks, targetLock(id))
	}
	if err := tx.Lock(locks...); err != nil {
		return r, nil, err
	}
	pkg, err := tx.AccessPackage(in.AccessPackageID)
	if err == nil && !in.Type.IsSelfService() {
		pkg, err = packageFor(tx, by, in.AccessPackageID)
	}
	if err != nil {
		return r, nil, referencedAt("assignment.accessPackageId", err)
	}
	if !in.Type.IsSelfService() {
		if err := by.authorize(pkg.CatalogID); err != nil {
			return r, nil, err
		}
	}
	policy, err := tx.AssignmentPolicy(in.PolicyID)
	if err != nil {
		return r, nil, referencedAt("assignment.assignmentPolicyId", err)
	}
	if policy.AccessPackageID != pkg.ID {
		return r, nil, Invalidf("assignment policy %q belongs to another access package than %q", policy.ID, pkg.ID)
	}
	targetID := in.TargetID
	if targetID == "" {
		if in.Type != RequestUserAdd {
			return r, nil, Invalidf("assignment.targetId is required for %s", in.Type)
		}
		targetID = by.ObjectID
	}
	target, err := subjectOf(tx, targetID)
	if err != nil {
		return r, nil, referencedAt("assignment.targetId", err)
	}
	if in.Type.IsSelfService() {
		if err := checkRequestor(tx, policy, ChangeAdd, by, target); err != nil {
			return r, nil, err
		}
	}
	if err := s.checkTargetScope(tx, policy, target); err != nil {
		if in.Type.IsSelfService() && KindOf(err) == KindInvalid {
			// The policy does not let this user have it: a refusal, not a bad body.
			return r, nil, E(KindForbidden, "%s", err.Error())
		}
		return r, nil, err
	}
	if err := checkRequestDetails(policy, policy.RequestApprovalSettings.IsRequestorJustificationRequired, in); err != nil {
		return r, nil, err
	}
	r.Answers = withQuestions(policy, in.Answers)
	if err := checkSchedule(policy, in.Schedule, s.Now()); err != nil {
		return r, nil, err
	}
	if n, err := tx.CountOpenRequests(RequestFilter{TargetID: target.ID, AccessPackageID: pkg.ID}); err != nil {
		return r, nil, err
	} else if n > 0 {
		return r, nil, Conflictf("target %q already has an open request for access package %q", target.ID, pkg.ID)
	}
	if n, err := tx.CountAssignments(AssignmentFilter{TargetID: target.ID, AccessPackageID: pkg.ID, Active: true}); err != nil {
		return r, nil, err
	} else if n > 0 {
		return r, nil, Conflictf("target %q already has an active assignment of access package %q", target.ID, pkg.ID)
	}
	if err := checkIncompatible(tx, pkg, target.ID); err != nil {
		return r, nil, err
	}
	r.AccessPackageID, r.PolicyID, r.CatalogID, r.Target = pkg.ID, policy.ID, pkg.CatalogID, target
	r.Policy, err = snapshotOf(tx, policy, policy.RequestApprovalSettings.IsApprovalRequiredForAdd)
	return r, nil, err
}

// prepareChange checks an update or remove request, which names an assignment.
func (s *Service) prepareChange(tx Tx, by Caller, in RequestInput, r Request) (Request, *Assignment, error) {
	if in.AssignmentID == "" {
		return r, nil, Invalidf("assignment.id is required for %s: it names the assignment to change", in.Type)
	}
	missing := NotFoundf("no assignment with id %q", in.AssignmentID)
	a, err := tx.Assignment(in.AssignmentID)
	if err != nil {
		return r, nil, referencedAt("assignment.id", err)
	}
	policy, err := tx.AssignmentPolicy(a.PolicyID)
	if err != nil {
		return r, nil, err
	}
	if in.Type.IsSelfService() {
		// Another's assignment is there only for those the policy lets act
		// on behalf of others; to anyone else it does not exist.
		err := checkRequestor(tx, policy, changeOf(in.Type), by, a.Target)
		if err != nil && a.Target.ID != by.ObjectID && !by.SeesAssignment(a) {
			return r, nil, referencedAt("assignment.id", missing)
		}
		if err != nil {
			return r, nil, err
		}
	} else {
		if !by.SeesAssignment(a) {
			return r, nil, referencedAt("assignment.id", missing)
		}
		if err := by.authorize(a.CatalogID); err != nil {
			return r, nil, err
		}
	}
	if !a.State.IsActive() {
		return r, nil, Conflictf("assignment %q is %s; only active assignments can be changed or removed", a.ID, a.State)
	}
	if n, err := tx.CountOpenRequests(RequestFilter{AssignmentID: a.ID}); err != nil {
		return r, nil, err
	} else if n > 0 {
		return r, nil, Conflictf("assignment %q already has an open request", a.ID)
	}
	approval := false
	if in.Type.IsUpdate() {
		if in.Schedule == nil || in.Schedule.Expiration.Type == "" {
			return r, nil, Invalidf("schedule.expiration is required for %s: it is the new end of the assignment", in.Type)
		}
		if err := checkRequestDetails(policy, policy.RequestApprovalSettings.IsRequestorJustificationRequired, in); err != nil {
			return r, nil, err
		}
		r.Answers = withQuestions(policy, in.Answers)
		if err := checkExpiration(in.Schedule.Expiration, s.Now()); err != nil {
			return r, nil, err
		}
		approval = policy.RequestApprovalSettings.IsApprovalRequiredForUpdate
	}
	r.AccessPackageID, r.PolicyID, r.CatalogID, r.Target, r.AssignmentID = a.AccessPackageID, a.PolicyID, a.CatalogID, a.Target, a.ID
	r.Policy, err = snapshotOf(tx, policy, approval)
	return r, &a, err
}

// subjectOf finds a target by id among users and service principals.
func subjectOf(tx Tx, id string) (Subject, error) {
	if u, err := tx.User(id); err == nil {
		return Subject{ID: u.ID, Kind: SubjectUser, DisplayName: u.DisplayName, PrincipalName: u.UserPrincipalName, Email: u.Mail}, nil
	} else if !IsNotFound(err) {
		return Subject{}, err
	}
	sp, err := tx.ServicePrincipal(id)
	if err != nil {
		if IsNotFound(err) {
			return Subject{}, NotFoundf("no user or service principal with id %q", id)
		}
		return Subject{}, err
	}
	return Subject{ID: sp.ID, Kind: SubjectServicePrincipal, DisplayName: sp.DisplayName, PrincipalName: sp.AppID}, nil
}

// checkTargetScope applies allowedTargetScope and specificAllowedTargets.
func (s *Service) checkTargetScope(tx Tx, p AssignmentPolicy, target Subject) error {
	outside := func() error {
		return Invalidf("target %q is outside the policy's allowedTargetScope %s", target.ID, p.AllowedTargetScope)
	}
	switch p.AllowedTargetScope {
	case ScopeNotSpecified, ScopeAllMemberUsers, ScopeAllDirectoryUsers:
		if target.Kind != SubjectUser {
			return outside()
		}
		return nil
	case ScopeAllDirectoryServicePrincipals:
		if target.Kind != SubjectServicePrincipal {
			return outside()
		}
		return nil
	case ScopeSpecificDirectoryUsers, ScopeSpecificDirectoryServicePrincipals:
		in, err := inSubjectSets(tx, p.SpecificAllowedTargets, target)
		if err != nil {
			return err
		}
		if !in {
			return Invalidf("target %q is not among the policy's specificAllowedTargets", target.ID)
		}
		return nil
	default:
		return Invalidf("allowedTargetScope %s needs connected organisations or agent identities, which accessd does not support yet", p.AllowedTargetScope)
	}
}

// inSubjectSets reports whether a subject belongs to any of the sets. Sets that
// depend on the request (managers, sponsors) never match a target.
func inSubjectSets(tx Tx, sets []SubjectSet, who Subject) (bool, error) {
	for _, set := range sets {
		switch set.Type {
		case "singleUser":
			if who.Kind == SubjectUser && set.UserID == who.ID {
				return true, nil
			}
		case "singleServicePrincipal":
			if who.Kind == SubjectServicePrincipal && set.ServicePrincipalID == who.ID {
				return true, nil
			}
		case "groupMembers":
			member, err := isMember(tx, set.GroupID, who.ID)
			if err != nil || member {
				return member, err
			}
		}
	}
	return false, nil
}

func isMember(tx Tx, groupID, objectID string) (bool, error) {
	after := ""
	for {
		page, err := tx.GroupRelation(groupID, GroupMembers, Page{After: after, Limit: 500})
		if err != nil {
			return false, err
		}
		for _, o := range page {
			if o.ID == objectID {
				return true, nil
			}
		}
		if len(page) < 500 {
			return false, nil
		}
		after = page[len(page)-1].ID
	}
}

// checkRequestDetails checks the justification and the answers against the policy's questions.
func checkRequestDetails(p AssignmentPolicy, justificationRequired bool, in RequestInput) error {
	if justificationRequired && strings.TrimSpace(in.Justification) == "" {
		return Invalidf("justification is required by policy %q", p.ID)
	}
	answered := map[string]bool{}
	for i, a := range in.Answers {
		idx := slices.IndexFunc(p.Questions, func(q Question) bool { return q.ID == a.QuestionID })
		if idx < 0 {
			return Invalidf("answers[%d].answeredQuestion: policy %q has no question with id %q", i, p.ID, a.QuestionID)
		}
		if answered[a.QuestionID] {
			return Invalidf("answers[%d]: question %q is answered twice", i, a.QuestionID)
		}
		answered[a.QuestionID] = true
		q := p.Questions[idx]
		switch q.Type {
		case MultipleChoiceQuestion:
			if !slices.ContainsFunc(q.Choices, func(c AnswerChoice) bool { return c.ActualValue == a.Value }) {
				return Invalidf("answers[%d].value %q is not one of the choices of question %q", i, a.Value, q.ID)
			}
		case TextInputQuestion:
			if q.RegexPattern != "" {
				re, err := regexp.Compile(q.RegexPattern)
				if err == nil && !re.MatchString(a.Value) {
					return Invalidf("answers[%d].value does not match the pattern of question %q", i, q.ID)
				}
			}
		}
	}
	for _, q := range p.Questions {
		if q.IsRequired && !answered[q.ID] {
			return Invalidf("question %q (%s) is required by policy %q and has no answer", q.ID, q.Text, p.ID)
		}
	}
	return nil
}

// withQuestions copies each answered question's type and text into its
// answer: the request then carries them, as Graph's answers carry their
// answeredQuestion, for readers who may not read the policy.
func withQuestions(p AssignmentPolicy, answers []Answer) []Answer {
	out := slices.Clone(answers)
	for i, a := range out {
		if idx := slices.IndexFunc(p.Questions, func(q Question) bool { return q.ID == a.QuestionID }); idx >= 0 {
			out[i].QuestionType, out[i].QuestionText = p.Questions[idx].Type, p.Questions[idx].Text
		}
	}
	return out
}

// checkSchedule allows a requested schedule only where the policy does.
func checkSchedule(p AssignmentPolicy, sch *Schedule, now time.Time) error {
	if sch == nil || (sch.StartDateTime == nil && (sch.Expiration.Type == "" || sch.Expiration.Type == ExpirationNotSpecified)) {
		return nil
	}
	if !p.RequestorSettings.AllowCustomAssignmentSchedule {
		return Invalidf("policy %q does not allow a custom schedule (requestorSettings.allowCustomAssignmentSchedule is false); leave schedule out", p.ID)
	}
	return checkExpiration(sch.Expiration, now)
}

func checkExpiration(e Expiration, now time.Time) error {
	if err := e.validate("schedule.expiration"); err != nil {
		return err
	}
	if err := e.checkEnd("schedule.expiration", now); err != nil {
		return err
	}
	if e.Type == ExpirationAfterDateTime && !e.EndDateTime.After(now) {
		return Invalidf("schedule.expiration.endDateTime %s is not in the future", e.EndDateTime.Format(time.RFC3339))
	}
	return nil
}

// snapshotOf copies what a request keeps of its policy, with whether each
// bound extension waits for a callback.
func snapshotOf(tx Tx, p AssignmentPolicy, approvalRequired bool) (PolicySnapshot, error) {
	snap := PolicySnapshot{DisplayName: p.DisplayName, ApprovalRequired: approvalRequired,
		ApprovalStages: p.RequestApprovalSettings.Stages, Expiration: p.Expiration}
	for _, b := range p.ExtensionBindings {
		x, err := tx.CustomExtension(b.CustomExtensionID)
		if err != nil {
			return snap, err
		}
		sb := StageBinding{Stage: b.Stage, ExtensionID: x.ID, ExtensionName: x.DisplayName}
		if x.Callback != nil && b.Stage.IsRequestStage() {
			sb.Waits, sb.CallbackTimeout = true, x.Callback.TimeoutDuration
		}
		snap.Bindings = append(snap.Bindings, sb)
	}
	if !approvalRequired {
		return snap, nil
	}
	for _, st := range p.RequestApprovalSettings.Stages {
		if st.Type != DynamicApprovalStage {
			continue
		}
		if _, found := snap.BindingOf(StageDeterminingApproval, st.CustomExtensionID); found {
			continue
		}
		x, err := tx.CustomExtension(st.CustomExtensionID)
		if err != nil {
			return snap, err
		}
		sb := StageBinding{Stage: StageDeterminingApproval, ExtensionID: x.ID, ExtensionName: x.DisplayName, Waits: true,
			CallbackTimeout: DefaultApprovalCallbackTimeout}
		if x.Callback != nil {
			sb.CallbackTimeout = x.Callback.TimeoutDuration
		}
		snap.Bindings = append(snap.Bindings, sb)
	}
	return snap, nil
}

// saveTransition writes what one transition changes: the request, its
// assignment, its work and its history. queued says whether it added work
// due within a second that nobody holds yet, which the engine should hear
// of now; what is due later it finds when it next looks (at least once a
// second), and what was handed to the local engine needs no wake-up.
func (s *Service) saveTransition(tx Tx, t Transition) (queued bool, err error) {
	if et, ok := tx.(*engineTx); ok {
		if err := s.beginAtEnqueue(et, &t); err != nil {
			return false, err
		}
		et.answered = append(et.answered, t.EndedCallouts...)
	}
	r := t.Request
	var timers []WorkKind
	if t.DropRequestTimers {
		timers = requestTimers
	}
	if err := tx.DropRequestWork(r.ID, timers, t.EndedCallouts); err != nil {
		return false, err
	}
	if t.Assignment != nil {
		if t.DropAssignmentTimers {
			if err := tx.DropWork("", t.Assignment.ID, WorkExpire, WorkPreExpiry, WorkCallout); err != nil {
				return false, err
			}
		}
		if err := tx.PutAssignment(*t.Assignment); err != nil {
			return false, err
		}
	}
	put := tx.PutRequest
	if t.NewRequest {
		put = tx.AddRequest
	}
	if err := put(r); err != nil {
		return false, err
	}
	if err := tx.AddWork(t.Work...); err != nil {
		return false, err
	}
	soon := s.clock.Now().Add(time.Second)
	for _, w := range t.Work {
		queued = queued || (w.LeaseOwner == "" && !w.DueAt.After(soon))
	}
	if queued {
		tx.AnnounceWork()
	}
	if len(t.History) > 0 {
		return queued, tx.AddHistory(t.History...)
	}
	return queued, nil
}

// decide is one use case's rule for a request: given the request and the
// environment of its transition, the transition to store, or nil when
// nothing changes. It reads what else it needs through tx (the assignment,
// with assignmentOf), and may write what is not a transition (a history line
// of its own).
type decide func(tx Tx, r Request, env Env) (*Transition, error)

// transition runs one change of a request in one transaction: load it,
// decide, store. An unknown request is not found.
func (s *Service) transition(ctx context.Context, requestID string, actor Subject, fn decide) error {
	queued := false
	err := s.update(ctx, func(tx Tx) error {
		var err error
		queued, err = s.transitionIn(tx, requestID, s.env(actor), fn)
		return err
	})
	if err == nil && queued {
		s.workQueued()
	}
	return err
}

// transitionIn is transition inside a transaction the caller runs, in env
// (whose directory it sets); queued says whether the stored transition
// added work.
func (s *Service) transitionIn(tx Tx, requestID string, env Env, fn decide) (queued bool, err error) {
	r, err := tx.Request(requestID)
	if err != nil {
		return false, err
	}
	dir := &storeDirectory{tx: tx}
	env.Directory, env.Roles = dir, dir
	t, err := fn(tx, r, env)
	if err == nil {
		err = dir.err
	}
	if err != nil || t == nil {
		return false, err
	}
	return s.saveTransition(tx, *t)
}

// Request reads one request the caller may see.
func (s *Service) Request(ctx context.Context, by Caller, id string) (Request, error) {
	return get(ctx, s, func(tx Tx) (Request, error) { return requestFor(tx, by, id) })
}

// requestFor reads a request the caller may see: its catalog's, or its
// own as target or requestor. Others are not found.
func requestFor(tx Tx, by Caller, id string) (Request, error) {
	r, err := tx.Request(id)
	if err == nil && !by.SeesRequest(r) {
		return Request{}, NotFoundf("no assignment request with id %q", id)
	}
	return r, err
}

// RequestByID reads a request whatever the caller, for the engine and
// for accessd's own checks.
func (s *Service) RequestByID(ctx context.Context, id string) (Request, error) {
	return get(ctx, s, func(tx Tx) (Request, error) { return tx.Request(id) })
}

// Requests lists one page of requests.
func (s *Service) Requests(ctx context.Context, f RequestFilter, p Page) ([]Request, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]Request, error) { return tx.Requests(f, p) })
}

// History lists one page of the audit trail of a request the caller may see.
func (s *Service) History(ctx context.Context, by Caller, requestID string, p Page) ([]HistoryEntry, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]HistoryEntry, error) {
		if _, err := requestFor(tx, by, requestID); err != nil {
			return nil, err
		}
		return tx.History(requestID, p)
	})
}

// Assignment reads one assignment the caller may see: its catalog's, or
// its own as target.
func (s *Service) Assignment(ctx context.Context, by Caller, id string) (Assignment, error) {
	return get(ctx, s, func(tx Tx) (Assignment, error) {
		a, err := tx.Assignment(id)
		if err == nil && !by.SeesAssignment(a) {
			return Assignment{}, NotFoundf("no assignment with id %q", id)
		}
		return a, err
	})
}

// Assignments lists one page of assignments.
func (s *Service) Assignments(ctx context.Context, f AssignmentFilter, p Page) ([]Assignment, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]Assignment, error) { return tx.Assignments(f, p) })
}

// Subject reads a user or service principal as an accessPackageSubject.
func (s *Service) Subject(ctx context.Context, id string) (Subject, error) {
	return get(ctx, s, func(tx Tx) (Subject, error) { return subjectOf(tx, id) })
}

// Subjects describes many users or service principals in one read, for a
// page that expands the target or requestor of each item: one transaction
// and a statement or two for the page, rather than a transaction for each
// item. Ids the directory does not hold are left out.
func (s *Service) Subjects(ctx context.Context, ids []string) (map[string]Subject, error) {
	var wanted []string
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			wanted = append(wanted, id)
		}
	}
	out := make(map[string]Subject, len(wanted))
	// The version is read before the transaction starts: what the
	// transaction then reads is at least that new (see DirectoryVersioner).
	versioner, cacheable := s.store.(DirectoryVersioner)
	var version uint64
	if cacheable {
		version, cacheable = versioner.DirectoryVersion()
	}
	if cacheable {
		wanted = s.subjects.lookUp(version, wanted, out)
	}
	if len(wanted) == 0 {
		return out, nil
	}
	found := make(map[string]Subject, len(wanted))
	err := s.view(ctx, func(tx Tx) error {
		clear(found)
		for chunk := range slices.Chunk(wanted, MaxFilterTerms/2) {
			if err := listByID(tx, NounUsers, chunk, func(u User) {
				found[u.ID] = Subject{ID: u.ID, Kind: SubjectUser, DisplayName: u.DisplayName, PrincipalName: u.UserPrincipalName, Email: u.Mail}
			}); err != nil {
				return err
			}
			var rest []string
			for _, id := range chunk {
				if _, ok := found[id]; !ok {
					rest = append(rest, id)
				}
			}
			if len(rest) == 0 {
				continue
			}
			if err := listByID(tx, NounServicePrincipals, rest, func(sp ServicePrincipal) {
				found[sp.ID] = Subject{ID: sp.ID, Kind: SubjectServicePrincipal, DisplayName: sp.DisplayName, PrincipalName: sp.AppID}
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cacheable {
		s.subjects.keep(version, found)
	}
	for id, sub := range found {
		out[id] = sub
	}
	return out, nil
}

// listByID passes each item of a list whose id is one of ids to each.
func listByID[T any](tx Tx, noun Noun, ids []string, each func(T)) error {
	values := make([]Value, len(ids))
	for i, id := range ids {
		values[i] = Value{Kind: ValueString, S: id}
	}
	q := Query{Filter: &Cond{Op: OpIn, Field: "ID", Values: values}, Top: len(ids)}
	_, err := tx.List(noun, q, func(decode func(any) error, _ Cursor) error {
		var item T
		if err := decode(&item); err != nil {
			return err
		}
		each(item)
		return nil
	})
	return err
}

// CancelRequest cancels a request that has not reached delivery. Cancel is
// delegated only, as in Graph (the route refuses application tokens); with
// only the self-service scope a user cancels just their own requests.
// bodyErr is why the action's body could not be read, if it could not: it
// is reported once the request is found.
func (s *Service) CancelRequest(ctx context.Context, by Caller, id string, bodyErr error) error {
	return s.transition(ctx, id, callerSubject(by), func(_ Tx, r Request, env Env) (*Transition, error) {
		if err := by.authorizeRequest(r); err != nil {
			return nil, err
		}
		if bodyErr != nil {
			return nil, bodyErr
		}
		t, err := Cancel(r, env)
		return &t, err
	})
}

// DeleteRequest removes a finished request, as CheckDelete allows.
func (s *Service) DeleteRequest(ctx context.Context, by Caller, id string) error {
	return s.update(ctx, func(tx Tx) error {
		r, err := tx.Request(id)
		if err != nil {
			return err
		}
		if err := by.authorizeRequest(r); err != nil {
			return err
		}
		exists := false
		if r.AssignmentID != "" {
			a, err := tx.Assignment(r.AssignmentID)
			if err != nil && !IsNotFound(err) {
				return err
			}
			// An expired assignment, or one whose delivery failed, gives no
			// access and cannot be removed: it does not hold the request back.
			exists = err == nil && a.State.IsActive()
		}
		if err := CheckDelete(r, exists); err != nil {
			return err
		}
		return tx.DeleteRequest(id)
	})
}

// ResumeCall is a resume action as the API received it.
type ResumeCall struct {
	RequestID string
	// AssignmentID, when not empty, is the assignment the route named (beta's
	// nested route): a request of another assignment is not found there.
	AssignmentID string
	Callback     Callback
	// BodyErr is why the body could not be read, if it could not. It is
	// reported only once the request is found, in the order of checks.
	BodyErr error
}

// Resume applies an extension's callback to a request in one transaction,
// with the checks in their documented order (docs/design.md): the request
// exists (404), the body is valid (400), then the rules of Resume: the
// callout instance (409, or a repeat), the stage (400), the state (400).
func (s *Service) Resume(ctx context.Context, by Caller, call ResumeCall) error {
	return s.transition(ctx, call.RequestID, callerSubject(by), func(tx Tx, r Request, env Env) (*Transition, error) {
		if err := by.authorizeRequest(r); err != nil {
			return nil, err
		}
		if call.AssignmentID != "" && r.AssignmentID != call.AssignmentID {
			return nil, NotFoundf("assignment %q has no request %q", call.AssignmentID, call.RequestID)
		}
		if call.BodyErr != nil {
			return nil, call.BodyErr
		}
		if err := call.Callback.Validate(); err != nil {
			return nil, err
		}
		a, err := assignmentOf(tx, r)
		if err != nil {
			return nil, err
		}
		res, err := Resume(r, a, call.Callback, env)
		if err != nil {
			return nil, err
		}
		if res.Repeat {
			return nil, tx.AddHistory(res.Transition.History[0])
		}
		return &res.Transition, nil
	})
}

// Reprocess runs a failed request's failed step again. bodyErr is as for CancelRequest.
func (s *Service) Reprocess(ctx context.Context, by Caller, requestID string, bodyErr error) error {
	return s.transition(ctx, requestID, callerSubject(by), func(tx Tx, r Request, env Env) (*Transition, error) {
		if err := by.authorizeRequest(r); err != nil {
			return nil, err
		}
		if bodyErr != nil {
			return nil, bodyErr
		}
		a, err := assignmentOf(tx, r)
		if err != nil {
			return nil, err
		}
		t, err := Reprocess(r, a, env)
		return &t, err
	})
}

// assignmentOf loads the assignment a request made or acts on, if any.
func assignmentOf(tx Tx, r Request) (*Assignment, error) {
	if r.AssignmentID == "" {
		return nil, nil
	}
	a, err := tx.Assignment(r.AssignmentID)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}
