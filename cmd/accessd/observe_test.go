package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
	"github.com/accessd/accessd/engine"
	"github.com/accessd/accessd/graph"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// scrapeMetrics reads url's /metrics, without a token, as series
// name{labels} → value.
func scrapeMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	series := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return series
}

// wantMetrics fails the test unless each series has the value.
func wantMetrics(t *testing.T, when string, got map[string]float64, want map[string]float64) {
	t.Helper()
	for name, v := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s: no series %s", when, name)
		} else if g != v {
			t.Errorf("%s: %s = %v, want %v", when, name, g, v)
		}
	}
}

// calloutCatcher is an extension that accepts every callout and remembers
// each one's request and instance.
type calloutCatcher struct {
	mu       sync.Mutex
	received map[string]string // request id → instance id
	headers  map[string]http.Header
}

func (c *calloutCatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var payload struct {
		RequestID  string `json:"AccessPackageAssignmentRequestId"`
		InstanceID string `json:"CustomExtensionStageInstanceId"`
	}
	json.NewDecoder(r.Body).Decode(&payload)
	c.mu.Lock()
	c.received[payload.RequestID] = payload.InstanceID
	c.headers[payload.RequestID] = r.Header.Clone()
	c.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (c *calloutCatcher) instance(requestID string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.received[requestID]
	return id, ok
}

func newCalloutCatcher(t *testing.T) (*calloutCatcher, string) {
	t.Helper()
	c := &calloutCatcher{received: map[string]string{}, headers: map[string]http.Header{}}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv.URL
}

// The metrics of a running accessd follow one request from submission,
// through a launch-and-wait callout and its callback, to delivery.
func TestMetricsShowALifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	db := storetest.DSN(t, storetest.Backend())
	srv := startServer(t, bin, "--database", db, "--callout-allow-private")
	token := mintToken(t, bin, db, "--app", "metrics", "--roles", "EntitlementManagement.ReadWrite.All,Directory.ReadWrite.All")
	api := apiClient(t, srv.url, token)
	ctx := t.Context()
	catcher, extURL := newCalloutCatcher(t)

	catalog, err := api.CreateCatalog(ctx, access.Catalog{DisplayName: "Sales"})
	must(t, err, "create catalog")
	ext, err := api.CreateCustomExtension(ctx, catalog.ID, requestExtension("Check", extURL+"/callout", "PT5M"))
	must(t, err, "create extension")
	pkg, err := api.CreateAccessPackage(ctx, access.AccessPackage{DisplayName: "Sales tools", CatalogID: catalog.ID})
	must(t, err, "create package")
	policy, err := api.CreateAssignmentPolicy(ctx, map[string]any{
		"displayName": "Employees", "accessPackage": map[string]any{"id": pkg.ID}, "allowedTargetScope": "allMemberUsers",
		"customExtensionStageSettings": []any{map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": ext.ID}}},
	})
	must(t, err, "create policy")
	requestID := submit(t, api, createUser(t, api, "Bob", "bob@contoso.test"), pkg.ID, policy.ID)

	// Waiting: the callout went out and was answered, the callback is awaited.
	var instanceID string
	waitFor(t, "the callout's answer to be recorded", func() bool {
		r, err := api.GetRequest(ctx, requestID)
		must(t, err, "get request")
		instanceID, _ = catcher.instance(requestID)
		return len(r.Callouts) == 1 && r.Callouts[0].Status == access.WaitingForCallback
	})
	requests := emPath + "/assignmentRequests"
	callouts := fmt.Sprintf(`accessd_callouts_total{extension=%q,outcome="ok"}`, ext.ID)
	wantMetrics(t, "while waiting", scrapeMetrics(t, srv.url+"/metrics"), map[string]float64{
		`accessd_http_requests_total{route="POST ` + requests + `",status="201"}`:    1,
		`accessd_http_request_duration_seconds_count{route="POST ` + requests + `"}`: 1,
		callouts: 1,
		fmt.Sprintf(`accessd_callout_duration_seconds_count{extension=%q}`, ext.ID): 1,
		`accessd_work_finished_total{kind="callout",outcome="done"}`:                1,
		`accessd_requests_waiting_for_callback`:                                     1,
		`accessd_work_scheduled{kind="callbackTimeout"}`:                            1,
		`accessd_work_due{kind="callout"}`:                                          0,
		`accessd_timers_due`:                                                        0,
	})

	// The callback arrives and the request is delivered.
	resp := raw(t, api, "POST", requests+"/"+requestID+"/resume", map[string]any{
		"data": map[string]any{"customExtensionStageInstanceId": instanceID, "stage": "assignmentRequestCreated"}})
	if resp.Status != http.StatusNoContent {
		t.Fatalf("resume: %d %s", resp.Status, resp.Body)
	}
	waitFor(t, "the request to be delivered", func() bool {
		r, err := api.GetRequest(ctx, requestID)
		must(t, err, "get request")
		return r.State == access.StateDelivered
	})
	after := scrapeMetrics(t, srv.url+"/metrics")
	wantMetrics(t, "once delivered", after, map[string]float64{
		`accessd_http_requests_total{route="POST ` + requests + `/{id}/resume",status="204"}`: 1,
		`accessd_http_requests_total{route="GET /metrics",status="200"}`:                      1, // the scrape before
		callouts:                                1,
		`accessd_requests_waiting_for_callback`: 0,
		`accessd_work_scheduled{kind="callbackTimeout"}`: 0,
		`accessd_work_due{kind="callout"}`:               0,
	})
	for _, kind := range access.WorkKinds {
		if v := after[fmt.Sprintf(`accessd_work_oldest_due_age_seconds{kind=%q}`, kind)]; v != 0 {
			t.Errorf("the oldest %s work is %vs overdue, want nothing due", kind, v)
		}
	}
	if storetest.Backend() == storetest.SQLite && after["accessd_sqlite_group_commit_transactions_count"] < 1 {
		t.Errorf("the SQLite writer reported %v group commits, want some", after["accessd_sqlite_group_commit_transactions_count"])
	}
	if _, ok := after["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	srv.stop(t)
}

// --metrics-addr moves /metrics to a listener of its own; /readyz stays on
// the API's, and neither needs a token.
func TestMetricsAddrMovesMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, tc := range []struct {
		name        string
		metricsAddr string
	}{
		{"on the API's listener", ""},
		{"on a listener of its own", freeAddr(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--database", storetest.DSN(t, storetest.Backend())}
			if tc.metricsAddr != "" {
				args = append(args, "--metrics-addr", tc.metricsAddr)
			}
			srv := startServer(t, bin, args...)
			anonymous := apiClient(t, srv.url, "")
			var ready client.Response
			waitFor(t, "/readyz to answer 200", func() bool {
				ready = raw(t, anonymous, "GET", "/readyz", nil)
				return ready.Status == http.StatusOK
			})
			if string(ready.Body) != `{"status":"ready"}` {
				t.Errorf("/readyz: %s, want {\"status\":\"ready\"}", ready.Body)
			}
			onAPI := raw(t, anonymous, "GET", "/metrics", nil).Status
			switch {
			case tc.metricsAddr == "" && onAPI != http.StatusOK:
				t.Errorf("/metrics on the API's listener: %d, want 200", onAPI)
			case tc.metricsAddr != "" && onAPI != http.StatusNotFound:
				t.Errorf("/metrics on the API's listener with --metrics-addr: %d, want 404", onAPI)
			case tc.metricsAddr != "":
				got := scrapeMetrics(t, "http://"+tc.metricsAddr+"/metrics")
				// It counts the API's requests, the /readyz calls among them.
				if got[`accessd_http_requests_total{route="GET /readyz",status="200"}`] < 1 {
					t.Errorf("the metrics listener shows no /readyz request")
				}
			}
			srv.stop(t)
		})
	}
}

// /readyz of a server wired as serve wires it: not ready until the engine
// runs, ready while it does, not ready once it stopped or the database closed.
func TestReadinessOfStoreAndEngine(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := storetest.OpenStore(t, storetest.Backend(), sqlstore.Options{Logger: quiet})
	clock := access.SystemClock{}
	ids := &access.TimeOrderedIDs{Clock: clock}
	svc := access.NewService(store, clock, ids)
	eng := engine.New(engine.Config{Service: svc, Clock: clock, IDs: ids, Logger: quiet, Poll: 10 * time.Millisecond})
	api := httptest.NewServer(graph.NewServer(graph.Config{Service: svc, Logger: quiet, Clock: clock, IDs: ids,
		OpenIDConfiguration: func() []byte { return nil }, JWKS: func() []byte { return nil }, JWKSPath: identity.JWKSPath,
		Readiness: readiness(store, eng)}))
	t.Cleanup(api.Close)

	var stopEngine func()
	for _, step := range []struct {
		name   string
		act    func()
		status int
		body   string
	}{
		{"before the engine runs", func() {}, 503, `{"failed":["engine"],"status":"not ready"}`},
		{"while it runs", func() {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { eng.Run(ctx); close(done) }()
			stopEngine = func() { cancel(); <-done }
			waitFor(t, "the engine to run", eng.Running)
		}, 200, `{"status":"ready"}`},
		{"once it stopped", func() { stopEngine() }, 503, `{"failed":["engine"],"status":"not ready"}`},
		{"the database closed", func() { store.Close() }, 503, `{"failed":["database","migrations","engine"],"status":"not ready"}`},
	} {
		step.act()
		resp, err := http.Get(api.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != step.status || strings.TrimSpace(string(body)) != step.body {
			t.Errorf("%s: /readyz %d %s, want %d %s", step.name, resp.StatusCode, body, step.status, step.body)
		}
	}
}

// otlpReceiver stands in for an OpenTelemetry collector: it keeps the
// spans accessd exports over OTLP/HTTP.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	paths []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err == nil && r.Header.Get("Content-Encoding") == "gzip" {
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
			body, err = io.ReadAll(zr)
		}
	}
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.paths = append(o.paths, r.URL.Path)
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(nil)
}

func (o *otlpReceiver) span(traceID, spanID string) (*tracepb.Span, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.spans {
		if hex.EncodeToString(s.TraceId) == traceID && hex.EncodeToString(s.SpanId) == spanID {
			return s, o.paths
		}
	}
	return nil, o.paths
}

// With --otel-endpoint, a callout carries its span's traceparent to the
// extension, and the span reaches the collector when accessd stops.
func TestTracingSendsTraceparentToExtensions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	receiver := &otlpReceiver{}
	collector := httptest.NewServer(receiver)
	t.Cleanup(collector.Close)
	bin := buildBinary(t)
	db := storetest.DSN(t, storetest.Backend())
	srv := startServer(t, bin, "--database", db, "--otel-endpoint", collector.URL, "--callout-allow-private")
	token := mintToken(t, bin, db, "--app", "tracing", "--roles", "EntitlementManagement.ReadWrite.All,Directory.ReadWrite.All")
	api := apiClient(t, srv.url, token)
	ctx := t.Context()
	catcher, extURL := newCalloutCatcher(t)

	catalog, err := api.CreateCatalog(ctx, access.Catalog{DisplayName: "Sales"})
	must(t, err, "create catalog")
	ext, err := api.CreateCustomExtension(ctx, catalog.ID, requestExtension("Notify", extURL+"/callout", ""))
	must(t, err, "create extension")
	pkg, err := api.CreateAccessPackage(ctx, access.AccessPackage{DisplayName: "Sales tools", CatalogID: catalog.ID})
	must(t, err, "create package")
	policy, err := api.CreateAssignmentPolicy(ctx, map[string]any{
		"displayName": "Employees", "accessPackage": map[string]any{"id": pkg.ID}, "allowedTargetScope": "allMemberUsers",
		"customExtensionStageSettings": []any{map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": ext.ID}}},
	})
	must(t, err, "create policy")
	requestID := submit(t, api, createUser(t, api, "Bob", "bob@contoso.test"), pkg.ID, policy.ID)
	waitFor(t, "the callout", func() bool { _, ok := catcher.instance(requestID); return ok })

	catcher.mu.Lock()
	traceparent := catcher.headers[requestID].Get("traceparent")
	catcher.mu.Unlock()
	m := regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-01$`).FindStringSubmatch(traceparent)
	if m == nil || m[1] == strings.Repeat("0", 32) || m[2] == strings.Repeat("0", 16) {
		t.Fatalf("the extension got traceparent %q, want a valid, sampled W3C trace context", traceparent)
	}
	srv.stop(t) // sends the spans still batched
	span, paths := receiver.span(m[1], m[2])
	if span == nil {
		t.Fatalf("the collector got no span %s in trace %s (requests to %v)", m[2], m[1], paths)
	}
	if span.Name != "callout assignmentRequestCreated" || span.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("the traceparent's span is %q of kind %v, want the callout's client span", span.Name, span.Kind)
	}
	for _, p := range paths {
		if p != "/v1/traces" {
			t.Errorf("spans sent to %s, want /v1/traces", p)
		}
	}
}
