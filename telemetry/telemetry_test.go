package telemetry

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/engine"
	"github.com/accessd/accessd/graph"
	"github.com/accessd/accessd/sqlstore"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// scrape reads what the handler serves as series name{labels} → value.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	return parseExposition(t, rec.Body)
}

// parseExposition reads Prometheus's text format.
func parseExposition(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	series := map[string]float64{}
	sc := bufio.NewScanner(r)
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
	return series
}

// wantSeries fails the test unless each series has the value.
func wantSeries(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for name, v := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("no series %s", name)
			continue
		}
		if g != v {
			t.Errorf("%s = %v, want %v", name, g, v)
		}
	}
}

func TestRequestMetrics(t *testing.T) {
	tel := New(quiet, nil)
	for _, e := range []graph.RequestEnd{
		{Method: "GET", Route: "GET /v1.0/users/{id}", Status: 200, Duration: 3 * time.Millisecond},
		{Method: "GET", Route: "GET /v1.0/users/{id}", Status: 200, Duration: 30 * time.Millisecond},
		{Method: "GET", Route: "GET /v1.0/users/{id}", Status: 404, Duration: time.Millisecond},
		{Method: "GET", Route: "", Status: 404, Duration: time.Millisecond},
	} {
		tel.RequestEnded(tel.RequestStarted(httptest.NewRequest(e.Method, "/", nil)), e)
	}
	wantSeries(t, scrape(t, tel.Handler()), map[string]float64{
		`accessd_http_requests_total{route="GET /v1.0/users/{id}",status="200"}`:                 2,
		`accessd_http_requests_total{route="GET /v1.0/users/{id}",status="404"}`:                 1,
		`accessd_http_requests_total{route="unmatched",status="404"}`:                            1,
		`accessd_http_request_duration_seconds_count{route="GET /v1.0/users/{id}"}`:              3,
		`accessd_http_request_duration_seconds_bucket{route="GET /v1.0/users/{id}",le="0.005"}`:  2,
		`accessd_http_request_duration_seconds_sum{route="GET /v1.0/users/{id}"}`:                0.034,
		`accessd_http_request_duration_seconds_count{route="unmatched"}`:                         1,
		`accessd_http_request_duration_seconds_bucket{route="GET /v1.0/users/{id}",le="+Inf"}`:   3,
		`accessd_http_request_duration_seconds_bucket{route="GET /v1.0/users/{id}",le="0.0025"}`: 1,
		`accessd_http_request_duration_seconds_bucket{route="GET /v1.0/users/{id}",le="0.025"}`:  2,
		`accessd_http_request_duration_seconds_bucket{route="GET /v1.0/users/{id}",le="0.05"}`:   3,
	})
}

func TestEngineMetrics(t *testing.T) {
	tel := New(quiet, nil)
	ctx := context.Background()
	for _, c := range []engine.CalloutReport{
		{ExtensionID: "x1", Outcome: engine.CalloutOK, Attempts: 1, Duration: 20 * time.Millisecond},
		{ExtensionID: "x1", Outcome: engine.CalloutNoAnswer, Attempts: 2, Duration: 2 * time.Second},
		{ExtensionID: "x2", Outcome: engine.CalloutErrorStatus, Attempts: 1, Duration: 5 * time.Millisecond},
	} {
		tel.CalloutEnded(tel.CalloutStarted(ctx, access.CalloutPlan{}), c)
	}
	tel.WorkFinished(access.WorkCallout, nil)
	tel.WorkFinished(access.WorkDeliver, nil)
	tel.WorkFinished(access.WorkDeliver, errors.New("the database refused"))
	wantSeries(t, scrape(t, tel.Handler()), map[string]float64{
		`accessd_callouts_total{extension="x1",outcome="ok"}`:                1,
		`accessd_callouts_total{extension="x1",outcome="no_answer"}`:         1,
		`accessd_callouts_total{extension="x2",outcome="error_status"}`:      1,
		`accessd_callout_duration_seconds_count{extension="x1"}`:             2,
		`accessd_callout_duration_seconds_sum{extension="x1"}`:               2.02,
		`accessd_callout_duration_seconds_bucket{extension="x1",le="0.025"}`: 1,
		`accessd_work_finished_total{kind="callout",outcome="done"}`:         1,
		`accessd_work_finished_total{kind="deliver",outcome="done"}`:         1,
		`accessd_work_finished_total{kind="deliver",outcome="retried"}`:      1,
	})
}

func TestStoreMetrics(t *testing.T) {
	tel := New(quiet, nil)
	if ended := tel.TransactionStarted(context.Background(), true); ended != nil {
		t.Error("without tracing a transaction needs no end")
	}
	tel.GroupCommitted(1, 250*time.Millisecond)
	tel.GroupCommitted(40, 500*time.Millisecond)
	tel.RaceLost()
	tel.RaceLost()
	wantSeries(t, scrape(t, tel.Handler()), map[string]float64{
		`accessd_sqlite_writer_busy_seconds_total`:                 0.75,
		`accessd_sqlite_group_commit_transactions_count`:           2,
		`accessd_sqlite_group_commit_transactions_sum`:             41,
		`accessd_sqlite_group_commit_transactions_bucket{le="1"}`:  1,
		`accessd_sqlite_group_commit_transactions_bucket{le="32"}`: 1,
		`accessd_sqlite_group_commit_transactions_bucket{le="64"}`: 2,
		`accessd_postgres_serialization_retries_total`:             2,
	})
}

func TestQueueGauges(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		stats    access.QueueStats
		err      error
		want     map[string]float64
		wantNone []string
	}{
		{"read at the scrape", access.QueueStats{At: at, WaitingForCallback: 3, TimersDue: 1, Kinds: []access.WorkKindStats{
			{Kind: access.WorkCallout, Due: 2, OldestDue: at.Add(-90 * time.Second)},
			{Kind: access.WorkExpire, Due: 1, Later: 7, OldestDue: at},
			{Kind: access.WorkStart},
		}}, nil, map[string]float64{
			`accessd_work_due{kind="callout"}`:                    2,
			`accessd_work_oldest_due_age_seconds{kind="callout"}`: 90,
			`accessd_work_scheduled{kind="callout"}`:              0,
			`accessd_work_due{kind="expire"}`:                     1,
			`accessd_work_scheduled{kind="expire"}`:               7,
			`accessd_work_oldest_due_age_seconds{kind="expire"}`:  0,
			`accessd_work_due{kind="start"}`:                      0,
			`accessd_work_oldest_due_age_seconds{kind="start"}`:   0,
			`accessd_requests_waiting_for_callback`:               3,
			`accessd_timers_due`:                                  1,
		}, nil},
		// The rest is still served when the database cannot be read.
		{"the database fails", access.QueueStats{}, errors.New("database is closed"),
			map[string]float64{`accessd_postgres_serialization_retries_total`: 0},
			[]string{`accessd_timers_due`, `accessd_requests_waiting_for_callback`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tel := New(quiet, nil)
			tel.WatchQueue(func(ctx context.Context) (access.QueueStats, error) {
				if _, ok := ctx.Deadline(); !ok {
					t.Error("the queue is read without a deadline")
				}
				return tc.stats, tc.err
			})
			got := scrape(t, tel.Handler())
			wantSeries(t, got, tc.want)
			for _, name := range tc.wantNone {
				if _, ok := got[name]; ok {
					t.Errorf("series %s served, want none", name)
				}
			}
		})
	}
}

// Counting a request allocates nothing once its series exist, so that
// metrics cost no garbage per request.
func TestRequestEndedAllocatesNothing(t *testing.T) {
	tel := New(quiet, nil)
	r := httptest.NewRequest("GET", "/v1.0/users", nil)
	e := graph.RequestEnd{Method: "GET", Route: "GET /v1.0/users", Status: 200, Duration: time.Millisecond}
	tel.RequestEnded(r.Context(), e)
	if n := testing.AllocsPerRun(100, func() { tel.RequestEnded(tel.RequestStarted(r), e) }); n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}

func BenchmarkRequestEnded(b *testing.B) {
	tel := New(quiet, nil)
	r := httptest.NewRequest("GET", "/v1.0/users", nil)
	e := graph.RequestEnd{Method: "GET", Route: "GET /v1.0/identityGovernance/entitlementManagement/assignmentRequests/{id}", Status: 200, Duration: time.Millisecond}
	for b.Loop() {
		tel.RequestEnded(tel.RequestStarted(r), e)
	}
}

// The store's counters are served as they stand at each scrape.
func TestWatchStoreServesTheCounts(t *testing.T) {
	tel := New(quiet, nil)
	counts := sqlstore.Counts{Statements: 41, Documents: 7, WriteTransactions: 3}
	tel.WatchStore(func() sqlstore.Counts { return counts })
	wantSeries(t, scrape(t, tel.Handler()), map[string]float64{
		"accessd_store_statements_total":         41,
		"accessd_store_documents_written_total":  7,
		"accessd_store_write_transactions_total": 3,
	})
	counts.Statements++
	wantSeries(t, scrape(t, tel.Handler()), map[string]float64{"accessd_store_statements_total": 42})
}
