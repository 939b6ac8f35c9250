// Package telemetry shows operators what accessd does: Prometheus metrics
// and, when asked for, OpenTelemetry traces. It implements the small
// observer interfaces of graph, engine and sqlstore, which know neither
// Prometheus nor OpenTelemetry, and cmd/accessd wires it to them. The
// metrics' names and labels are listed in docs/decisions.md.
package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/engine"
	"github.com/accessd/accessd/graph"
	"github.com/accessd/accessd/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
)

// Telemetry is accessd's metrics registry and tracer, and the observer
// that feeds them. It is safe for concurrent use.
type Telemetry struct {
	registry *prometheus.Registry
	log      *slog.Logger
	tracing  *tracing // nil: tracing is off

	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	callouts        *prometheus.CounterVec
	calloutDuration *prometheus.HistogramVec
	workFinished    *prometheus.CounterVec
	writerBusy      prometheus.Counter
	groupCommits    prometheus.Histogram
	racesLost       prometheus.Counter

	// requestSeries remembers each route and status's series: Prometheus
	// finds a series by hashing its label values byte by byte, which for
	// route patterns of 80 characters was most of the cost of a request's
	// metrics. Routes and statuses are few, so the map stays small.
	requestSeriesMu sync.RWMutex
	requestSeries   map[requestKey]requestSeries
}

type requestKey struct {
	route  string
	status int
}

type requestSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

var (
	_ graph.Observer    = (*Telemetry)(nil)
	_ engine.Observer   = (*Telemetry)(nil)
	_ sqlstore.Observer = (*Telemetry)(nil)
)

// unmatchedRoute labels the requests no route served (404, 405).
const unmatchedRoute = "unmatched"

// New registers accessd's metrics, and Go's and the process's, in a
// registry of their own. log receives failures to collect. With a tracer
// provider, requests, transactions within them, and callouts become spans,
// and callouts send their traceparent; with nil, tracing costs nothing.
func New(log *slog.Logger, tp trace.TracerProvider) *Telemetry {
	t := &Telemetry{
		registry:      prometheus.NewRegistry(),
		log:           log,
		tracing:       newTracing(tp),
		requestSeries: map[requestKey]requestSeries{},
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "accessd_http_requests_total",
			Help: "HTTP requests answered, by route pattern (unmatched for 404 and 405 without a route) and status.",
		}, []string{"route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "accessd_http_request_duration_seconds",
			Help:    "How long HTTP requests took to answer, by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		callouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "accessd_callouts_total",
			Help: "Callouts to custom extensions whose attempts are over, by extension id and outcome (ok, error_status, no_answer, not_sent).",
		}, []string{"extension", "outcome"}),
		calloutDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "accessd_callout_duration_seconds",
			Help:    "How long callouts took, all attempts and waits between them, by extension id.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"extension"}),
		workFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "accessd_work_finished_total",
			Help: "Claimed work that is over, by kind and outcome: done, or retried after accessd itself failed at it.",
		}, []string{"kind", "outcome"}),
		writerBusy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "accessd_sqlite_writer_busy_seconds_total",
			Help: "Time the SQLite writer spent running and committing write transactions; its rate is the writer's utilisation.",
		}),
		groupCommits: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "accessd_sqlite_group_commit_transactions",
			Help:    "Write transactions the SQLite writer committed together, per commit.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
		}),
		racesLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "accessd_postgres_serialization_retries_total",
			Help: "PostgreSQL write transactions run again after they lost a race with another (serialization failure or deadlock).",
		}),
	}
	t.registry.MustRegister(t.httpRequests, t.httpDuration, t.callouts, t.calloutDuration, t.workFinished,
		t.writerBusy, t.groupCommits, t.racesLost,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return t
}

// Handler serves the metrics in Prometheus's text format. A gauge that
// cannot be read (the database is down) is left out and logged; the rest
// is still served.
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(t.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// WatchQueue adds the work queue's gauges, read through stats at each
// scrape: the queue lives in the database, and one read per scrape costs
// less than keeping counts up to date on every change.
func (t *Telemetry) WatchQueue(stats func(ctx context.Context) (access.QueueStats, error)) {
	t.registry.MustRegister(newQueueCollector(stats))
}

// WatchStore adds the store's counters of statements, stored documents and
// write transactions, read at each scrape; accessd bench divides them by
// the lifecycles it ran.
func (t *Telemetry) WatchStore(counts func() sqlstore.Counts) {
	t.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "accessd_store_statements_total",
			Help: "SQL statements run by the store's transactions (not BEGIN, COMMIT or savepoints).",
		}, func() float64 { return float64(counts().Statements) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "accessd_store_documents_written_total",
			Help: "JSON documents the store's transactions wrote.",
		}, func() float64 { return float64(counts().Documents) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "accessd_store_write_transactions_total",
			Help: "Write (Update) transactions asked of the store, each once however they were grouped or retried.",
		}, func() float64 { return float64(counts().WriteTransactions) }),
	)
}

// RequestStarted implements graph.Observer.
func (t *Telemetry) RequestStarted(r *http.Request) context.Context {
	if t.tracing == nil {
		return r.Context()
	}
	return t.tracing.startRequest(r)
}

// RequestEnded implements graph.Observer.
func (t *Telemetry) RequestEnded(ctx context.Context, e graph.RequestEnd) {
	series := t.seriesOf(e.Route, e.Status)
	series.requests.Inc()
	series.duration.Observe(e.Duration.Seconds())
	if t.tracing != nil {
		t.tracing.endRequest(ctx, e)
	}
}

// seriesOf finds the series of a route and status, made on first use.
func (t *Telemetry) seriesOf(route string, status int) requestSeries {
	key := requestKey{route, status}
	t.requestSeriesMu.RLock()
	series, ok := t.requestSeries[key]
	t.requestSeriesMu.RUnlock()
	if ok {
		return series
	}
	label := route
	if label == "" {
		label = unmatchedRoute
	}
	series = requestSeries{
		requests: t.httpRequests.WithLabelValues(label, strconv.Itoa(status)),
		duration: t.httpDuration.WithLabelValues(label),
	}
	t.requestSeriesMu.Lock()
	t.requestSeries[key] = series
	t.requestSeriesMu.Unlock()
	return series
}

// CalloutStarted implements engine.Observer.
func (t *Telemetry) CalloutStarted(ctx context.Context, plan access.CalloutPlan) context.Context {
	if t.tracing == nil {
		return ctx
	}
	return t.tracing.startCallout(ctx, plan)
}

// CalloutHeaders implements engine.Observer: the callout's traceparent, so
// that an extension can join its own spans to the callout's trace.
func (t *Telemetry) CalloutHeaders(ctx context.Context, h http.Header) {
	if t.tracing != nil {
		t.tracing.calloutHeaders(ctx, h)
	}
}

// CalloutEnded implements engine.Observer.
func (t *Telemetry) CalloutEnded(ctx context.Context, c engine.CalloutReport) {
	t.callouts.WithLabelValues(c.ExtensionID, string(c.Outcome)).Inc()
	t.calloutDuration.WithLabelValues(c.ExtensionID).Observe(c.Duration.Seconds())
	if t.tracing != nil {
		t.tracing.endCallout(ctx, c)
	}
}

// WorkFinished implements engine.Observer.
func (t *Telemetry) WorkFinished(kind access.WorkKind, err error) {
	outcome := "done"
	if err != nil {
		outcome = "retried"
	}
	t.workFinished.WithLabelValues(string(kind), outcome).Inc()
}

// TransactionStarted implements sqlstore.Observer.
func (t *Telemetry) TransactionStarted(ctx context.Context, write bool) func(error) {
	if t.tracing == nil {
		return nil
	}
	return t.tracing.startTransaction(ctx, write)
}

// GroupCommitted implements sqlstore.Observer.
func (t *Telemetry) GroupCommitted(transactions int, busy time.Duration) {
	t.groupCommits.Observe(float64(transactions))
	t.writerBusy.Add(busy.Seconds())
}

// RaceLost implements sqlstore.Observer.
func (t *Telemetry) RaceLost() { t.racesLost.Inc() }
