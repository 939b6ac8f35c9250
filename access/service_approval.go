package access

import "context"

// The approvers' side of the service: reading approvals and deciding their
// stages. Who may see an approval is decided here, from the request's own
// record of its approvers; approvers need no entitlement-management role.

// storeDirectory resolves subject sets from the store inside a transaction.
// A read that fails is remembered and reported once the transition is
// built, so that the pure rules of approval need no error of their own.
type storeDirectory struct {
	tx  Tx
	err error
}

func (d *storeDirectory) Members(set SubjectSet, r Request) []Subject {
	if d.err != nil {
		return nil
	}
	out, err := d.members(set, r)
	if err != nil && !IsNotFound(err) {
		d.err = err
		return nil
	}
	return out
}

func (d *storeDirectory) members(set SubjectSet, r Request) ([]Subject, error) {
	switch set.Type {
	case "singleUser":
		u, err := d.tx.User(set.UserID)
		if err != nil || !u.AccountEnabled {
			return nil, err
		}
		return []Subject{userSubject(u)}, nil
	case "singleServicePrincipal":
		sp, err := d.tx.ServicePrincipal(set.ServicePrincipalID)
		if err != nil {
			return nil, err
		}
		return []Subject{servicePrincipalSubject(sp)}, nil
	case "groupMembers":
		return d.groupMembers(set.GroupID)
	case "requestorManager":
		return d.manager(r.Requestor, set.ManagerLevel)
	case "targetManager":
		return d.manager(r.Target, set.ManagerLevel)
	}
	// Sponsors, connected organisations, application owners and attribute
	// rules are not kept in accessd's directory: nobody is in them.
	return nil, nil
}

// groupMembers lists a group's direct members that can approve: enabled
// users and service principals (nested groups are not expanded).
func (d *storeDirectory) groupMembers(groupID string) ([]Subject, error) {
	var out []Subject
	after := ""
	for {
		page, err := d.tx.GroupRelation(groupID, GroupMembers, Page{After: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		for _, o := range page {
			switch {
			case o.User != nil && o.User.AccountEnabled:
				out = append(out, userSubject(*o.User))
			case o.ServicePrincipal != nil:
				out = append(out, servicePrincipalSubject(*o.ServicePrincipal))
			}
		}
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// manager walks up a user's managers: level 1 is the manager, 2 the
// manager's manager. A service principal, or a user without one, has none.
func (d *storeDirectory) manager(of Subject, level int) ([]Subject, error) {
	if of.Kind != SubjectUser || of.ID == "" {
		return nil, nil
	}
	id := of.ID
	var u User
	for range max(level, 1) {
		current, err := d.tx.User(id)
		if err != nil || current.ManagerID == "" {
			return nil, err
		}
		if u, err = d.tx.User(current.ManagerID); err != nil {
			return nil, err
		}
		id = u.ID
	}
	if !u.AccountEnabled {
		return nil, nil
	}
	return []Subject{userSubject(u)}, nil
}

func userSubject(u User) Subject {
	return Subject{ID: u.ID, Kind: SubjectUser, DisplayName: u.DisplayName, PrincipalName: u.UserPrincipalName, Email: u.Mail}
}

func servicePrincipalSubject(sp ServicePrincipal) Subject {
	return Subject{ID: sp.ID, Kind: SubjectServicePrincipal, DisplayName: sp.DisplayName, PrincipalName: sp.AppID}
}

// canSeeApproval reports whether the caller approves, or approved, a stage
// of the request: only they see its approval.
func canSeeApproval(by Caller, r Request) bool {
	all, _ := r.Approvers()
	for _, id := range all {
		if id == by.ObjectID {
			return true
		}
	}
	return false
}

// Approval reads the approval of a request (its id is the request's) for an
// approver of one of its stages; anyone else is told it does not exist.
func (s *Service) Approval(ctx context.Context, by Caller, requestID string) (Request, error) {
	return get(ctx, s, func(tx Tx) (Request, error) {
		r, err := tx.Request(requestID)
		if IsNotFound(err) || (err == nil && !canSeeApproval(by, r)) {
			err = NotFoundf("no approval with id %q", requestID)
		}
		return r, err
	})
}

// ApprovalsToDecide lists the requests waiting for the caller's decision
// now: filterByCurrentUser(on='approver') on approvals and requests.
func (s *Service) ApprovalsToDecide(ctx context.Context, by Caller, p Page) ([]Request, bool, error) {
	if by.ObjectID == "" {
		return nil, false, nil
	}
	return s.Requests(ctx, RequestFilter{ApproverID: by.ObjectID}, p)
}

// ApprovalDecision is an approver's PATCH of one approval stage as the API
// received it.
type ApprovalDecision struct {
	RequestID string
	StageID   string
	Decision  Decision
	// BodyErr is why the body could not be read, if it could not; it is
	// reported once the approval and its stage are found.
	BodyErr error
}

// DecideApproval applies an approver's decision in one transaction: unknown
// approval or stage 404, a bad body 400, then the rules of DecideApproval
// (403 not an approver of the stage, 409 decided or not started, 400
// justification missing).
func (s *Service) DecideApproval(ctx context.Context, by Caller, d ApprovalDecision) error {
	found := false // the request exists: a 404 is about its approval's stage
	err := s.transition(ctx, d.RequestID, callerSubject(by), func(tx Tx, r Request, env Env) (*Transition, error) {
		found = true
		if _, _, ok := r.ApprovalStepByID(d.StageID); !ok {
			if !canSeeApproval(by, r) {
				return nil, NotFoundf("no approval with id %q", d.RequestID)
			}
			return nil, NotFoundf("approval %q has no stage %q", d.RequestID, d.StageID)
		}
		if d.BodyErr != nil {
			return nil, d.BodyErr
		}
		a, err := assignmentOf(tx, r)
		if err != nil {
			return nil, err
		}
		// The stage records who decided as the directory names them.
		decider := env.Actor
		if known, err := subjectOf(tx, by.ObjectID); err == nil {
			decider = known
		} else if !IsNotFound(err) {
			return nil, err
		}
		t, err := DecideApproval(r, a, d.StageID, decider, d.Decision, env)
		return &t, err
	})
	if IsNotFound(err) && !found {
		return NotFoundf("no approval with id %q", d.RequestID)
	}
	return err
}
