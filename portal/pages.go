package portal

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/accessd/accessd/access"
)

// ---- My Access ----

type requestRow struct {
	requestWire
	StatusText string // the status as a person reads it
	Detail     string // the last callback's detail, once one came
	Cancelable bool
}

type assignmentRow struct {
	assignmentWire
	Package   string
	Expires   string
	CanExtend bool
	CanRemove bool
	Questions []questionWire // the policy's, asked again when extending
}

type myAccessContent struct {
	Query       string
	Packages    []packageWire
	PackagesErr string
	Requests    []requestRow
	RequestsErr string
	Assignments []assignmentRow
	AssignErr   string
	DefaultEnd  string // the extend form's proposed end date
}

const requestExpand = "accessPackage($expand=catalog),requestor,assignment($expand=target,assignmentPolicy)"

func (s *Server) myAccess(w http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	ctx := apiContext(r, sess)
	me := sess.user.ID
	c := myAccessContent{Query: strings.TrimSpace(r.URL.Query().Get("q")), DefaultEnd: s.cfg.Now().AddDate(0, 0, 30).Format("2006-01-02")}

	pkgs, err := s.requestable(ctx)
	if unauthorized(err) {
		return "", view{}, err
	}
	if err != nil {
		c.PackagesErr = explain(err)
	}
	for _, p := range pkgs {
		if c.Query == "" || containsFold(p.DisplayName, c.Query) || containsFold(p.Description, c.Query) ||
			(p.Catalog != nil && containsFold(p.Catalog.DisplayName, c.Query)) {
			c.Packages = append(c.Packages, p)
		}
	}

	reqs, err := s.myRequests(ctx, me)
	if err != nil {
		c.RequestsErr = explain(err)
	}
	for _, req := range reqs {
		c.Requests = append(c.Requests, requestRow{requestWire: req, StatusText: statusText(req), Detail: lastDetail(req.Callouts),
			Cancelable: req.open() && strings.HasPrefix(req.RequestType, "user")})
	}

	as, err := listOr[assignmentWire](ctx, s.api,
		em+"/assignments/filterByCurrentUser(on='target')", em+"/assignments",
		url.Values{"$expand": {"accessPackage,assignmentPolicy($expand=questions)"}, "$filter": {fmt.Sprintf("target/objectId eq '%s'", me)}})
	if err != nil {
		c.AssignErr = explain(err)
	}
	for _, a := range as {
		row := assignmentRow{assignmentWire: a, Expires: expiry(a.Schedule, a.ExpiredDateTime)}
		if a.AccessPackage != nil {
			row.Package = a.AccessPackage.DisplayName
		}
		active := a.State == "delivered" || a.State == "delivering" || a.State == "partiallyDelivered"
		if p := a.AssignmentPolicy; p != nil && active {
			row.CanExtend = p.RequestorSettings.EnableTargetsToSelfUpdateAccess
			row.CanRemove = p.RequestorSettings.EnableTargetsToSelfRemoveAccess
			row.Questions = p.sortedQuestions()
		}
		c.Assignments = append(c.Assignments, row)
	}
	return "myaccess", view{Title: "My Access", Nav: "access", Content: c}, nil
}

// requestable are the packages the user may request, with their policies
// and questions: the API's filterByCurrentUser(on='allowedRequestor') where
// it has it, else every package the user may read.
func (s *Server) requestable(ctx context.Context) ([]packageWire, error) {
	q := url.Values{"$expand": {"catalog,assignmentPolicies($expand=questions)"}}
	pkgs, err := listOr[packageWire](ctx, s.api, em+"/accessPackages/filterByCurrentUser(on='allowedRequestor')", em+"/accessPackages", q)
	if err != nil {
		return nil, err
	}
	out := pkgs[:0]
	for _, p := range pkgs {
		if !p.IsHidden && len(p.Policies) > 0 {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b packageWire) int {
		return strings.Compare(strings.ToLower(a.DisplayName), strings.ToLower(b.DisplayName))
	})
	return out, nil
}

// myRequests are the requests for the user, newest first.
func (s *Server) myRequests(ctx context.Context, me string) ([]requestWire, error) {
	reqs, err := listOr[requestWire](ctx, s.api,
		em+"/assignmentRequests/filterByCurrentUser(on='target')", em+"/assignmentRequests",
		url.Values{"$expand": {requestExpand}, "$filter": {fmt.Sprintf("target/objectId eq '%s'", me)}})
	slices.SortFunc(reqs, func(a, b requestWire) int { return strings.Compare(b.CreatedDateTime, a.CreatedDateTime) })
	return reqs, err
}

// statusText is a request's status as a person reads it.
func statusText(req requestWire) string {
	if req.Status == access.StatusWaitingForCallback {
		for _, c := range req.Callouts {
			if c.Status == string(access.WaitingForCallback) || c.Status == string(access.CalloutSent) {
				if c.ExtensionName != "" {
					return "waiting for " + c.ExtensionName
				}
				return "waiting for an external system"
			}
		}
		return "waiting for an external system"
	}
	return spaced(req.Status)
}

// lastDetail is the detail of the last callback received.
func lastDetail(cs []calloutWire) string {
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].Status == string(access.CallbackReceived) && cs[i].Detail != "" {
			return cs[i].Detail
		}
	}
	return ""
}

// expiry is when an assignment ends, or "no expiry".
func expiry(sch scheduleWire, expired string) string {
	if expired != "" {
		return "ended " + shortTime(expired)
	}
	switch {
	case sch.Expiration.EndDateTime != "":
		return shortTime(sch.Expiration.EndDateTime)
	case sch.Expiration.Duration != "":
		return "after " + sch.Expiration.Duration
	}
	return "no expiry"
}

// ---- the request form ----

type requestFormContent struct {
	Package  packageWire
	Policies []policyWire
	Today    string
}

func (s *Server) findPackage(ctx context.Context, id string) (packageWire, error) {
	pkgs, err := s.requestable(ctx)
	if err != nil {
		return packageWire{}, err
	}
	for _, p := range pkgs {
		if p.ID == id {
			return p, nil
		}
	}
	return packageWire{}, pageError("That access package is not one you can request.")
}

func (s *Server) requestForm(w http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	pkg, err := s.findPackage(apiContext(r, sess), r.PathValue("packageId"))
	if err != nil {
		return "", view{}, err
	}
	c := requestFormContent{Package: pkg, Today: s.cfg.Now().Format("2006-01-02")}
	for _, p := range pkg.Policies {
		p.Questions = p.sortedQuestions()
		c.Policies = append(c.Policies, p)
	}
	return "request", view{Title: "Request " + pkg.DisplayName, Nav: "access", Content: c}, nil
}

// answerBody is accessPackageAnswerString.
type answerBody struct {
	ODataType        string            `json:"@odata.type"`
	Value            string            `json:"value"`
	DisplayValue     string            `json:"displayValue,omitempty"`
	AnsweredQuestion map[string]string `json:"answeredQuestion"`
}

type requestBody struct {
	RequestType   string         `json:"requestType"`
	Justification string         `json:"justification,omitempty"`
	Answers       []answerBody   `json:"answers,omitempty"`
	Assignment    map[string]any `json:"assignment"`
}

func (s *Server) submitRequest(r *http.Request, sess *session) (string, string, error) {
	ctx := apiContext(r, sess)
	back := r.URL.Path
	pkg, err := s.findPackage(ctx, r.PathValue("packageId"))
	if err != nil {
		return back, "", err
	}
	policyID := r.PostForm.Get("policy")
	var policy *policyWire
	for i := range pkg.Policies {
		if pkg.Policies[i].ID == policyID {
			policy = &pkg.Policies[i]
		}
	}
	if policy == nil {
		return back, "", pageError("Choose one of the package's policies.")
	}
	body := requestBody{RequestType: "userAdd", Justification: strings.TrimSpace(r.PostForm.Get("justification")),
		Assignment: map[string]any{"targetId": sess.user.ID, "assignmentPolicyId": policy.ID, "accessPackageId": pkg.ID}}
	body.Answers = answersFrom(r.PostForm, "q-"+policy.ID, policy.Questions)
	if start, end := r.PostForm.Get("start"), r.PostForm.Get("end"); policy.RequestorSettings.AllowCustomAssignmentSchedule && (start != "" || end != "") {
		sch, err := scheduleOf(start, end)
		if err != nil {
			return back, "", err
		}
		body.Assignment["schedule"] = sch
	}
	var created requestWire
	if err := s.api.Do(ctx, http.MethodPost, em+"/assignmentRequests", body, &created); err != nil {
		return back, "", err
	}
	return "/portal/", fmt.Sprintf("Requested %s: %s.", pkg.DisplayName, strings.ToLower(spaced(created.Status))), nil
}

// answersFrom reads the answers to questions from a form whose fields are
// named prefix-{question id} (the "questions" template). A question left
// blank is left out: the API says whether it was required.
func answersFrom(form url.Values, prefix string, questions []questionWire) []answerBody {
	var out []answerBody
	for _, q := range questions {
		var values []string
		for _, v := range form[prefix+"-"+q.ID] {
			if v = strings.TrimSpace(v); v != "" {
				values = append(values, v)
			}
		}
		if len(values) == 0 {
			continue
		}
		a := answerBody{ODataType: "#microsoft.graph.accessPackageAnswerString", Value: strings.Join(values, ","),
			AnsweredQuestion: map[string]string{"id": q.ID}}
		if q.IsChoice() {
			var shown []string
			for _, v := range values {
				for _, ch := range q.Choices {
					if ch.ActualValue == v {
						shown = append(shown, ch.Text)
					}
				}
			}
			a.DisplayValue = strings.Join(shown, ", ")
		}
		out = append(out, a)
	}
	return out
}

// scheduleOf is a custom schedule from the form's dates (yyyy-mm-dd, UTC).
func scheduleOf(start, end string) (map[string]any, error) {
	sch := map[string]any{}
	if start != "" {
		t, err := time.Parse("2006-01-02", start)
		if err != nil {
			return nil, pageError("The start date is not a date.")
		}
		sch["startDateTime"] = t.UTC().Format(time.RFC3339)
	}
	if end != "" {
		t, err := time.Parse("2006-01-02", end)
		if err != nil {
			return nil, pageError("The end date is not a date.")
		}
		sch["expiration"] = map[string]any{"type": "afterDateTime", "endDateTime": t.UTC().Format(time.RFC3339)}
	}
	return sch, nil
}

func (s *Server) cancelRequest(r *http.Request, sess *session) (string, string, error) {
	path := em + "/assignmentRequests/" + url.PathEscape(r.PathValue("id")) + "/cancel"
	if err := s.api.Do(apiContext(r, sess), http.MethodPost, path, nil, nil); err != nil {
		return "/portal/", "", err
	}
	return "/portal/", "Request canceled.", nil
}

func (s *Server) extendAssignment(r *http.Request, sess *session) (string, string, error) {
	end := r.PostForm.Get("end")
	if end == "" {
		return "/portal/", "", pageError("Give the new end date.")
	}
	sch, err := scheduleOf("", end)
	if err != nil {
		return "/portal/", "", err
	}
	sch["startDateTime"] = s.cfg.Now().UTC().Format(time.RFC3339)
	ctx, id := apiContext(r, sess), r.PathValue("id")
	// The policy's questions are asked again, as when requesting: the
	// assignment names them, as the API shows its target.
	var a assignmentWire
	path := em + "/assignments/" + url.PathEscape(id) + "?$expand=" + url.QueryEscape("assignmentPolicy($expand=questions)")
	if err := s.api.Do(ctx, http.MethodGet, path, nil, &a); err != nil {
		return "/portal/", "", err
	}
	body := map[string]any{"requestType": "userUpdate", "justification": strings.TrimSpace(r.PostForm.Get("justification")),
		"assignment": map[string]any{"id": id}, "schedule": sch}
	if a.AssignmentPolicy != nil {
		if answers := answersFrom(r.PostForm, "x-"+id, a.AssignmentPolicy.Questions); len(answers) > 0 {
			body["answers"] = answers
		}
	}
	var created requestWire
	if err := s.api.Do(ctx, http.MethodPost, em+"/assignmentRequests", body, &created); err != nil {
		return "/portal/", "", err
	}
	return "/portal/", "Extension requested: " + strings.ToLower(spaced(created.Status)) + ".", nil
}

func (s *Server) removeAssignment(r *http.Request, sess *session) (string, string, error) {
	body := map[string]any{"requestType": "userRemove", "assignment": map[string]any{"id": r.PathValue("id")}}
	var created requestWire
	if err := s.api.Do(apiContext(r, sess), http.MethodPost, em+"/assignmentRequests", body, &created); err != nil {
		return "/portal/", "", err
	}
	return "/portal/", "Removal requested: " + strings.ToLower(spaced(created.Status)) + ".", nil
}

// ---- Approvals ----

type answerRow struct{ Question, Answer string }

type approvalRow struct {
	Request  requestWire
	Target   string
	Answers  []answerRow
	Stage    approvalStageWire // the stage waiting for me
	Stages   []approvalStageWire
	Callouts []calloutWire
}

type approvalsContent struct {
	Pending []approvalRow
	Err     string
	History []decisionRow // the user's own decisions, newest first
	HistErr string
}

// decisionRow is one approval stage the user decided.
type decisionRow struct {
	Request requestWire
	Target  string
	Stage   approvalStageWire
}

// maxHistory bounds the decisions the Approvals page lists.
const maxHistory = 50

func (s *Server) approvals(w http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	ctx := apiContext(r, sess)
	var c approvalsContent
	reqs, err := listAll[requestWire](ctx, s.api, em+"/assignmentRequests/filterByCurrentUser(on='approver')",
		url.Values{"$expand": {requestExpand}})
	if unauthorized(err) {
		return "", view{}, err
	}
	if err != nil {
		c.Err = explain(err)
	}
	for _, req := range reqs {
		row := approvalRow{Request: req, Target: req.Requestor.Label(), Callouts: req.Callouts}
		if t := req.target(); t != nil {
			row.Target = t.Label()
		}
		var ap approvalWire
		if err := s.api.Do(ctx, http.MethodGet, em+"/accessPackageAssignmentApprovals/"+url.PathEscape(req.ID)+"?$expand=stages", nil, &ap); err != nil {
			continue // no longer mine to decide
		}
		row.Stages = ap.Stages
		for _, st := range ap.Stages {
			if st.AssignedToMe && st.Status != "completed" {
				row.Stage = st
			}
		}
		if row.Stage.ID == "" {
			continue
		}
		row.Answers = answerRows(req)
		c.Pending = append(c.Pending, row)
	}
	c.History, err = s.decisions(ctx, sess.user.ID)
	if err != nil {
		c.HistErr = explain(err)
	}
	return "approvals", view{Title: "Approvals", Nav: "approvals", Content: c}, nil
}

// decisions are the approval stages the user decided: of the requests
// whose approval no longer waits for them (the API's
// filterByCurrentUser(on='approverHistory')), the stages whose reviewedBy
// is the user, newest first.
func (s *Server) decisions(ctx context.Context, me string) ([]decisionRow, error) {
	reqs, err := listAll[requestWire](ctx, s.api, em+"/assignmentRequests/filterByCurrentUser(on='approverHistory')",
		url.Values{"$expand": {requestExpand}, "$orderby": {"createdDateTime desc"}, "$top": {"100"}})
	if err != nil {
		return nil, err
	}
	var out []decisionRow
	for _, req := range reqs {
		var ap approvalWire
		if err := s.api.Do(ctx, http.MethodGet, em+"/accessPackageAssignmentApprovals/"+url.PathEscape(req.ID)+"?$expand=stages", nil, &ap); err != nil {
			continue
		}
		for _, st := range ap.Stages {
			if st.ReviewedBy == nil || st.ReviewedBy.ID != me || st.ReviewResult == "" || st.ReviewResult == "NotReviewed" {
				continue
			}
			row := decisionRow{Request: req, Target: req.Requestor.Label(), Stage: st}
			if t := req.target(); t != nil {
				row.Target = t.Label()
			}
			out = append(out, row)
		}
		if len(out) >= maxHistory {
			break
		}
	}
	slices.SortStableFunc(out, func(a, b decisionRow) int { return strings.Compare(b.Stage.ReviewedDateTime, a.Stage.ReviewedDateTime) })
	return out, nil
}

// answerRows pairs answers with their questions' text, which the API
// carries with the request.
func answerRows(req requestWire) []answerRow {
	var out []answerRow
	for i, a := range req.Answers {
		q := a.AnsweredQuestion.Text
		if q == "" {
			q = fmt.Sprintf("Question %d", i+1)
		}
		ans := a.DisplayValue
		if ans == "" {
			ans = a.Value
		}
		out = append(out, answerRow{Question: q, Answer: ans})
	}
	return out
}

func (s *Server) decide(r *http.Request, sess *session) (string, string, error) {
	result := r.PostForm.Get("decision")
	if result != "Approve" && result != "Deny" {
		return "/portal/approvals", "", pageError("Choose approve or deny.")
	}
	path := em + "/accessPackageAssignmentApprovals/" + url.PathEscape(r.PathValue("id")) + "/stages/" + url.PathEscape(r.PathValue("stageId"))
	body := map[string]string{"reviewResult": result, "justification": strings.TrimSpace(r.PostForm.Get("justification"))}
	if err := s.api.Do(apiContext(r, sess), http.MethodPatch, path, body, nil); err != nil {
		return "/portal/approvals", "", err
	}
	word := "Approved"
	if result == "Deny" {
		word = "Denied"
	}
	return "/portal/approvals", word + ".", nil
}

// ---- Admin ----

type catalogBlock struct {
	Catalog    catalogWire
	Packages   []packageWire
	Extensions []extensionWire
	Err        string
}

type adminContent struct {
	Err      string // the API refused the whole view
	Catalogs []catalogBlock
	Requests []requestWire
	ReqErr   string
}

func (s *Server) admin(w http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	ctx := apiContext(r, sess)
	var c adminContent
	cats, err := listAll[catalogWire](ctx, s.api, em+"/catalogs", nil)
	if unauthorized(err) {
		return "", view{}, err
	}
	if err != nil {
		c.Err = explain(err)
		return "admin", view{Title: "Admin", Nav: "admin", Content: c}, nil
	}
	for _, cat := range cats {
		b := catalogBlock{Catalog: cat}
		b.Packages, err = listAll[packageWire](ctx, s.api, em+"/catalogs/"+url.PathEscape(cat.ID)+"/accessPackages",
			url.Values{"$expand": {"assignmentPolicies($expand=questions,customExtensionStageSettings($expand=customExtension))"}})
		if err != nil {
			b.Err = explain(err)
		}
		b.Extensions, err = listAll[extensionWire](ctx, s.api, em+"/catalogs/"+url.PathEscape(cat.ID)+"/customWorkflowExtensions", nil)
		if err != nil && b.Err == "" {
			b.Err = explain(err)
		}
		c.Catalogs = append(c.Catalogs, b)
	}
	c.Requests, err = listAll[requestWire](ctx, s.api, em+"/assignmentRequests", url.Values{"$expand": {requestExpand}})
	if err != nil {
		c.ReqErr = explain(err)
	}
	slices.SortFunc(c.Requests, func(a, b requestWire) int { return strings.Compare(b.CreatedDateTime, a.CreatedDateTime) })
	return "admin", view{Title: "Admin", Nav: "admin", Content: c}, nil
}

type adminRequestContent struct {
	Request  requestWire
	Target   string
	Answers  []answerRow
	History  []historyWire
	HistErr  string
	Stages   []approvalStageWire
	Attempts []attemptWire
}

func (s *Server) adminRequest(w http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	ctx := apiContext(r, sess)
	id := r.PathValue("id")
	var c adminRequestContent
	if err := s.api.Do(ctx, http.MethodGet, em+"/assignmentRequests/"+url.PathEscape(id)+"?$expand="+url.QueryEscape(requestExpand), nil, &c.Request); err != nil {
		return "", view{}, err
	}
	c.Target = c.Request.Requestor.Label()
	if t := c.Request.target(); t != nil {
		c.Target = t.Label()
	}
	c.Answers = answerRows(c.Request)
	var err error
	c.History, err = listAll[historyWire](ctx, s.api, em+"/assignmentRequests/"+url.PathEscape(id)+"/history", nil)
	if err != nil {
		c.HistErr = explain(err)
	}
	var ap approvalWire
	if s.api.Do(ctx, http.MethodGet, em+"/accessPackageAssignmentApprovals/"+url.PathEscape(id)+"?$expand=stages", nil, &ap) == nil {
		c.Stages = ap.Stages
	}
	// The HTTP attempts of its callouts, where accessd records them: each
	// extension's recent attempts, those of this request.
	seen := map[string]bool{}
	if pkg := c.Request.AccessPackage; pkg != nil && pkg.Catalog != nil {
		for _, co := range c.Request.Callouts {
			if seen[co.CustomExtensionID] {
				continue
			}
			seen[co.CustomExtensionID] = true
			attempts, _ := s.extensionAttempts(ctx, pkg.Catalog.ID, co.CustomExtensionID)
			for _, a := range attempts {
				if a.RequestID == id {
					c.Attempts = append(c.Attempts, a)
				}
			}
		}
	}
	return "adminrequest", view{Title: "Request " + id, Nav: "admin", Content: c}, nil
}
