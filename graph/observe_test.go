package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/accessd/accessd/access"
)

// recordingObserver keeps every RequestEnd, and marks each request's
// context so that the test can tell the context it returned was used.
type recordingObserver struct {
	mu   sync.Mutex
	ends []RequestEnd
	ctxs []any
}

type observedKey struct{}

func (o *recordingObserver) RequestStarted(r *http.Request) context.Context {
	return context.WithValue(r.Context(), observedKey{}, r.URL.Path)
}

func (o *recordingObserver) RequestEnded(ctx context.Context, e RequestEnd) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ends = append(o.ends, e)
	o.ctxs = append(o.ctxs, ctx.Value(observedKey{}))
}

func (o *recordingObserver) last(t *testing.T) (RequestEnd, any) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.ends) == 0 {
		t.Fatal("the observer heard of no request")
	}
	return o.ends[len(o.ends)-1], o.ctxs[len(o.ctxs)-1]
}

func TestObserverSeesEachRequest(t *testing.T) {
	o := &recordingObserver{}
	a := newTestAPI(t, func(c *Config) { c.Observer = o })
	reader := a.appToken(t, "User.Read.All")
	caller, err := a.Issuer.Verify(t.Context(), reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, token string
		wantRoute                 string
		wantStatus                int
		wantCaller                bool
	}{
		{"a routed request names its pattern, not its path", "GET", "/v1.0/users/5d6f1e0a-0000-4000-8000-00000000dead", reader,
			"GET /v1.0/users/{id}", http.StatusNotFound, true},
		{"OData key syntax is routed as a key", "GET", "/v1.0/users('5d6f1e0a-0000-4000-8000-00000000dead')", reader,
			"GET /v1.0/users/{id}", http.StatusNotFound, true},
		{"a token without the permission still names its caller", "POST", "/v1.0/users", reader,
			"POST /v1.0/users", http.StatusForbidden, true},
		{"no token", "GET", "/v1.0/users", "", "GET /v1.0/users", http.StatusUnauthorized, false},
		{"an unknown path has no route", "GET", "/v1.0/nothing/here", reader, "", http.StatusNotFound, false},
		{"a wrong method has no route", "DELETE", "/healthz", "", "", http.StatusMethodNotAllowed, false},
		{"readyz", "GET", "/readyz", "", "GET /readyz", http.StatusOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := a.do(t, tc.method, tc.path, tc.token, nil)
			wantStatus(t, resp, tc.wantStatus)
			got, ctxValue := o.last(t)
			if got.Method != tc.method || got.Route != tc.wantRoute || got.Status != tc.wantStatus || got.Duration <= 0 {
				t.Errorf("observed %+v, want method %s, route %q, status %d and a duration", got, tc.method, tc.wantRoute, tc.wantStatus)
			}
			if ctxValue == nil {
				t.Error("RequestEnded got a context without what RequestStarted put in it")
			}
			wantCaller := access.Caller{}
			if tc.wantCaller {
				wantCaller = caller
			}
			if got.Caller.ObjectID != wantCaller.ObjectID || got.Caller.AppID != wantCaller.AppID {
				t.Errorf("observed caller %q/%q, want %q/%q", got.Caller.ObjectID, got.Caller.AppID, wantCaller.ObjectID, wantCaller.AppID)
			}
		})
	}
}

// The one log line per request names a verified caller by oid and appid
// (which accessd's own user tokens lack), also when it lacks the
// permission, and nobody when there is no valid token.
func TestLogLineNamesTheCaller(t *testing.T) {
	var logs syncBuffer
	a := newTestAPI(t, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	reader := a.appToken(t, "User.Read.All")
	u := a.newUser(t, "bob@contoso.test")
	bob := a.userToken(t, u.ID, "User.Read.All")
	for _, tc := range []struct {
		name, method, token string
		wantStatus          int
	}{
		{"an application", "GET", reader, http.StatusOK},
		{"a user", "GET", bob, http.StatusOK},
		{"without the permission", "POST", reader, http.StatusForbidden},
		{"no token", "GET", "", http.StatusUnauthorized},
		{"a bad token", "GET", "not-a-token", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.reset()
			resp, _ := a.do(t, tc.method, "/v1.0/users", tc.token, map[string]any{})
			wantStatus(t, resp, tc.wantStatus)
			line := logs.requestLine(t)
			want := map[string]any{}
			if tc.wantStatus != http.StatusUnauthorized {
				c, err := a.Issuer.Verify(t.Context(), tc.token)
				if err != nil {
					t.Fatal(err)
				}
				want["oid"] = c.ObjectID
				if c.AppID != "" {
					want["appid"] = c.AppID
				}
			}
			if tc.token == reader && want["appid"] == nil {
				t.Fatal("the application's token has no appid: the test proves nothing")
			}
			got := map[string]any{}
			for _, k := range []string{"oid", "appid"} {
				if v, ok := line[k]; ok {
					got[k] = v
				}
			}
			if len(got) != len(want) || got["oid"] != want["oid"] || got["appid"] != want["appid"] {
				t.Errorf("log line has %v, want %v; the line: %v", got, want, line)
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	engineStopped := errors.New("the engine is not running")
	for _, tc := range []struct {
		name       string
		engine     error
		closeStore bool
		wantStatus int
		want       map[string]any
	}{
		{"ready", nil, false, http.StatusOK, map[string]any{"status": "ready"}},
		{"a check fails", engineStopped, false, http.StatusServiceUnavailable,
			map[string]any{"status": "not ready", "failed": []any{"engine"}}},
		{"the database is closed", nil, true, http.StatusServiceUnavailable,
			map[string]any{"status": "not ready", "failed": []any{"database"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t, func(c *Config) {
				c.Readiness = []ReadinessCheck{{Name: "engine", Check: func(context.Context) error { return tc.engine }}}
			})
			if tc.closeStore {
				if err := a.Store.Close(); err != nil {
					t.Fatal(err)
				}
			}
			// Load balancers send no token; a bad one changes nothing either.
			for _, token := range []string{"", "garbage"} {
				resp, got := a.do(t, "GET", "/readyz", token, nil)
				wantStatus(t, resp, tc.wantStatus)
				wantJSON(t, "readyz", got, tc.want)
			}
		})
	}
}

func TestMetricsRoute(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("# metrics\n")) })
	for _, tc := range []struct {
		name       string
		handler    http.Handler
		wantStatus int
	}{
		{"served without a token", metrics, http.StatusOK},
		{"absent when served elsewhere", nil, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t, func(c *Config) { c.Metrics = tc.handler })
			resp, err := a.client.Do(a.request(t, "GET", "/metrics", "", nil))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			wantStatus(t, resp, tc.wantStatus)
		})
	}
}

// syncBuffer collects a server's log for a test to read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}

// requestLine is the one "request" log line written since the last reset.
func (b *syncBuffer) requestLine(t *testing.T) map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var found []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(b.b.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(raw), &line); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		if line["msg"] == "request" {
			found = append(found, line)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d request log lines, want 1:\n%s", len(found), b.b.String())
	}
	return found[0]
}
