package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/client"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// The bench tests run `accessd bench` through the built binary for about a
// second per scenario at low concurrency and check the shape and the sanity
// of its report: never how fast anything was.

// buildAccessd builds cmd/accessd, the binary users run `accessd bench` from
// and the server the bench starts.
func buildAccessd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "accessd")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/accessd/accessd/cmd/accessd").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runBench(t *testing.T, bin string, args ...string) (stdout []byte) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"bench"}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("accessd bench %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.Bytes(), errOut.Bytes())
	}
	return out.Bytes()
}

func checkPercentiles(t *testing.T, name string, p *percentiles, n int) {
	t.Helper()
	if p == nil {
		t.Errorf("latency %s is null", name)
		return
	}
	if p.N != n {
		t.Errorf("latency %s has n=%d, want %d (one per completed lifecycle)", name, p.N, n)
	}
	if !(0 <= p.P50 && p.P50 <= p.P95 && p.P95 <= p.P99 && p.P99 <= p.Max) {
		t.Errorf("latency %s percentiles out of order: %+v", name, *p)
	}
}

// jsonField is the named fields of the report, for error messages.
func jsonField(t *testing.T, out []byte, names ...string) string {
	t.Helper()
	var all map[string]json.RawMessage
	json.Unmarshal(out, &all)
	var parts []string
	for _, n := range names {
		parts = append(parts, n+": "+string(all[n]))
	}
	return strings.Join(parts, "; ")
}

func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs load against it")
	}
	bin := buildAccessd(t)
	t.Run("serve accepts the child's command line", func(t *testing.T) {
		for _, sc := range scenarios {
			args := serveArgs(sc, config{Synchronous: "full", ServeFlags: []string{"--workers=64"}}, filepath.Join(t.TempDir(), "bench.db"))
			// Flags are parsed in order: -h at the end exits 0 only if
			// every flag before it was accepted, and starts nothing.
			if out, err := exec.Command(bin, append(args, "-h")...).CombinedOutput(); err != nil {
				t.Errorf("scenario %q: accessd %q -h: %v\n%s", sc.name, args, err, out)
			}
		}
	})
	quick := []string{"--json", "--duration", "1s", "--warmup", "200ms", "--concurrency", "4", "--raw-commit", "300ms", "--lifecycle-timeout", "20s"}
	cases := []struct {
		name       string
		args       []string
		resumes    bool // resume columns are numbers, not null
		lifecycle  bool // the lifecycle column is a number
		open, wait bool
	}{
		{name: "wait", args: []string{"--scenario", "wait"}, resumes: true, lifecycle: true},
		{name: "wait-open-loop", args: []string{"--scenario", "wait", "--rate", "50", "--arrival", "fixed"}, resumes: true, lifecycle: true, open: true},
		{name: "continue", args: []string{"--scenario", "continue"}, lifecycle: true},
		{name: "waiting", args: []string{"--scenario", "waiting", "--requests", "200"}, wait: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := runBench(t, bin, append(append([]string{}, quick...), tc.args...)...)

			// Every field is there, null where the scenario has no such step.
			var fields map[string]any
			if err := json.Unmarshal(out, &fields); err != nil {
				t.Fatalf("output is not one JSON object: %v\n%s", err, out)
			}
			for _, f := range []string{"scenario", "target", "load", "completed", "lifecycles_per_s", "error_count", "errors",
				"latency_ms", "server", "bench", "machine", "raw_commit", "lifecycles_per_raw_commit", "notes",
				"statements_per_lifecycle", "documents_per_lifecycle", "write_transactions_per_lifecycle"} {
				if _, ok := fields[f]; !ok {
					t.Errorf("no field %q in %s", f, out)
				}
			}
			latency, _ := fields["latency_ms"].(map[string]any)
			for _, f := range []string{"create", "create_to_callout", "resume", "resume_to_delivered", "lifecycle"} {
				if _, ok := latency[f]; !ok {
					t.Errorf("no latency_ms.%s in %s", f, out)
				}
			}

			var r result
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatal(err)
			}
			wantScenario, _, _ := strings.Cut(tc.name, "-")
			if r.Scenario != wantScenario || !r.Target.StartedChild || r.Target.Engine != "sqlite" || r.Target.SQLiteSynchronous != "normal" {
				t.Errorf("scenario %q, target %+v", r.Scenario, r.Target)
			}
			if wantDev := wantScenario == "waiting"; r.Target.Dev != wantDev {
				t.Errorf("scenario %q: target.dev %v, want %v (only waiting runs the server with --dev)", wantScenario, r.Target.Dev, wantDev)
			}
			if r.Completed <= 0 || r.LifecyclesPerSecond <= 0 || r.Load.Started < r.Completed {
				t.Errorf("completed %d, %g/s, started %d", r.Completed, r.LifecyclesPerSecond, r.Load.Started)
			}
			if r.ErrorCount != 0 || len(r.Errors) != 0 {
				t.Errorf("errors: %d %v", r.ErrorCount, r.Errors)
			}
			checkPercentiles(t, "create", r.LatencyMS.Create, r.Completed)
			checkPercentiles(t, "create_to_callout", r.LatencyMS.CreateToCallout, r.Completed)
			if tc.resumes {
				checkPercentiles(t, "resume", r.LatencyMS.Resume, r.Completed)
				checkPercentiles(t, "resume_to_delivered", r.LatencyMS.ResumeToDelivered, r.Completed)
			} else if r.LatencyMS.Resume != nil || r.LatencyMS.ResumeToDelivered != nil {
				t.Errorf("a scenario without resume reports resume latencies: %+v %+v", r.LatencyMS.Resume, r.LatencyMS.ResumeToDelivered)
			}
			if tc.lifecycle {
				checkPercentiles(t, "lifecycle", r.LatencyMS.Lifecycle, r.Completed)
				if r.LatencyMS.Lifecycle.Max < r.LatencyMS.CreateToCallout.Max {
					t.Errorf("the longest lifecycle %g ms is shorter than the longest create → callout %g ms",
						r.LatencyMS.Lifecycle.Max, r.LatencyMS.CreateToCallout.Max)
				}
			} else if r.LatencyMS.Lifecycle != nil {
				t.Errorf("lifecycle latency should be null: %+v", r.LatencyMS.Lifecycle)
			}
			// The store's counters, per lifecycle: a lifecycle writes its
			// request at least once and reads and writes in statements.
			for name, v := range map[string]*float64{"statements": r.StatementsPerLifecycle, "documents": r.DocumentsPerLifecycle,
				"write transactions": r.WriteTransactionsPerLifecycle} {
				if v == nil || *v < 1 {
					t.Errorf("%s per lifecycle: %v, want at least 1", name, v)
				}
			}
			// SQLite's writers take turns: nothing is ever run again.
			if r.Retries == nil || *r.Retries != 0 || r.RetriesPerLifecycle == nil || r.RetriesPerWriteTransaction == nil {
				t.Errorf("retries %v, per lifecycle %v, per write transaction %v: want 0 on SQLite", r.Retries, r.RetriesPerLifecycle, r.RetriesPerWriteTransaction)
			}
			if r.StatementsPerLifecycle != nil && r.DocumentsPerLifecycle != nil && *r.StatementsPerLifecycle < *r.DocumentsPerLifecycle {
				t.Errorf("%g statements but %g documents per lifecycle: every document takes a statement", *r.StatementsPerLifecycle, *r.DocumentsPerLifecycle)
			}
			if rc := r.RawCommit; rc == nil || rc.Engine != "sqlite" || rc.Synchronous != "normal" || rc.Commits <= 0 || rc.CommitsPerSecond <= 0 {
				t.Errorf("raw commit: %+v", rc)
			} else if r.LifecyclesPerRawCommit == nil || *r.LifecyclesPerRawCommit <= 0 {
				t.Errorf("lifecycles per raw commit: %v", r.LifecyclesPerRawCommit)
			}
			if runtime.GOOS == "linux" {
				s := r.Server
				if s.PID <= 0 || s.CPUSeconds == nil || *s.CPUSeconds < 0 || s.PeakRSSMB == nil || *s.PeakRSSMB <= 0 ||
					s.RSSMB == nil || *s.RSSMB > *s.PeakRSSMB || r.Bench.CPUSeconds == nil {
					t.Errorf("server and bench: %s", jsonField(t, out, "server", "bench"))
				}
				if m := r.Machine; m.CPUs < 1 || m.BusyCores == nil || *m.BusyCores < 0 || m.OtherCores == nil || *m.OtherCores < 0 {
					t.Errorf("machine: %s", jsonField(t, out, "machine"))
				}
			}
			if tc.open {
				l := r.Load
				if l.Mode != "open" || l.Rate != 50 || l.Arrival != "fixed" || l.AchievedRate == nil || *l.AchievedRate <= 0 ||
					l.Late == nil || *l.Late < 0 || *l.Late > l.Started || l.MaxLateMS == nil {
					t.Errorf("open loop: %s", jsonField(t, out, "load"))
				}
			} else if r.Load.Mode != "closed" || r.Load.Concurrency != 4 || r.Load.AchievedRate != nil {
				t.Errorf("closed loop: %+v", r.Load)
			}
			if tc.wait {
				w := r.Waiting
				if w == nil {
					t.Fatalf("no waiting section in %s", out)
				}
				if w.Requests != 200 || w.Waiting != 200 || r.Completed != 200 || w.ClockAdvance != "PT61M" || w.ClockPosts < 1 ||
					w.TimeoutWallS <= 0 || w.TimeoutsPerS <= 0 || w.Verified == 0 || w.VerifiedTimedOut != w.Verified {
					t.Errorf("waiting: %s", jsonField(t, out, "waiting"))
				}
				if runtime.GOOS == "linux" && (w.ServerRSSMBWaiting == nil || *w.ServerRSSMBWaiting <= 0 || w.ServerPeakRSSMB == nil ||
					*w.ServerRSSMBWaiting > *w.ServerPeakRSSMB || w.ServerCPUSecondsTimeouts == nil) {
					t.Errorf("waiting: server memory or CPU: %s", jsonField(t, out, "waiting"))
				}
			} else if r.Waiting != nil {
				t.Errorf("a load scenario has a waiting section: %+v", *r.Waiting)
			}
		})
	}

	t.Run("replicas", func(t *testing.T) {
		// Three servers on one PostgreSQL schema; lifecycles spread over them.
		db := storetest.DSN(t, storetest.Postgres)
		cmd := exec.Command(bin, append(append([]string{"bench"}, quick...), "--replicas", "3", "--database", db, "--keep")...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("accessd bench --replicas 3: %v\n%s", err, errOut.Bytes())
		}
		// --keep kept the servers' logs, which say why a call failed.
		_, kept, _ := strings.Cut(errOut.String(), "bench: kept ")
		kept, _, _ = strings.Cut(kept, " ")
		if kept != "" {
			t.Cleanup(func() { os.RemoveAll(kept) })
		}
		var r result
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("output is not one JSON object: %v\n%s", err, out.Bytes())
		}
		if r.Target.Replicas != 3 || r.Target.Engine != "postgres" || r.Completed <= 0 || r.ErrorCount != 0 {
			t.Errorf("replicas: target %+v, completed %d, errors %d %v", r.Target, r.Completed, r.ErrorCount, r.Errors)
			logs, _ := filepath.Glob(filepath.Join(kept, "serve*.log"))
			for _, name := range logs {
				raw, _ := os.ReadFile(name)
				for _, line := range strings.Split(string(raw), "\n") {
					if strings.Contains(line, "level=ERROR") || strings.Contains(line, "status=5") {
						t.Logf("%s: %s", filepath.Base(name), line)
					}
				}
			}
		}
		checkPercentiles(t, "lifecycle", r.LatencyMS.Lifecycle, r.Completed)
		if r.WriteTransactionsPerLifecycle == nil || *r.WriteTransactionsPerLifecycle < 1 {
			t.Errorf("write transactions per lifecycle, all replicas together: %v", r.WriteTransactionsPerLifecycle)
		}
		if r.Retries == nil || r.RetriesPerWriteTransaction == nil {
			t.Errorf("retries %v, per write transaction %v: want them counted over the replicas", r.Retries, r.RetriesPerWriteTransaction)
		} else {
			t.Logf("%g write transactions run again, %g per write transaction", *r.Retries, *r.RetriesPerWriteTransaction)
		}
	})

	t.Run("read", func(t *testing.T) {
		// Generated once into a kept database, then reused by a second run.
		db := filepath.Join(t.TempDir(), "read.db")
		args := []string{"--json", "--scenario", "read", "--database", db, "--assignments", "2000", "--packages", "4",
			"--requests", "300", "--duration", "1s", "--warmup", "200ms", "--concurrency", "2", "--raw-commit", "0"}
		for run, reused := range []bool{false, true} {
			out := runBench(t, bin, args...)
			var r result
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("run %d: output is not one JSON object: %v\n%s", run, err, out)
			}
			rd := r.Read
			if rd == nil {
				t.Fatalf("run %d: no read section in %s", run, out)
			}
			d := rd.Dataset
			if d.Assignments != 2000 || d.Packages != 4 || d.Requests != 300 || d.Catalogs != 1 || d.Users != 500 || d.Reused != reused {
				t.Errorf("run %d: dataset %s", run, jsonField(t, out, "read"))
			}
			// Every package's first page was checked: its count (80% of its
			// 500 assignments are delivered), length, order and targets.
			if rd.Verified != 4 || rd.Reads <= 0 || rd.ReadsPerS <= 0 || r.ErrorCount != 0 {
				t.Errorf("run %d: verified %d, reads %d (%g/s), errors %d %v", run, rd.Verified, rd.Reads, rd.ReadsPerS, r.ErrorCount, r.Errors)
			}
			checkPercentiles(t, "read", rd.LatencyMS, rd.Reads)
			if !strings.Contains(rd.Query, "$orderby=schedule/startDateTime") && !strings.Contains(rd.Query, "%24orderby=schedule%2FstartDateTime") {
				t.Errorf("run %d: query %q", run, rd.Query)
			}
			if runtime.GOOS == "linux" && (rd.CPUPerReadMS == nil || *rd.CPUPerReadMS <= 0) {
				t.Errorf("run %d: cpu per read %v", run, rd.CPUPerReadMS)
			}
		}
	})

	t.Run("table", func(t *testing.T) {
		out := string(runBench(t, bin, "--scenario", "continue", "--duration", "500ms", "--warmup", "0", "--concurrency", "2", "--raw-commit", "0"))
		if strings.Contains(out, "--dev") {
			t.Errorf("continue ran the server with --dev:\n%s", out)
		}
		for _, want := range []string{"scenario     continue", ", child accessd serve, pid ", "lifecycles   ", "errors: none", "create → callout", "resume → delivered", "n/a", "server       CPU", "raw commit   n/a"} {
			if !strings.Contains(out, want) {
				t.Errorf("table has no %q:\n%s", want, out)
			}
		}
	})
}

func TestBenchFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "approvals"}, `--scenario "approvals"`},
		{[]string{"--url", "http://127.0.0.1:1"}, "--url needs --token"},
		{[]string{"--token", "x"}, "--token is for --url"},
		{[]string{"--sqlite-synchronous", "off"}, "--sqlite-synchronous must be normal or full"},
		{[]string{"--concurrency", "0"}, "--concurrency must be at least 1"},
		{[]string{"--arrival", "burst"}, "--arrival must be poisson or fixed"},
		{[]string{"--callback-timeout", "90s"}, "--callback-timeout must be whole minutes"},
		{[]string{"--replicas", "0"}, "--replicas must be from 1 to 16"},
		{[]string{"--replicas", "2"}, "--replicas needs --database postgres://"},
		{[]string{"--replicas", "2", "--url", "http://127.0.0.1:1", "--token", "x"}, "--replicas is for the servers the bench starts"},
		{[]string{"--scenario", "read", "--packages", "0"}, "--assignments and --packages must be at least 1"},
		{[]string{"--scenario", "read", "--assignments", "3", "--packages", "4"}, "no more packages than assignments"},
		{[]string{"--scenario", "read", "--url", "http://127.0.0.1:1", "--token", "x"}, "--scenario read with --url needs --database"},
	} {
		var out, errOut bytes.Buffer
		if err := Run(t.Context(), "", tc.args, &out, &errOut); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bench %v: %v; want an error naming %q", tc.args, err, tc.want)
		}
	}
	t.Run("bad flag", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if err := Run(t.Context(), "", []string{"--no-such-flag"}, &out, &errOut); !errors.Is(err, ErrUsage) ||
			!strings.Contains(errOut.String(), "no-such-flag") {
			t.Errorf("bench --no-such-flag: %v, stderr %q; want ErrUsage and the flag named", err, errOut.String())
		}
	})
	t.Run("help", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if err := Run(t.Context(), "", []string{"-h"}, &out, &errOut); !errors.Is(err, flag.ErrHelp) ||
			!strings.Contains(errOut.String(), "usage: accessd bench") || !strings.Contains(errOut.String(), "waiting") {
			t.Errorf("bench -h: %v, %q", err, errOut.String())
		}
	})
}

// TestBenchServeArgs checks the child server's command line: the server's
// defaults for the load scenarios but for callouts to loopback, where the
// bench's extension listens, --dev only for waiting, and the
// --serve-flag last, where it overrides what comes before. That accessd
// serve accepts it is checked in TestBench, which builds the binary.
func TestBenchServeArgs(t *testing.T) {
	wantDev := map[string]bool{"wait": false, "continue": false, "waiting": true, "read": false}
	for _, sc := range scenarios {
		want, ok := wantDev[sc.name]
		if !ok {
			t.Errorf("scenario %q: say here whether it runs the server with --dev", sc.name)
			continue
		}
		bc := config{Synchronous: "full", ServeFlags: []string{"--workers=64"}}
		args := serveArgs(sc, bc, "/tmp/x/bench.db")
		wantArgs := []string{"serve", "--addr", "127.0.0.1:0", "--database", "/tmp/x/bench.db", "--callout-allow-private"}
		if want {
			wantArgs = append(wantArgs, "--dev")
		}
		wantArgs = append(wantArgs, "--sqlite-synchronous", "full", "--workers=64")
		if !slices.Equal(args, wantArgs) {
			t.Errorf("scenario %q: args %q, want %q", sc.name, args, wantArgs)
		}
	}
}

// TestErrorKind sends calls through the client, as the bench does, to
// servers that fail in each way the error counts tell apart.
func TestErrorKind(t *testing.T) {
	graphError := func(status int, code string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": "refused"}})
		}
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + closed.Addr().String()
	closed.Close()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc // nil: nothing listens
		timeout time.Duration    // of the HTTP client; 0 for none
		cancel  bool             // the call's context is canceled before it starts
		https   bool             // the call goes to the plain HTTP server over https
		want    string
	}{
		{name: "a Graph error", handler: graphError(http.StatusConflict, "conflict"), want: "resume: HTTP 409 conflict"},
		{name: "an error page", want: "resume: HTTP 502", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		}},
		{name: "nothing listens", want: "resume: connection refused"},
		{name: "no answer in time", timeout: 50 * time.Millisecond, want: "resume: timeout", handler: func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body) // then the server sees the client hang up, and ends r's context
			<-r.Context().Done()
		}},
		{name: "canceled", cancel: true, handler: graphError(http.StatusConflict, "conflict"), want: "resume: canceled"},
		{name: "another failure names its cause, not the URL", https: true, handler: graphError(http.StatusConflict, "conflict"),
			want: "resume: http: server gave HTTP response to HTTPS client"},
		{name: "the connection dropped", want: "resume: connection reset", handler: func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := refusedURL
			if tc.handler != nil {
				srv := httptest.NewServer(tc.handler)
				t.Cleanup(srv.Close)
				base = srv.URL
			}
			if tc.https {
				base = strings.Replace(base, "http://", "https://", 1)
			}
			api, err := client.New(client.Config{BaseURL: base, Token: "t", HTTPClient: &http.Client{Timeout: tc.timeout}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			err = api.Do(ctx, http.MethodPost, requestsPath+"/0190/resume", []byte(`{}`), nil)
			if got := errorKind("resume", err); got != tc.want {
				t.Errorf("errorKind(%v) = %q, want %q", err, got, tc.want)
			}
		})
	}
}

// TestLeadingCount checks the bench's cheap read of a page's count: found
// before "value" and only there, -1 for anything else.
func TestLeadingCount(t *testing.T) {
	tests := []struct {
		body string
		want int
	}{
		{`{"@odata.context":"x","@odata.count":8000,"value":[{"id":"a"}]}`, 8000},
		{`{"@odata.count":0,"value":[]}`, 0},
		{`{"@odata.context":"x","value":[],"@odata.count":5}`, -1},
		{`{"@odata.count":"12","value":[]}`, -1},
		{`{"value":[]}`, -1},
		{`[1,2]`, -1},
		{``, -1},
		{`{"@odata.count":`, -1},
	}
	for _, tt := range tests {
		if got := leadingCount([]byte(tt.body)); got != tt.want {
			t.Errorf("leadingCount(%s) = %d, want %d", tt.body, got, tt.want)
		}
	}
}
