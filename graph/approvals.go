package graph

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/accessd/accessd/access"
)

// Approvals of access package assignment requests, in v1.0
// (accessPackageAssignmentApprovals with its stages) and beta (the same set
// with steps). An approval's id is its request's. Who sees an approval and
// who may decide a stage are the service's rules; handlers decode, call it
// and write the version's shape.

const approvalsSet = "accessPackageAssignmentApprovals"

// approvalSet is what differs between the versions: v1.0 names an
// approval's stages "stages" (approvalStage), beta "steps" (approvalStep).
type approvalSet struct {
	version   string // "v1.0" or "beta"
	children  string // stages or steps
	childType string // approvalStage or approvalStep
}

var (
	approvalsV1   = approvalSet{version: "v1.0", children: "stages", childType: "approvalStage"}
	approvalsBeta = approvalSet{version: "beta", children: "steps", childType: "approvalStep"}
)

// approvalOut is an approval. Its stages (v1.0) or steps (beta) are
// contained navigation properties: present only when $expand names them.
type approvalOut struct {
	ID     string              `json:"id"`
	Stages *[]approvalStageOut `json:"stages,omitempty"`
	Steps  *[]approvalStageOut `json:"steps,omitempty"`
}

// approvalStageOut is v1.0's approvalStage and beta's approvalStep, which
// have the same properties. reviewedBy is an identity: id and displayName.
type approvalStageOut struct {
	ID               string    `json:"id"`
	DisplayName      string    `json:"displayName"`
	Status           string    `json:"status"`
	AssignedToMe     bool      `json:"assignedToMe"`
	ReviewResult     string    `json:"reviewResult"`
	ReviewedBy       *actorOut `json:"reviewedBy"`
	ReviewedDateTime *string   `json:"reviewedDateTime"`
	Justification    *string   `json:"justification"`
}

// approvalStagesOut writes a request's stages as the caller sees them.
func (s *Server) approvalStagesOut(ctx context.Context, caller access.Caller, r access.Request) ([]approvalStageOut, error) {
	out := make([]approvalStageOut, 0, len(r.Approval))
	for k, step := range r.Approval {
		st := approvalStageOut{
			ID: step.ID, DisplayName: "Stage " + strconv.Itoa(k+1), Status: step.Status,
			AssignedToMe: waitsForDecisionOf(r, step, caller), ReviewResult: step.ReviewResult,
			Justification: optional(step.Justification),
		}
		if step.ReviewedBy.ID != "" {
			// The reviewer as the directory names them now, as an expanded
			// requestor is; the recorded name once they are gone.
			who, err := s.subjectNow(ctx, step.ReviewedBy)
			if err != nil {
				return nil, err
			}
			st.ReviewedBy = &actorOut{ID: optional(who.ID), DisplayName: optional(who.DisplayName)}
		}
		if step.ReviewedDateTime != nil {
			st.ReviewedDateTime = timeOut(*step.ReviewedDateTime)
		}
		out = append(out, st)
	}
	return out, nil
}

// waitsForDecisionOf is assignedToMe: the stage is the one the request
// waits at, and the caller is among its approvers; the same rule puts a
// request on the caller's filterByCurrentUser(on='approver') lists.
func waitsForDecisionOf(r access.Request, step access.ApprovalStep, caller access.Caller) bool {
	return r.State == access.StatePendingApproval && step.Status == access.ApprovalInProgress && step.IsApprover(caller.ObjectID)
}

// approvalToWire writes an approval with the stages or steps $expand names.
func (s *Server) approvalToWire(r *http.Request, as approvalSet, req access.Request, expand expandSet) (approvalOut, error) {
	out := approvalOut{ID: req.ID}
	if !expand.has(as.children) {
		return out, nil
	}
	stages, err := s.approvalStagesOut(r.Context(), callerOf(r), req)
	if err != nil {
		return out, err
	}
	if as.children == "steps" {
		out.Steps = &stages
	} else {
		out.Stages = &stages
	}
	return out, nil
}

// getApproval answers GET …/accessPackageAssignmentApprovals/{id}.
func (s *Server) getApproval(as approvalSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		q, err := parseQuery(r, as.children)
		if err != nil {
			return err
		}
		req, err := s.svc.Approval(r.Context(), callerOf(r), id)
		if err != nil {
			return err
		}
		out, err := s.approvalToWire(r, as, req, q.expand)
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusOK, s.emContext(as.version, approvalsSet, true), out, q.selectSet)
	}
}

// approvalFields are what $filter and $orderby may name on approvals: an
// approval's id is its request's, and its stages are no stored fields.
var approvalFields = wireFields{noun: access.NounRequests, paths: map[string]wireField{"id": {field: "ID"}}}

// approvalsByCurrentUser is filterByCurrentUser(on='approver'): the
// approvals waiting for the caller's decision now, and its /$count segment.
func (s *Server) approvalsByCurrentUser(as approvalSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		on, _, err := currentUserFilter(callSegment(r, "filterByCurrentUser"))
		if err != nil {
			return err
		}
		if err := onlyApprover(approvalsSet, on); err != nil {
			return err
		}
		return storedList[access.Request]{
			fields:     approvalFields,
			expandable: []string{as.children},
			context:    fixedContext(contextURL(s.cfg.PublicURL, as.version, "Collection(microsoft.graph.approval)", false)),
			scope:      waitingForCaller,
			shape: func(r *http.Request, req access.Request, expand expandSet) (any, error) {
				return s.approvalToWire(r, as, req, expand)
			},
		}.serve(s, w, r)
	}
}

// onlyApprover refuses the values of filterByCurrentUser's on parameter that
// accessd does not answer yet: only approver is.
func onlyApprover(set, on string) error {
	if strings.EqualFold(on, "approver") {
		return nil
	}
	return access.Invalidf("filterByCurrentUser(on='%s') is not supported on %s; the supported value is on='approver'", on, set)
}

func (s *Server) listApprovalStages(as approvalSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r)
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		req, err := s.svc.Approval(r.Context(), callerOf(r), id)
		if err != nil {
			return err
		}
		stages, err := s.approvalStagesOut(r.Context(), callerOf(r), req)
		if err != nil {
			return err
		}
		page, more := pageOf(stages, func(st approvalStageOut) string { return st.ID }, q.page())
		items := make([]any, len(page))
		for i, st := range page {
			items[i] = st
		}
		return s.writeList(w, r, s.emContext(as.version, approvalsSet+"('"+id+"')/"+as.children, false), items,
			lastID(page, func(st approvalStageOut) string { return st.ID }), more, q.selectSet)
	}
}

// pageOf pages a list held whole in memory, such as an approval's stages,
// the way the stored lists are paged: after the id of the last item seen.
func pageOf[T any](items []T, id func(T) string, p access.Page) (page []T, more bool) {
	start := 0
	if p.After != "" {
		start = len(items)
		for i, x := range items {
			if id(x) == p.After {
				start = i + 1
				break
			}
		}
	}
	end := min(start+p.Limit, len(items))
	return items[start:end], end < len(items)
}

func (s *Server) getApprovalStage(as approvalSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r)
		if err != nil {
			return err
		}
		id, stageID := r.PathValue("id"), r.PathValue("stageId")
		req, err := s.svc.Approval(r.Context(), callerOf(r), id)
		if err != nil {
			return err
		}
		stages, err := s.approvalStagesOut(r.Context(), callerOf(r), req)
		if err != nil {
			return err
		}
		for _, st := range stages {
			if st.ID == stageID {
				return writeEntity(w, http.StatusOK, s.emContext(as.version, approvalsSet+"('"+id+"')/"+as.children, true), st, q.selectSet)
			}
		}
		return access.NotFoundf("approval %q has no %s %q", id, as.childType, stageID)
	}
}

// decideApprovalStage is PATCH of a stage (step): an approver's decision,
// 204. The body is read first but its faults are the service's to report,
// after the approval and the stage are found: an unknown stage is 404 even
// when the body is also wrong.
func (s *Server) decideApprovalStage(as approvalSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		d := access.ApprovalDecision{RequestID: r.PathValue("id"), StageID: r.PathValue("stageId")}
		var in approvalDecisionInput
		d.BodyErr = decodeBody(r, &in)
		if d.BodyErr == nil {
			d.Decision, d.BodyErr = in.toDomain(as.childType)
		}
		if err := s.svc.DecideApproval(r.Context(), callerOf(r), d); err != nil {
			return err
		}
		return writeNoContent(w)
	}
}

// approvalDecisionInput is the PATCH body of a stage. The read-only
// properties a client sends back from a GET are accepted and ignored.
type approvalDecisionInput struct {
	ODataType        *string `json:"@odata.type"`
	ReviewResult     *string `json:"reviewResult"`
	Justification    *string `json:"justification"`
	ID               ignored `json:"id"`
	DisplayName      ignored `json:"displayName"`
	Status           ignored `json:"status"`
	AssignedToMe     ignored `json:"assignedToMe"`
	ReviewedBy       ignored `json:"reviewedBy"`
	ReviewedDateTime ignored `json:"reviewedDateTime"`
}

// toDomain reads reviewResult, which is written Approve or Deny (in any
// case) though it reads back as Approved or Denied.
func (in approvalDecisionInput) toDomain(childType string) (access.Decision, error) {
	if err := checkODataType("@odata.type", in.ODataType, childType); err != nil {
		return access.Decision{}, err
	}
	result := strings.TrimSpace(str(in.ReviewResult))
	var approve bool
	switch {
	case result == "":
		return access.Decision{}, access.Invalidf("property 'reviewResult' is required: Approve or Deny")
	case strings.EqualFold(result, "Approve"):
		approve = true
	case strings.EqualFold(result, "Deny"):
	default:
		return access.Decision{}, access.Invalidf("property 'reviewResult': %q is not Approve or Deny", result)
	}
	return access.Decision{Approve: approve, Justification: str(in.Justification)}, nil
}
