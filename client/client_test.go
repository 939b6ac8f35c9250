package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
)

const catalogsPath = "/v1.0/identityGovernance/entitlementManagement/catalogs"

func TestNewRefusesBadConfig(t *testing.T) {
	tokenFunc := func(context.Context) (string, error) { return "t", nil }
	for _, tc := range []struct {
		name string
		cfg  client.Config
		want string // in the error
	}{
		{"no base URL", client.Config{}, "is not an absolute http or https URL"},
		{"a relative base URL", client.Config{BaseURL: "127.0.0.1:8080"}, "is not an absolute http or https URL"},
		{"another scheme", client.Config{BaseURL: "ftp://accessd.test"}, "is not an absolute http or https URL"},
		{"a query", client.Config{BaseURL: "http://accessd.test/?x=1"}, "has a query or fragment"},
		{"two tokens", client.Config{BaseURL: "http://accessd.test", Token: "t", TokenFunc: tokenFunc}, "not both"},
		{"a negative page size", client.Config{BaseURL: "http://accessd.test", PageSize: -1}, "PageSize -1 is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%+v) = %v, %v; want an error naming %q", tc.cfg, c, err, tc.want)
			}
		})
	}
	t.Run("a trailing slash is dropped", func(t *testing.T) {
		c, err := client.New(client.Config{BaseURL: "http://accessd.test:8080/"})
		ok(t, err, "New")
		if got := c.BaseURL(); got != "http://accessd.test:8080" {
			t.Errorf("BaseURL() = %q", got)
		}
	})
}

// wantError checks that err is a *client.Error with the status, code and
// kind given, seen also through errors.As and access.KindOf.
func wantError(t *testing.T, err error, status int, code string, kind access.Kind) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *client.Error", err, err)
	}
	if e.Status != status || e.Code != code || e.Kind != kind {
		t.Errorf("status %d, code %q, kind %v; want %d, %q, %v", e.Status, e.Code, e.Kind, status, code, kind)
	}
	if got := access.KindOf(err); got != kind {
		t.Errorf("access.KindOf = %v, want %v", got, kind)
	}
	var ae *access.Error
	if !errors.As(err, &ae) || ae.Kind != kind || ae.Message != e.Message {
		t.Errorf("errors.As *access.Error = %+v, want kind %v and the message %q", ae, kind, e.Message)
	}
	return e
}

func TestErrorsFromAccessd(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, nil)
	ctx := context.Background()
	f := newFixture(t, c, nil)
	for _, tc := range []struct {
		name    string
		call    func(c *client.Client) error
		client  func(*client.Config)
		status  int
		code    string
		kind    access.Kind
		message string // in the message
	}{
		{name: "not found", status: 404, code: "itemNotFound", kind: access.KindNotFound, message: "no-such-catalog",
			call: func(c *client.Client) error { _, err := c.GetCatalog(ctx, "no-such-catalog"); return err }},
		{name: "invalid", status: 400, code: "invalidRequest", kind: access.KindInvalid, message: "displayName is required",
			call: func(c *client.Client) error { _, err := c.CreateCatalog(ctx, access.Catalog{}); return err }},
		{name: "no token", status: 401, code: "InvalidAuthenticationToken", kind: access.KindUnauthenticated, message: "no bearer token",
			client: func(cfg *client.Config) { cfg.Token = "" },
			call:   func(c *client.Client) error { _, err := c.ListCatalogs(ctx); return err }},
		{name: "no permission", status: 403, code: "accessDenied", kind: access.KindForbidden, message: "EntitlementManagement.ReadWrite.All",
			client: func(cfg *client.Config) { cfg.Token = w.appToken(t, "reader", "EntitlementManagement.Read.All") },
			call: func(c *client.Client) error {
				_, err := c.CreateCatalog(ctx, access.Catalog{DisplayName: "x"})
				return err
			}},
		{name: "wrong method", status: 405, code: "methodNotAllowed", kind: access.KindMethodNotAllowed, message: "PUT is not allowed",
			call: func(c *client.Client) error { return c.Do(ctx, http.MethodPut, catalogsPath, map[string]any{}, nil) }},
		{name: "conflict", status: 409, code: "conflict", kind: access.KindConflict, message: "still has 1 access package",
			call: func(c *client.Client) error { return c.DeleteCatalog(ctx, f.catalog) }},
		{name: "too large", status: 413, code: "requestTooLarge", kind: access.KindTooLarge, message: "larger than",
			call: func(c *client.Client) error {
				return c.Do(ctx, http.MethodPost, catalogsPath, map[string]string{"displayName": strings.Repeat("x", 2<<20)}, nil)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(w.client(t, tc.client))
			e := wantError(t, err, tc.status, tc.code, tc.kind)
			if !strings.Contains(e.Message, tc.message) {
				t.Errorf("message %q does not contain %q", e.Message, tc.message)
			}
			if e.RequestID == "" {
				t.Error("no request id")
			}
			if !strings.Contains(err.Error(), e.Message) || !strings.Contains(err.Error(), tc.code) {
				t.Errorf("Error() = %q lacks the code or the message", err.Error())
			}
		})
	}
}

// A proxy in front of accessd may answer with its own error page; the
// client still reports the status, with the start of the page.
func TestErrorsFromAProxy(t *testing.T) {
	page := "<html>\n<body>" + strings.Repeat("Bad gateway é ", 40) + "</body>\n</html>"
	for _, tc := range []struct {
		name   string
		status int
		body   string
		kind   access.Kind
		want   string // the message
	}{
		{"an error page", http.StatusBadGateway, page, access.KindInternal, ""},
		{"a plain 429", http.StatusTooManyRequests, "slow down\n", access.KindThrottled, "slow down"},
		{"no body", http.StatusServiceUnavailable, "", access.KindInternal, "Service Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			t.Cleanup(proxy.Close)
			c, err := client.New(client.Config{BaseURL: proxy.URL, Token: "t"})
			ok(t, err, "New")
			_, err = c.ListCatalogs(context.Background())
			e := wantError(t, err, tc.status, "", tc.kind)
			if tc.want != "" && e.Message != tc.want {
				t.Errorf("message %q, want %q", e.Message, tc.want)
			}
			if tc.want == "" {
				if !strings.HasPrefix(e.Message, "<html> <body>Bad gateway") || !strings.HasSuffix(e.Message, "…") ||
					len(e.Message) > 210 || !utf8.ValidString(e.Message) {
					t.Errorf("message %q is not a one-line excerpt of the page", e.Message)
				}
			}
		})
	}
}

func TestClientRequestID(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, nil)
	ctx := client.WithClientRequestID(context.Background(), "my-call-1")
	_, err := c.GetCatalog(ctx, "no-such-catalog")
	e := wantError(t, err, 404, "itemNotFound", access.KindNotFound)
	if e.ClientRequestID != "my-call-1" {
		t.Errorf("ClientRequestID %q, want my-call-1", e.ClientRequestID)
	}
	resp, err := c.Raw(ctx, http.MethodGet, catalogsPath, nil)
	ok(t, err, "Raw")
	if got := resp.Header.Get("client-request-id"); got != "my-call-1" {
		t.Errorf("client-request-id answered %q, want my-call-1", got)
	}
	resp, err = c.Raw(context.Background(), http.MethodGet, catalogsPath, nil)
	ok(t, err, "Raw")
	if got := resp.Header.Get("client-request-id"); got == "my-call-1" || got != resp.Header.Get("request-id") {
		t.Errorf("without an id of ours, client-request-id is %q; want accessd's request-id %q", got, resp.Header.Get("request-id"))
	}
}

func TestRawAndDo(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{}
	c := w.client(t, func(cfg *client.Config) { cfg.HTTPClient = &http.Client{Transport: rec} })
	ctx := context.Background()

	t.Run("Raw returns an error answer as it came", func(t *testing.T) {
		resp, err := c.Raw(ctx, http.MethodGet, catalogsPath+"/no-such-catalog", nil)
		ok(t, err, "Raw")
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if resp.Status != 404 || json.Unmarshal(resp.Body, &env) != nil || env.Error.Code != "itemNotFound" {
			t.Fatalf("Raw = %d %s", resp.Status, resp.Body)
		}
		if resp.Header.Get("request-id") == "" {
			t.Error("no request-id header")
		}
	})
	t.Run("bytes go as they are", func(t *testing.T) {
		body := []byte(`{"displayName": "Bytes", "description": "sent as is"}`)
		resp, err := c.Raw(ctx, http.MethodPost, catalogsPath, body)
		ok(t, err, "Raw")
		if resp.Status != 201 || !bytes.Contains(resp.Body, []byte(`"displayName":"Bytes"`)) {
			t.Fatalf("Raw = %d %s", resp.Status, resp.Body)
		}
		req, sent := rec.last(t)
		if !bytes.Equal(sent, body) || req.Header.Get("Content-Type") != "application/json" ||
			req.Header.Get("Authorization") != "Bearer "+w.token {
			t.Errorf("sent %s with headers %v", sent, req.Header)
		}
	})
	t.Run("Do sends raw JSON and decodes the answer", func(t *testing.T) {
		var out struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
		}
		err := c.Do(ctx, http.MethodPost, catalogsPath, json.RawMessage(`{"displayName":"Raw"}`), &out)
		ok(t, err, "Do")
		if out.ID == "" || out.DisplayName != "Raw" {
			t.Errorf("decoded %+v", out)
		}
		ok(t, c.Do(ctx, http.MethodDelete, catalogsPath+"/"+out.ID, nil, &out), "Do DELETE (204 into out)")
		if out.DisplayName != "Raw" {
			t.Errorf("an empty 204 changed out to %+v", out)
		}
		req, sent := rec.last(t)
		if len(sent) != 0 || req.Header.Get("Content-Type") != "" {
			t.Errorf("a call without a body sent %q with Content-Type %q", sent, req.Header.Get("Content-Type"))
		}
	})
	t.Run("an absolute URL under the base URL", func(t *testing.T) {
		resp, err := c.Raw(ctx, http.MethodGet, w.URL+catalogsPath, nil)
		ok(t, err, "Raw")
		if resp.Status != 200 {
			t.Errorf("status %d", resp.Status)
		}
	})
	for _, path := range []string{"v1.0/users", "https://elsewhere.test/v1.0/users", w.URL + "evil.test/v1.0/users"} {
		t.Run("refuses "+path, func(t *testing.T) {
			before := rec.count()
			if _, err := c.Raw(ctx, http.MethodGet, path, nil); err == nil {
				t.Fatal("no error")
			}
			if rec.count() != before {
				t.Error("the call went out")
			}
		})
	}
	t.Run("a body that cannot be JSON", func(t *testing.T) {
		err := c.Do(ctx, http.MethodPost, catalogsPath, map[string]any{"f": func() {}}, nil)
		if err == nil || !strings.Contains(err.Error(), "encoding the body") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("empty ids", func(t *testing.T) {
		before := rec.count()
		if _, err := c.GetCatalog(ctx, ""); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Errorf("GetCatalog(\"\") = %v", err)
		}
		if err := c.DeleteCustomExtension(ctx, "x", " "); err == nil {
			t.Error("DeleteCustomExtension with a blank id did not fail")
		}
		if rec.count() != before {
			t.Error("a call with an empty id went out")
		}
	})
}

func TestGzip(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{}
	c := w.client(t, func(cfg *client.Config) { cfg.Gzip = true; cfg.HTTPClient = &http.Client{Transport: rec} })
	ctx := context.Background()
	created, err := c.CreateCatalog(ctx, access.Catalog{DisplayName: "Ventes Île-de-France", Description: strings.Repeat("compressible ", 100)})
	ok(t, err, "CreateCatalog")
	req, sent := rec.last(t)
	if req.Header.Get("Content-Encoding") != "gzip" || len(sent) < 2 || sent[0] != 0x1f || sent[1] != 0x8b {
		t.Fatalf("the body went out with Content-Encoding %q, starting % x", req.Header.Get("Content-Encoding"), sent[:min(len(sent), 4)])
	}
	if len(sent) > 400 {
		t.Errorf("%d bytes sent; the body was not compressed", len(sent))
	}
	got, err := c.GetCatalog(ctx, created.ID)
	ok(t, err, "GetCatalog")
	if got.DisplayName != "Ventes Île-de-France" || got.Description != strings.Repeat("compressible ", 100) {
		t.Errorf("accessd stored %q / %q", got.DisplayName, got.Description)
	}
	if req, _ := rec.last(t); req.Header.Get("Content-Encoding") != "" {
		t.Errorf("a GET went out with Content-Encoding %q", req.Header.Get("Content-Encoding"))
	}
}

func TestTokenFunc(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	t.Run("asked before every call", func(t *testing.T) {
		calls := 0
		c := w.client(t, func(cfg *client.Config) {
			cfg.Token = ""
			cfg.TokenFunc = func(context.Context) (string, error) {
				calls++
				if calls == 3 {
					return "expired-or-forged", nil
				}
				return w.token, nil
			}
		})
		_, err := c.ListCatalogs(ctx)
		ok(t, err, "first call")
		_, err = c.CreateCatalog(ctx, access.Catalog{DisplayName: "Second"})
		ok(t, err, "second call")
		_, err = c.ListCatalogs(ctx)
		wantError(t, err, 401, "InvalidAuthenticationToken", access.KindUnauthenticated)
		if calls != 3 {
			t.Errorf("the token function was called %d times for 3 calls", calls)
		}
	})
	t.Run("its error stops the call", func(t *testing.T) {
		rec := &recorder{}
		noToken := errors.New("the vault is sealed")
		c := w.client(t, func(cfg *client.Config) {
			cfg.Token, cfg.HTTPClient = "", &http.Client{Transport: rec}
			cfg.TokenFunc = func(context.Context) (string, error) { return "", noToken }
		})
		_, err := c.ListCatalogs(ctx)
		if !errors.Is(err, noToken) {
			t.Errorf("got %v, want the token function's error", err)
		}
		if rec.count() != 0 {
			t.Error("the call went out without a token")
		}
	})
}

func TestPaging(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	rec := &recorder{}
	c := w.client(t, func(cfg *client.Config) { cfg.PageSize = 1; cfg.HTTPClient = &http.Client{Transport: rec} })
	var want []string
	for _, upn := range []string{"ann@contoso.test", "ben@contoso.test", "cat@contoso.test"} {
		want = append(want, newUser(t, c, upn).ID)
	}

	before := rec.count()
	users, err := c.ListUsers(ctx)
	ok(t, err, "ListUsers")
	var got []string
	for _, u := range users {
		got = append(got, u.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("ListUsers = %v, want %v", got, want)
	}
	if n := rec.count() - before; n != 3 {
		t.Errorf("%d calls for 3 users one per page, want 3", n)
	}
	if req, _ := rec.last(t); !strings.Contains(req.URL.RawQuery, "skiptoken") || !strings.Contains(req.URL.RawQuery, "top=1") {
		t.Errorf("the last page was asked for with %q, not by its nextLink", req.URL.RawQuery)
	}

	t.Run("a filter is kept across pages", func(t *testing.T) {
		f := newFixture(t, c, nil)
		for _, id := range want {
			_, err := c.SubmitRequest(ctx, f.addFor(id))
			ok(t, err, "SubmitRequest")
		}
		reqs, err := c.ListRequests(ctx, "state eq 'delivered'")
		ok(t, err, "ListRequests")
		if len(reqs) != 3 {
			t.Fatalf("%d delivered requests, want 3", len(reqs))
		}
		none, err := c.ListRequests(ctx, "state eq 'denied'")
		ok(t, err, "ListRequests")
		if len(none) != 0 {
			t.Errorf("%d denied requests, want none", len(none))
		}
	})

	t.Run("a nextLink that is not under the base URL", func(t *testing.T) {
		// accessd writes nextLinks under its public URL, 127.0.0.1; this client calls it as localhost.
		other := w.client(t, func(cfg *client.Config) {
			cfg.BaseURL, cfg.PageSize = strings.Replace(w.URL, "127.0.0.1", "localhost", 1), 1
		})
		_, err := other.ListUsers(ctx)
		if err == nil || !strings.Contains(err.Error(), "is not under the base URL") {
			t.Errorf("got %v", err)
		}
	})
}
