package graph

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/accessd/accessd/access"
)

// storedList is one list the store keeps as rows, as one route of one API
// version serves it: every list of entitlement management and of the
// directory is one. serveList answers it with the whole of OData's query
// options, run as one access.Query.
type storedList[T any] struct {
	fields     wireFields // what $filter and $orderby may name
	expandable []string   // what $expand may name, nested names as "parent/child"
	// context is the list's @odata.context at r.
	context func(r *http.Request) string
	// scope, when set, is what the address itself selects (a catalog's
	// packages, the approvals waiting for the caller), ANDed with $filter
	// before anything is counted or paged. It is 404 for an address that
	// names nothing.
	scope func(r *http.Request) (*access.Cond, error)
	// shape writes one item in the version's wire shape, with what $expand names.
	shape func(r *http.Request, item T, expand expandSet) (any, error)
	// shapePage, when set, writes a whole page instead of shape, for lists
	// whose expansions read better for the page at once (every target of a
	// page of assignments in one transaction).
	shapePage func(r *http.Request, items []T, expand expandSet) ([]any, error)
}

// wireField is what one property path of the wire names in the domain: a
// field of the listed noun, and for an enumeration the parser that reads a
// literal (in any case) into the member as stored.
type wireField struct {
	field  access.Field
	member func(string) (string, bool)
}

// wireFields maps the property paths a list offers to $filter and $orderby,
// as one version of the API names them, to fields of the listed noun.
// Paths are matched ignoring case, as property names in bodies are.
type wireFields struct {
	noun  access.Noun
	paths map[string]wireField
}

// with is a copy of f that also offers more: beta's tables are v1.0's with
// beta's names added, since clients moving between versions send both.
func (f wireFields) with(more map[string]wireField) wireFields {
	paths := make(map[string]wireField, len(f.paths)+len(more))
	for k, v := range f.paths {
		paths[k] = v
	}
	for k, v := range more {
		paths[k] = v
	}
	return wireFields{noun: f.noun, paths: paths}
}

// lookup finds a path, ignoring case, with the type of its field.
func (f wireFields) lookup(path string) (wireField, access.FieldType, bool) {
	for k, wf := range f.paths {
		if strings.EqualFold(k, path) {
			typ, ok := access.FieldsOf[f.noun][wf.field]
			return wf, typ, ok
		}
	}
	return wireField{}, 0, false
}

// names lists the paths, for messages.
func (f wireFields) names() string {
	out := make([]string, 0, len(f.paths))
	for k := range f.paths {
		out = append(out, k)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// memberOf adapts an enumeration's parser to wireField.member.
func memberOf[T ~string](parse func(string) (T, bool)) func(string) (string, bool) {
	return func(s string) (string, bool) {
		m, ok := parse(s)
		return string(m), ok
	}
}

// serveList answers GET on a stored list, and on its /$count segment.
func serveList[T any](s *Server, l storedList[T]) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		return l.serve(s, w, r)
	}
}

func (l storedList[T]) serve(s *Server, w http.ResponseWriter, r *http.Request) error {
	countOnly := strings.HasSuffix(r.URL.Path, "/$count")
	lq, err := parseListQuery(r, l.fields, l.expandable, countOnly)
	if err != nil {
		return err
	}
	q := lq.query
	if l.scope != nil {
		if q.Scope, err = l.scope(r); err != nil {
			return err
		}
	}
	// What the caller may see is part of the query: counts and pages are
	// of the visible items only.
	q.Scope = bothOf(q.Scope, callerOf(r).ListScope(l.fields.noun))
	if countOnly {
		q.Count, q.Top = true, 1
		found, err := access.Find[struct{}](r.Context(), s.svc, l.fields.noun, q)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(strconv.Itoa(found.Count)))
		return nil
	}
	found, err := access.Find[T](r.Context(), s.svc, l.fields.noun, q)
	if err != nil {
		return err
	}
	page := listPage{context: l.context(r)}
	if l.shapePage != nil {
		if page.items, err = l.shapePage(r, found.Items, lq.expand); err != nil {
			return err
		}
	} else {
		page.items = make([]any, len(found.Items))
		for i, item := range found.Items {
			if page.items[i], err = l.shape(r, item, lq.expand); err != nil {
				return err
			}
		}
	}
	if q.Count {
		page.count = &found.Count
	}
	if !found.Next.IsZero() {
		page.skipToken = encodeSkipToken(lq.fingerprint, found.Next)
	}
	return s.writePage(w, r, page, lq.selectSet)
}

// bothOf is the condition that a and b hold; either may be nil.
func bothOf(a, b *access.Cond) *access.Cond {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return &access.Cond{Op: access.OpAnd, Args: []*access.Cond{a, b}}
}

// fixedContext is a list's @odata.context that does not depend on the address.
func fixedContext(context string) func(*http.Request) string {
	return func(*http.Request) string { return context }
}

// fieldEquals is the condition that field holds id.
func fieldEquals(field access.Field, id string) *access.Cond {
	return &access.Cond{Op: access.OpEq, Field: field, Value: access.Value{Kind: access.ValueString, S: id}}
}

// underParent is the scope of a list nested under an object the route
// names by {id} (a catalog's packages): the items whose field holds that
// id, once get has found the object (404 otherwise). On a route without
// {id} it is the whole list.
func underParent[P any](get func(context.Context, string) (P, error), field access.Field) func(*http.Request) (*access.Cond, error) {
	return func(r *http.Request) (*access.Cond, error) {
		id := r.PathValue("id")
		if id == "" {
			return nil, nil
		}
		if _, err := get(r.Context(), id); err != nil {
			return nil, err
		}
		return fieldEquals(field, id), nil
	}
}

// waitingForCaller is the scope of filterByCurrentUser(on='approver'): the
// requests whose stage waiting for a decision now names the caller among
// its approvers.
func waitingForCaller(r *http.Request) (*access.Cond, error) {
	return fieldEquals(access.FieldApprover, callerOf(r).ObjectID), nil
}

// allOf collects every item of a stored list that the scope keeps, page by
// page, for the navigation properties $expand fills with a whole list.
func allOf[T any](ctx context.Context, svc *access.Service, noun access.Noun, scope *access.Cond) ([]T, error) {
	q := access.Query{Scope: scope, Top: maxPageSize}
	var all []T
	for {
		found, err := access.Find[T](ctx, svc, noun, q)
		if err != nil {
			return nil, err
		}
		all = append(all, found.Items...)
		if found.Next.IsZero() {
			return all, nil
		}
		q.After = found.Next
	}
}
