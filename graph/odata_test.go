package graph

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/accessd/accessd/access"
)

// getText GETs path and returns the answer's status, Content-Type and
// body as text, for answers that are no JSON object (the /$count segment).
func (a *testAPI) getText(t testing.TB, path, token string) (status int, contentType, body string) {
	t.Helper()
	resp, err := a.client.Do(a.request(t, http.MethodGet, path, token, nil))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer of GET %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(raw)
}

// odataManyCatalogs stores n catalogs whose ids sort in the order they were
// made and whose names are shuffled ("Catalog 0000" to n-1), so that id
// order and name order differ.
func odataManyCatalogs(t *testing.T, a *testAPI, n int) map[string]string {
	t.Helper()
	names := map[string]string{}
	odataStore(t, a, func(tx access.Tx) error {
		for i := range n {
			c := access.Catalog{ID: fmt.Sprintf("a0000000-0000-4000-8000-%012d", 1000+i), DisplayName: fmt.Sprintf("Catalog %04d", i*7919%n),
				CatalogType: access.CatalogUserManaged, State: access.CatalogPublished, CreatedDateTime: odataJan1}
			if err := tx.PutCatalog(c); err != nil {
				return err
			}
			names[c.ID] = c.DisplayName
		}
		return nil
	})
	return names
}

// odataPage is one page of a list: its items' ids and names, its count and its nextLink.
type odataPage struct {
	ids, names []string
	count      any
	next       string
}

func (a *emAPI) page(t *testing.T, path string) odataPage {
	t.Helper()
	got := a.mustCall(t, "GET", path, nil, http.StatusOK)
	var p odataPage
	for _, item := range emValue(t, got) {
		p.ids = append(p.ids, emID(t, item))
		name, _ := item["displayName"].(string)
		p.names = append(p.names, name)
	}
	p.count = got["@odata.count"]
	p.next, _ = got["@odata.nextLink"].(string)
	return p
}

// Paging through 2,500 catalogs with $top=999 lists each exactly once,
// also while catalogs are added between pages before and after the page's
// end, in id order and in name order either way.
func TestODataPagingThroughManyItems(t *testing.T) {
	a := newEMAPI(t)
	const n = 2500
	names := odataManyCatalogs(t, a.testAPI, n)
	existing := map[string]bool{} // every catalog stored before a subtest begins
	for id := range names {
		existing[id] = true
	}
	add := func(id, name string) {
		odataStore(t, a.testAPI, func(tx access.Tx) error {
			return tx.PutCatalog(access.Catalog{ID: id, DisplayName: name, CatalogType: access.CatalogUserManaged, State: access.CatalogPublished})
		})
	}
	for i, tc := range []struct {
		name, query string
		// before and after are catalogs added after the first page that
		// sort before its end, and after it.
		before, after func(round int) (id, name string)
	}{
		{name: "in id order", query: "$top=999&$count=true",
			before: func(r int) (string, string) { return fmt.Sprintf("a0000000-0000-4000-8000-%012d", r), "early" },
			after:  func(r int) (string, string) { return fmt.Sprintf("f0000000-0000-4000-8000-%012d", r), "late" }},
		{name: "by name", query: "$top=999&$count=true&$orderby=displayName",
			before: func(r int) (string, string) { return fmt.Sprintf("f1000000-0000-4000-8000-%012d", r), "Catalog -early" },
			after: func(r int) (string, string) {
				return fmt.Sprintf("01000000-0000-4000-8000-%012d", r), "Catalog zz late"
			}},
		{name: "by name, descending", query: "$top=999&$count=true&$orderby=displayName%20desc",
			before: func(r int) (string, string) {
				return fmt.Sprintf("f2000000-0000-4000-8000-%012d", r), "Catalog zz early"
			},
			after: func(r int) (string, string) { return fmt.Sprintf("02000000-0000-4000-8000-%012d", r), "Catalog -late" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]int{}
			var listed []odataPage
			next := emV1 + "/catalogs?" + tc.query
			added := map[string]bool{} // id → whether it must be listed
			for round := 0; next != ""; round++ {
				if round > 10 {
					t.Fatal("paging does not end")
				}
				p := a.page(t, next)
				listed = append(listed, p)
				for _, id := range p.ids {
					seen[id]++
				}
				if want := float64(len(existing) + len(added)); p.count != want {
					t.Errorf("page %d: @odata.count %v, want %v", round, p.count, want)
				}
				if p.next != "" && len(p.ids) != 999 {
					t.Errorf("page %d has %d items and a nextLink", round, len(p.ids))
				}
				next = p.next
				if next != "" {
					for _, make := range []func(int) (string, string){tc.before, tc.after} {
						id, name := make(100*i + round)
						add(id, name)
						added[id] = name == "late" || strings.HasSuffix(name, "late")
					}
				}
			}
			if len(listed) != 3 {
				t.Errorf("%d pages, want 3", len(listed))
			}
			for id := range existing {
				if seen[id] != 1 {
					t.Errorf("catalog %s listed %d times", id, seen[id])
				}
			}
			for id, must := range added {
				if want := map[bool]int{true: 1, false: 0}[must]; seen[id] != want {
					t.Errorf("catalog %s, added while paging, listed %d times, want %d", id, seen[id], want)
				}
			}
			if len(seen) != len(existing)+len(added)/2 {
				t.Errorf("%d catalogs listed, want %d", len(seen), len(existing)+len(added)/2)
			}
			for id := range added {
				existing[id] = true
			}
			if !strings.Contains(tc.query, "orderby") {
				return
			}
			var all []string
			for _, p := range listed {
				all = append(all, p.names...)
			}
			sorted := slices.IsSortedFunc(all, func(x, y string) int { return strings.Compare(strings.ToLower(x), strings.ToLower(y)) })
			if strings.Contains(tc.query, "desc") {
				sorted = slices.IsSortedFunc(all, func(x, y string) int { return strings.Compare(strings.ToLower(y), strings.ToLower(x)) })
			}
			if !sorted {
				t.Errorf("names across pages are not in the order asked for")
			}
		})
	}
}

func TestODataCount(t *testing.T) {
	a := newEMAPI(t)
	c := odataCatalogs(t, a.testAPI)
	published := withQuery(emV1+"/catalogs", "$filter", "state eq 'published'", "$count", "true", "$top", "2")
	first := a.page(t, published)
	if first.count != float64(3) || len(first.ids) != 2 || first.next == "" {
		t.Fatalf("first page of the published with $count: %+v", first)
	}
	second := a.page(t, first.next)
	emSame(t, "count on the next page", float64(3), second.count)
	emSame(t, "the published", []string{c[0], c[2], c[3]}, append(first.ids, second.ids...))
	if got := a.page(t, emV1+"/catalogs?$count=false"); got.count != nil || len(got.ids) != 5 {
		t.Errorf("$count=false: %+v", got)
	}
	if got := a.page(t, emV1+"/catalogs"); got.count != nil {
		t.Errorf("no $count, yet @odata.count %v", got.count)
	}

	for _, p := range []struct{ catalog, name string }{{c[0], "One"}, {c[0], "Two"}, {c[1], "Three"}} {
		a.accessPackage(t, p.catalog, p.name)
	}
	dir := directoryAdmin(t, a.testAPI)
	for _, tc := range []struct {
		path, token, want string
	}{
		{emV1 + "/catalogs/$count", a.tok, "5"},
		{withQuery(emV1+"/catalogs/$count", "$filter", "isExternallyVisible eq true"), a.tok, "2"},
		{emBeta + "/accessPackageCatalogs/$count?$filter=catalogStatus%20eq%20'Unpublished'", a.tok, "2"},
		{emV1 + "/catalogs/" + c[0] + "/accessPackages/$count", a.tok, "2"},
		{emV1 + "/catalogs('" + c[1] + "')/accessPackages/$count", a.tok, "1"},
		{withQuery(emV1+"/accessPackages/$count", "$filter", "displayName ne 'one'"), a.tok, "2"},
		{emV1 + "/assignmentPolicies/$count", a.tok, "0"},
		{"/v1.0/servicePrincipals/$count", dir, "1"}, // the tokens' application
		{"/beta/users/$count", dir, "0"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			status, contentType, body := a.getText(t, tc.path, tc.token)
			if status != http.StatusOK || body != tc.want || !strings.HasPrefix(contentType, "text/plain") {
				t.Errorf("status %d, %q (%s), want 200 and %s as text/plain", status, body, contentType, tc.want)
			}
		})
	}
	a.refused(t, "GET", emV1+"/catalogs/$count?$top=1", nil, "$top", "/$count")
	a.refused(t, "GET", emV1+"/catalogs/$count?$count=true", nil, "$count", "/$count")
	a.refused(t, "GET", emV1+"/catalogs/$count?$filter=nope%20eq%201", nil, "$filter", "nope")
	wantError(t, a.mustCallRaw(t, emV1+"/catalogs/"+odataCatalogID(99)+"/accessPackages/$count"), http.StatusNotFound, "itemNotFound")
}

// mustCallRaw sends a GET with the writer token and returns the answer as it is.
func (a *emAPI) mustCallRaw(t *testing.T, path string) *http.Response {
	t.Helper()
	resp, _ := a.call(t, "GET", path, nil)
	return resp
}

func TestODataOrderByAndSkip(t *testing.T) {
	a := newEMAPI(t)
	c := odataCatalogs(t, a.testAPI)
	c1, c2, c3, c4, c5 := c[0], c[1], c[2], c[3], c[4]
	for _, tc := range []struct {
		orderby string
		want    []string
	}{
		{"displayName", []string{c3, c4, c1, c2, c5}},
		{"displayName asc", []string{c3, c4, c1, c2, c5}},
		{"displayName desc", []string{c5, c2, c1, c4, c3}},
		{"createdDateTime desc", []string{c5, c4, c3, c2, c1}},
		{"state, displayName desc", []string{c1, c4, c3, c5, c2}},
		{"state desc,createdDateTime", []string{c2, c5, c1, c3, c4}},
		{"isExternallyVisible desc, catalogType desc", []string{c2, c4, c1, c3, c5}},
		{"description", []string{c3, c2, c4, c5, c1}}, // no description sorts first
		{"id desc", []string{c5, c4, c3, c2, c1}},
	} {
		t.Run(tc.orderby, func(t *testing.T) {
			path := withQuery(emV1+"/catalogs", "$orderby", tc.orderby)
			emSame(t, "one page", tc.want, a.pagedIDs(t, a.tok, path))
			emSame(t, "pages of two", tc.want, a.pagedIDs(t, a.tok, path+"&$top=2"))
			emSame(t, "beta, pages of one", tc.want, a.pagedIDs(t, a.tok, withQuery(emBeta+"/accessPackageCatalogs", "$orderby", tc.orderby, "$top", "1")))
		})
	}
	t.Run("$skip", func(t *testing.T) {
		emSame(t, "skip 2", []string{c3, c4, c5}, a.pagedIDs(t, a.tok, emV1+"/catalogs?$skip=2"))
		emSame(t, "skip 1 by name, pages of two", []string{c4, c1, c2, c5}, a.pagedIDs(t, a.tok, emV1+"/catalogs?$skip=1&$orderby=displayName&$top=2"))
		emSame(t, "skip all", []string{}, a.pagedIDs(t, a.tok, emV1+"/catalogs?$skip=5"))
		counted := a.page(t, emV1+"/catalogs?$skip=4&$count=true")
		if counted.count != float64(5) || len(counted.ids) != 1 {
			t.Errorf("$skip=4&$count=true: %+v, want the count of all five and one item", counted)
		}
	})
	t.Run("the nextLink keeps every other option", func(t *testing.T) {
		p := a.page(t, emV1+"/catalogs?$filter=state%20eq%20'published'&$orderby=displayName%20desc&$top=1&$count=true&$select=displayName&$skip=1")
		u, err := url.Parse(p.next)
		if err != nil || !strings.HasPrefix(p.next, a.URL+emV1+"/catalogs?") {
			t.Fatalf("nextLink %q", p.next)
		}
		q := u.Query()
		for k, v := range map[string]string{"$filter": "state eq 'published'", "$orderby": "displayName desc", "$top": "1", "$count": "true", "$select": "displayName", "$skip": "1"} {
			if q.Get(k) != v {
				t.Errorf("nextLink %s=%q, want %q", k, q.Get(k), v)
			}
		}
		// The token belongs to its query: with another filter or order it is refused.
		for k, v := range map[string]string{"$filter": "state eq 'unpublished'", "$orderby": "displayName"} {
			changed := u.Query()
			changed.Set(k, v)
			a.refused(t, "GET", emV1+"/catalogs?"+changed.Encode(), nil, "$skiptoken")
		}
	})
}

func TestODataNestedExpand(t *testing.T) {
	rs := newRSAPI(t)
	group := rs.addResource(t, rs.catalog, "AadGroup", rs.group)
	pkg, policy, _ := rs.pkgPolicy(t, "Sales tools", nil)
	rs.mustCall(t, "POST", emV1+"/accessPackages/"+pkg+"/resourceRoleScopes", rsRoleScope(group, rsRoleNamed(t, group, "Member")), http.StatusCreated)
	req := emID(t, rs.submit(t, rs.tok, rqAdd("adminAdd", pkg, policy, rs.alice)))
	keys := func(v any) []string {
		m, _ := v.(map[string]any)
		return emKeys(m)
	}

	t.Run("accessPackage($expand=catalog) on requests", func(t *testing.T) {
		for _, path := range []string{emV1 + "/assignmentRequests/" + req, emV1 + "/assignmentRequests"} {
			got := rs.mustCall(t, "GET", path+"?$expand=accessPackage($expand=catalog)", nil, http.StatusOK)
			item := got
			if items, ok := got["value"]; ok {
				item = items.([]any)[0].(map[string]any)
			}
			p, _ := item["accessPackage"].(map[string]any)
			emSame(t, "the package", pkg, p["id"])
			emSame(t, "the package's catalog", rs.catalog, p["catalog"].(map[string]any)["id"])
			emSame(t, "catalog keys", []string{"catalogType", "createdDateTime", "description", "displayName", "id", "isExternallyVisible", "modifiedDateTime", "state"},
				keys(p["catalog"]))
		}
	})
	t.Run("$select inside $expand, twice nested", func(t *testing.T) {
		got := rs.mustCall(t, "GET", emV1+"/assignmentRequests/"+req+"?$select=state&$expand=accessPackage($select=displayName;$expand=catalog($select=displayName))", nil, http.StatusOK)
		emSame(t, "request keys", []string{"@odata.context", "accessPackage", "id", "state"}, emKeys(got))
		emSame(t, "package keys", []string{"catalog", "displayName", "id"}, keys(got["accessPackage"]))
		emSame(t, "catalog keys", []string{"displayName", "id"}, keys(got["accessPackage"].(map[string]any)["catalog"]))
	})
	t.Run("assignmentPolicies($select=id,displayName) on a package", func(t *testing.T) {
		for _, path := range []string{emV1 + "/accessPackages/" + pkg, emV1 + "/accessPackages?$filter=id%20eq%20'" + pkg + "'&"} {
			if !strings.Contains(path, "?") {
				path += "?"
			}
			got := rs.mustCall(t, "GET", path+"$expand=assignmentPolicies($select=id,displayName)", nil, http.StatusOK)
			item := got
			if items, ok := got["value"]; ok {
				item = items.([]any)[0].(map[string]any)
			}
			emSame(t, "policies", []any{map[string]any{"id": policy, "displayName": "Sales tools policy"}}, item["assignmentPolicies"])
		}
		beta := rs.mustCall(t, "GET", emBeta+"/accessPackages/"+pkg+"?$expand=accessPackageAssignmentPolicies($select=displayName;$expand=accessPackage)", nil, http.StatusOK)
		policies, _ := beta["accessPackageAssignmentPolicies"].([]any)
		if len(policies) != 1 {
			t.Fatalf("beta policies %v", beta["accessPackageAssignmentPolicies"])
		}
		emSame(t, "beta policy keys", []string{"accessPackage", "displayName", "id"}, keys(policies[0]))
		emSame(t, "beta policy's package", pkg, policies[0].(map[string]any)["accessPackage"].(map[string]any)["id"])
	})
	t.Run("resourceRoleScopes($expand=role,scope) as the reference shows it", func(t *testing.T) {
		got := rs.mustCall(t, "GET", emV1+"/accessPackages/"+pkg+"?$expand=resourceRoleScopes($expand=role,scope)", nil, http.StatusOK)
		scopes, _ := got["resourceRoleScopes"].([]any)
		if len(scopes) != 1 {
			t.Fatalf("role scopes %v", got["resourceRoleScopes"])
		}
		rsc := scopes[0].(map[string]any)
		emSame(t, "role scope keys", []string{"createdDateTime", "id", "role", "scope"}, keys(rsc))
		emSame(t, "role keys", []string{"description", "displayName", "id", "originId", "originSystem"}, keys(rsc["role"]))
		emSame(t, "scope keys", []string{"description", "displayName", "id", "isRootScope", "originId", "originSystem"}, keys(rsc["scope"]))
		emSame(t, "role", "Member", rsc["role"].(map[string]any)["displayName"])
		selected := rs.mustCall(t, "GET", emV1+"/accessPackages/"+pkg+"?$expand=resourceRoleScopes($select=role;$expand=role($select=originId))", nil, http.StatusOK)
		rsc = selected["resourceRoleScopes"].([]any)[0].(map[string]any)
		emSame(t, "selected role scope keys", []string{"id", "role"}, keys(rsc))
		emSame(t, "selected role keys", []string{"id", "originId"}, keys(rsc["role"]))
	})
	for _, tc := range []struct{ name, query, part string }{
		{"a nested option accessd does not read", "$expand=assignmentPolicies($top=1)", "$top"},
		{"a nested $filter", "$expand=assignmentPolicies($filter=displayName%20eq%20'x')", "$filter"},
		{"unbalanced", "$expand=assignmentPolicies($select=id", "unbalanced"},
		{"too deep", "$expand=a($expand=b($expand=c($expand=d($expand=e($expand=f)))))", "too deeply"},
		{"a nested $select of an unknown property", "$expand=assignmentPolicies($select=nope)", "nope"},
		{"unknown below", "$expand=catalog($expand=accessPackages)", "accessPackages"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			rs.refused(t, "GET", emV1+"/accessPackages/"+pkg+"?"+tc.query, nil, tc.part)
		})
	}
}

// A listed policy shows the reviewSettings it was stored with, which live
// beside its document.
func TestODataListedPolicyKeepsItsSettings(t *testing.T) {
	a := newEMAPI(t)
	pkg := a.accessPackage(t, a.catalog(t, "Sales"), "Tools")
	body := emMinimalPolicy(pkg, "Reviewed")
	body["reviewSettings"] = map[string]any{"isEnabled": false, "expirationBehavior": "keepAccess"}
	a.policy(t, body)
	items := emValue(t, a.mustCall(t, "GET", emV1+"/assignmentPolicies?$filter=displayName%20eq%20'reviewed'", nil, http.StatusOK))
	if len(items) != 1 {
		t.Fatalf("policies %v", items)
	}
	emSame(t, "reviewSettings", body["reviewSettings"], items[0]["reviewSettings"])
}

func TestODataRefusals(t *testing.T) {
	a := newEMAPI(t)
	odataCatalogs(t, a.testAPI)
	catalogs := emV1 + "/catalogs"
	for _, tc := range []struct {
		name, query string
		parts       []string
	}{
		{"any", "$filter=" + url.QueryEscape("accessPackages/any(p: p/displayName eq 'x')"), []string{"$filter", "lambda operator 'any'"}},
		{"all", "$filter=" + url.QueryEscape("accessPackages/all(p: p/isHidden eq true)"), []string{"$filter", "lambda operator 'all'"}},
		{"arithmetic", "$filter=" + url.QueryEscape("createdDateTime add 1 gt 2026-01-01T00:00:00Z"), []string{"$filter", "arithmetic operator 'add'"}},
		{"an unknown property", "$filter=" + url.QueryEscape("owner eq 'x'"), []string{"$filter", "property 'owner'", "displayName"}},
		{"an unknown function", "$filter=" + url.QueryEscape("indexof(displayName,'a') eq 1"), []string{"$filter", "function 'indexof'"}},
		{"a value of the wrong type", "$filter=" + url.QueryEscape("isExternallyVisible eq 'yes'"), []string{"$filter", "isExternallyVisible", "true or false"}},
		{"an unknown member", "$filter=" + url.QueryEscape("state eq 'archived'"), []string{"$filter", "'archived'", "state"}},
		{"$top=1000", "$top=1000", []string{"$top", "999"}},
		{"$top=0", "$top=0", []string{"$top"}},
		{"a too deep filter", "$filter=" + url.QueryEscape(strings.Repeat("not ", 40)+"state eq 'published'"), []string{"$filter", "nested too deeply"}},
		{"a too long filter", "$filter=" + url.QueryEscape("displayName eq '"+strings.Repeat("x", 4001)+"'"), []string{"$filter", "at most 4000"}},
		{"a malformed skiptoken", "$skiptoken=eyJxIjoi", []string{"$skiptoken"}},
		{"a skiptoken of another list", "$skiptoken=" + encodeSkipToken(fingerprint(emV1+"/accessPackages", options{}), access.Cursor{ID: "x"}), []string{"$skiptoken"}},
		{"$orderby on an unknown property", "$orderby=owner", []string{"$orderby", "'owner'"}},
		{"$orderby with a direction that is none", "$orderby=displayName%20sideways", []string{"$orderby", "sideways"}},
		{"$skip not a number", "$skip=some", []string{"$skip"}},
		{"$count not a boolean", "$count=1", []string{"$count"}},
		{"$search", "$search=sales", []string{"$search", "not supported"}},
		{"an option twice", "$top=1&$top=2", []string{"$top", "more than once"}},
		{"an option twice in two cases", "$filter=id%20eq%20'a'&$FILTER=id%20eq%20'b'", []string{"more than once"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.refused(t, "GET", catalogs+"?"+tc.query, nil, tc.parts...)
		})
	}
	t.Run("an option given empty counts as absent", func(t *testing.T) {
		emSame(t, "catalogs", 5, len(a.page(t, catalogs+"?$top=&$filter=&$orderby=&$skiptoken=").ids))
	})
	t.Run("text that is not UTF-8", func(t *testing.T) {
		for _, path := range []string{catalogs + "/%FF", catalogs + "/%FF/accessPackages", catalogs + "/%FF/accessPackages/$count", emV1 + "/accessPackages/a%C3/assignmentPolicies"} {
			wantError(t, a.mustCallRaw(t, path), http.StatusNotFound, "itemNotFound")
		}
		for _, query := range []string{"$filter=id%20eq%20'%FF'", "$skiptoken=%FF", "$select=%FF", "%FF=1"} {
			wantMessage(t, wantError(t, a.mustCallRaw(t, catalogs+"?"+query), http.StatusBadRequest, "invalidRequest"), "UTF-8")
		}
	})
	t.Run("lists held in memory refuse what they do not read", func(t *testing.T) {
		pkg := a.accessPackage(t, odataCatalogID(1), "Tools")
		for _, path := range []string{emV1 + "/accessPackages/" + pkg + "/resourceRoleScopes", emV1 + "/accessPackages/" + pkg + "/incompatibleAccessPackages"} {
			for _, option := range []string{"$filter=id%20eq%20'x'", "$orderby=id", "$count=true", "$skip=1"} {
				name, _, _ := strings.Cut(option, "=")
				a.refused(t, "GET", path+"?"+option, nil, name, "not supported")
			}
		}
		dir := directoryAdmin(t, a.testAPI)
		g, err := a.Svc.CreateGroup(context.Background(), access.Group{DisplayName: "G", MailNickname: "g", SecurityEnabled: true}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := a.do(t, "GET", "/v1.0/groups/"+g.ID+"/members?$filter=id%20eq%20'x'", dir, nil)
		wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), "$filter", "not supported")
	})
}
