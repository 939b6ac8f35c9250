package graph

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
)

// directoryAdmin is an application token that may read and write the whole directory.
func directoryAdmin(t *testing.T, a *testAPI) string {
	t.Helper()
	return a.appToken(t, "Directory.ReadWrite.All")
}

func TestUserRoundTrip(t *testing.T) {
	a := newTestAPI(t)
	admin := directoryAdmin(t, a)

	created, id := a.create(t, admin, "/v1.0/users", map[string]any{
		"@odata.type":       "#microsoft.graph.user",
		"accountEnabled":    true,
		"displayName":       "Alice Adams",
		"mailNickname":      "alice",
		"userPrincipalName": "alice@contoso.test",
		"mail":              "alice@contoso.test",
		"passwordProfile":   map[string]any{"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"},
	})
	want := map[string]any{
		"@odata.context":    a.URL + "/v1.0/$metadata#users/$entity",
		"id":                id,
		"displayName":       "Alice Adams",
		"userPrincipalName": "alice@contoso.test",
		"mail":              "alice@contoso.test",
		"mailNickname":      "alice",
		"accountEnabled":    true,
	}
	wantJSON(t, "POST answer", created, want)

	for _, path := range []string{
		"/v1.0/users/" + id,
		"/v1.0/users/alice@contoso.test",
		"/v1.0/users/ALICE@Contoso.TEST",
		"/v1.0/users/alice%40contoso.test",
		"/v1.0/users('" + id + "')",
		"/v1.0/users('alice@contoso.test')",
	} {
		wantJSON(t, "GET "+path, a.get(t, admin, path), want)
	}
	beta := with(want, "@odata.context", a.URL+"/beta/$metadata#users/$entity")
	wantJSON(t, "GET beta", a.get(t, admin, "/beta/users/"+id), beta)

	// GET-modify-PATCH: the copied annotations and id are ignored; null clears mail.
	patch := with(created, "displayName", "Alice Baker", "mail", nil, "accountEnabled", false)
	patch["@odata.etag"] = `W/"1"`
	a.noContent(t, http.MethodPatch, "/v1.0/users/"+id, admin, patch)
	want = with(want, "displayName", "Alice Baker", "mail", nil, "accountEnabled", false)
	wantJSON(t, "GET after PATCH", a.get(t, admin, "/v1.0/users/"+id), want)

	// PATCH changes only what is sent, also through the UPN and on beta.
	a.noContent(t, http.MethodPatch, "/beta/users/alice@contoso.test", admin, map[string]any{"mailNickname": "ab"})
	want = with(want, "mailNickname", "ab")
	wantJSON(t, "GET after second PATCH", a.get(t, admin, "/v1.0/users/"+id), want)

	a.noContent(t, http.MethodDelete, "/v1.0/users/alice@contoso.test", admin, nil)
	resp, _ := a.do(t, http.MethodGet, "/v1.0/users/"+id, admin, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	resp, _ = a.do(t, http.MethodDelete, "/v1.0/users/"+id, admin, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

func TestUserMinimalCreate(t *testing.T) {
	a := newTestAPI(t)
	got, id := a.create(t, directoryAdmin(t, a), "/v1.0/users", map[string]any{
		"displayName": "Bob", "userPrincipalName": "bob@contoso.test",
	})
	wantJSON(t, "POST answer", got, map[string]any{
		"@odata.context":    a.URL + "/v1.0/$metadata#users/$entity",
		"id":                id,
		"displayName":       "Bob",
		"userPrincipalName": "bob@contoso.test",
		"mail":              nil,
		"mailNickname":      nil,
		"accountEnabled":    true,
	})
}

func TestUserErrors(t *testing.T) {
	a := newTestAPI(t)
	admin := directoryAdmin(t, a)
	_, aliceID := a.create(t, admin, "/v1.0/users", map[string]any{"displayName": "Alice", "userPrincipalName": "alice@contoso.test"})
	_, bobID := a.create(t, admin, "/v1.0/users", map[string]any{"displayName": "Bob", "userPrincipalName": "bob@contoso.test"})

	cases := []struct {
		name         string
		method, path string
		body         any
		status       int
		code         string
		names        []string // what the message must mention
	}{
		{"duplicate UPN", "POST", "/v1.0/users", map[string]any{"displayName": "A2", "userPrincipalName": "ALICE@contoso.test"},
			409, "conflict", []string{"ALICE@contoso.test"}},
		{"duplicate UPN by PATCH", "PATCH", "/v1.0/users/" + bobID, map[string]any{"userPrincipalName": "Alice@Contoso.test"},
			409, "conflict", []string{"Alice@Contoso.test"}},
		{"unknown property", "POST", "/v1.0/users", `{"displayName":"X","userPrincipalName":"x@contoso.test","favouriteColour":"red"}`,
			400, "invalidRequest", []string{"'favouriteColour'"}},
		{"wrong type", "POST", "/v1.0/users", `{"displayName":5,"userPrincipalName":"x@contoso.test"}`,
			400, "invalidRequest", []string{"'displayName'"}},
		{"wrong type bool", "PATCH", "/v1.0/users/" + aliceID, `{"accountEnabled":"yes"}`,
			400, "invalidRequest", []string{"'accountEnabled'"}},
		{"null required", "PATCH", "/v1.0/users/" + aliceID, `{"displayName":null}`,
			400, "invalidRequest", []string{"'displayName'"}},
		{"missing UPN", "POST", "/v1.0/users", map[string]any{"displayName": "X"},
			400, "invalidRequest", []string{"userPrincipalName"}},
		{"UPN without domain", "POST", "/v1.0/users", map[string]any{"displayName": "X", "userPrincipalName": "x"},
			400, "invalidRequest", []string{"userPrincipalName"}},
		{"other @odata.type", "POST", "/v1.0/users", map[string]any{"@odata.type": "#microsoft.graph.group", "displayName": "X", "userPrincipalName": "x@contoso.test"},
			400, "invalidRequest", []string{"'@odata.type'"}},
		{"manager bind on PATCH", "PATCH", "/v1.0/users/" + aliceID, map[string]any{"manager@odata.bind": "https://graph.microsoft.com/v1.0/users/x"},
			400, "invalidRequest", []string{"'manager@odata.bind'", "/manager/$ref"}},
		{"manager bind unknown", "POST", "/v1.0/users", map[string]any{"displayName": "X", "userPrincipalName": "x@contoso.test", "manager@odata.bind": "https://graph.microsoft.com/v1.0/users/nobody"},
			400, "invalidRequest", []string{"nobody"}},
		{"manager bind wrong type", "POST", "/v1.0/users", map[string]any{"displayName": "X", "userPrincipalName": "x@contoso.test", "manager@odata.bind": []string{"a"}},
			400, "invalidRequest", []string{"'manager@odata.bind'"}},
		{"not an object", "POST", "/v1.0/users", `["x"]`, 400, "invalidRequest", nil},
		{"broken JSON", "POST", "/v1.0/users", `{"displayName":`, 400, "invalidRequest", nil},
		{"empty body", "POST", "/v1.0/users", "", 400, "invalidRequest", nil},
		{"unknown id", "GET", "/v1.0/users/00000000-0000-0000-0000-000000000000", nil, 404, "itemNotFound", []string{"00000000-0000-0000-0000-000000000000"}},
		{"unknown UPN", "GET", "/v1.0/users/nobody@contoso.test", nil, 404, "itemNotFound", []string{"nobody@contoso.test"}},
		{"PATCH unknown", "PATCH", "/v1.0/users/nobody", map[string]any{"displayName": "X"}, 404, "itemNotFound", nil},
		{"wrong method", "PUT", "/v1.0/users", map[string]any{}, 405, "methodNotAllowed", nil},
		{"wrong method on one", "POST", "/v1.0/users/" + aliceID, map[string]any{}, 405, "methodNotAllowed", nil},
		{"unknown path", "GET", "/v1.0/userz", nil, 404, "itemNotFound", nil},
		{"bad skiptoken", "GET", "/v1.0/users?$skiptoken=not-ours", nil, 400, "invalidRequest", []string{"$skiptoken"}},
		{"bad top", "GET", "/v1.0/users?$top=0", nil, 400, "invalidRequest", []string{"$top"}},
		{"bad select", "GET", "/v1.0/users?$select=shoeSize", nil, 400, "invalidRequest", []string{"'shoeSize'"}},
		{"no expand here", "GET", "/v1.0/users?$expand=manager", nil, 400, "invalidRequest", []string{"$expand"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, _ := a.do(t, c.method, c.path, admin, c.body)
			msg := wantError(t, resp, c.status, c.code)
			wantMessage(t, msg, c.names...)
		})
	}

	t.Run("wrong content type", func(t *testing.T) {
		req := a.request(t, http.MethodPost, "/v1.0/users", admin, `displayName=X`)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, _ := a.send(t, req)
		wantError(t, resp, http.StatusUnsupportedMediaType, "unsupportedMediaType")
	})
	t.Run("no content type is JSON", func(t *testing.T) {
		req := a.request(t, http.MethodPost, "/v1.0/users", admin, `{"displayName":"Y","userPrincipalName":"y@contoso.test"}`)
		req.Header.Del("Content-Type")
		resp, _ := a.send(t, req)
		wantStatus(t, resp, http.StatusCreated)
	})
	t.Run("client-request-id is echoed", func(t *testing.T) {
		req := a.request(t, http.MethodGet, "/v1.0/users/nobody", admin, nil)
		req.Header.Set("client-request-id", "6f1b7c1e-0000-4000-8000-000000000001")
		resp, _ := a.send(t, req)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
		if got := resp.Header.Get("client-request-id"); got != "6f1b7c1e-0000-4000-8000-000000000001" {
			t.Errorf("client-request-id %q", got)
		}
	})
}

func TestDirectoryPermissions(t *testing.T) {
	a := newTestAPI(t)
	a.newUser(t, "reader@contoso.test")
	user := map[string]any{"displayName": "U", "userPrincipalName": "u@contoso.test"}
	group := map[string]any{"displayName": "G", "mailNickname": "g"}
	sp := map[string]any{"displayName": "S"}

	t.Run("missing token", func(t *testing.T) {
		for _, path := range []string{"/v1.0/users", "/v1.0/groups", "/beta/servicePrincipals"} {
			resp, _ := a.do(t, http.MethodGet, path, "", nil)
			wantError(t, resp, http.StatusUnauthorized, "InvalidAuthenticationToken")
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		}
	})
	t.Run("bad token", func(t *testing.T) {
		resp, _ := a.do(t, http.MethodGet, "/v1.0/users", "not.a.token", nil)
		wantError(t, resp, http.StatusUnauthorized, "InvalidAuthenticationToken")
	})

	type call struct {
		method, path string
		body         any
		status       int
	}
	cases := []struct {
		name  string
		token string
		calls []call
	}{
		{"delegated User.Read.All", a.userToken(t, "reader@contoso.test", "User.Read.All"), []call{
			{"GET", "/v1.0/users", nil, 200},
			{"GET", "/v1.0/users/reader@contoso.test", nil, 200},
			{"POST", "/v1.0/users", user, 403},
			{"DELETE", "/v1.0/users/reader@contoso.test", nil, 403},
			{"GET", "/v1.0/groups", nil, 403},
			{"GET", "/v1.0/servicePrincipals", nil, 403},
		}},
		{"delegated without scopes", a.userToken(t, "reader@contoso.test"), []call{
			{"GET", "/v1.0/users", nil, 403},
		}},
		{"app Group.ReadWrite.All", a.appToken(t, "Group.ReadWrite.All"), []call{
			{"GET", "/v1.0/users", nil, 403},
			{"POST", "/v1.0/groups", group, 201},
			{"GET", "/beta/groups", nil, 200},
			{"POST", "/v1.0/servicePrincipals", sp, 403},
		}},
		{"app Application.Read.All", a.appTokenNamed(t, "reader-app", "Application.Read.All"), []call{
			{"GET", "/v1.0/servicePrincipals", nil, 200},
			{"POST", "/v1.0/servicePrincipals", sp, 403},
			{"GET", "/v1.0/users", nil, 403},
		}},
		{"app Directory.Read.All", a.appTokenNamed(t, "dir-reader", "Directory.Read.All"), []call{
			{"GET", "/v1.0/users", nil, 200},
			{"GET", "/v1.0/groups", nil, 200},
			{"GET", "/v1.0/servicePrincipals", nil, 200},
			{"POST", "/v1.0/users", user, 403},
			{"POST", "/v1.0/groups", group, 403},
		}},
		{"app Directory.ReadWrite.All", a.appTokenNamed(t, "dir-writer", "Directory.ReadWrite.All"), []call{
			{"POST", "/v1.0/users", user, 201},
			{"POST", "/v1.0/groups", group, 201},
			{"POST", "/v1.0/servicePrincipals", sp, 201},
			{"PATCH", "/v1.0/users/u@contoso.test", map[string]any{"displayName": "U2"}, 204},
		}},
		{"app EntitlementManagement.ReadWrite.All", a.appTokenNamed(t, "em-app", "EntitlementManagement.ReadWrite.All"), []call{
			{"GET", "/v1.0/users", nil, 403},
		}},
		{"delegated Group.Read.All", a.userToken(t, "reader@contoso.test", "Group.Read.All"), []call{
			{"GET", "/v1.0/groups", nil, 200},
			{"POST", "/v1.0/groups", group, 403},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range c.calls {
				resp, _ := a.do(t, k.method, k.path, c.token, k.body)
				if k.status == http.StatusForbidden {
					msg := wantError(t, resp, k.status, "accessDenied")
					wantMessage(t, msg, "permission")
					continue
				}
				wantStatus(t, resp, k.status)
			}
		})
	}
}

func TestManager(t *testing.T) {
	a := newTestAPI(t)
	admin := directoryAdmin(t, a)
	alice, aliceID := a.create(t, admin, "/v1.0/users", map[string]any{"displayName": "Alice", "userPrincipalName": "alice@contoso.test"})
	_, bobID := a.create(t, admin, "/v1.0/users", map[string]any{
		"displayName": "Bob", "userPrincipalName": "bob@contoso.test",
		"manager@odata.bind": "https://graph.microsoft.com/v1.0/users/" + aliceID,
	})
	_, carolID := a.create(t, admin, "/v1.0/users", map[string]any{"displayName": "Carol", "userPrincipalName": "carol@contoso.test"})
	ref := func(u string) map[string]any { return map[string]any{"@odata.id": u} }

	wantManager := with(alice, "@odata.context", a.URL+"/v1.0/$metadata#users/$entity")
	wantJSON(t, "bob's manager", a.get(t, admin, "/v1.0/users/"+bobID+"/manager"), wantManager)
	wantJSON(t, "bob's manager by UPN", a.get(t, admin, "/v1.0/users/bob@contoso.test/manager"), wantManager)

	resp, _ := a.do(t, http.MethodGet, "/v1.0/users/"+aliceID+"/manager", admin, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	resp, _ = a.do(t, http.MethodGet, "/v1.0/users/nobody/manager", admin, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")

	// Cycles, directly and through others, are refused.
	resp, _ = a.do(t, http.MethodPut, "/v1.0/users/"+aliceID+"/manager/$ref", admin, ref(a.URL+"/v1.0/users/"+bobID))
	wantError(t, resp, http.StatusBadRequest, "invalidRequest")
	resp, _ = a.do(t, http.MethodPut, "/v1.0/users/"+aliceID+"/manager/$ref", admin, ref(a.URL+"/v1.0/users/"+aliceID))
	wantError(t, resp, http.StatusBadRequest, "invalidRequest")

	// Every URL form names the manager.
	for _, u := range []string{
		"https://graph.microsoft.com/v1.0/users/" + bobID,
		"https://graph.microsoft.com/v1.0/directoryObjects/" + aliceID,
		"https://graph.microsoft.com/v1.0/users('" + bobID + "')",
		a.URL + "/beta/users/" + aliceID,
		"users/" + bobID,
	} {
		a.noContent(t, http.MethodPut, "/v1.0/users/"+carolID+"/manager/$ref", admin, ref(u))
		got := a.get(t, admin, "/v1.0/users/"+carolID+"/manager")
		want := aliceID
		if strings.Contains(u, bobID) {
			want = bobID
		}
		if got["id"] != want {
			t.Errorf("after PUT %s: manager %v, want %s", u, got["id"], want)
		}
	}

	// Bad $ref bodies name @odata.id (or the property at fault).
	for name, c := range map[string]struct {
		body any
		want string
	}{
		"missing":  {map[string]any{}, "'@odata.id'"},
		"number":   {map[string]any{"@odata.id": 5}, "'@odata.id'"},
		"null":     {map[string]any{"@odata.id": nil}, "'@odata.id'"},
		"no id":    {ref("https://graph.microsoft.com/v1.0/users/"), "'@odata.id'"},
		"bare key": {ref("https://graph.microsoft.com/v1.0/users('')"), "'@odata.id'"},
		"other":    {map[string]any{"@odata.id": "users/" + aliceID, "id": aliceID}, "'id'"},
		"array":    {`[]`, "JSON object"},
		"broken":   {`{"@odata.id":`, "JSON"},
		"empty":    {"", "'@odata.id'"},
	} {
		resp, _ := a.do(t, http.MethodPut, "/v1.0/users/"+carolID+"/manager/$ref", admin, c.body)
		msg := wantError(t, resp, http.StatusBadRequest, "invalidRequest")
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: message %q does not name %s", name, msg, c.want)
		}
	}
	resp, _ = a.do(t, http.MethodPut, "/v1.0/users/nobody/manager/$ref", admin, ref("users/"+aliceID))
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	// A $ref to a user that does not exist is 404, as in Graph.
	resp, _ = a.do(t, http.MethodPut, "/v1.0/users/"+carolID+"/manager/$ref", admin, ref("https://graph.microsoft.com/v1.0/users/nobody"))
	if msg := wantError(t, resp, http.StatusNotFound, "itemNotFound"); !strings.Contains(msg, "nobody") {
		t.Errorf("message %q does not name the missing user", msg)
	}

	// Removing: 204, then 404 because there is none.
	a.noContent(t, http.MethodDelete, "/v1.0/users/"+carolID+"/manager/$ref", admin, nil)
	resp, _ = a.do(t, http.MethodGet, "/v1.0/users/"+carolID+"/manager", admin, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	resp, _ = a.do(t, http.MethodDelete, "/v1.0/users/"+carolID+"/manager/$ref", admin, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")

	// PATCH never touches the manager; deleting the manager clears it.
	a.noContent(t, http.MethodPatch, "/v1.0/users/"+bobID, admin, map[string]any{"displayName": "Bob B"})
	if got := a.get(t, admin, "/v1.0/users/"+bobID+"/manager"); got["id"] != aliceID {
		t.Errorf("after PATCH bob's manager is %v, want %s", got["id"], aliceID)
	}
	a.noContent(t, http.MethodDelete, "/v1.0/users/"+aliceID, admin, nil)
	resp, _ = a.do(t, http.MethodGet, "/v1.0/users/"+bobID+"/manager", admin, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")

	// The manager routes need the user permissions.
	reader := a.appTokenNamed(t, "reader", "User.Read.All")
	a.get(t, reader, "/beta/users/"+bobID)
	resp, _ = a.do(t, http.MethodPut, "/v1.0/users/"+bobID+"/manager/$ref", reader, ref("users/"+carolID))
	wantError(t, resp, http.StatusForbidden, "accessDenied")
}

func TestGroupRoundTrip(t *testing.T) {
	a := newTestAPI(t)
	admin := directoryAdmin(t, a)

	created, id := a.create(t, admin, "/v1.0/groups", map[string]any{
		"@odata.type":     "microsoft.graph.group",
		"displayName":     "Sales",
		"description":     "Everyone in sales",
		"mailNickname":    "sales",
		"mailEnabled":     false,
		"securityEnabled": true,
		"groupTypes":      []string{},
	})
	want := map[string]any{
		"@odata.context":  a.URL + "/v1.0/$metadata#groups/$entity",
		"id":              id,
		"displayName":     "Sales",
		"description":     "Everyone in sales",
		"groupTypes":      []any{},
		"mailNickname":    "sales",
		"mailEnabled":     false,
		"securityEnabled": true,
	}
	wantJSON(t, "POST answer", created, want)
	wantJSON(t, "GET", a.get(t, admin, "/v1.0/groups/"+id), want)
	wantJSON(t, "GET by key", a.get(t, admin, "/v1.0/groups('"+id+"')"), want)
	wantJSON(t, "GET beta", a.get(t, admin, "/beta/groups/"+id), with(want, "@odata.context", a.URL+"/beta/$metadata#groups/$entity"))

	a.noContent(t, http.MethodPatch, "/v1.0/groups/"+id, admin, with(created, "description", nil, "mailEnabled", true))
	want = with(want, "description", nil, "mailEnabled", true)
	wantJSON(t, "GET after PATCH", a.get(t, admin, "/v1.0/groups/"+id), want)

	// A minimal group is a security group without a description.
	min, minID := a.create(t, admin, "/v1.0/groups", map[string]any{"displayName": "Ops", "mailNickname": "ops"})
	wantJSON(t, "minimal group", min, map[string]any{
		"@odata.context": a.URL + "/v1.0/$metadata#groups/$entity",
		"id":             minID, "displayName": "Ops", "description": nil, "groupTypes": []any{},
		"mailNickname": "ops", "mailEnabled": false, "securityEnabled": true,
	})

	for name, c := range map[string]struct {
		method, path string
		body         any
		status       int
		names        string
	}{
		"missing mailNickname": {"POST", "/v1.0/groups", map[string]any{"displayName": "X"}, 400, "mailNickname"},
		"null mailNickname":    {"PATCH", "/v1.0/groups/" + id, map[string]any{"mailNickname": nil}, 400, "'mailNickname'"},
		"unknown property":     {"POST", "/v1.0/groups", map[string]any{"displayName": "X", "mailNickname": "x", "visibility": "Private"}, 400, "'visibility'"},
		"wrong type":           {"PATCH", "/v1.0/groups/" + id, map[string]any{"securityEnabled": "true"}, 400, "'securityEnabled'"},
		"members on PATCH":     {"PATCH", "/v1.0/groups/" + id, map[string]any{"members@odata.bind": []string{"users/x"}}, 400, "'members@odata.bind'"},
		"unknown":              {"GET", "/v1.0/groups/nope", nil, 404, "nope"},
		"PATCH unknown":        {"PATCH", "/v1.0/groups/nope", map[string]any{"displayName": "X"}, 404, "nope"},
	} {
		resp, _ := a.do(t, c.method, c.path, admin, c.body)
		code := "invalidRequest"
		if c.status == 404 {
			code = "itemNotFound"
		}
		msg := wantError(t, resp, c.status, code)
		if !strings.Contains(msg, c.names) {
			t.Errorf("%s: message %q does not name %s", name, msg, c.names)
		}
	}

	a.noContent(t, http.MethodDelete, "/v1.0/groups/"+id, admin, nil)
	resp, _ := a.do(t, http.MethodGet, "/v1.0/groups/"+id, admin, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	resp, _ = a.do(t, http.MethodGet, "/v1.0/groups/"+id+"/members", admin, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	resp, _ = a.do(t, http.MethodDelete, "/v1.0/groups/"+id, admin, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

func TestGroupMembersAndOwners(t *testing.T) {
	a := newTestAPI(t)
	admin := directoryAdmin(t, a)
	u1, u1ID := a.create(t, admin, "/v1.0/users", map[string]any{"displayName": "One", "userPrincipalName": "one@contoso.test"})
	u2, u2ID := a.create(t, admin, "/v1.0/users", map[string]any{"displayName": "Two", "userPrincipalName": "two@contoso.test"})
	sp, spID := a.create(t, admin, "/v1.0/servicePrincipals", map[string]any{"displayName": "Robot"})
	sub, subID := a.create(t, admin, "/v1.0/groups", map[string]any{"displayName": "Sub", "mailNickname": "sub"})

	_, gID := a.create(t, admin, "/v1.0/groups", map[string]any{
		"displayName": "Team", "mailNickname": "team",
		"members@odata.bind": []string{
			"https://graph.microsoft.com/v1.0/users/" + u1ID,
			"https://graph.microsoft.com/v1.0/directoryObjects/" + spID,
		},
		"owners@odata.bind": []string{"https://graph.microsoft.com/v1.0/users('" + u2ID + "')"},
	})
	asObject := func(m map[string]any, typ string) map[string]any {
		out := with(m, "@odata.type", "#microsoft.graph."+typ)
		delete(out, "@odata.context")
		return out
	}
	list := func(path string, objs ...map[string]any) map[string]any {
		sort.Slice(objs, func(i, j int) bool { return objs[i]["id"].(string) < objs[j]["id"].(string) })
		value := make([]any, 0, len(objs))
		for _, o := range objs {
			value = append(value, o)
		}
		return map[string]any{"@odata.context": a.URL + path, "value": value}
	}
	members := "/v1.0/groups/" + gID + "/members"
	owners := "/v1.0/groups/" + gID + "/owners"
	ref := func(id string) map[string]any {
		return map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + id}
	}

	wantJSON(t, "members after create", a.get(t, admin, members),
		list("/v1.0/$metadata#directoryObjects", asObject(u1, "user"), asObject(sp, "servicePrincipal")))
	wantJSON(t, "owners after create", a.get(t, admin, owners),
		list("/v1.0/$metadata#directoryObjects", asObject(u2, "user")))

	// A group may be a member; the list shows each kind with its own properties.
	a.noContent(t, http.MethodPost, members+"/$ref", admin, ref(subID))
	a.noContent(t, http.MethodPost, "/beta/groups/"+gID+"/owners/$ref", admin, map[string]any{"@odata.id": a.URL + "/beta/servicePrincipals/" + spID})
	wantJSON(t, "members", a.get(t, admin, members),
		list("/v1.0/$metadata#directoryObjects", asObject(u1, "user"), asObject(sp, "servicePrincipal"), asObject(sub, "group")))
	wantJSON(t, "owners on beta", a.get(t, admin, "/beta/groups/"+gID+"/owners"),
		list("/beta/$metadata#directoryObjects", asObject(u2, "user"), asObject(sp, "servicePrincipal")))

	// Paging and $select work on relations too.
	page := a.get(t, admin, members+"?$top=2&$select=displayName")
	if got := valueIDs(t, page); len(got) != 2 || page["@odata.nextLink"] == nil {
		t.Errorf("first page of members: %v", page)
	}
	for _, v := range page["value"].([]any) {
		keys := sortedKeys(v.(map[string]any))
		if !slices.Equal(keys, []string{"@odata.type", "displayName", "id"}) {
			t.Errorf("selected member has %v", keys)
		}
	}

	errs := []struct {
		name         string
		method, path string
		body         any
		status       int
		code, names  string
	}{
		{"already a member", "POST", members + "/$ref", ref(u1ID), 409, "conflict", u1ID},
		{"group owning a group", "POST", owners + "/$ref", ref(subID), 400, "invalidRequest", "own"},
		{"member of itself", "POST", members + "/$ref", ref(gID), 400, "invalidRequest", "itself"},
		{"unknown object", "POST", members + "/$ref", ref("ghost"), 404, "itemNotFound", "ghost"},
		{"unknown group", "POST", "/v1.0/groups/ghost/members/$ref", ref(u1ID), 404, "itemNotFound", "ghost"},
		{"no @odata.id", "POST", members + "/$ref", map[string]any{"id": u1ID}, 400, "invalidRequest", "'id'"},
		{"bad @odata.id", "POST", members + "/$ref", map[string]any{"@odata.id": true}, 400, "invalidRequest", "'@odata.id'"},
		{"not a member", "DELETE", members + "/" + u2ID + "/$ref", nil, 404, "itemNotFound", ""},
		{"remove from unknown group", "DELETE", "/v1.0/groups/ghost/members/" + u1ID + "/$ref", nil, 404, "itemNotFound", "ghost"},
		{"remove without an id", "DELETE", members + "/$ref", nil, 400, "invalidRequest", "$id"},
		{"list of unknown group", "GET", "/v1.0/groups/ghost/owners", nil, 404, "itemNotFound", "ghost"},
		{"GET a $ref", "GET", members + "/$ref", nil, 405, "methodNotAllowed", ""},
		{"bad owners bind on create", "POST", "/v1.0/groups", map[string]any{"displayName": "Bad", "mailNickname": "bad", "owners@odata.bind": []string{"users/" + u1ID, "directoryObjects/" + subID}}, 400, "invalidRequest", "own"},
		{"unknown member bind on create", "POST", "/v1.0/groups", map[string]any{"displayName": "Bad", "mailNickname": "bad", "members@odata.bind": []string{"users/ghost"}}, 400, "invalidRequest", "ghost"},
		{"empty member bind on create", "POST", "/v1.0/groups", map[string]any{"displayName": "Bad", "mailNickname": "bad", "members@odata.bind": []string{"https://graph.microsoft.com/v1.0/users/"}}, 400, "invalidRequest", "'members@odata.bind[0]'"},
		{"member bind not an array", "POST", "/v1.0/groups", map[string]any{"displayName": "Bad", "mailNickname": "bad", "members@odata.bind": "users/" + u1ID}, 400, "invalidRequest", "'members@odata.bind'"},
	}
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			resp, _ := a.do(t, c.method, c.path, admin, c.body)
			wantMessage(t, wantError(t, resp, c.status, c.code), c.names)
		})
	}
	// A refused create leaves nothing behind.
	for _, g := range a.get(t, admin, "/v1.0/groups")["value"].([]any) {
		if g.(map[string]any)["displayName"] == "Bad" {
			t.Errorf("a refused group was stored: %v", g)
		}
	}

	// Removing, by path and by the $id form.
	a.noContent(t, http.MethodDelete, members+"/"+u1ID+"/$ref", admin, nil)
	a.noContent(t, http.MethodDelete, members+"/$ref?$id="+url.QueryEscape("https://graph.microsoft.com/v1.0/directoryObjects/"+spID), admin, nil)
	a.noContent(t, http.MethodDelete, "/v1.0/groups('"+gID+"')/owners/"+u2ID+"/$ref", admin, nil)
	wantJSON(t, "members after removal", a.get(t, admin, members), list("/v1.0/$metadata#directoryObjects", asObject(sub, "group")))
	wantJSON(t, "owners after removal", a.get(t, admin, owners), list("/v1.0/$metadata#directoryObjects", asObject(sp, "servicePrincipal")))
	resp, _ := a.do(t, http.MethodDelete, members+"/"+u1ID+"/$ref", admin, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")

	// Deleting a member takes it out of the group.
	a.noContent(t, http.MethodDelete, "/v1.0/groups/"+subID, admin, nil)
	wantJSON(t, "members after deleting the subgroup", a.get(t, admin, members), list("/v1.0/$metadata#directoryObjects"))

	// Writing members needs a group write permission.
	reader := a.appTokenNamed(t, "reader", "Group.Read.All")
	a.get(t, reader, members)
	resp, _ = a.do(t, http.MethodPost, members+"/$ref", reader, ref(u1ID))
	wantError(t, resp, http.StatusForbidden, "accessDenied")
	resp, _ = a.do(t, http.MethodDelete, owners+"/"+spID+"/$ref", reader, nil)
	wantError(t, resp, http.StatusForbidden, "accessDenied")
}

func TestServicePrincipalRoundTrip(t *testing.T) {
	a := newTestAPI(t)
	admin := directoryAdmin(t, a)
	role := map[string]any{
		"id":                 "0c4f7a4e-4e8d-4b7e-9b34-5d8a0c0f1a11",
		"allowedMemberTypes": []any{"User"},
		"description":        "Reads reports",
		"displayName":        "Report reader",
		"isEnabled":          true,
		"value":              "Reports.Read",
	}
	created, id := a.create(t, admin, "/v1.0/servicePrincipals", map[string]any{
		"@odata.type": "#microsoft.graph.servicePrincipal",
		"displayName": "Reports",
		"appRoles":    []any{role},
	})
	appID, _ := created["appId"].(string)
	if appID == "" || appID == id {
		t.Fatalf("generated appId %q (id %q)", appID, id)
	}
	want := map[string]any{
		"@odata.context": a.URL + "/v1.0/$metadata#servicePrincipals/$entity",
		"id":             id,
		"appId":          appID,
		"displayName":    "Reports",
		"appRoles":       []any{role},
	}
	wantJSON(t, "POST answer", created, want)
	wantJSON(t, "GET", a.get(t, admin, "/v1.0/servicePrincipals/"+id), want)
	wantJSON(t, "GET beta by key", a.get(t, admin, "/beta/servicePrincipals('"+id+"')"),
		with(want, "@odata.context", a.URL+"/beta/$metadata#servicePrincipals/$entity"))

	// PATCH replaces appRoles; an appRole without isEnabled is enabled, as in Graph.
	a.noContent(t, http.MethodPatch, "/v1.0/servicePrincipals/"+id, admin, with(created, "appRoles", []any{
		map[string]any{"id": "9d7c3b1a-0000-4000-8000-000000000002", "allowedMemberTypes": []any{"Application"}, "value": "Reports.ReadWrite"},
	}))
	want = with(want, "appRoles", []any{map[string]any{
		"id": "9d7c3b1a-0000-4000-8000-000000000002", "allowedMemberTypes": []any{"Application"},
		"description": nil, "displayName": nil, "isEnabled": true, "value": "Reports.ReadWrite",
	}})
	wantJSON(t, "GET after PATCH", a.get(t, admin, "/v1.0/servicePrincipals/"+id), want)

	// A given appId is kept, and unique.
	given, givenID := a.create(t, admin, "/v1.0/servicePrincipals", map[string]any{"appId": "5b0e7c4d-0000-4000-8000-000000000003"})
	wantJSON(t, "appId only", given, map[string]any{
		"@odata.context": a.URL + "/v1.0/$metadata#servicePrincipals/$entity",
		"id":             givenID, "appId": "5b0e7c4d-0000-4000-8000-000000000003", "displayName": nil, "appRoles": []any{},
	})

	for name, c := range map[string]struct {
		method, path string
		body         any
		status       int
		code, names  string
	}{
		"duplicate appId":     {"POST", "/v1.0/servicePrincipals", map[string]any{"appId": "5b0e7c4d-0000-4000-8000-000000000003", "displayName": "Again"}, 409, "conflict", "5b0e7c4d"},
		"changing appId":      {"PATCH", "/v1.0/servicePrincipals/" + id, map[string]any{"appId": "other"}, 400, "invalidRequest", "appId"},
		"nothing to name it":  {"POST", "/v1.0/servicePrincipals", map[string]any{"appRoles": []any{}}, 400, "invalidRequest", "displayName"},
		"bad member type":     {"PATCH", "/v1.0/servicePrincipals/" + id, map[string]any{"appRoles": []any{map[string]any{"id": "r1", "allowedMemberTypes": []any{"Robot"}}}}, 400, "invalidRequest", "Robot"},
		"role without id":     {"PATCH", "/v1.0/servicePrincipals/" + id, map[string]any{"appRoles": []any{map[string]any{"value": "x"}}}, 400, "invalidRequest", "appRoles[0].id"},
		"unknown role field":  {"PATCH", "/v1.0/servicePrincipals/" + id, map[string]any{"appRoles": []any{map[string]any{"id": "r1", "colour": "x"}}}, 400, "invalidRequest", "colour"},
		"wrong role type":     {"PATCH", "/v1.0/servicePrincipals/" + id, map[string]any{"appRoles": []any{map[string]any{"id": "r1", "@odata.type": "#microsoft.graph.user"}}}, 400, "invalidRequest", "appRoles[0].@odata.type"},
		"appRoles not a list": {"PATCH", "/v1.0/servicePrincipals/" + id, map[string]any{"appRoles": map[string]any{}}, 400, "invalidRequest", "appRoles"},
		"null appRoles":       {"PATCH", "/v1.0/servicePrincipals/" + id, map[string]any{"appRoles": nil}, 400, "invalidRequest", "'appRoles'"},
		"unknown":             {"GET", "/v1.0/servicePrincipals/ghost", nil, 404, "itemNotFound", "ghost"},
		"wrong method":        {"PUT", "/v1.0/servicePrincipals/" + id, map[string]any{}, 405, "methodNotAllowed", ""},
	} {
		resp, _ := a.do(t, c.method, c.path, admin, c.body)
		msg := wantError(t, resp, c.status, c.code)
		if !strings.Contains(msg, c.names) {
			t.Errorf("%s: message %q does not name %s", name, msg, c.names)
		}
	}
	// The same appId sent back by a GET-modify-PATCH is fine.
	a.noContent(t, http.MethodPatch, "/v1.0/servicePrincipals/"+id, admin, map[string]any{"appId": appID, "displayName": "Reports 2"})

	a.noContent(t, http.MethodDelete, "/v1.0/servicePrincipals/"+id, admin, nil)
	resp, _ := a.do(t, http.MethodGet, "/v1.0/servicePrincipals/"+id, admin, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

func TestDirectoryPaging(t *testing.T) {
	a := newTestAPI(t)
	admin := directoryAdmin(t, a)
	want := map[string]bool{}
	for _, n := range []string{"u1", "u2", "u3", "u4", "u5"} {
		_, id := a.create(t, admin, "/v1.0/users", map[string]any{"displayName": n, "userPrincipalName": n + "@contoso.test"})
		want[id] = true
	}

	seen := map[string]int{}
	next := "/v1.0/users?$top=2"
	pages := 0
	for next != "" {
		pages++
		if pages > 10 {
			t.Fatalf("paging does not end")
		}
		page := a.get(t, admin, next)
		if page["@odata.context"] != a.URL+"/v1.0/$metadata#users" {
			t.Errorf("page context %v", page["@odata.context"])
		}
		got := valueIDs(t, page)
		if len(got) > 2 {
			t.Errorf("page %d has %d items, want at most 2", pages, len(got))
		}
		for _, id := range got {
			seen[id]++
		}
		next, _ = page["@odata.nextLink"].(string)
		if next != "" {
			if !strings.HasPrefix(next, a.URL+"/v1.0/users?") || !strings.Contains(next, "%24top=2") || !strings.Contains(next, "%24skiptoken=") {
				t.Errorf("nextLink %q does not repeat the call from the public URL with $top and $skiptoken", next)
			}
		}
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3", pages)
	}
	for id, n := range seen {
		if n != 1 || !want[id] {
			t.Errorf("user %s seen %d times (created here: %v)", id, n, want[id])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("saw %d users, want %d", len(seen), len(want))
	}

	// $select keeps id and the selected properties, on lists and single objects.
	list := a.get(t, admin, "/v1.0/users?$select=displayName")
	for _, v := range list["value"].([]any) {
		if keys := sortedKeys(v.(map[string]any)); !slices.Equal(keys, []string{"displayName", "id"}) {
			t.Errorf("selected user has %v", keys)
		}
	}
	first := valueIDs(t, list)[0]
	one := a.get(t, admin, "/beta/users/"+first+"?$select=displayName,accountEnabled")
	if keys := sortedKeys(one); !slices.Equal(keys, []string{"@odata.context", "accountEnabled", "displayName", "id"}) {
		t.Errorf("selected user has %v", keys)
	}

	// Groups and service principals page the same way.
	for i := range 3 {
		a.create(t, admin, "/v1.0/groups", map[string]any{"displayName": "G", "mailNickname": "g" + string(rune('a'+i))})
	}
	page := a.get(t, admin, "/v1.0/groups?$top=2")
	if len(valueIDs(t, page)) != 2 || page["@odata.nextLink"] == nil {
		t.Fatalf("groups first page: %v", page)
	}
	rest := a.get(t, admin, page["@odata.nextLink"].(string))
	if len(valueIDs(t, rest)) != 1 || rest["@odata.nextLink"] != nil {
		t.Errorf("groups second page: %v", rest)
	}
	sps := a.get(t, admin, "/v1.0/servicePrincipals?$top=1")
	if sps["@odata.context"] != a.URL+"/v1.0/$metadata#servicePrincipals" || len(valueIDs(t, sps)) != 1 {
		t.Errorf("service principals page: %v", sps)
	}
}

func TestRefKey(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{"https://graph.microsoft.com/v1.0/users/abc", "abc"},
		{"https://graph.microsoft.com/v1.0/directoryObjects/abc", "abc"},
		{"https://graph.microsoft.com/v1.0/users('abc')", "abc"},
		{"https://graph.microsoft.com/beta/directoryObjects('abc')", "abc"},
		{"http://localhost:8080/v1.0/groups/abc?x=1", "abc"},
		{"users/abc", "abc"},
		{"abc", "abc"},
		{"https://graph.microsoft.com/v1.0/users/a%40b.test", "a@b.test"},
	} {
		got, err := refKey("@odata.id", c.in)
		if err != nil || got != c.want {
			t.Errorf("refKey(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "https://graph.microsoft.com/v1.0/users/", "users('')", "https://graph.microsoft.com/v1.0/users/abc/", "https://graph.microsoft.com/v1.0/users/$ref", "%zz", "users(abc)"} {
		if got, err := refKey("@odata.id", in); err == nil {
			t.Errorf("refKey(%q) = %q, want an error", in, got)
		} else if !strings.Contains(err.Error(), "'@odata.id'") {
			t.Errorf("refKey(%q): %v does not name '@odata.id'", in, err)
		}
	}
	id, err := refID([]byte(`{"@odata.context":"x","@odata.id":"https://graph.microsoft.com/v1.0/users/abc"}`))
	if err != nil || id != "abc" {
		t.Errorf("refID = %q, %v", id, err)
	}
}
