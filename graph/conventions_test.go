package graph

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/golang-jwt/jwt/v5"
)

// Tests of the Graph conventions every route shares (docs/decisions.md, "API conventions"): the
// error envelope and its statuses, request ids, bodies, OData options, the
// public documents, and that no input makes the server fail with a 500.

// convEnvelope checks that an error answer is exactly the Graph envelope,
// with no other property anywhere, and returns its code and message.
func convEnvelope(t *testing.T, resp *http.Response, status int) (code, message string) {
	t.Helper()
	wantStatus(t, resp, status)
	var body map[string]any
	if err := json.Unmarshal([]byte(bodyOf(resp)), &body); err != nil {
		t.Fatalf("error body is not JSON: %v", err)
	}
	emSame(t, "envelope keys", []string{"error"}, emKeys(body))
	e, _ := body["error"].(map[string]any)
	emSame(t, "error keys", []string{"code", "innerError", "message"}, emKeys(e))
	inner, _ := e["innerError"].(map[string]any)
	emSame(t, "innerError keys", []string{"client-request-id", "date", "request-id"}, emKeys(inner))
	if inner["request-id"] != resp.Header.Get("request-id") || inner["request-id"] == "" {
		t.Errorf("innerError.request-id %v, header %q", inner["request-id"], resp.Header.Get("request-id"))
	}
	if inner["client-request-id"] != resp.Header.Get("client-request-id") || inner["client-request-id"] == "" {
		t.Errorf("innerError.client-request-id %v, header %q", inner["client-request-id"], resp.Header.Get("client-request-id"))
	}
	date, _ := inner["date"].(string)
	if d, err := time.Parse("2006-01-02T15:04:05", date); err != nil || time.Since(d) > time.Minute || time.Since(d) < -time.Minute {
		t.Errorf("innerError.date %q is not now in Graph's format: %v", date, err)
	}
	code, _ = e["code"].(string)
	message, _ = e["message"].(string)
	if message == "" {
		t.Errorf("empty message")
	}
	return code, message
}

func convGzip(t *testing.T, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// convCatalogBody is a catalog body of exactly size bytes.
func convCatalogBody(size int) []byte {
	const head, tail = `{"displayName":"`, `"}`
	return []byte(head + strings.Repeat("a", size-len(head)-len(tail)) + tail)
}

func TestConventionsMalformedBodies(t *testing.T) {
	a := newEMAPI(t)
	for _, tc := range []struct {
		name, body string
		parts      []string
	}{
		{"malformed JSON", `{"displayName": "x",}`, []string{"JSON"}},
		{"unterminated", `{"displayName": "x"`, []string{"JSON"}},
		{"JSON array", `[{"displayName": "x"}]`, []string{"object"}},
		{"two JSON values", `{"displayName": "x"} {"displayName": "y"}`, []string{"more than one"}},
		{"a value after the object", `{"displayName": "x"} 5`, []string{"more than one"}},
		{"empty body", ``, []string{"body"}},
		{"whitespace only", " \n\t ", []string{"body"}},
		{"null", `null`, []string{"object"}},
		{"a string", `"catalog"`, []string{"object"}},
		{"single quotes", `{'displayName': 'x'}`, []string{"JSON"}},
		{"byte order mark", "\ufeff{\"displayName\": \"x\"}", []string{"JSON"}},
		{"NaN", `{"displayName": "x", "isExternallyVisible": NaN}`, []string{"JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := a.call(t, "POST", emV1+"/catalogs", tc.body)
			code, msg := convEnvelope(t, resp, http.StatusBadRequest)
			if code != "invalidRequest" {
				t.Errorf("code %q", code)
			}
			wantMessage(t, msg, tc.parts...)
		})
	}
	if items := emValue(t, a.mustCall(t, "GET", emV1+"/catalogs", nil, http.StatusOK)); len(items) != 0 {
		t.Errorf("malformed bodies stored catalogs: %v", items)
	}
}

// Bytes after the JSON object make the body malformed, whatever they are.
func TestConventionsTrailingBracketIsMalformed(t *testing.T) {
	a := newEMAPI(t)
	for _, body := range []string{`{"displayName": "x"}}`, `{"displayName": "x"}]`} {
		resp, _ := a.call(t, "POST", emV1+"/catalogs", body)
		wantError(t, resp, http.StatusBadRequest, "invalidRequest")
	}
}

func TestConventionsUnauthenticated(t *testing.T) {
	a := newEMAPI(t)
	other := newTestAPI(t)
	foreign := other.appToken(t, "EntitlementManagement.ReadWrite.All")

	sp, err := a.Svc.EnsureServicePrincipal(t.Context(), "test-app")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	expired, err := a.Issuer.Sign(jwt.MapClaims{
		"iss": a.URL, "aud": "https://graph.microsoft.com", "tid": testAPITenant,
		"iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(),
		"oid": sp.ID, "sub": sp.ID, "appid": sp.AppID, "azp": sp.AppID, "idtyp": "app",
		"roles": []string{"EntitlementManagement.ReadWrite.All"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A valid token with its signature replaced by another token's.
	parts := strings.Split(a.tok, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Split(foreign, ".")[2]

	for _, tc := range []struct {
		name, authorization string
	}{
		{"no Authorization header", ""},
		{"Basic scheme", "Basic dXNlcjpwYXNz"},
		{"Bearer without a token", "Bearer "},
		{"garbage token", "Bearer not-a-jwt"},
		{"three garbage parts", "Bearer aaa.bbb.ccc"},
		{"expired token", "Bearer " + expired},
		{"token of another issuer", "Bearer " + foreign},
		{"forged signature", "Bearer " + forged},
		{"token without scheme", a.tok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, call := range []struct{ method, path string }{{"GET", emV1 + "/catalogs"}, {"POST", emV1 + "/catalogs"}} {
				req := a.request(t, call.method, call.path, "", map[string]any{"displayName": "x"})
				if tc.authorization != "" {
					req.Header.Set("Authorization", tc.authorization)
				}
				resp, _ := a.send(t, req)
				if code, _ := convEnvelope(t, resp, http.StatusUnauthorized); code != "InvalidAuthenticationToken" {
					t.Errorf("code %q", code)
				}
				if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
					t.Errorf("WWW-Authenticate %q", h)
				}
			}
		})
	}
	// The scheme is case-insensitive, as in RFC 6750.
	req := a.request(t, "GET", emV1+"/catalogs", "", nil)
	req.Header.Set("Authorization", "bearer "+a.tok)
	resp, _ := a.send(t, req)
	wantStatus(t, resp, http.StatusOK)
	if items := emValue(t, a.mustCall(t, "GET", emV1+"/catalogs", nil, http.StatusOK)); len(items) != 0 {
		t.Errorf("unauthenticated POSTs stored catalogs: %v", items)
	}
}

func TestConventionsForbidden(t *testing.T) {
	a := newEMAPI(t)
	a.newUser(t, "reader@contoso.test")
	reader := a.appTokenNamed(t, "reader-app", "EntitlementManagement.Read.All")
	nothing := a.appTokenNamed(t, "empty-app")
	directory := a.appTokenNamed(t, "directory-app", "User.Read.All", "Directory.Read.All")
	userDirectory := a.userToken(t, "reader@contoso.test", "User.Read.All")
	userReader := a.userToken(t, "reader@contoso.test", "EntitlementManagement.Read.All")
	cat := a.catalog(t, "Sales")

	for _, tc := range []struct {
		name, token, method, path string
		body                      any
	}{
		{"Read.All application POSTs", reader, "POST", emV1 + "/catalogs", map[string]any{"displayName": "x"}},
		{"Read.All application PATCHes", reader, "PATCH", emV1 + "/catalogs/" + cat, map[string]any{"displayName": "x"}},
		{"Read.All application DELETEs", reader, "DELETE", emV1 + "/catalogs/" + cat, nil},
		{"Read.All application PUTs an extension", reader, "PUT", emV1 + "/catalogs/" + cat + "/customWorkflowExtensions/x", emRequestExtension("x")},
		{"Read.All application POSTs in beta", reader, "POST", emBeta + "/accessPackageCatalogs", map[string]any{"displayName": "x"}},
		{"Read.All user POSTs", userReader, "POST", emV1 + "/accessPackages", map[string]any{"displayName": "x"}},
		{"application without roles reads", nothing, "GET", emV1 + "/catalogs", nil},
		{"directory application reads", directory, "GET", emV1 + "/catalogs", nil},
		{"User.Read.All user reads", userDirectory, "GET", emV1 + "/catalogs", nil},
		{"User.Read.All user reads beta", userDirectory, "GET", emBeta + "/accessPackageCatalogs/" + cat, nil},
		{"User.Read.All user reads policies", userDirectory, "GET", emV1 + "/assignmentPolicies", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := a.do(t, tc.method, tc.path, tc.token, tc.body)
			code, msg := convEnvelope(t, resp, http.StatusForbidden)
			if code != "accessDenied" {
				t.Errorf("code %q", code)
			}
			wantMessage(t, msg, "EntitlementManagement.")
		})
	}
	// The same tokens do what they hold: the user reads as a Catalog reader.
	reading, err := a.Svc.User(context.Background(), "reader@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	a.grant(t, reading.ID, access.RoleCatalogReader, cat)
	for _, tok := range []string{reader, userReader} {
		resp, _ := a.do(t, "GET", emV1+"/catalogs/"+cat, tok, nil)
		wantStatus(t, resp, http.StatusOK)
	}
	resp, _ := a.do(t, "GET", "/v1.0/users", userDirectory, nil)
	wantStatus(t, resp, http.StatusOK)
	if got := a.mustCall(t, "GET", emV1+"/catalogs/"+cat, nil, http.StatusOK); got["displayName"] != "Sales" {
		t.Errorf("forbidden calls changed the catalog: %v", got)
	}
}

func TestConventionsNotFoundMethodNotAllowedConflict(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	a.accessPackage(t, cat, "Tools")

	for _, tc := range []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"unknown path", "GET", "/v1.0/nothing/here", a.tok, 404, "itemNotFound"},
		{"unknown path without a token", "GET", "/v1.0/nothing/here", "", 404, "itemNotFound"},
		{"unknown version", "GET", "/v2.0/identityGovernance/entitlementManagement/catalogs", a.tok, 404, "itemNotFound"},
		{"root", "GET", "/", a.tok, 404, "itemNotFound"},
		{"unknown EM set", "GET", emV1 + "/unknownThings", a.tok, 404, "itemNotFound"},
		{"unknown catalog", "GET", emV1 + "/catalogs/00000000-0000-0000-0000-000000000000", a.tok, 404, "itemNotFound"},
		{"unknown package", "GET", emV1 + "/accessPackages/nope", a.tok, 404, "itemNotFound"},
		{"unknown policy", "GET", emV1 + "/assignmentPolicies('nope')", a.tok, 404, "itemNotFound"},
		{"unknown extension", "GET", emV1 + "/catalogs/" + cat + "/customWorkflowExtensions/nope", a.tok, 404, "itemNotFound"},
		{"unknown beta catalog", "GET", emBeta + "/accessPackageCatalogs/nope", a.tok, 404, "itemNotFound"},
		{"PUT on catalogs", "PUT", emV1 + "/catalogs", a.tok, 405, "methodNotAllowed"},
		{"DELETE on catalogs", "DELETE", emV1 + "/catalogs", a.tok, 405, "methodNotAllowed"},
		{"POST on a catalog", "POST", emV1 + "/catalogs/" + cat, a.tok, 405, "methodNotAllowed"},
		{"PUT on a catalog", "PUT", emV1 + "/catalogs/" + cat, a.tok, 405, "methodNotAllowed"},
		{"PATCH on a policy", "PATCH", emV1 + "/assignmentPolicies/x", a.tok, 405, "methodNotAllowed"},
		{"POST on healthz", "POST", "/healthz", "", 405, "methodNotAllowed"},
		{"OPTIONS on catalogs", "OPTIONS", emV1 + "/catalogs", a.tok, 405, "methodNotAllowed"},
		{"catalog with a package", "DELETE", emV1 + "/catalogs/" + cat, a.tok, 409, "conflict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := a.do(t, tc.method, tc.path, tc.token, nil)
			if code, _ := convEnvelope(t, resp, tc.status); code != tc.code {
				t.Errorf("code %q, want %q", code, tc.code)
			}
		})
	}
}

func TestConventionsBodyEncodingAndLimits(t *testing.T) {
	a := newEMAPI(t)
	post := func(t *testing.T, body []byte, header map[string]string) *http.Response {
		t.Helper()
		req := a.request(t, "POST", emV1+"/catalogs", a.tok, body)
		for k, v := range header {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, _ := a.send(t, req)
		return resp
	}
	small := []byte(`{"displayName":"Sales"}`)

	t.Run("exactly 1 MiB", func(t *testing.T) {
		wantStatus(t, post(t, convCatalogBody(1<<20), nil), http.StatusCreated)
	})
	t.Run("1 MiB and one byte", func(t *testing.T) {
		code, _ := convEnvelope(t, post(t, convCatalogBody(1<<20+1), nil), http.StatusRequestEntityTooLarge)
		if code != "requestTooLarge" {
			t.Errorf("code %q", code)
		}
	})
	t.Run("8 MiB", func(t *testing.T) {
		convEnvelope(t, post(t, convCatalogBody(8<<20), nil), http.StatusRequestEntityTooLarge)
	})
	t.Run("gzip body", func(t *testing.T) {
		resp := post(t, convGzip(t, small), map[string]string{"Content-Encoding": "gzip"})
		wantStatus(t, resp, http.StatusCreated)
	})
	t.Run("gzip body of exactly 1 MiB", func(t *testing.T) {
		wantStatus(t, post(t, convGzip(t, convCatalogBody(1<<20)), map[string]string{"Content-Encoding": "gzip"}), http.StatusCreated)
	})
	t.Run("gzip body past 1 MiB once decompressed", func(t *testing.T) {
		z := convGzip(t, convCatalogBody(4<<20))
		if len(z) > 64<<10 {
			t.Fatalf("compressed body is %d bytes; the test wants a small one", len(z))
		}
		code, _ := convEnvelope(t, post(t, z, map[string]string{"Content-Encoding": "gzip"}), http.StatusRequestEntityTooLarge)
		if code != "requestTooLarge" {
			t.Errorf("code %q", code)
		}
	})
	t.Run("gzip header on a plain body", func(t *testing.T) {
		convEnvelope(t, post(t, small, map[string]string{"Content-Encoding": "gzip"}), http.StatusBadRequest)
	})
	t.Run("truncated gzip", func(t *testing.T) {
		z := convGzip(t, small)
		convEnvelope(t, post(t, z[:len(z)-6], map[string]string{"Content-Encoding": "gzip"}), http.StatusBadRequest)
	})
	t.Run("unknown Content-Encoding", func(t *testing.T) {
		code, _ := convEnvelope(t, post(t, small, map[string]string{"Content-Encoding": "br"}), http.StatusUnsupportedMediaType)
		if code != "unsupportedMediaType" {
			t.Errorf("code %q", code)
		}
	})
	for _, ct := range []string{"text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json;;", "*/*"} {
		t.Run("Content-Type "+ct, func(t *testing.T) {
			code, msg := convEnvelope(t, post(t, small, map[string]string{"Content-Type": ct}), http.StatusUnsupportedMediaType)
			if code != "unsupportedMediaType" {
				t.Errorf("code %q", code)
			}
			wantMessage(t, msg, "application/json")
		})
	}
	for _, ct := range []string{"application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON", "application/json; odata.metadata=minimal"} {
		t.Run("Content-Type "+ct, func(t *testing.T) {
			wantStatus(t, post(t, small, map[string]string{"Content-Type": ct}), http.StatusCreated)
		})
	}
	t.Run("no Content-Type", func(t *testing.T) {
		wantStatus(t, post(t, small, map[string]string{"Content-Type": ""}), http.StatusCreated)
	})
	t.Run("415 on PATCH and PUT too", func(t *testing.T) {
		cat := a.catalog(t, "Sales")
		req := a.request(t, "PATCH", emV1+"/catalogs/"+cat, a.tok, small)
		req.Header.Set("Content-Type", "text/plain")
		resp, _ := a.send(t, req)
		convEnvelope(t, resp, http.StatusUnsupportedMediaType)
		req = a.request(t, "PUT", emV1+"/catalogs/"+cat+"/customWorkflowExtensions/x", a.tok, small)
		req.Header.Set("Content-Type", "text/plain")
		resp, _ = a.send(t, req)
		convEnvelope(t, resp, http.StatusUnsupportedMediaType)
	})
}

func TestConventionsRequestIDs(t *testing.T) {
	a := newEMAPI(t)
	req := a.request(t, "GET", emV1+"/catalogs/nope", a.tok, nil)
	req.Header.Set("client-request-id", "7c9b4ed2-94f4-4f3a-9f0b-2a7a8d9a1e55")
	resp, _ := a.send(t, req)
	convEnvelope(t, resp, http.StatusNotFound)
	if got := resp.Header.Get("client-request-id"); got != "7c9b4ed2-94f4-4f3a-9f0b-2a7a8d9a1e55" {
		t.Errorf("client-request-id header %q, want the client's", got)
	}
	first := resp.Header.Get("request-id")
	if first == "" || first == "7c9b4ed2-94f4-4f3a-9f0b-2a7a8d9a1e55" {
		t.Errorf("request-id %q", first)
	}

	// Successes echo it too; without one, client-request-id is the request-id.
	req = a.request(t, "GET", emV1+"/catalogs", a.tok, nil)
	req.Header.Set("client-request-id", "abc")
	resp, _ = a.send(t, req)
	wantStatus(t, resp, http.StatusOK)
	if resp.Header.Get("client-request-id") != "abc" {
		t.Errorf("client-request-id on success %q", resp.Header.Get("client-request-id"))
	}
	resp, _ = a.call(t, "GET", emV1+"/catalogs", nil)
	if resp.Header.Get("request-id") == first {
		t.Errorf("two requests share request-id %q", first)
	}
	if resp.Header.Get("client-request-id") != resp.Header.Get("request-id") {
		t.Errorf("client-request-id %q without one sent, request-id %q", resp.Header.Get("client-request-id"), resp.Header.Get("request-id"))
	}

	// Every kind of error carries both in the envelope.
	for _, tc := range []struct {
		method, path, token string
		body                any
		status              int
	}{
		{"POST", emV1 + "/catalogs", a.tok, "{", 400},
		{"GET", emV1 + "/catalogs", "", nil, 401},
		{"POST", emV1 + "/catalogs", a.appTokenNamed(t, "reader", "EntitlementManagement.Read.All"), map[string]any{"displayName": "x"}, 403},
		{"GET", "/nope", "", nil, 404},
		{"PUT", emV1 + "/catalogs", a.tok, nil, 405},
		{"POST", emV1 + "/catalogs", a.tok, convCatalogBody(1<<20 + 1), 413},
	} {
		req := a.request(t, tc.method, tc.path, tc.token, tc.body)
		req.Header.Set("client-request-id", "client-"+tc.method)
		resp, _ := a.send(t, req)
		convEnvelope(t, resp, tc.status)
		if resp.Header.Get("client-request-id") != "client-"+tc.method {
			t.Errorf("%d: client-request-id %q", tc.status, resp.Header.Get("client-request-id"))
		}
	}
}

func TestConventionsQueryOptions(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	a.catalog(t, "Marketing")
	ext := a.extension(t, cat, emRequestExtension("SoD check"))
	list := emV1 + "/catalogs"

	for _, q := range []string{"$top=0", "$top=1000", "$top=x", "$top=-1", "$top=1.5", "$TOP=0", "$top=99999999999999999999",
		"$skiptoken=bogus", "$skiptoken=YWZ0ZXI6", "$skiptoken=Zm9vOmJhcg",
		"$filter=nope%20eq%20'Sales'", "$orderby=nope", "$count=yes", "$search=Sales", "$skip=-1", "$format=json", "$bogus=1",
		"$expand=accessPackages", "$select=nope"} {
		t.Run(q, func(t *testing.T) {
			resp, _ := a.call(t, "GET", list+"?"+q, nil)
			code, msg := convEnvelope(t, resp, http.StatusBadRequest)
			if code != "invalidRequest" {
				t.Errorf("code %q", code)
			}
			name, _, _ := strings.Cut(q, "=")
			if name != "$TOP" {
				wantMessage(t, msg, name)
			}
		})
	}
	t.Run("$filter, $orderby, $count and $skip are read", func(t *testing.T) {
		sales := a.mustCall(t, "GET", list+"?$filter=displayName%20eq%20'Sales'", nil, http.StatusOK)
		emSame(t, "filtered", []string{cat}, emIDs(emValue(t, sales)))
		ordered := a.mustCall(t, "GET", list+"?$orderby=displayName&$count=true&$skip=1", nil, http.StatusOK)
		if names := emValue(t, ordered); len(names) != 1 || names[0]["displayName"] != "Sales" || ordered["@odata.count"] != float64(2) {
			t.Errorf("ordered by name, counted, one skipped: %v", ordered)
		}
	})
	t.Run("$search says it is not supported", func(t *testing.T) {
		resp, _ := a.call(t, "GET", list+"?$search=Sales", nil)
		_, msg := convEnvelope(t, resp, http.StatusBadRequest)
		wantMessage(t, msg, "$search", "not supported")
	})
	t.Run("$top=999", func(t *testing.T) {
		got := a.mustCall(t, "GET", list+"?$top=999", nil, http.StatusOK)
		if n := len(emValue(t, got)); n != 2 {
			t.Errorf("%d catalogs", n)
		}
	})
	t.Run("plain query parameters are not options", func(t *testing.T) {
		a.mustCall(t, "GET", list+"?top=0&filter=x", nil, http.StatusOK)
	})
	t.Run("$select on one catalog", func(t *testing.T) {
		got := a.mustCall(t, "GET", list+"/"+cat+"?$select=displayName", nil, http.StatusOK)
		emSame(t, "selected catalog", map[string]any{
			"@odata.context": a.context("v1.0", "catalogs", true), "id": cat, "displayName": "Sales",
		}, got)
	})
	t.Run("$select on a list", func(t *testing.T) {
		got := a.mustCall(t, "GET", list+"?$select=displayName,state", nil, http.StatusOK)
		for _, it := range emValue(t, got) {
			emSame(t, "selected keys", []string{"displayName", "id", "state"}, emKeys(it))
		}
	})
	t.Run("$select keeps @odata.type", func(t *testing.T) {
		got := a.mustCall(t, "GET", list+"/"+cat+"/customWorkflowExtensions/"+ext+"?$select=displayName", nil, http.StatusOK)
		emSame(t, "selected extension keys", []string{"@odata.context", "@odata.type", "displayName", "id"}, emKeys(got))
	})
	t.Run("$select on a beta catalog", func(t *testing.T) {
		got := a.mustCall(t, "GET", emBeta+"/accessPackageCatalogs/"+cat+"?$select=catalogStatus", nil, http.StatusOK)
		emSame(t, "selected beta catalog", map[string]any{
			"@odata.context": a.context("beta", "accessPackageCatalogs", true), "id": cat, "catalogStatus": "Published",
		}, got)
	})
}

func TestConventionsPublicEndpoints(t *testing.T) {
	a := newEMAPI(t)
	for _, token := range []string{"", "garbage"} {
		resp, got := a.do(t, "GET", "/healthz", token, nil)
		wantStatus(t, resp, http.StatusOK)
		emSame(t, "healthz", map[string]any{"status": "ok"}, got)

		resp, doc := a.do(t, "GET", "/.well-known/openid-configuration", token, nil)
		wantStatus(t, resp, http.StatusOK)
		if doc["issuer"] != a.URL {
			t.Errorf("issuer %v, want %s", doc["issuer"], a.URL)
		}
		jwksURI, _ := doc["jwks_uri"].(string)
		if !strings.HasPrefix(jwksURI, a.URL+"/") {
			t.Fatalf("jwks_uri %q is not under %s", jwksURI, a.URL)
		}
		resp, jwks := a.do(t, "GET", jwksURI, token, nil)
		wantStatus(t, resp, http.StatusOK)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("JWKS Content-Type %q", ct)
		}
		keys, _ := jwks["keys"].([]any)
		if len(keys) == 0 {
			t.Fatalf("JWKS has no keys: %v", jwks)
		}
		k, _ := keys[0].(map[string]any)
		if k["kty"] != "RSA" || k["n"] == nil || k["e"] == nil || k["kid"] == nil {
			t.Errorf("JWKS key %v", k)
		}
		if _, ok := k["d"]; ok {
			t.Errorf("JWKS publishes a private key part")
		}
	}
}

// No input a client can send makes the server answer 500: each odd input is
// refused in the envelope (or accepted).
func TestConventionsOddInputsNever500(t *testing.T) {
	a := newEMAPI(t)
	w := a.world(t)
	alice := a.newUser(t, "alice@contoso.test").ID
	full := emFullPolicy(w, alice, alice, alice)
	nullPolicy := map[string]any{}
	for k := range full {
		nullPolicy[k] = nil
	}
	nullExtension := map[string]any{}
	for k := range emRequestExtension("x") {
		nullExtension[k] = nil
	}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	deepObject := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	policy := func(change func(map[string]any)) map[string]any {
		p := emMinimalPolicy(w.pkg, "Odd")
		change(p)
		return p
	}
	extension := func(change func(map[string]any)) map[string]any {
		x := emRequestExtension("Odd")
		change(x)
		return x
	}
	exts := emV1 + "/catalogs/" + w.catalog + "/customWorkflowExtensions"

	for _, tc := range []struct {
		name, method, path string
		body               any
		want               int // 0: any status but 500
	}{
		{"deeply nested array", "POST", emV1 + "/catalogs", `{"displayName":"x","description":` + deep(20000) + `}`, 400},
		{"deeply nested object", "POST", emV1 + "/catalogs", `{"displayName":"x","description":` + deepObject(20000) + `}`, 400},
		{"nested array where a string goes", "POST", emV1 + "/catalogs", `{"displayName":` + deep(50) + `}`, 400},
		{"deep reviewSettings", "POST", emV1 + "/assignmentPolicies", `{"displayName":"deep","accessPackage":{"id":"` + w.pkg + `"},"reviewSettings":{"x":` + deep(5000) + `}}`, 0},
		{"unicode", "POST", emV1 + "/catalogs", map[string]any{"displayName": "Ünïcødé 日本語 🚀 \u202e mixed", "description": "𝔘𝔫𝔦"}, 201},
		{"NUL in a string", "POST", emV1 + "/catalogs", `{"displayName":"nul\u0000inside"}`, 0},
		{"lone surrogate", "POST", emV1 + "/catalogs", `{"displayName":"\ud800"}`, 0},
		{"invalid UTF-8", "POST", emV1 + "/catalogs", []byte("{\"displayName\":\"\xff\xfe\"}"), 0},
		{"control characters", "POST", emV1 + "/catalogs", "{\"displayName\":\"a\x01b\"}", 400},
		{"duplicate keys", "POST", emV1 + "/catalogs", `{"displayName":"a","displayName":"b"}`, 0},
		{"empty object catalog", "POST", emV1 + "/catalogs", map[string]any{}, 400},
		{"empty object package", "POST", emV1 + "/accessPackages", map[string]any{}, 400},
		{"empty object policy", "POST", emV1 + "/assignmentPolicies", map[string]any{}, 400},
		{"empty object extension", "POST", exts, map[string]any{}, 400},
		{"null for every policy property", "POST", emV1 + "/assignmentPolicies", nullPolicy, 400},
		{"null for every extension property", "POST", exts, nullExtension, 400},
		{"null for every catalog property", "POST", emV1 + "/catalogs", map[string]any{"displayName": nil, "description": nil, "catalogType": nil, "state": nil, "isExternallyVisible": nil}, 400},
		{"null for every package property", "POST", emV1 + "/accessPackages", map[string]any{"displayName": nil, "description": nil, "isHidden": nil, "catalog": nil}, 400},
		{"PATCH with nulls", "PATCH", emV1 + "/catalogs/" + w.catalog, map[string]any{"displayName": nil, "catalogType": nil}, 0},
		{"PUT policy with nulls", "PUT", emV1 + "/assignmentPolicies/x", nullPolicy, 0},
		{"nulls inside a policy", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) {
			p["requestApprovalSettings"] = map[string]any{"isApprovalRequiredForAdd": true, "stages": []any{nil}}
			p["specificAllowedTargets"] = []any{nil}
			p["questions"] = []any{nil}
			p["customExtensionStageSettings"] = []any{nil}
		}), 400},
		{"null binding", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) { p["customExtensionStageSettings"] = []any{nil} }), 400},
		{"null question", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) { p["questions"] = []any{nil} }), 400},
		{"null stage", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) {
			p["requestApprovalSettings"] = map[string]any{"isApprovalRequiredForAdd": true, "stages": []any{nil}}
		}), 400},
		{"null choice", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) {
			p["questions"] = []any{map[string]any{"@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion", "text": "?", "choices": []any{nil}}}
		}), 400},
		{"number for expiration", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) { p["expiration"] = 5 }), 400},
		{"number for requestorSettings", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) { p["requestorSettings"] = 5 }), 400},
		{"number for requestApprovalSettings", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) { p["requestApprovalSettings"] = 5 }), 400},
		{"number for accessPackage", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) { p["accessPackage"] = 5 }), 400},
		{"number for a subject set", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) { p["specificAllowedTargets"] = []any{5} }), 400},
		{"object for stage settings", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) { p["customExtensionStageSettings"] = map[string]any{} }), 400},
		{"number for a binding", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) { p["customExtensionStageSettings"] = []any{5} }), 400},
		{"number for a binding's extension", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) {
			p["customExtensionStageSettings"] = []any{map[string]any{"stage": "assignmentRequestCreated", "customExtension": 5}}
		}), 400},
		{"number for a stage", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) {
			p["customExtensionStageSettings"] = []any{map[string]any{"stage": 1, "customExtension": map[string]any{"id": w.requestExtension}}}
		}), 400},
		{"array for notificationSettings", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) { p["notificationSettings"] = []any{} }), 400},
		{"string for reviewSettings", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) { p["reviewSettings"] = "on" }), 400},
		{"huge managerLevel", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) {
			p["requestApprovalSettings"] = map[string]any{"isApprovalRequiredForAdd": true, "stages": []any{map[string]any{
				"primaryApprovers": []any{map[string]any{"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 1e300}}}}}
		}), 400},
		{"huge sequence", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) {
			p["questions"] = []any{map[string]any{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "text": "?", "sequence": 9223372036854775807}}
		}), 0},
		{"huge duration", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) {
			p["expiration"] = map[string]any{"type": "afterDuration", "duration": "P100000Y100000Y100000Y100000M100000W100000DT100000H100000M1000000000S"}
		}), 0},
		{"duration with a fraction", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) {
			p["expiration"] = map[string]any{"type": "afterDuration", "duration": "PT0.0000000001S"}
		}), 0},
		{"odd date", "POST", emV1 + "/assignmentPolicies", policy(func(p map[string]any) {
			p["expiration"] = map[string]any{"type": "afterDateTime", "endDateTime": "2026-02-30T00:00:00Z"}
		}), 400},
		{"number for endpointConfiguration", "POST", exts, extension(func(x map[string]any) { x["endpointConfiguration"] = 5 }), 400},
		{"number for @odata.type", "POST", exts, extension(func(x map[string]any) { x["@odata.type"] = 5 }), 400},
		{"object for @odata.type", "POST", exts, extension(func(x map[string]any) { x["@odata.type"] = map[string]any{} }), 400},
		{"huge timeoutInMilliseconds", "POST", exts, extension(func(x map[string]any) {
			x["clientConfiguration"] = map[string]any{"timeoutInMilliseconds": 1e30}
		}), 400},
		{"url without host", "POST", exts, extension(func(x map[string]any) { x["endpointConfiguration"].(map[string]any)["url"] = "https://" }), 400},
		{"url that does not parse", "POST", exts, extension(func(x map[string]any) { x["endpointConfiguration"].(map[string]any)["url"] = "http://[::1" }), 400},
		{"number for catalog id", "POST", emV1 + "/accessPackages", map[string]any{"displayName": "x", "catalog": map[string]any{"id": 1e308}}, 400},
		{"array for catalog", "POST", emV1 + "/accessPackages", map[string]any{"displayName": "x", "catalog": []any{}}, 400},
		{"beta catalogId a number", "POST", emBeta + "/accessPackages", map[string]any{"displayName": "x", "catalogId": 5}, 400},
		{"space as catalog id", "GET", emV1 + "/catalogs/%20", nil, 404},
		{"space as package id", "DELETE", emV1 + "/accessPackages/%20", nil, 404},
		{"space as extension id", "PUT", exts + "/%20", emRequestExtension("x"), 404},
		{"space as catalog of an extension", "POST", emV1 + "/catalogs/%20/customWorkflowExtensions", emRequestExtension("x"), 404},
		{"empty key", "GET", emV1 + "/catalogs('')", nil, 0},
		{"quote in key", "GET", emV1 + "/catalogs('a'b')", nil, 404},
		{"key syntax on the collection", "GET", emV1 + "/catalogs()", nil, 404},
		{"encoded slash in id", "GET", emV1 + "/catalogs/a%2Fb", nil, 404},
		{"NUL in id", "GET", emV1 + "/catalogs/a%00b", nil, 404},
		{"SQL in id", "GET", emV1 + "/accessPackages/'%20OR%20'1'='1", nil, 404},
		{"long id", "GET", emV1 + "/assignmentPolicies/" + strings.Repeat("x", 8000), nil, 404},
		{"unicode id", "GET", emV1 + "/catalogs/%F0%9F%9A%80", nil, 404},
		{"dot segments", "GET", emV1 + "/catalogs/../catalogs", nil, 0},
		{"unbalanced $expand", "GET", emV1 + "/assignmentPolicies?$expand=customExtensionStageSettings((((", nil, 400},
		{"closing parenthesis in $expand", "GET", emV1 + "/accessPackages?$expand=catalog)", nil, 400},
		{"empty $expand items", "GET", emV1 + "/accessPackages?$expand=,", nil, 400},
		{"deep $expand", "GET", emV1 + "/assignmentPolicies?$expand=customExtensionStageSettings($expand=customExtension($expand=customExtension($expand=customExtension)))", nil, 0},
		{"nested option other than $expand", "GET", emV1 + "/assignmentPolicies?$expand=questions($top=1)", nil, 400},
		{"empty $select items", "GET", emV1 + "/catalogs?$select=,,,", nil, 0},
		{"skiptoken after an odd id", "GET", emV1 + "/catalogs?$skiptoken=YWZ0ZXI6J08nUmVpbGx5", nil, 200},
		{"malformed query string", "GET", emV1 + "/catalogs?$top=%zz", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := a.call(t, tc.method, tc.path, tc.body)
			t.Logf("%s %.80s answered %d", tc.method, tc.path, resp.StatusCode)
			if resp.StatusCode >= 500 {
				t.Fatalf("%s %s answered %d: %s", tc.method, tc.path, resp.StatusCode, bodyOf(resp))
			}
			if tc.want != 0 && resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.want, bodyOf(resp))
			}
			if resp.StatusCode >= 400 {
				convEnvelope(t, resp, resp.StatusCode)
			}
		})
	}

	t.Run("unicode survives a round trip", func(t *testing.T) {
		name := "Ünïcødé 日本語 🚀 <b>&amp;</b> \u202e"
		id := emID(t, a.mustCall(t, "POST", emV1+"/catalogs", map[string]any{"displayName": name}, http.StatusCreated))
		got := a.mustCall(t, "GET", emV1+"/catalogs/"+id, nil, http.StatusOK)
		if got["displayName"] != name {
			t.Errorf("displayName %q, want %q", got["displayName"], name)
		}
	})
	t.Run("server still healthy", func(t *testing.T) {
		resp, _ := a.do(t, "GET", "/healthz", "", nil)
		wantStatus(t, resp, http.StatusOK)
	})
}

// A date the parser accepts but whose UTC form lies outside years 0–9999 must
// be refused, not fail when it is stored.
func TestConventionsDateOutsideYearRangeIsNot500(t *testing.T) {
	a := newEMAPI(t)
	w := a.world(t)
	for _, end := range []string{"9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+01:00"} {
		p := emMinimalPolicy(w.pkg, "Far future")
		p["expiration"] = map[string]any{"type": "afterDateTime", "endDateTime": end}
		a.refused(t, "POST", emV1+"/assignmentPolicies", p, "expiration.endDateTime")
	}
}

// writeJSON says "Graph writes <, > and & as they are", and error answers do;
// entities and lists must too.
func TestConventionsHTMLCharactersAreNotEscaped(t *testing.T) {
	a := newEMAPI(t)
	id := emID(t, a.mustCall(t, "POST", emV1+"/catalogs", map[string]any{"displayName": "<b>&</b>"}, http.StatusCreated))
	for _, path := range []string{emV1 + "/catalogs/" + id, emV1 + "/catalogs"} {
		resp, _ := a.call(t, "GET", path, nil)
		if raw := bodyOf(resp); !strings.Contains(raw, `"<b>&</b>"`) {
			t.Errorf("GET %s escapes HTML characters: %s", path, raw)
		}
	}
}

// Lists page by 100 unless $top says otherwise, and the next link finishes the list.
func TestConventionsDefaultPageSize(t *testing.T) {
	a := newEMAPI(t)
	var ids []string
	for i := range 101 {
		c, err := a.Svc.CreateCatalog(t.Context(), access.Caller{ObjectID: "seed"}, access.Catalog{DisplayName: "Catalog " + string(rune('A'+i%26))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	first := a.mustCall(t, "GET", emV1+"/catalogs", nil, http.StatusOK)
	items := emValue(t, first)
	if len(items) != 100 {
		t.Fatalf("first page has %d catalogs, want 100", len(items))
	}
	next, _ := first["@odata.nextLink"].(string)
	if next == "" {
		t.Fatalf("first page has no @odata.nextLink")
	}
	second := a.mustCall(t, "GET", next, nil, http.StatusOK)
	if _, ok := second["@odata.nextLink"]; ok {
		t.Errorf("last page has an @odata.nextLink")
	}
	emSame(t, "ids over both pages", ids, append(emIDs(items), emIDs(emValue(t, second))...))
}

// $select naming no property is refused as soon as an item shows it is
// unknown; an empty page has nothing to check against and answers 200
// (docs/decisions.md).
func TestConventionsSelectOfUnknownProperty(t *testing.T) {
	a := newEMAPI(t)
	resp, _ := a.call(t, "GET", emV1+"/catalogs?$select=nope", nil)
	wantStatus(t, resp, http.StatusOK)
	a.call(t, "POST", emV1+"/catalogs", map[string]any{"displayName": "One"})
	resp, _ = a.call(t, "GET", emV1+"/catalogs?$select=nope", nil)
	wantError(t, resp, http.StatusBadRequest, "invalidRequest")
}
