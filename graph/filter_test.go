package graph

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

// Tests of the $filter and $orderby parser and of the tables that map wire
// paths to fields, without a server. filter_api_test.go runs queries
// through the API.

func fStr(s string) access.Value { return access.Value{Kind: access.ValueString, S: s} }

func fEq(f access.Field, v access.Value) *access.Cond {
	return &access.Cond{Op: access.OpEq, Field: f, Value: v}
}

func fOp(op access.CondOp, f access.Field, v access.Value) *access.Cond {
	return &access.Cond{Op: op, Field: f, Value: v}
}

func fAll(op access.CondOp, args ...*access.Cond) *access.Cond {
	return &access.Cond{Op: op, Args: args}
}

func TestParseFilter(t *testing.T) {
	jan1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	null := access.Value{Kind: access.ValueNull}
	for _, tc := range []struct {
		fields wireFields
		expr   string
		want   *access.Cond
	}{
		{catalogFieldsV1, "displayName eq 'Sales'", fEq("DisplayName", fStr("Sales"))},
		{catalogFieldsV1, "  DISPLAYNAME   EQ   'Sales'  ", fEq("DisplayName", fStr("Sales"))},
		{catalogFieldsV1, "displayName eq'Sales'", fEq("DisplayName", fStr("Sales"))},
		{catalogFieldsV1, "displayName eq 'O''Brien'", fEq("DisplayName", fStr("O'Brien"))},
		{catalogFieldsV1, "displayName eq ''''", fEq("DisplayName", fStr("'"))},
		{catalogFieldsV1, "displayName eq 'a and b eq ''c'') or ('", fEq("DisplayName", fStr("a and b eq 'c') or ("))},
		{catalogFieldsV1, "displayName eq 'ünïcode ✓'", fEq("DisplayName", fStr("ünïcode ✓"))},
		{catalogFieldsV1, "displayName ne 'a'", fOp(access.OpNe, "DisplayName", fStr("a"))},
		// Precedence: or < and < not < comparison; chains are one level.
		{catalogFieldsV1, "displayName eq 'a' or displayName eq 'b' and isExternallyVisible eq true",
			fAll(access.OpOr, fEq("DisplayName", fStr("a")), fAll(access.OpAnd, fEq("DisplayName", fStr("b")), fEq("IsExternallyVisible", access.Value{Kind: access.ValueBool, B: true})))},
		{catalogFieldsV1, "(displayName eq 'a' or displayName eq 'b') and state eq 'published'",
			fAll(access.OpAnd, fAll(access.OpOr, fEq("DisplayName", fStr("a")), fEq("DisplayName", fStr("b"))), fEq("State", fStr("published")))},
		{catalogFieldsV1, "id eq 'a' and id eq 'b' AND id eq 'c'",
			fAll(access.OpAnd, fEq("ID", fStr("a")), fEq("ID", fStr("b")), fEq("ID", fStr("c")))},
		{catalogFieldsV1, "not displayName eq 'a' and not not id eq 'b'",
			fAll(access.OpAnd, fAll(access.OpNot, fEq("DisplayName", fStr("a"))), fAll(access.OpNot, fAll(access.OpNot, fEq("ID", fStr("b")))))},
		{catalogFieldsV1, "((((id eq 'a'))))", fEq("ID", fStr("a"))},
		// Literals of every type.
		{catalogFieldsV1, "id eq 3F2A5C1E-0000-4000-8000-000000000001", fEq("ID", fStr("3F2A5C1E-0000-4000-8000-000000000001"))},
		{catalogFieldsV1, "isExternallyVisible eq false", fEq("IsExternallyVisible", access.Value{Kind: access.ValueBool})},
		{catalogFieldsV1, "createdDateTime ge 2026-01-01T00:00:00Z", fOp(access.OpGe, "CreatedDateTime", access.Value{Kind: access.ValueTime, T: jan1})},
		{catalogFieldsV1, "createdDateTime lt 2026-01-01T02:00:00.5+02:00",
			fOp(access.OpLt, "CreatedDateTime", access.Value{Kind: access.ValueTime, T: jan1.Add(500 * time.Millisecond).In(time.FixedZone("", 7200))})},
		{catalogFieldsV1, "state eq 'UNPUBLISHED'", fEq("State", fStr("unpublished"))},
		{catalogFieldsBeta, "catalogStatus eq 'Published'", fEq("State", fStr("published"))},
		{catalogFieldsV1, "catalogType in ('ServiceManaged', 'userManaged')",
			&access.Cond{Op: access.OpIn, Field: "CatalogType", Values: []access.Value{fStr("serviceManaged"), fStr("userManaged")}}},
		{requestFieldsBeta, "requestState in ('Delivered','PENDINGAPPROVAL')",
			&access.Cond{Op: access.OpIn, Field: "State", Values: []access.Value{fStr("delivered"), fStr("pendingApproval")}}},
		{requestFieldsV1, "requestType eq 'UserExtend'", fEq("Type", fStr("userUpdate"))},
		// Null: an empty string or time counts, as the wire writes both as null.
		{catalogFieldsV1, "description eq null", fAll(access.OpOr, fEq("Description", null), fEq("Description", fStr("")))},
		{catalogFieldsV1, "modifiedDateTime ne null",
			fAll(access.OpAnd, fOp(access.OpNe, "ModifiedDateTime", null), fOp(access.OpNe, "ModifiedDateTime", access.Value{Kind: access.ValueTime}))},
		{userFields, "accountEnabled eq null", fEq("AccountEnabled", null)},
		// Functions.
		{catalogFieldsV1, "startswith(displayName,'Sa')", fOp(access.OpStartsWith, "DisplayName", fStr("Sa"))},
		{catalogFieldsV1, "endsWith(displayName, 'es')", fOp(access.OpEndsWith, "DisplayName", fStr("es"))},
		{catalogFieldsV1, "contains(tolower(description),'x')", fOp(access.OpContains, "Description", fStr("x"))},
		{catalogFieldsV1, "startswith(displayName,'a') eq true", fOp(access.OpStartsWith, "DisplayName", fStr("a"))},
		{catalogFieldsV1, "startswith(displayName,'a') eq false", fAll(access.OpNot, fOp(access.OpStartsWith, "DisplayName", fStr("a")))},
		{catalogFieldsV1, "toupper(displayName) eq 'SALES'", fEq("DisplayName", fStr("SALES"))},
		{catalogFieldsV1, "startswith(id,'c0')", fOp(access.OpStartsWith, "ID", fStr("c0"))},
		// A literal on the left mirrors the operator.
		{catalogFieldsV1, "'Sales' eq displayName", fEq("DisplayName", fStr("Sales"))},
		{catalogFieldsV1, "2026-01-01T00:00:00Z lt createdDateTime", fOp(access.OpGt, "CreatedDateTime", access.Value{Kind: access.ValueTime, T: jan1})},
		// Navigation paths and beta names.
		{packageFieldsV1, "catalog/id eq 'c'", fEq("CatalogID", fStr("c"))},
		{packageFieldsBeta, "catalogId eq 'c'", fEq("CatalogID", fStr("c"))},
		{policyFields, "accessPackage/id eq 'p'", fEq("AccessPackageID", fStr("p"))},
		{requestFieldsV1, "accessPackage/catalog/id eq 'c'", fEq("CatalogID", fStr("c"))},
		{requestFieldsV1, "requestor/objectId eq 'u'", fEq("Requestor.ID", fStr("u"))},
		{requestFieldsV1, "target/objectId eq 'u'", fEq("Target.ID", fStr("u"))},
		{requestFieldsBeta, "accessPackageAssignment/targetId eq 'u'", fEq("Target.ID", fStr("u"))},
		{assignmentFieldsV1, "assignmentPolicy/id eq 'p'", fEq("PolicyID", fStr("p"))},
		{assignmentFieldsBeta, "assignmentPolicyId eq 'p'", fEq("PolicyID", fStr("p"))},
		{assignmentFieldsBeta, "accessPackage/accessPackageCatalog/id eq 'c'", fEq("CatalogID", fStr("c"))},
		{userFields, "manager/id eq 'm'", fEq("ManagerID", fStr("m"))},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			got, err := parseFilter(tc.expr, tc.fields)
			if err != nil {
				t.Fatalf("parseFilter: %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("condition (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseFilterRefusals(t *testing.T) {
	longChain := strings.Repeat("id eq 'x' or ", access.MaxFilterTerms) + "id eq 'x'"
	for _, tc := range []struct {
		fields wireFields
		expr   string
		names  []string // what the message must name
	}{
		{catalogFieldsV1, "", []string{"empty"}},
		{catalogFieldsV1, "   ", []string{"empty"}},
		{userFields, "memberOf/any(g: g/id eq 'x')", []string{"lambda operator 'any'"}},
		{userFields, "memberOf/all(g: g/id eq 'x')", []string{"lambda operator 'all'"}},
		{userFields, "any(g: g/id eq 'x')", []string{"lambda operator 'any'"}},
		{catalogFieldsV1, "displayName add 'x' eq 'y'", []string{"arithmetic operator 'add'"}},
		{catalogFieldsV1, "createdDateTime sub duration'P1D' gt 2026-01-01T00:00:00Z", []string{"arithmetic operator 'sub'"}},
		{catalogFieldsV1, "id eq 'a' mul 2", []string{"arithmetic operator 'mul'"}},
		{catalogFieldsV1, "state has 'published'", []string{"operator 'has'"}},
		{catalogFieldsV1, "nope eq 'x'", []string{"property 'nope'", "cannot be filtered", "displayName"}},
		{catalogFieldsV1, "isHidden eq true", []string{"property 'isHidden'"}},
		{catalogFieldsV1, "catalogStatus eq 'Published'", []string{"property 'catalogStatus'"}}, // beta's name in v1.0
		{catalogFieldsV1, "substring(displayName,1) eq 'a'", []string{"function 'substring'", "not supported"}},
		{catalogFieldsV1, "length(displayName) gt 1", []string{"function 'length'"}},
		{catalogFieldsV1, "displayName eq 5", []string{"displayName", "string", "'5'"}},
		{catalogFieldsV1, "createdDateTime eq '2026-01-01T00:00:00Z'", []string{"createdDateTime", "without quotes"}},
		{catalogFieldsV1, "createdDateTime eq 2026-13-01T00:00:00Z", []string{"2026-13-01T00:00:00Z", "date"}},
		{catalogFieldsV1, "isExternallyVisible eq 'true'", []string{"isExternallyVisible", "true or false"}},
		{catalogFieldsV1, "isExternallyVisible gt true", []string{"isExternallyVisible", "boolean"}},
		{catalogFieldsV1, "state eq 'gone'", []string{"'gone'", "state"}},
		{catalogFieldsV1, "state in ('published', null)", []string{"null"}},
		{catalogFieldsV1, "state in 'published'", []string{"parenthesised list"}},
		{catalogFieldsV1, "displayName gt null", []string{"null compares with eq or ne"}},
		{catalogFieldsV1, "startswith(state,'p')", []string{"startswith works on strings", "state"}},
		{catalogFieldsV1, "startswith(displayName, 5)", []string{"second argument of startswith"}},
		{catalogFieldsV1, "startswith('a', displayName)", []string{"first argument of startswith"}},
		{catalogFieldsV1, "startswith(displayName,'a') eq 'b'", []string{"true or false"}},
		{catalogFieldsV1, "tolower(isExternallyVisible) eq true", []string{"tolower works on strings"}},
		{catalogFieldsV1, "displayName eq 'a", []string{"no closing quote"}},
		{catalogFieldsV1, "(displayName eq 'a'", []string{"')'"}},
		{catalogFieldsV1, "displayName eq 'a')", []string{"closes nothing"}},
		{catalogFieldsV1, "displayName eq description", []string{"compares two properties"}},
		{catalogFieldsV1, "'a' eq 'b'", []string{"compares two values"}},
		{catalogFieldsV1, "displayName", []string{"ends after 'displayName'"}},
		{catalogFieldsV1, "displayName eq", []string{"ends too early"}},
		{catalogFieldsV1, "displayName eq 'a' and", []string{"ends too early"}},
		{catalogFieldsV1, "displayName = 'a'", []string{"expected an operator", "'='"}},
		{catalogFieldsV1, "displayName eq 'a' displayName eq 'b'", []string{"unexpected 'displayName'"}},
		{catalogFieldsV1, "microsoft.graph.catalog/displayName eq 'a'", []string{"unexpected 'microsoft.graph.catalog/displayName'"}},
		{catalogFieldsV1, strings.Repeat("(", access.MaxFilterDepth+1) + "id eq 'a'" + strings.Repeat(")", access.MaxFilterDepth+1), []string{"nested too deeply"}},
		{catalogFieldsV1, strings.Repeat("not ", access.MaxFilterDepth+1) + "id eq 'a'", []string{"nested too deeply"}},
		{catalogFieldsV1, "displayName eq '" + strings.Repeat("x", maxFilterLength) + "'", []string{"at most 4000"}},
		{catalogFieldsV1, "displayName eq '\xff'", []string{"UTF-8"}},
		{catalogFieldsV1, longChain, []string{"too many terms"}},
	} {
		t.Run(tc.expr[:min(len(tc.expr), 60)], func(t *testing.T) {
			got, err := parseFilter(tc.expr, tc.fields)
			if err == nil {
				t.Fatalf("parseFilter(%q) accepted it: %+v", tc.expr, got)
			}
			if k := access.KindOf(err); k != access.KindInvalid {
				t.Errorf("kind %v, want invalid", k)
			}
			wantMessage(t, err.Error(), append([]string{"$filter"}, tc.names...)...)
		})
	}
}

func TestParseOrderBy(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []access.Order
	}{
		{"displayName", []access.Order{{Field: "DisplayName"}}},
		{"displayName desc, createdDateTime ASC", []access.Order{{Field: "DisplayName", Desc: true}, {Field: "CreatedDateTime"}}},
		{" state  DESC ,id", []access.Order{{Field: "State", Desc: true}, {Field: "ID"}}},
	} {
		got, err := parseOrderBy(tc.expr, catalogFieldsV1)
		if err != nil {
			t.Errorf("parseOrderBy(%q): %v", tc.expr, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("parseOrderBy(%q) (-want +got):\n%s", tc.expr, d)
		}
	}
	for _, tc := range []struct {
		expr  string
		names []string
	}{
		{"nope", []string{"property 'nope'", "cannot be ordered"}},
		{"displayName up", []string{"'up'", "neither asc nor desc"}},
		{"", []string{"not a property"}},
		{"displayName,", []string{"not a property"}},
		{"displayName asc desc", []string{"not a property"}},
		{"displayName, DISPLAYNAME desc", []string{"twice"}},
		{"tolower(displayName)", []string{"functions are not supported"}},
		{"id,displayName,description,state,catalogType,createdDateTime", []string{"at most 5"}},
	} {
		_, err := parseOrderBy(tc.expr, catalogFieldsV1)
		if err == nil {
			t.Errorf("parseOrderBy(%q) accepted it", tc.expr)
			continue
		}
		if access.KindOf(err) != access.KindInvalid {
			t.Errorf("parseOrderBy(%q): kind %v", tc.expr, access.KindOf(err))
		}
		wantMessage(t, err.Error(), append([]string{"$orderby"}, tc.names...)...)
	}
}

// allWireFields are the tables of every stored list, by name.
var allWireFields = map[string]wireFields{
	"catalogFieldsV1": catalogFieldsV1, "catalogFieldsBeta": catalogFieldsBeta,
	"packageFieldsV1": packageFieldsV1, "packageFieldsBeta": packageFieldsBeta,
	"policyFields": policyFields, "extensionFields": extensionFields,
	"requestFieldsV1": requestFieldsV1, "requestFieldsBeta": requestFieldsBeta,
	"assignmentFieldsV1": assignmentFieldsV1, "assignmentFieldsBeta": assignmentFieldsBeta,
	"resourceFieldsV1": resourceFieldsV1, "resourceFieldsBeta": resourceFieldsBeta,
	"resourceRequestFieldsV1": resourceRequestFieldsV1, "resourceRequestFieldsBeta": resourceRequestFieldsBeta,
	"resourcePartFieldsV1": resourcesV1.resourcePartFields(), "resourcePartFieldsBeta": resourcesBeta.resourcePartFields(),
	"userFields": userFields, "groupFields": groupFields, "servicePrincipalFields": servicePrincipalFields,
	"approvalFields": approvalFields,
}

// Every path of every table names a field the store can query, and reads
// the members of exactly the enumerations.
func TestWireFieldsNameFieldsOfTheDomain(t *testing.T) {
	for name, table := range allWireFields {
		fields, ok := access.FieldsOf[table.noun]
		if !ok {
			t.Errorf("%s: access.FieldsOf has no noun %q", name, table.noun)
			continue
		}
		for path, wf := range table.paths {
			typ, ok := fields[wf.field]
			switch {
			case !ok:
				t.Errorf("%s: %s names %q, which %s does not offer", name, path, wf.field, table.noun)
			case typ == access.TypeEnum && wf.member == nil:
				t.Errorf("%s: %s is an enumeration without a member parser", name, path)
			case typ != access.TypeEnum && wf.member != nil:
				t.Errorf("%s: %s has a member parser but is %s", name, path, typ)
			}
		}
	}
	for v1, beta := range map[string]string{"catalogStatus": "catalog", "catalogId": "package", "targetId": "assignment", "requestState": "request"} {
		table := map[string]wireFields{"catalog": catalogFieldsV1, "package": packageFieldsV1, "assignment": assignmentFieldsV1, "request": requestFieldsV1}[beta]
		if _, _, ok := table.lookup(v1); ok {
			t.Errorf("the v1.0 %s table reads beta's %s: with changed the table it copies", beta, v1)
		}
	}
}

func TestSkipTokens(t *testing.T) {
	fields := access.FieldsOf[access.NounCatalogs]
	order := []access.Order{{Field: "DisplayName", Desc: true}, {Field: "CreatedDateTime"}}
	cursor := access.Cursor{ID: "c-1", Values: []access.Value{fStr("O'Brien ✓"), {Kind: access.ValueNumber, N: 1767225600123456}}}
	tok := encodeSkipToken("fp", cursor)
	got, err := decodeSkipToken(tok, "fp", order, fields)
	if err != nil {
		t.Fatalf("decode a token accessd issued: %v", err)
	}
	if d := cmp.Diff(cursor, got); d != "" {
		t.Errorf("cursor after a round trip (-want +got):\n%s", d)
	}
	legacy := legacySkipToken("c-9")
	if got, err := decodeSkipToken(legacy, "fp", nil, fields); err != nil || got.ID != "c-9" || len(got.Values) != 0 {
		t.Errorf("an older after:id token on a list in id order: %+v, %v", got, err)
	}
	base64URL := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	forged := base64URL
	for name, bad := range map[string]string{
		"another query":              encodeSkipToken("other", cursor),
		"another order":              tok, // decoded below against one key only
		"not base64":                 "%%%",
		"not JSON":                   forged("{"),
		"no id":                      forged(`{"q":"fp","k":["a",1]}`),
		"a number for a string key":  forged(`{"q":"fp","id":"x","k":[1,1]}`),
		"a string for a time key":    forged(`{"q":"fp","id":"x","k":["a","b"]}`),
		"a NUL in the id":            forged(`{"q":"fp","id":"x\u0000","k":["a",1]}`),
		"a NUL in a key":             forged(`{"q":"fp","id":"x","k":["a\u0000",1]}`),
		"an older token with order":  legacy,
		"an older token without id":  base64URL("after:"),
		"two values":                 forged(`{"q":"fp","id":"x","k":["a",1]} {}`),
		"a number beyond float64":    forged(`{"q":"fp","id":"x","k":["a",1e999]}`),
		"a key too many":             forged(`{"q":"fp","id":"x","k":["a",1,2]}`),
		"something else altogether":  base64URL("foo:bar"),
		"an id that is invalid text": forged(`{"q":"fp","id":"\xff","k":["a",1]}`),
	} {
		o := order
		if name == "another order" {
			o = order[:1]
		}
		if name == "an older token with order" {
			o = order
		}
		if _, err := decodeSkipToken(bad, "fp", o, fields); access.KindOf(err) != access.KindInvalid || !strings.Contains(err.Error(), "$skiptoken") {
			t.Errorf("%s: %v, want invalid naming $skiptoken", name, err)
		}
	}
}
