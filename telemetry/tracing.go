package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/engine"
	"github.com/accessd/accessd/graph"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// StartTracing exports spans over OTLP/HTTP to the collector whose base
// URL is endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT names one: spans go to
// its /v1/traces. They are sent in batches from the background, so a slow
// collector does not slow requests; Shutdown sends what is left. The
// sampler and resource follow the usual OTEL_* variables, service.name
// being accessd unless OTEL_SERVICE_NAME says otherwise.
func StartTracing(ctx context.Context, endpoint, version string) (*sdktrace.TracerProvider, error) {
	traces, err := TracesURL(endpoint)
	if err != nil {
		return nil, err
	}
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(traces))
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "accessd"), attribute.String("service.version", version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("telemetry: trace resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res)), nil
}

// TracesURL is where OTLP/HTTP sends the spans of the collector at
// endpoint: endpoint's path followed by /v1/traces.
func TracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("telemetry: the OTLP endpoint %q must be an http or https URL such as http://localhost:4318", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	return u.String(), nil
}

// tracing makes the spans: nil in Telemetry when tracing is off, and then
// nothing of it runs.
type tracing struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

func newTracing(tp trace.TracerProvider) *tracing {
	if tp == nil {
		return nil
	}
	return &tracing{tracer: tp.Tracer("github.com/accessd/accessd"), propagator: propagation.TraceContext{}}
}

// startRequest begins a request's span, as the child of the caller's
// trace when its traceparent names one. Its name is the method until
// requestEnded knows the route.
func (tr *tracing) startRequest(r *http.Request) context.Context {
	ctx := tr.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, _ = tr.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
	return ctx
}

func (tr *tracing) endRequest(ctx context.Context, e graph.RequestEnd) {
	span := trace.SpanFromContext(ctx)
	if e.Route != "" {
		span.SetName(e.Route)
		span.SetAttributes(attribute.String("http.route", e.Route))
	}
	span.SetAttributes(attribute.Int("http.response.status_code", e.Status))
	if e.Caller.ObjectID != "" {
		span.SetAttributes(attribute.String("accessd.caller.oid", e.Caller.ObjectID))
	}
	if e.Caller.AppID != "" {
		span.SetAttributes(attribute.String("accessd.caller.appid", e.Caller.AppID))
	}
	if e.Status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(e.Status))
	}
	span.End()
}

// startTransaction begins a transaction's span inside a request's or a
// callout's. Transactions outside any span (the engine's claims, which
// poll every second) would each make a trace of their own: noise, so none.
func (tr *tracing) startTransaction(ctx context.Context, write bool) func(error) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return nil
	}
	name := "sqlstore.View"
	if write {
		name = "sqlstore.Update"
	}
	_, span := tr.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
	return func(err error) {
		if err != nil {
			span.SetAttributes(attribute.String("accessd.error.kind", access.KindOf(err).String()))
			// A not-found or a conflict is an answer, not a failure of the store.
			if access.KindOf(err) == access.KindInternal {
				span.SetStatus(codes.Error, err.Error())
			}
		}
		span.End()
	}
}

func (tr *tracing) startCallout(ctx context.Context, plan access.CalloutPlan) context.Context {
	w := plan.Work
	ctx, _ = tr.tracer.Start(ctx, "callout "+string(w.Stage), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("accessd.extension.id", plan.Extension.ID),
		attribute.String("accessd.callout.stage", string(w.Stage)),
		attribute.String("accessd.callout.instance_id", w.InstanceID),
		attribute.String("accessd.request.id", w.RequestID),
		attribute.String("accessd.assignment.id", w.AssignmentID)))
	return ctx
}

func (tr *tracing) calloutHeaders(ctx context.Context, h http.Header) {
	tr.propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

func (tr *tracing) endCallout(ctx context.Context, c engine.CalloutReport) {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("accessd.callout.outcome", string(c.Outcome)), attribute.Int("accessd.callout.attempts", c.Attempts))
	if c.Outcome != engine.CalloutOK {
		span.SetStatus(codes.Error, c.Err)
	}
	span.End()
}
