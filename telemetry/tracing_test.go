package telemetry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/engine"
	"github.com/accessd/accessd/graph"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// traced is a Telemetry whose spans end up in the returned exporter.
func traced(t *testing.T) (*Telemetry, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return New(quiet, tp), exp
}

// spanNamed finds the one ended span of that name.
func spanNamed(t *testing.T, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d ended spans named %q, want 1; all: %v", len(found), name, names(exp.GetSpans()))
	}
	return found[0]
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func attr(s tracetest.SpanStub, key string) attribute.Value {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// A request continues its caller's trace; the transactions it runs are
// its children; its span is named by its route once known.
func TestRequestSpan(t *testing.T) {
	tel, exp := traced(t)
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	r := httptest.NewRequest("POST", "/v1.0/identityGovernance/entitlementManagement/assignmentRequests", nil)
	r.Header.Set("traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")

	ctx := tel.RequestStarted(r)
	tel.TransactionStarted(ctx, false)(nil)
	tel.TransactionStarted(ctx, true)(access.Internal(errors.New("disk full")))
	tel.RequestEnded(ctx, graph.RequestEnd{Method: "POST", Route: "POST /v1.0/identityGovernance/entitlementManagement/assignmentRequests",
		Status: 500, Duration: time.Millisecond, Caller: access.Caller{ObjectID: "oid-1", AppID: "app-1"}})

	req := spanNamed(t, exp, "POST /v1.0/identityGovernance/entitlementManagement/assignmentRequests")
	if req.SpanContext.TraceID().String() != callerTrace || req.Parent.SpanID().String() != callerSpan || !req.Parent.IsRemote() {
		t.Errorf("request span in trace %s under %s, want the caller's %s under %s", req.SpanContext.TraceID(), req.Parent.SpanID(), callerTrace, callerSpan)
	}
	if req.SpanKind != trace.SpanKindServer || req.Status.Code != codes.Error {
		t.Errorf("request span kind %v, status %v; want server, error (a 500)", req.SpanKind, req.Status.Code)
	}
	for key, want := range map[string]attribute.Value{
		"http.route":                attribute.StringValue("POST /v1.0/identityGovernance/entitlementManagement/assignmentRequests"),
		"http.response.status_code": attribute.IntValue(500),
		"accessd.caller.oid":        attribute.StringValue("oid-1"),
		"accessd.caller.appid":      attribute.StringValue("app-1"),
	} {
		if got := attr(req, key); got != want {
			t.Errorf("request span %s = %v, want %v", key, got.Emit(), want.Emit())
		}
	}
	for _, tc := range []struct {
		name   string
		status codes.Code
	}{{"sqlstore.View", codes.Unset}, {"sqlstore.Update", codes.Error}} {
		tx := spanNamed(t, exp, tc.name)
		if tx.Parent.SpanID() != req.SpanContext.SpanID() {
			t.Errorf("%s is not the request's child", tc.name)
		}
		if tx.Status.Code != tc.status {
			t.Errorf("%s status %v, want %v", tc.name, tx.Status.Code, tc.status)
		}
	}
}

// A transaction outside any span (the engine's claims) makes none.
func TestTransactionOutsideASpan(t *testing.T) {
	tel, exp := traced(t)
	if ended := tel.TransactionStarted(context.Background(), true); ended != nil {
		ended(nil)
		t.Errorf("a transaction outside any span made spans %v", names(exp.GetSpans()))
	}
}

var traceparentForm = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-01$`)

// Each attempt of a callout carries the callout span's traceparent.
func TestCalloutSpanAndTraceparent(t *testing.T) {
	for _, tc := range []struct {
		outcome    engine.CalloutOutcome
		wantStatus codes.Code
	}{{engine.CalloutOK, codes.Unset}, {engine.CalloutNoAnswer, codes.Error}} {
		t.Run(string(tc.outcome), func(t *testing.T) {
			tel, exp := traced(t)
			plan := access.CalloutPlan{Extension: access.CustomExtension{ID: "x1"},
				Work: access.Work{Stage: access.StageRequestCreated, InstanceID: "inst-1", RequestID: "req-1"}}
			ctx := tel.CalloutStarted(context.Background(), plan)
			h := http.Header{}
			tel.CalloutHeaders(ctx, h)
			tel.CalloutEnded(ctx, engine.CalloutReport{ExtensionID: "x1", Outcome: tc.outcome, Attempts: 1, Err: "refused"})

			span := spanNamed(t, exp, "callout assignmentRequestCreated")
			m := traceparentForm.FindStringSubmatch(h.Get("traceparent"))
			if m == nil {
				t.Fatalf("traceparent %q is not a sampled W3C trace context", h.Get("traceparent"))
			}
			if m[1] != span.SpanContext.TraceID().String() || m[2] != span.SpanContext.SpanID().String() {
				t.Errorf("traceparent %s names another span than the callout's %s", h.Get("traceparent"), span.SpanContext.SpanID())
			}
			if span.SpanKind != trace.SpanKindClient || span.Status.Code != tc.wantStatus {
				t.Errorf("callout span kind %v, status %v; want client, %v", span.SpanKind, span.Status.Code, tc.wantStatus)
			}
			for key, want := range map[string]attribute.Value{
				"accessd.extension.id":        attribute.StringValue("x1"),
				"accessd.callout.instance_id": attribute.StringValue("inst-1"),
				"accessd.callout.outcome":     attribute.StringValue(string(tc.outcome)),
			} {
				if got := attr(span, key); got != want {
					t.Errorf("callout span %s = %v, want %v", key, got.Emit(), want.Emit())
				}
			}
		})
	}
}

// Without a tracer provider nothing is traced: contexts pass through and
// callouts carry no traceparent.
func TestTracingOff(t *testing.T) {
	tel := New(quiet, nil)
	r := httptest.NewRequest("GET", "/healthz", nil)
	if ctx := tel.RequestStarted(r); ctx != r.Context() {
		t.Error("RequestStarted changed the context with tracing off")
	}
	ctx := context.Background()
	if got := tel.CalloutStarted(ctx, access.CalloutPlan{}); got != ctx {
		t.Error("CalloutStarted changed the context with tracing off")
	}
	h := http.Header{}
	tel.CalloutHeaders(ctx, h)
	if len(h) != 0 {
		t.Errorf("callout headers %v with tracing off, want none", h)
	}
}

func TestTracesURL(t *testing.T) {
	for _, tc := range []struct{ endpoint, want string }{
		{"http://localhost:4318", "http://localhost:4318/v1/traces"},
		{"http://localhost:4318/", "http://localhost:4318/v1/traces"},
		{"https://collector.example.com/otlp", "https://collector.example.com/otlp/v1/traces"},
		{"localhost:4318", ""},
		{"ftp://collector", ""},
		{"http://collector?x=1", ""},
	} {
		got, err := TracesURL(tc.endpoint)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("TracesURL(%q) = %q, %v; want %q", tc.endpoint, got, err, tc.want)
		}
	}
}
