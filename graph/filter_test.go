package graph

import (
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

func TestParseFilter(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []filterClause
	}{
		{"state eq 'delivered'", []filterClause{{"state", "delivered"}}},
		{"  state   EQ   'Delivered'  ", []filterClause{{"state", "Delivered"}}},
		{"state eq'delivered'", []filterClause{{"state", "delivered"}}},
		{"accessPackage/id eq 'a1' and target/objectId eq 'u1'", []filterClause{{"accessPackage/id", "a1"}, {"target/objectId", "u1"}}},
		{"a eq 'x' AND b eq 'y' And c eq 'z'", []filterClause{{"a", "x"}, {"b", "y"}, {"c", "z"}}},
		{"(a eq 'x') and (b eq 'y')", []filterClause{{"a", "x"}, {"b", "y"}}},
		{"(a eq 'x' and (b eq 'y'))", []filterClause{{"a", "x"}, {"b", "y"}}},
		{"displayName eq 'O''Brien'", []filterClause{{"displayName", "O'Brien"}}},
		{"x eq ''''", []filterClause{{"x", "'"}}},
		{"x eq ''", []filterClause{{"x", ""}}},
		{"x eq 'a and b eq ''c'''", []filterClause{{"x", "a and b eq 'c'"}}},
		{"x eq 'ünïcode ✓'", []filterClause{{"x", "ünïcode ✓"}}},
		{"x eq 'a(b)c,d'", []filterClause{{"x", "a(b)c,d"}}},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			got, err := parseFilter(tc.expr)
			if err != nil {
				t.Fatalf("parseFilter: %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("clauses (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseFilterRefusals(t *testing.T) {
	for _, tc := range []struct {
		expr  string
		names []string // what the message must name
	}{
		{"", []string{"empty"}},
		{"state eq 'a' or state eq 'b'", []string{"'or'", "not supported"}},
		{"not state eq 'a'", []string{"'not'", "not supported"}},
		{"state ne 'a'", []string{"'ne'", "not supported"}},
		{"state gt 'a'", []string{"'gt'"}},
		{"state in ('a','b')", []string{"'in'"}},
		{"contains(displayName,'x')", []string{"function 'contains'"}},
		{"startswith(displayName, 'x') eq true", []string{"function 'startswith'"}},
		{"state eq delivered", []string{"single quotes", "state"}},
		{"accessPackage/id eq 3f2a5c1e-0000-4000-8000-000000000000", []string{"single quotes", "accessPackage/id"}},
		{"isHidden eq true", []string{"single quotes"}},
		{"count eq 5", []string{"single quotes"}},
		{"state eq 'a", []string{"closing quote"}},
		{"state eq 'a''", []string{"closing quote"}},
		{"state eq", []string{"ends after 'state eq'"}},
		{"state", []string{"ends after 'state'"}},
		{"state eq 'a' and", []string{"ends after 'and'"}},
		{"state eq 'a' state eq 'b'", []string{"unexpected 'state'"}},
		{"(state eq 'a'", []string{"not closed"}},
		{"state eq 'a')", []string{"closes nothing"}},
		{"'a' eq state", []string{"unexpected 'a'"}},
		{"state = 'a'", []string{"expected eq", "'='"}},
		{"state eq 'a' and any eq 'b' or x eq 'c'", []string{"'or'"}},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := parseFilter(tc.expr)
			if err == nil {
				t.Fatalf("parseFilter(%q) accepted it", tc.expr)
			}
			if k := access.KindOf(err); k != access.KindInvalid {
				t.Errorf("kind %v, want invalid", k)
			}
			wantMessage(t, err.Error(), append([]string{"$filter"}, tc.names...)...)
		})
	}
}

func TestFilterFields(t *testing.T) {
	fields := func(f *access.AssignmentFilter) filterFields {
		return assignmentSet{beta: true}.filterFields(f)
	}
	for _, tc := range []struct {
		expr string
		want access.AssignmentFilter
	}{
		{"", access.AssignmentFilter{}},
		{"targetId eq 'u1'", access.AssignmentFilter{TargetID: "u1"}},
		{"TARGET/OBJECTID eq 'u1'", access.AssignmentFilter{TargetID: "u1"}},
		{"assignmentState eq 'Delivered' and accessPackageId eq 'p1'", access.AssignmentFilter{State: access.AssignmentDelivered, AccessPackageID: "p1"}},
		{"state eq 'EXPIRED' and accessPackage/id eq 'p1' and assignmentPolicyId eq 'x'", access.AssignmentFilter{State: access.AssignmentExpired, AccessPackageID: "p1", PolicyID: "x"}},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			var got access.AssignmentFilter
			if err := fields(&got).apply(tc.expr); err != nil {
				t.Fatalf("apply: %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("filter (-want +got):\n%s", d)
			}
		})
	}
	for _, tc := range []struct {
		expr  string
		names []string
	}{
		{"displayName eq 'x'", []string{"'displayName'", "cannot be filtered", "targetId", "target/objectId"}},
		{"state eq 'nearlyDone'", []string{"'nearlyDone'", "state"}},
		{"targetId eq 'a' and targetId eq 'b'", []string{"'targetId'", "once"}},
		{"targetId eq 'a' and target/objectId eq 'a'", []string{"target/objectId", "another clause"}},
		{"targetId eq ''", []string{"targetId", "empty"}},
	} {
		t.Run("refused "+tc.expr, func(t *testing.T) {
			var got access.AssignmentFilter
			err := fields(&got).apply(tc.expr)
			if err == nil {
				t.Fatalf("apply(%q) accepted it: %+v", tc.expr, got)
			}
			wantMessage(t, err.Error(), tc.names...)
		})
	}
	t.Run("v1.0 lists do not read beta names", func(t *testing.T) {
		var f access.AssignmentFilter
		err := assignmentSet{}.filterFields(&f).apply("targetId eq 'u1'")
		if err == nil {
			t.Fatal("v1.0 assignments accepted targetId")
		}
		var rf access.RequestFilter
		if err := (requestSet{name: "assignmentRequests"}).filterFields(&rf).apply("requestState eq 'Submitted'"); err == nil {
			t.Fatal("v1.0 requests accepted requestState")
		}
		if err := (requestSet{beta: true}).filterFields(&rf).apply("requestState eq 'PendingApproval'"); err != nil || rf.State != access.StatePendingApproval {
			t.Fatalf("beta requestState: %v, %+v", err, rf)
		}
	})
}
