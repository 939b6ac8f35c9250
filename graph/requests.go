package graph

import (
	"context"
	"net/http"
	"strings"

	"github.com/accessd/accessd/access"
)

// Access package assignment requests and assignments, in v1.0
// (assignmentRequests, assignments) and beta (accessPackageAssignmentRequests
// and the newer assignmentRequests, both with beta names; and
// accessPackageAssignments). The service enforces every rule; handlers decode,
// call it and write the version's shape.

// requestSet is one collection of requests: its version and its name.
type requestSet struct {
	beta bool
	name string // assignmentRequests or accessPackageAssignmentRequests
}

func (rs requestSet) version() string {
	if rs.beta {
		return "beta"
	}
	return "v1.0"
}

// expandable lists what $expand may name on the set's requests.
func (rs requestSet) expandable() []string {
	if rs.beta {
		return []string{"accessPackage", "accessPackage/accessPackageCatalog", "requestor", "accessPackageAssignment",
			"accessPackageAssignment/target", "accessPackageAssignment/accessPackage", "accessPackageAssignment/accessPackageAssignmentPolicy"}
	}
	return []string{"accessPackage", "accessPackage/catalog", "requestor", "assignment",
		"assignment/target", "assignment/accessPackage", "assignment/assignmentPolicy"}
}

// fields is what $filter and $orderby may name on the set's requests.
func (rs requestSet) fields() wireFields {
	if rs.beta {
		return requestFieldsBeta
	}
	return requestFieldsV1
}

// assignmentSet is the assignments of one version.
type assignmentSet struct{ beta bool }

func (as assignmentSet) version() string { return requestSet{beta: as.beta}.version() }

func (as assignmentSet) name() string {
	if as.beta {
		return "accessPackageAssignments"
	}
	return "assignments"
}

func (as assignmentSet) expandable() []string {
	if as.beta {
		return []string{"target", "accessPackage", "accessPackage/accessPackageCatalog", "accessPackageAssignmentPolicy"}
	}
	return []string{"target", "accessPackage", "accessPackage/catalog", "assignmentPolicy", "assignmentPolicy/questions"}
}

// fields is what $filter and $orderby may name on the version's assignments.
func (as assignmentSet) fields() wireFields {
	if as.beta {
		return assignmentFieldsBeta
	}
	return assignmentFieldsV1
}

// ---- requests ----

func (s *Server) listRequests(rs requestSet) handler {
	return serveList(s, rs.list(s, fixedContext(s.emContext(rs.version(), rs.name, false)), nil))
}

// list is the set's requests, within scope.
func (rs requestSet) list(s *Server, context func(*http.Request) string, scope func(*http.Request) (*access.Cond, error)) storedList[access.Request] {
	return storedList[access.Request]{
		fields:     rs.fields(),
		expandable: rs.expandable(),
		context:    context,
		scope:      scope,
		shape: func(r *http.Request, req access.Request, expand expandSet) (any, error) {
			return s.requestOut(r, rs, req, expand)
		},
		shapePage: func(r *http.Request, reqs []access.Request, expand expandSet) ([]any, error) {
			requestors, err := subjectsOf(s, r, expand.has("requestor"), reqs, func(req access.Request) access.Subject { return req.Requestor })
			if err != nil {
				return nil, err
			}
			return shapeEach(reqs, func(req access.Request) (any, error) { return s.requestShape(r, rs, req, expand, requestors) })
		},
	}
}

// getRequest answers GET of one request.
func (s *Server) getRequest(rs requestSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r, rs.expandable()...)
		if err != nil {
			return err
		}
		req, err := s.svc.Request(r.Context(), callerOf(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		out, err := s.requestOut(r, rs, req, q.expand)
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusOK, s.emContext(rs.version(), rs.name, true), out, q.selectSet)
	}
}

// requestsByCurrentUser is filterByCurrentUser on requests, in the set's
// shape, and its /$count segment: the caller's as target (on='target'), as
// requestor (on='createdBy'), either (on='targetOrRequestor'), or those
// waiting for the caller's decision now (on='approver').
func (s *Server) requestsByCurrentUser(rs requestSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		on, _, err := currentUserFilter(callSegment(r, "filterByCurrentUser"))
		if err != nil {
			return err
		}
		scope, err := currentUserScope(r, rs.name, on, requestsOfCurrentUser)
		if err != nil {
			return err
		}
		context := fixedContext(contextURL(s.cfg.PublicURL, rs.version(), "Collection(microsoft.graph.accessPackageAssignmentRequest)", false))
		return rs.list(s, context, func(*http.Request) (*access.Cond, error) { return scope, nil }).serve(s, w, r)
	}
}

// submitRequest is POST: 201 with the request as accepted (submitted and
// Accepted; beta Submitted and Accepted), as Graph answers, even when
// processing has already moved it on.
func (s *Server) submitRequest(rs requestSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		in, err := decodeRequestInput(r, rs.beta)
		if err != nil {
			return err
		}
		req, err := s.svc.SubmitRequest(r.Context(), callerOf(r), in)
		if err != nil {
			if rs.beta {
				return inBetaNames(err)
			}
			return err
		}
		out, err := s.requestOut(r, rs, req, nil)
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusCreated, s.emContext(rs.version(), rs.name, true), out, nil)
	}
}

func decodeRequestInput(r *http.Request, beta bool) (access.RequestInput, error) {
	if beta {
		var in requestInputBeta
		if err := decodeBody(r, &in); err != nil {
			return access.RequestInput{}, err
		}
		return in.toDomain()
	}
	var in requestInputV1
	if err := decodeBody(r, &in); err != nil {
		return access.RequestInput{}, err
	}
	return in.toDomain()
}

func (s *Server) deleteRequest(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteRequest(r.Context(), callerOf(r), r.PathValue("id")); err != nil {
		return err
	}
	return writeNoContent(w)
}

// cancelRequest is the cancel action (beta writes Cancel): 204.
func (s *Server) cancelRequest(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.CancelRequest(r.Context(), callerOf(r), r.PathValue("id"), readNoBody(r)); err != nil {
		return err
	}
	return writeNoContent(w)
}

// resumeRequest is an extension's callback, on a request or (beta) on a
// request under an assignment: 404 when the request is not the assignment's.
func (s *Server) resumeRequest(w http.ResponseWriter, r *http.Request) error {
	return s.resume(w, r, r.PathValue("id"), r.PathValue("assignmentId"))
}

// reprocessRequest runs a failed request's failed step again.
func (s *Server) reprocessRequest(w http.ResponseWriter, r *http.Request) error {
	return s.reprocess(w, r, r.PathValue("id"))
}

// cancelRequestOfAssignment and reprocessRequestOfAssignment are beta's
// cancel and reprocess of a request under its assignment: 404 when the
// request is not the assignment's.
func (s *Server) cancelRequestOfAssignment(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requestOfAssignment(r); err != nil {
		return err
	}
	return s.cancelRequest(w, r)
}

func (s *Server) reprocessRequestOfAssignment(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requestOfAssignment(r); err != nil {
		return err
	}
	return s.reprocessRequest(w, r)
}

// requestOfAssignment is the request the path names under its assignment;
// 404 when the assignment does not exist or the request is not its.
func (s *Server) requestOfAssignment(r *http.Request) (access.Request, error) {
	assignmentID, id := r.PathValue("assignmentId"), r.PathValue("id")
	if _, err := s.svc.Assignment(r.Context(), callerOf(r), assignmentID); err != nil {
		return access.Request{}, err
	}
	req, err := s.svc.Request(r.Context(), callerOf(r), id)
	if err != nil {
		return req, err
	}
	if req.AssignmentID != assignmentID {
		return req, access.NotFoundf("request %q is not a request of assignment %q", id, assignmentID)
	}
	return req, nil
}

// listRequestsOfAssignment is beta's list of the requests that made,
// changed or removed one assignment.
func (s *Server) listRequestsOfAssignment(rs requestSet) handler {
	context := func(r *http.Request) string {
		return s.emContext("beta", "accessPackageAssignments('"+r.PathValue("assignmentId")+"')/"+rs.name, false)
	}
	scope := func(r *http.Request) (*access.Cond, error) {
		id := r.PathValue("assignmentId")
		if _, err := s.svc.Assignment(r.Context(), callerOf(r), id); err != nil {
			return nil, err
		}
		return fieldEquals("AssignmentID", id), nil
	}
	return serveList(s, rs.list(s, context, scope))
}

func (s *Server) getRequestOfAssignment(rs requestSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r, rs.expandable()...)
		if err != nil {
			return err
		}
		req, err := s.requestOfAssignment(r)
		if err != nil {
			return err
		}
		out, err := s.requestOut(r, rs, req, q.expand)
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusOK, s.emContext("beta", "accessPackageAssignments('"+r.PathValue("assignmentId")+"')/"+rs.name, true), out, q.selectSet)
	}
}

// readNoBody accepts an action body that is absent, empty or {}.
func readNoBody(r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(body)) == "" {
		return nil
	}
	var none struct{}
	return decodeJSON(body, &none)
}

func (s *Server) requestHistory(rs requestSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r)
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		items, more, err := s.svc.History(r.Context(), callerOf(r), id, q.page())
		if err != nil {
			return err
		}
		out := make([]any, len(items))
		for i, h := range items {
			out[i] = historyToWire(h, rs.beta)
		}
		return s.writeList(w, r, s.emContext(rs.version(), rs.name+"('"+id+"')/history", false), out,
			lastID(items, func(h access.HistoryEntry) string { return h.ID }), more, q.selectSet)
	}
}

// throughSeen is r as it reads the navigation properties of a request or
// an assignment the caller sees (its package, assignment and policy):
// those are part of the object, shown to whoever may see it, a target
// without any role included.
func throughSeen(r *http.Request) *http.Request {
	reader := access.Caller{ObjectID: callerOf(r).ObjectID, IsApp: true, Roles: access.ReadEntitlements, Rule: access.RuleReader}
	return r.WithContext(context.WithValue(r.Context(), callerKey{}, reader))
}

// requestOut writes a request in the set's shape with what $expand names.
func (s *Server) requestOut(r *http.Request, rs requestSet, req access.Request, expand expandSet) (any, error) {
	requestors, err := subjectsOf(s, r, expand.has("requestor"), []access.Request{req}, func(req access.Request) access.Subject { return req.Requestor })
	if err != nil {
		return nil, err
	}
	return s.requestShape(r, rs, req, expand, requestors)
}

// requestShape is requestOut with the requestor, when expanded, already
// looked up.
func (s *Server) requestShape(r *http.Request, rs requestSet, req access.Request, expand expandSet, requestors subjectsNow) (any, error) {
	r = throughSeen(r)
	if rs.beta {
		out := requestToBeta(req)
		var err error
		if expand.has("accessPackage") {
			if out.AccessPackage, err = s.expandPackage(r, true, req.AccessPackageID, expand["accessPackage"]); err != nil {
				return nil, err
			}
		}
		if expand.has("accessPackageAssignment") {
			if out.AccessPackageAssignment, err = s.expandAssignment(r, assignmentSet{beta: true}, req.AssignmentID, expand["accessPackageAssignment"]); err != nil {
				return nil, err
			}
		}
		if expand.has("requestor") {
			out.Requestor = subjectToBeta(requestors.of(req.Requestor))
		}
		return out, nil
	}
	out := requestToV1(req)
	var err error
	if expand.has("accessPackage") {
		if out.AccessPackage, err = s.expandPackage(r, false, req.AccessPackageID, expand["accessPackage"]); err != nil {
			return nil, err
		}
	}
	if expand.has("assignment") {
		if out.Assignment, err = s.expandAssignment(r, assignmentSet{}, req.AssignmentID, expand["assignment"]); err != nil {
			return nil, err
		}
	}
	if expand.has("requestor") {
		out.Requestor = subjectToV1(requestors.of(req.Requestor))
	}
	return out, nil
}

// subjectsNow are targets or requestors as the directory has them now,
// by id, looked up together for a page (access.Service.Subjects).
type subjectsNow map[string]access.Subject

// of is the subject recorded as it is now; the record itself when the
// object is gone (or is accessd).
func (k subjectsNow) of(recorded access.Subject) access.Subject {
	if sub, ok := k[recorded.ID]; ok {
		return sub
	}
	return recorded
}

// subjectNow describes a target or requestor as the directory has it now;
// the request's own record is used when the object is gone (or is accessd).
func (s *Server) subjectNow(ctx context.Context, recorded access.Subject) (access.Subject, error) {
	if recorded.ID == "" {
		return recorded, nil
	}
	sub, err := s.svc.Subject(ctx, recorded.ID)
	if access.IsNotFound(err) {
		return recorded, nil
	}
	return sub, err
}

// expandPackage is an expanded accessPackage, null when it no longer exists.
func (s *Server) expandPackage(r *http.Request, beta bool, id string, nested expandSet) (any, error) {
	if id == "" {
		return jsonNull, nil
	}
	p, err := s.svc.AccessPackage(r.Context(), callerOf(r), id)
	if access.IsNotFound(err) {
		return jsonNull, nil
	}
	if err != nil {
		return nil, err
	}
	if beta {
		return s.packageBeta(r, p, nested)
	}
	return s.packageV1(r, p, nested)
}

// expandAssignment is a request's expanded assignment: null until delivery
// has made one.
func (s *Server) expandAssignment(r *http.Request, as assignmentSet, id string, nested expandSet) (any, error) {
	if id == "" {
		return jsonNull, nil
	}
	a, err := s.svc.Assignment(r.Context(), callerOf(r), id)
	if access.IsNotFound(err) {
		return jsonNull, nil
	}
	if err != nil {
		return nil, err
	}
	return s.assignmentOut(r, as, a, nested)
}

// ---- assignments ----

func (s *Server) listAssignments(as assignmentSet) handler { return serveList(s, as.list(s)) }

// list is the version's assignments.
func (as assignmentSet) list(s *Server) storedList[access.Assignment] {
	return storedList[access.Assignment]{
		fields:     as.fields(),
		expandable: as.expandable(),
		context:    fixedContext(s.emContext(as.version(), as.name(), false)),
		shape: func(r *http.Request, a access.Assignment, expand expandSet) (any, error) {
			return s.assignmentOut(r, as, a, expand)
		},
		shapePage: func(r *http.Request, items []access.Assignment, expand expandSet) ([]any, error) {
			return s.assignmentsOut(r, as, items, expand)
		},
	}
}

// getAssignment answers GET of one assignment.
func (s *Server) getAssignment(as assignmentSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r, as.expandable()...)
		if err != nil {
			return err
		}
		a, err := s.svc.Assignment(r.Context(), callerOf(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		out, err := s.assignmentOut(r, as, a, q.expand)
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusOK, s.emContext(as.version(), as.name(), true), out, q.selectSet)
	}
}

// assignmentsByCurrentUser is filterByCurrentUser on assignments, and its
// /$count segment: the caller's as target (on='target'), or those it asked
// for (on='createdBy').
func (s *Server) assignmentsByCurrentUser(as assignmentSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		on, _, err := currentUserFilter(callSegment(r, "filterByCurrentUser"))
		if err != nil {
			return err
		}
		scope, err := currentUserScope(r, as.name(), on, assignmentsOfCurrentUser)
		if err != nil {
			return err
		}
		l := as.list(s)
		l.context = fixedContext(contextURL(s.cfg.PublicURL, as.version(), "Collection(microsoft.graph.accessPackageAssignment)", false))
		l.scope = func(*http.Request) (*access.Cond, error) { return scope, nil }
		return l.serve(s, w, r)
	}
}

// assignmentOut writes an assignment in the version's shape with what $expand names.
func (s *Server) assignmentOut(r *http.Request, as assignmentSet, a access.Assignment, expand expandSet) (any, error) {
	out, err := s.assignmentsOut(r, as, []access.Assignment{a}, expand)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// assignmentsOut writes assignments as assignmentOut does, looking up the
// targets of all of them at once when $expand names target.
func (s *Server) assignmentsOut(r *http.Request, as assignmentSet, items []access.Assignment, expand expandSet) ([]any, error) {
	targets, err := subjectsOf(s, r, expand.has("target"), items, func(a access.Assignment) access.Subject { return a.Target })
	if err != nil {
		return nil, err
	}
	return shapeEach(items, func(a access.Assignment) (any, error) { return s.assignmentShape(r, as, a, expand, targets) })
}

// subjectsOf looks up, when want, the subject each item names (its target,
// its requestor), all in one read.
func subjectsOf[T any](s *Server, r *http.Request, want bool, items []T, of func(T) access.Subject) (subjectsNow, error) {
	if !want {
		return nil, nil
	}
	ids := make([]string, len(items))
	for i, item := range items {
		ids[i] = of(item).ID
	}
	return s.svc.Subjects(r.Context(), ids)
}

// shapeEach writes each item of a page with shape.
func shapeEach[T any](items []T, shape func(T) (any, error)) ([]any, error) {
	out := make([]any, len(items))
	for i, item := range items {
		var err error
		if out[i], err = shape(item); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// assignmentShape is one assignment of assignmentsOut.
func (s *Server) assignmentShape(r *http.Request, as assignmentSet, a access.Assignment, expand expandSet, targets subjectsNow) (any, error) {
	r = throughSeen(r)
	ctx := r.Context()
	var target, pkg, policy any
	if expand.has("target") {
		sub := targets.of(a.Target)
		if as.beta {
			target = subjectToBeta(sub)
		} else {
			target = subjectToV1(sub)
		}
	}
	if expand.has("accessPackage") {
		var err error
		if pkg, err = s.expandPackage(r, as.beta, a.AccessPackageID, expand["accessPackage"]); err != nil {
			return nil, err
		}
	}
	policyNav := "assignmentPolicy"
	if as.beta {
		policyNav = "accessPackageAssignmentPolicy"
	}
	if expand.has(policyNav) {
		p, err := s.svc.AssignmentPolicy(ctx, callerIn(ctx), a.PolicyID)
		switch {
		case access.IsNotFound(err):
			policy = jsonNull
		case err != nil:
			return nil, err
		case as.beta:
			policy = policyToBeta(p)
		default:
			// Its questions too, when asked for: a target extending their
			// access answers them, and may not read the policy otherwise.
			pw := policyToV1(p)
			if expand[policyNav].has("questions") {
				qs := questionsOut(p.Questions)
				pw.Questions = &qs
			}
			policy = pw
		}
	}
	if as.beta {
		out := assignmentToBeta(a)
		out.Target, out.AccessPackage, out.AccessPackageAssignmentPolicy = target, pkg, policy
		return out, nil
	}
	out := assignmentToV1(a)
	out.Target, out.AccessPackage, out.AssignmentPolicy = target, pkg, policy
	return out, nil
}
