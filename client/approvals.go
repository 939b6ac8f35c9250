package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/accessd/accessd/access"
)

// Approvals, as an approver calls them: what waits for my decision, the
// stages of one approval, and a decision. Call them with the approver's own
// delegated token (EntitlementManagement.Read.All to read,
// .ReadWrite.All to decide): accessd shows an approval only to its
// approvers.

// Approval is the approval of a request (its ID is the request's) with its
// stages, as the caller sees them.
type Approval struct {
	ID     string
	Stages []ApprovalStage
}

// ApprovalStage is one stage of an approval. The API does not write a
// stage's settings or approvers, so Settings and Approvers stay empty;
// ReviewedBy has an ID and a DisplayName only. AssignedToMe says whether
// the stage waits for the caller's decision now.
type ApprovalStage struct {
	access.ApprovalStep
	DisplayName  string
	AssignedToMe bool
}

// approvalWire is an approval with $expand=stages.
type approvalWire struct {
	ID     string              `json:"id"`
	Stages []approvalStageWire `json:"stages"`
}

type approvalStageWire struct {
	ID           string `json:"id"`
	DisplayName  string `json:"displayName"`
	Status       string `json:"status"`
	AssignedToMe bool   `json:"assignedToMe"`
	ReviewResult string `json:"reviewResult"`
	ReviewedBy   *struct {
		ID          *string `json:"id"`
		DisplayName *string `json:"displayName"`
	} `json:"reviewedBy"`
	ReviewedDateTime *string `json:"reviewedDateTime"`
	Justification    *string `json:"justification"`
}

func (w approvalWire) toDomain() (Approval, error) {
	var r reader
	a := Approval{ID: w.ID, Stages: []ApprovalStage{}}
	for _, s := range w.Stages {
		st := ApprovalStage{DisplayName: s.DisplayName, AssignedToMe: s.AssignedToMe, ApprovalStep: access.ApprovalStep{
			ID: s.ID, Status: s.Status, ReviewResult: s.ReviewResult, Justification: str(s.Justification),
			ReviewedDateTime: r.timePtr("reviewedDateTime", s.ReviewedDateTime)}}
		if s.ReviewedBy != nil {
			st.ReviewedBy = access.Subject{ID: str(s.ReviewedBy.ID), DisplayName: str(s.ReviewedBy.DisplayName)}
		}
		a.Stages = append(a.Stages, st)
	}
	return a, r.err
}

func withStages() url.Values { return url.Values{"$expand": {"stages"}} }

// ListApprovalsToDecide lists the approvals waiting for the caller's
// decision now (filterByCurrentUser(on='approver')), with their stages: the
// one whose AssignedToMe is true is the stage to decide.
func (c *Client) ListApprovalsToDecide(ctx context.Context) ([]Approval, error) {
	return list(ctx, c, emPath+"/accessPackageAssignmentApprovals/filterByCurrentUser(on='approver')", withStages(), approvalWire.toDomain)
}

// GetApproval reads the approval of a request with its stages. Only an
// approver of one of its stages sees it; to anyone else it does not exist
// (an *Error with status 404).
func (c *Client) GetApproval(ctx context.Context, requestID string) (Approval, error) {
	path, err := route(emPath+"/accessPackageAssignmentApprovals/%s", requestID)
	if err != nil {
		return Approval{}, err
	}
	var w approvalWire
	if err := c.Do(ctx, http.MethodGet, path+"?"+withStages().Encode(), nil, &w); err != nil {
		return Approval{}, err
	}
	return w.toDomain()
}

// decisionBody is the PATCH body of a stage.
type decisionBody struct {
	ReviewResult  string `json:"reviewResult"`
	Justification string `json:"justification,omitempty"`
}

// DecideApprovalStage approves or denies a stage of a request's approval.
// accessd answers 403 to a caller who is not an approver of the stage, 409
// when it was decided already or has not started, and 400 when the stage
// requires a justification and d has none.
func (c *Client) DecideApprovalStage(ctx context.Context, requestID, stageID string, d access.Decision) error {
	path, err := route(emPath+"/accessPackageAssignmentApprovals/%s/stages/%s", requestID, stageID)
	if err != nil {
		return err
	}
	body := decisionBody{ReviewResult: "Deny", Justification: d.Justification}
	if d.Approve {
		body.ReviewResult = "Approve"
	}
	return c.Do(ctx, http.MethodPatch, path, body, nil)
}
