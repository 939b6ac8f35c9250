package sqlstore

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/accessd/accessd/access"
	json "github.com/segmentio/encoding/json"
)

var (
	upsertRequest = upsert("requests", "id", "request_type", "state", "target_id", "access_package_id", "policy_id",
		"assignment_id", "catalog_id", "is_open", "created_us", "extension_refs", "doc")
	insertRequest = "INSERT INTO requests (id, request_type, state, target_id, access_package_id, policy_id, " +
		"assignment_id, catalog_id, is_open, created_us, extension_refs, doc) VALUES (" + marks(12) + ")"
	upsertAssignment = upsert("assignments", "id", "target_id", "access_package_id", "policy_id", "catalog_id", "state", "created_us", "doc")
)

// Request, in an Update transaction, locks the request's row until the
// transaction ends (dialect.rowLock): the transactions that change one
// request take turns, and each reads what the one before it wrote.
func (t *tx) Request(id string) (access.Request, error) {
	r, err := get(t, scanDoc[access.Request], access.NotFoundf("no assignment request with id %q", id),
		"SELECT doc FROM requests WHERE id = ?"+t.rowLock(), id)
	if err == nil {
		t.noteStored(r)
	}
	return r, err
}

func (t *tx) Requests(f access.RequestFilter, p access.Page) ([]access.Request, error) {
	return listWhere[access.Request](t, "requests", requestConds(f), p)
}

func requestConds(f access.RequestFilter) conds {
	var c conds
	c.eq("target_id", f.TargetID)
	c.eq("access_package_id", f.AccessPackageID)
	c.eq("policy_id", f.PolicyID)
	c.eq("assignment_id", f.AssignmentID)
	c.eq("state", string(f.State))
	if f.ApproverID != "" {
		pending := "AND pending = 1"
		if f.AnyApprovalStage {
			pending = ""
		}
		c.add("id IN (SELECT request_id FROM request_approvers WHERE approver_id = ? "+pending+")", f.ApproverID)
	}
	return c
}

// storedRequest is what a transaction knows of a request's row as stored,
// once it has read or written it: enough to write only what changes.
type storedRequest struct {
	open         bool
	assignmentID string
	refs         string // refsKey: the request's extension reference rows
	approvers    string // approversKey: its approver rows
}

// noteStored remembers the request's row as this transaction last saw it.
func (t *tx) noteStored(r access.Request) {
	if t.stored == nil {
		t.stored = map[string]storedRequest{}
	}
	t.stored[r.ID] = storedRequest{open: !r.State.IsFinal(), assignmentID: r.AssignmentID, refs: refsKey(r), approvers: approversKey(r)}
}

// approversKey names the set of approver rows a request should have.
func approversKey(r access.Request) string {
	all, pending := r.Approvers()
	return strings.Join(all, " ") + "|" + strings.Join(pending, " ")
}

// refsKey is the request's extension_refs column: the JSON array of the
// extensions its snapshot binds while it is open (migration 00013), [] once
// it is final.
func refsKey(r access.Request) string {
	refs := []string{}
	if !r.State.IsFinal() {
		refs = boundExtensions(r.Policy)
	}
	if len(refs) == 0 {
		return "[]"
	}
	b, err := json.Marshal(refs)
	if err != nil { // cannot happen: strings always encode
		panic(err)
	}
	return string(b)
}

// PutRequest also keeps the request's extension references, the
// extension_refs column (refsKey).
//
// A request is written about six times in its life, and only its state,
// assignment and document change after it is made. When this transaction
// read the request, PutRequest updates just the columns that changed, so
// SQLite leaves the indexes on the others alone.
func (t *tx) PutRequest(r access.Request) error {
	doc, err := t.encode(r)
	if err != nil {
		return err
	}
	open := !r.State.IsFinal()
	was, known := t.stored[r.ID]
	if known {
		err = t.updateRequest(r, was, open, doc)
	} else {
		_, err = t.exec(upsertRequest, r.ID, string(r.Type), string(r.State), r.Target.ID, r.AccessPackageID, r.PolicyID,
			r.AssignmentID, r.CatalogID, sqlBool(open), r.CreatedDateTime.UnixMicro(), refsKey(r), doc)
	}
	if e := (*access.Error)(nil); errors.As(err, &e) && e.Kind == access.KindConflict {
		// The only unique constraint a request's row can break besides its
		// id, which an upsert never does: requests_open_per_target.
		return &access.Error{Kind: access.KindConflict, Err: e.Err,
			Message: fmt.Sprintf("target %q already has an open request for access package %q", r.Target.ID, r.AccessPackageID)}
	}
	if err != nil {
		return err
	}
	if (!known && len(r.Approval) > 0) || (known && was.approvers != approversKey(r)) {
		if err := t.putRequestApprovers(r); err != nil {
			return err
		}
	}
	t.noteStored(r)
	return nil
}

// AddRequest writes a new request in one statement (and its approvers'
// rows, if it has any yet): there is nothing of it to replace.
func (t *tx) AddRequest(r access.Request) error {
	doc, err := t.encode(r)
	if err != nil {
		return err
	}
	open := !r.State.IsFinal()
	_, err = t.exec(insertRequest, r.ID, string(r.Type), string(r.State), r.Target.ID, r.AccessPackageID, r.PolicyID,
		r.AssignmentID, r.CatalogID, sqlBool(open), r.CreatedDateTime.UnixMicro(), refsKey(r), doc)
	if err != nil {
		return err
	}
	if len(r.Approval) > 0 {
		if err := t.putRequestApprovers(r); err != nil {
			return err
		}
	}
	t.noteStored(r)
	return nil
}

// updateRequest writes the state and document of a request this
// transaction has seen, and its assignment and openness if they changed.
func (t *tx) updateRequest(r access.Request, was storedRequest, open bool, doc string) error {
	query, args := "UPDATE requests SET state = ?, doc = ?", []any{string(r.State), doc}
	if r.AssignmentID != was.assignmentID {
		query, args = query+", assignment_id = ?", append(args, r.AssignmentID)
	}
	if open != was.open {
		query, args = query+", is_open = ?", append(args, sqlBool(open))
	}
	if refs := refsKey(r); refs != was.refs {
		query, args = query+", extension_refs = ?", append(args, refs)
	}
	n, err := t.execCount(query+" WHERE id = ?", append(args, r.ID)...)
	if err != nil {
		return err
	}
	if n != 1 { // cannot happen: DeleteRequest forgets what this transaction saw
		return access.Internal(fmt.Errorf("request %s was not stored: no row has its id", r.ID))
	}
	return nil
}

// putRequestApprovers rewrites the request's approver rows (Request.Approvers).
func (t *tx) putRequestApprovers(r access.Request) error {
	if _, err := t.exec("DELETE FROM request_approvers WHERE request_id = ?", r.ID); err != nil {
		return err
	}
	all, pending := r.Approvers()
	for _, id := range all {
		if _, err := t.exec("INSERT INTO request_approvers (request_id, approver_id, pending) VALUES (?, ?, ?)",
			r.ID, id, sqlBool(slices.Contains(pending, id))); err != nil {
			return err
		}
	}
	return nil
}

// boundExtensions lists each extension a snapshot binds once, however many stages it serves.
func boundExtensions(p access.PolicySnapshot) []string {
	var ids []string
	for _, b := range p.Bindings {
		if b.ExtensionID != "" {
			ids = append(ids, b.ExtensionID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// sqlBool is how a boolean column is stored: INTEGER 1 or 0, on every engine.
func sqlBool(b bool) int {
	if b {
		return 1
	}
	return 0
}

// DeleteRequest also deletes the request's history, which is reachable only
// through the request. Its work is the Service's to drop.
func (t *tx) DeleteRequest(id string) error {
	delete(t.stored, id)
	if _, err := t.exec("DELETE FROM request_approvers WHERE request_id = ?", id); err != nil {
		return err
	}
	if _, err := t.exec("DELETE FROM history WHERE request_id = ?", id); err != nil {
		return err
	}
	return t.deleteByID("requests", id, access.NotFoundf("no assignment request with id %q", id))
}

// CountOpenRequests counts is_open 1 and 2 alike: 2 marks an open request
// that migration 00009 left outside requests_open_per_target.
func (t *tx) CountOpenRequests(f access.RequestFilter) (int, error) {
	c := requestConds(f)
	c.add("is_open <> ?", sqlBool(false))
	return t.countWhere("requests", c)
}

// CountOpenRequestsReferencing reads every open request: deleting an
// extension is rare, and keeping an index of references for it cost every
// request two statements (migration 00013).
func (t *tx) CountOpenRequestsReferencing(extensionID string) (int, error) {
	return t.count("SELECT COUNT(*) FROM requests WHERE is_open <> 0 AND "+t.dialect.jsonArrayHas("extension_refs"), extensionID)
}

// Assignment, in an Update transaction, locks the assignment's row until
// the transaction ends, as Request does.
func (t *tx) Assignment(id string) (access.Assignment, error) {
	return get(t, scanDoc[access.Assignment], access.NotFoundf("no assignment with id %q", id),
		"SELECT doc FROM assignments WHERE id = ?"+t.rowLock(), id)
}

func (t *tx) Assignments(f access.AssignmentFilter, p access.Page) ([]access.Assignment, error) {
	return listWhere[access.Assignment](t, "assignments", assignmentConds(f), p)
}

func (t *tx) CountAssignments(f access.AssignmentFilter) (int, error) {
	return t.countWhere("assignments", assignmentConds(f))
}

func assignmentConds(f access.AssignmentFilter) conds {
	var c conds
	c.eq("target_id", f.TargetID)
	c.eq("access_package_id", f.AccessPackageID)
	c.eq("policy_id", f.PolicyID)
	c.eq("state", string(f.State))
	if f.Active {
		c.add("state IN ("+marks(len(activeAssignmentStates))+")", activeAssignmentStates...)
	}
	return c
}

// activeAssignmentStates are the states AssignmentState.IsActive accepts,
// as arguments of an IN (…).
var activeAssignmentStates = func() []any {
	var active []any
	for _, s := range []access.AssignmentState{access.AssignmentDelivering, access.AssignmentDelivered,
		access.AssignmentPartiallyDelivered, access.AssignmentDeliveryFailed, access.AssignmentExpired} {
		if s.IsActive() {
			active = append(active, string(s))
		}
	}
	return active
}()

func (t *tx) PutAssignment(a access.Assignment) error {
	doc, err := t.encode(a)
	if err != nil {
		return err
	}
	_, err = t.exec(upsertAssignment, a.ID, a.Target.ID, a.AccessPackageID, a.PolicyID, a.CatalogID, string(a.State), a.CreatedDateTime.UnixMicro(), doc)
	return err
}

// AddHistory stores entries of one request's history as one row: a
// transition appends several entries at once (a request gains about nine
// in its life, in two or three transitions), and one row per transition
// is one statement, one document and one index entry instead of one each
// per entry. The row is keyed by its first entry's id and carries its last
// entry's id for paging; its doc is the JSON array of the entries. An id
// used before as a row's first is a conflict. Entries of several requests
// go into one row per request.
func (t *tx) AddHistory(entries ...access.HistoryEntry) error {
	for len(entries) > 0 {
		n := 1
		for n < len(entries) && entries[n].RequestID == entries[0].RequestID {
			n++
		}
		if err := t.addHistoryRow(entries[:n]); err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}

func (t *tx) addHistoryRow(entries []access.HistoryEntry) error {
	first, last := entries[0].ID, entries[0].ID
	for _, h := range entries[1:] {
		first, last = min(first, h.ID), max(last, h.ID)
	}
	doc, err := t.encode(entries)
	if err != nil {
		return err
	}
	_, err = t.exec("INSERT INTO history (request_id, id, last_id, doc) VALUES (?, ?, ?, ?)", entries[0].RequestID, first, last, doc)
	return err
}

// History reads every row of the request that holds an entry past the
// page's start (a request has a few), and pages through their entries in
// id order.
func (t *tx) History(requestID string, p access.Page) ([]access.HistoryEntry, error) {
	if err := checkLimit(p.Limit); err != nil {
		return nil, err
	}
	rows, err := list(t, scanDoc[[]access.HistoryEntry], "SELECT doc FROM history WHERE request_id = ? AND last_id > ? ORDER BY id",
		requestID, p.After)
	if err != nil {
		return nil, err
	}
	var out []access.HistoryEntry
	for _, row := range rows {
		for _, h := range row {
			if h.ID > p.After {
				out = append(out, h)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b access.HistoryEntry) int { return strings.Compare(a.ID, b.ID) })
	if len(out) > p.Limit {
		out = out[:p.Limit]
	}
	return out, nil
}
