package accesstest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// Queries (Tx.List): every operator on every kind of field, in the same
// results on every engine; orderings, keyset paging and counts.

func str(s string) access.Value { return access.Value{Kind: access.ValueString, S: s} }
func at(t time.Time) access.Value {
	return access.Value{Kind: access.ValueTime, T: t}
}
func boolean(b bool) access.Value { return access.Value{Kind: access.ValueBool, B: b} }

var null = access.Value{Kind: access.ValueNull}

func leaf(op access.CondOp, f access.Field, v access.Value) *access.Cond {
	return &access.Cond{Op: op, Field: f, Value: v}
}

func join(op access.CondOp, cs ...*access.Cond) *access.Cond { return &access.Cond{Op: op, Args: cs} }

// listIDs runs a query and returns the ids of one page, with the count.
func listIDs(t *testing.T, s access.Store, noun access.Noun, q access.Query) ([]string, []access.Cursor, int, error) {
	t.Helper()
	var ids []string
	var cursors []access.Cursor
	count := 0
	err := s.View(ctx(t), func(tx access.Tx) error {
		ids, cursors = nil, nil
		var err error
		count, err = tx.List(noun, q, func(decode func(any) error, c access.Cursor) error {
			var v struct{ ID string }
			if err := decode(&v); err != nil {
				return err
			}
			ids, cursors = append(ids, v.ID), append(cursors, c)
			return nil
		})
		return err
	})
	return ids, cursors, count, err
}

func testList(t *testing.T, s access.Store) {
	base := Epoch.Truncate(time.Millisecond)
	catalogs := []access.Catalog{
		{ID: "c1", DisplayName: "Sales", Description: "the sales team", CatalogType: access.CatalogUserManaged, State: access.CatalogPublished, CreatedDateTime: base},
		{ID: "c2", DisplayName: "sales tools", Description: "50% off_sale", CatalogType: access.CatalogUserManaged, State: access.CatalogUnpublished, IsExternallyVisible: true, CreatedDateTime: base.Add(time.Hour)},
		{ID: "c3", DisplayName: "Marketing", Description: "", CatalogType: access.CatalogServiceManaged, State: access.CatalogPublished, CreatedDateTime: base.Add(2 * time.Hour)},
		{ID: "c4", DisplayName: "O'Brien's", Description: "quote", CatalogType: access.CatalogUserManaged, State: access.CatalogPublished, IsExternallyVisible: true, CreatedDateTime: base.Add(3 * time.Hour)},
		{ID: "c5", DisplayName: "ZETA", Description: "last", CatalogType: access.CatalogServiceDefault, State: access.CatalogUnpublished, CreatedDateTime: base.Add(4 * time.Hour)},
	}
	update(t, s, func(tx access.Tx) error {
		var errs []error
		for _, c := range catalogs {
			errs = append(errs, tx.PutCatalog(c))
		}
		return errors.Join(errs...)
	})
	eq := func(f access.Field, v access.Value) *access.Cond { return leaf(access.OpEq, f, v) }
	for _, tc := range []struct {
		name   string
		filter *access.Cond
		want   []string
	}{
		{"eq, ignoring case", eq("DisplayName", str("SALES")), []string{"c1"}},
		{"ne keeps the others", leaf(access.OpNe, "DisplayName", str("sales")), []string{"c2", "c3", "c4", "c5"}},
		{"a quote in a literal", eq("DisplayName", str("o'brien's")), []string{"c4"}},
		{"startswith", leaf(access.OpStartsWith, "DisplayName", str("sal")), []string{"c1", "c2"}},
		{"endswith", leaf(access.OpEndsWith, "DisplayName", str("ING")), []string{"c3"}},
		{"contains", leaf(access.OpContains, "Description", str("SALE")), []string{"c1", "c2"}},
		{"contains a % and an _ as themselves", leaf(access.OpContains, "Description", str("% off_")), []string{"c2"}},
		{"contains no wildcard _", leaf(access.OpContains, "Description", str("o_f")), nil},
		{"an enum", eq("State", str(string(access.CatalogUnpublished))), []string{"c2", "c5"}},
		{"in", &access.Cond{Op: access.OpIn, Field: "CatalogType", Values: []access.Value{str("serviceManaged"), str("serviceDefault")}}, []string{"c3", "c5"}},
		{"in, ignoring case", &access.Cond{Op: access.OpIn, Field: "DisplayName", Values: []access.Value{str("zeta"), str("MARKETING")}}, []string{"c3", "c5"}},
		{"a boolean", eq("IsExternallyVisible", boolean(true)), []string{"c2", "c4"}},
		{"a boolean false", eq("IsExternallyVisible", boolean(false)), []string{"c1", "c3", "c5"}},
		{"a time, gt", leaf(access.OpGt, "CreatedDateTime", at(base.Add(2*time.Hour))), []string{"c4", "c5"}},
		{"a time, le", leaf(access.OpLe, "CreatedDateTime", at(base.Add(time.Hour))), []string{"c1", "c2"}},
		{"a time, eq to the millisecond", eq("CreatedDateTime", at(base.Add(3*time.Hour))), []string{"c4"}},
		{"an id", eq("ID", str("c3")), []string{"c3"}},
		{"an id compares exactly", eq("ID", str("C3")), nil},
		{"and", join(access.OpAnd, eq("State", str("published")), eq("IsExternallyVisible", boolean(true))), []string{"c4"}},
		{"or", join(access.OpOr, eq("DisplayName", str("zeta")), eq("ID", str("c1"))), []string{"c1", "c5"}},
		{"not", &access.Cond{Op: access.OpNot, Args: []*access.Cond{leaf(access.OpStartsWith, "DisplayName", str("s"))}}, []string{"c3", "c4", "c5"}},
		{"nested", join(access.OpAnd, join(access.OpOr, eq("ID", str("c1")), eq("ID", str("c2"))),
			&access.Cond{Op: access.OpNot, Args: []*access.Cond{eq("State", str("unpublished"))}}), []string{"c1"}},
		{"an empty string is no null", eq("Description", null), nil},
		{"nothing", nil, []string{"c1", "c2", "c3", "c4", "c5"}},
	} {
		ids, _, _, err := listIDs(t, s, access.NounCatalogs, access.Query{Filter: tc.filter, Top: 10})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		diff(t, tc.name, ids, tc.want)
	}

	// Orderings, with keyset paging two at a time; every page with the count.
	for _, tc := range []struct {
		name  string
		order []access.Order
		want  []string
	}{
		{"by id", nil, []string{"c1", "c2", "c3", "c4", "c5"}},
		{"by name, ignoring case", []access.Order{{Field: "DisplayName"}}, []string{"c3", "c4", "c1", "c2", "c5"}},
		{"by name, descending", []access.Order{{Field: "DisplayName", Desc: true}}, []string{"c5", "c2", "c1", "c4", "c3"}},
		{"by time, descending", []access.Order{{Field: "CreatedDateTime", Desc: true}}, []string{"c5", "c4", "c3", "c2", "c1"}},
		{"by state then name", []access.Order{{Field: "State"}, {Field: "DisplayName", Desc: true}}, []string{"c1", "c4", "c3", "c5", "c2"}},
		{"by a boolean", []access.Order{{Field: "IsExternallyVisible", Desc: true}, {Field: "CreatedDateTime"}}, []string{"c2", "c4", "c1", "c3", "c5"}},
	} {
		var got []string
		q := access.Query{OrderBy: tc.order, Top: 2, Count: true}
		for page := 0; page < 5; page++ {
			ids, cursors, count, err := listIDs(t, s, access.NounCatalogs, q)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if count != len(catalogs) {
				t.Errorf("%s: count %d, want %d", tc.name, count, len(catalogs))
			}
			got = append(got, ids...)
			if len(ids) < 2 {
				break
			}
			q.After = cursors[len(cursors)-1]
		}
		diff(t, tc.name, got, tc.want)
	}

	// $skip, and a count with a filter.
	ids, _, count, err := listIDs(t, s, access.NounCatalogs, access.Query{Filter: eq("State", str("published")), Skip: 1, Top: 10, Count: true})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "skip 1 of the published", ids, []string{"c3", "c4"})
	diff(t, "count of the published", count, 3)

	// What Check refuses never reaches SQL.
	for _, q := range []access.Query{
		{Filter: eq("Nope", str("x")), Top: 1},
		{Filter: eq("CreatedDateTime", str("yesterday")), Top: 1},
		{Filter: leaf(access.OpGt, "IsExternallyVisible", boolean(true)), Top: 1},
		{OrderBy: []access.Order{{Field: "Doc"}}, Top: 1},
		{Top: 0},
	} {
		if _, _, _, err := listIDs(t, s, access.NounCatalogs, q); access.KindOf(err) != access.KindInvalid {
			t.Errorf("query %+v: %v, want invalid", q, err)
		}
	}
}

// testListRequests covers fields that are columns, nested paths, null
// times and the approver condition.
func testListRequests(t *testing.T, s access.Store) {
	pkg := NewAccessPackage("pkg-1", "cat-1")
	var reqs []access.Request
	for i := range 4 {
		r := NewRequest(fmt.Sprintf("req-%d", i), NewPolicy("pol-1", pkg), fmt.Sprintf("u-%d", i))
		r.CreatedDateTime = Epoch.Add(time.Duration(i) * time.Minute).Truncate(time.Microsecond)
		r.Target.DisplayName = []string{"Ada", "ben", "Cy", "ada two"}[i]
		if i%2 == 1 {
			done := r.CreatedDateTime.Add(time.Hour)
			r.CompletedDateTime, r.State = &done, access.StateDelivered
		}
		if i == 2 {
			r.State = access.StatePendingApproval
			r.Approval = []access.ApprovalStep{{ID: "st", Status: access.ApprovalInProgress, Approvers: []access.Subject{{ID: "boss"}}}}
		}
		if i == 3 { // approved by boss before it was delivered
			r.Approval = []access.ApprovalStep{{ID: "st", Status: access.ApprovalCompleted, Approvers: []access.Subject{{ID: "boss"}},
				ReviewResult: "Approved", ReviewedBy: access.Subject{ID: "boss"}}}
		}
		reqs = append(reqs, r)
	}
	update(t, s, func(tx access.Tx) error {
		var errs []error
		for _, r := range reqs {
			errs = append(errs, tx.PutRequest(r))
		}
		return errors.Join(errs...)
	})
	for _, tc := range []struct {
		name   string
		filter *access.Cond
		order  []access.Order
		want   []string
	}{
		{"a column time", leaf(access.OpGe, "CreatedDateTime", at(Epoch.Add(2*time.Minute))), nil, []string{"req-2", "req-3"}},
		{"a null time", leaf(access.OpEq, "CompletedDateTime", null), nil, []string{"req-0", "req-2"}},
		{"not null", leaf(access.OpNe, "CompletedDateTime", null), nil, []string{"req-1", "req-3"}},
		{"a nested path", leaf(access.OpStartsWith, "Target.DisplayName", str("ADA")), nil, []string{"req-0", "req-3"}},
		{"the target's id column", leaf(access.OpEq, "Target.ID", str("u-1")), nil, []string{"req-1"}},
		{"the approver", leaf(access.OpEq, access.FieldApprover, str("boss")), nil, []string{"req-2"}},
		{"the former approver", leaf(access.OpEq, access.FieldFormerApprover, str("boss")), nil, []string{"req-3"}},
		{"ordered by a nullable time, nulls first", nil, []access.Order{{Field: "CompletedDateTime"}}, []string{"req-0", "req-2", "req-1", "req-3"}},
		{"ordered by a nested name", nil, []access.Order{{Field: "Target.DisplayName", Desc: true}}, []string{"req-2", "req-1", "req-3", "req-0"}},
	} {
		ids, _, _, err := listIDs(t, s, access.NounRequests, access.Query{Filter: tc.filter, OrderBy: tc.order, Top: 10})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(ids, tc.want) {
			diff(t, tc.name, ids, tc.want)
		}
	}
}
