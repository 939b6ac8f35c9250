package bench

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" driver, as the store uses it
)

// result is what `accessd bench` reports: --json prints it as is.
// Durations are in milliseconds, rates per second, memory in MiB (MB).
type result struct {
	Scenario               string           `json:"scenario"`
	Description            string           `json:"description"`
	Target                 targetReport     `json:"target"`
	Load                   loadReport       `json:"load"`
	Completed              int              `json:"completed"`
	LifecyclesPerSecond    float64          `json:"lifecycles_per_s"`
	ErrorCount             int              `json:"error_count"`
	Errors                 map[string]int   `json:"errors"`
	LatencyMS              latencyReport    `json:"latency_ms"`
	Server                 serverReport     `json:"server"`
	Bench                  selfReport       `json:"bench"`
	Machine                machineReport    `json:"machine"`
	RawCommit              *rawCommitReport `json:"raw_commit"`
	LifecyclesPerRawCommit *float64         `json:"lifecycles_per_raw_commit"`
	// What the server's store did per completed lifecycle over the window,
	// from its /metrics; null when that cannot be read.
	StatementsPerLifecycle        *float64 `json:"statements_per_lifecycle"`
	DocumentsPerLifecycle         *float64 `json:"documents_per_lifecycle"`
	WriteTransactionsPerLifecycle *float64 `json:"write_transactions_per_lifecycle"`
	// Retries are write transactions run again after losing a race
	// (PostgreSQL: a serialization failure or a deadlock), from the
	// server's accessd_postgres_serialization_retries_total: in all, per
	// lifecycle, and per write transaction (the share of Update calls that
	// had to run again). Null where the store counters are.
	Retries                    *float64       `json:"retries"`
	RetriesPerLifecycle        *float64       `json:"retries_per_lifecycle"`
	RetriesPerWriteTransaction *float64       `json:"retries_per_write_transaction"`
	Waiting                    *waitingReport `json:"waiting,omitempty"`
	Read                       *readReport    `json:"read,omitempty"`
	Notes                      []string       `json:"notes"`
}

type targetReport struct {
	URL               string   `json:"url"`
	StartedChild      bool     `json:"started_child"`
	Dev               bool     `json:"dev"` // the child was started with --dev; false with --url, whose mode the bench does not know
	PID               int      `json:"pid,omitempty"`
	Engine            string   `json:"engine"`
	Database          string   `json:"database"`
	SQLiteSynchronous string   `json:"sqlite_synchronous"`
	ServeFlags        []string `json:"serve_flags,omitempty"`
	Replicas          int      `json:"replicas"` // servers driven; the CPU figures are theirs together
}

type loadReport struct {
	Mode            string   `json:"mode"` // closed or open
	Concurrency     int      `json:"concurrency,omitempty"`
	Rate            float64  `json:"rate,omitempty"` // open loop: offered lifecycles per second
	Arrival         string   `json:"arrival,omitempty"`
	AchievedRate    *float64 `json:"achieved_rate,omitempty"` // open loop: lifecycles started per second
	Late            *int     `json:"late,omitempty"`          // open loop: started more than late_threshold_ms after they were due
	LateThresholdMS *float64 `json:"late_threshold_ms,omitempty"`
	MaxLateMS       *float64 `json:"max_late_ms,omitempty"`
	WarmupS         float64  `json:"warmup_s"`
	DurationS       float64  `json:"duration_s"` // asked for
	WindowS         float64  `json:"window_s"`   // lifecycles were started in this time: duration_s, or less if the users ran out
	MeasuredS       float64  `json:"measured_s"` // first start to last finish: CPU is measured over this
	Started         int      `json:"started"`
	Users           int      `json:"users"`
	UsersExhausted  bool     `json:"users_exhausted"`
}

// latencyReport holds the percentiles of each step; null where a scenario has no such step.
type latencyReport struct {
	Create            *percentiles `json:"create"`              // the create call
	CreateToCallout   *percentiles `json:"create_to_callout"`   // create sent → first callout received
	Resume            *percentiles `json:"resume"`              // the resume call
	ResumeToDelivered *percentiles `json:"resume_to_delivered"` // resume sent → delivery callout received
	Lifecycle         *percentiles `json:"lifecycle"`           // create sent → delivery callout received
}

type percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

type serverReport struct {
	PID               int      `json:"pid,omitempty"`
	CPUSeconds        *float64 `json:"cpu_s"` // utime+stime over the measured time
	Cores             *float64 `json:"cores"` // cpu_s per second of it
	CPUPerLifecycleMS *float64 `json:"cpu_per_lifecycle_ms"`
	PeakRSSMB         *float64 `json:"peak_rss_mb"` // VmHWM
	RSSMB             *float64 `json:"rss_mb"`      // VmRSS at the end
	ClockTicks        int      `json:"clock_ticks_per_s,omitempty"`
}

type selfReport struct {
	CPUSeconds *float64 `json:"cpu_s"`
	Cores      *float64 `json:"cores"`
}

// machineReport is the whole machine over the measured time, from
// /proc/stat: what else ran shows in other_cores.
type machineReport struct {
	CPUs       int      `json:"cpus"`
	BusyCores  *float64 `json:"busy_cores"`  // all processes
	OtherCores *float64 `json:"other_cores"` // busy, less the server and the bench
}

type rawCommitReport struct {
	Engine           string  `json:"engine"`
	Synchronous      string  `json:"synchronous,omitempty"`
	Where            string  `json:"where"`
	Seconds          float64 `json:"seconds"`
	Commits          int     `json:"commits"`
	CommitsPerSecond float64 `json:"commits_per_s"`
	Note             string  `json:"note,omitempty"`
}

type waitingReport struct {
	Requests                 int      `json:"requests"`
	Waiting                  int      `json:"waiting"`
	CreateSeconds            float64  `json:"create_s"`
	CreatedPerSecond         float64  `json:"created_per_s"`
	ServerRSSMBWaiting       *float64 `json:"server_rss_mb_waiting"`
	ServerPeakRSSMB          *float64 `json:"server_peak_rss_mb"`
	ClockAdvance             string   `json:"clock_advance"`
	ClockPosts               int      `json:"clock_posts"`
	TimeoutWallS             float64  `json:"timeout_wall_s"`
	TimeoutsPerS             float64  `json:"timeouts_per_s"`
	ServerCPUSecondsTimeouts *float64 `json:"server_cpu_s_timeouts"`
	OtherCoresTimeouts       *float64 `json:"other_cores_timeouts"` // machine: neither the server nor the bench, while timing out
	Verified                 int      `json:"verified"`
	VerifiedTimedOut         int      `json:"verified_timed_out"`
}

func ptrFloat(f float64) *float64 { return &f }

// round3 keeps three decimals: microseconds of milliseconds.
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// percentilesOf sorts exact recorded durations and takes each percentile by
// nearest rank; nil when there are none.
func percentilesOf(ds []time.Duration) *percentiles {
	if len(ds) == 0 {
		return nil
	}
	slices.Sort(ds)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(ds)))) - 1
		return round3(float64(ds[max(0, i)]) / float64(time.Millisecond))
	}
	return &percentiles{N: len(ds), P50: rank(50), P95: rank(95), P99: rank(99), Max: rank(100)}
}

// resultOf turns a measured phase into the report.
// timed says whether the phase ran for --duration after a warm-up (the
// waiting scenario's runs until every request is created).
func (b *runner) resultOf(p *phase, cpu0, cpu1 cpuSample, users int, timed bool) *result {
	res := &result{
		Scenario: b.sc.name, Description: b.sc.summary,
		Target: targetReport{URL: b.url, StartedChild: b.child != nil, Dev: b.dev, PID: b.pid, Engine: b.engine, Database: b.dbShown, Replicas: len(b.replicas),
			SQLiteSynchronous: b.cfg.Synchronous, ServeFlags: b.cfg.ServeFlags},
		Load: loadReport{Mode: "closed", Concurrency: b.cfg.Concurrency, WarmupS: b.cfg.Warmup.Seconds(), DurationS: b.cfg.Duration.Seconds(),
			WindowS: round3(p.window().Seconds()), MeasuredS: round3(p.wall().Seconds()), Started: len(p.lcs), Users: users, UsersExhausted: p.exhausted},
		RawCommit: b.rawCommit, Notes: []string{},
	}
	if !timed {
		res.Load.WarmupS, res.Load.DurationS = 0, 0
	}
	if b.cfg.Rate > 0 {
		res.Load.Mode, res.Load.Concurrency, res.Load.Rate, res.Load.Arrival = "open", 0, b.cfg.Rate, b.cfg.Arrival
		achieved := float64(len(p.lcs)) / p.window().Seconds()
		late := p.late
		res.Load.AchievedRate = ptrFloat(round3(achieved))
		res.Load.Late = &late
		res.Load.LateThresholdMS = ptrFloat(float64(lateAfter) / float64(time.Millisecond))
		res.Load.MaxLateMS = ptrFloat(round3(float64(p.maxLate) / float64(time.Millisecond)))
	}

	var create, callout, resume, toDelivered, lifecycles []time.Duration
	for _, lc := range p.lcs {
		lc.mu.Lock()
		if lc.finished && lc.err == "" {
			res.Completed++
			create = append(create, lc.created.Sub(lc.start))
			callout = append(callout, lc.callout.Sub(lc.start))
			if !lc.resumeStart.IsZero() {
				resume = append(resume, lc.resumeEnd.Sub(lc.resumeStart))
				toDelivered = append(toDelivered, lc.end.Sub(lc.resumeStart))
			}
			lifecycles = append(lifecycles, lc.end.Sub(lc.start))
		}
		lc.mu.Unlock()
	}
	res.LatencyMS.Create = percentilesOf(create)
	res.LatencyMS.CreateToCallout = percentilesOf(callout)
	if b.sc.resumes() {
		res.LatencyMS.Resume = percentilesOf(resume)
		res.LatencyMS.ResumeToDelivered = percentilesOf(toDelivered)
	}
	if b.sc.stages[0].ends { // the lifecycle ends with its first callout: that is create_to_callout
		lifecycles = nil
	}
	res.LatencyMS.Lifecycle = percentilesOf(lifecycles)
	// Lifecycles per second: those started in the window that completed, per
	// second of the window. In a closed loop this is the throughput (Little's
	// law), with neither the empty pipeline at the start nor its drain at the end.
	rateOver := p.window()
	if !timed { // the waiting scenario: until the last request waits
		rateOver = p.wall()
	}
	res.LifecyclesPerSecond = round3(float64(res.Completed) / rateOver.Seconds())
	res.Errors, res.ErrorCount = b.errs.snapshot()

	res.Server.PID = b.pid
	span := cpu1.at.Sub(cpu0.at).Seconds()
	if cpu, ok := cpu1.server.sub(cpu0.server); ok {
		res.Server.CPUSeconds = ptrFloat(round3(cpu))
		res.Server.Cores = ptrFloat(round3(cpu / span))
		res.Server.ClockTicks = clockTicks()
		if res.Completed > 0 {
			res.Server.CPUPerLifecycleMS = ptrFloat(round3(cpu * 1000 / float64(res.Completed)))
		}
	}
	if mem, ok := b.serverMemory(); ok {
		res.Server.PeakRSSMB, res.Server.RSSMB = ptrFloat(mem.hwmMB), ptrFloat(mem.rssMB)
	}
	if cpu, ok := cpu1.self.sub(cpu0.self); ok {
		res.Bench.CPUSeconds = ptrFloat(round3(cpu))
		res.Bench.Cores = ptrFloat(round3(cpu / span))
	}
	res.Machine = machine(cpu0, cpu1)
	if c0, c1 := cpu0.store, cpu1.store; c0.ok && c1.ok && res.Completed > 0 {
		per := func(a, b float64) *float64 { return ptrFloat(round3((b - a) / float64(res.Completed))) }
		res.StatementsPerLifecycle = per(c0.statements, c1.statements)
		res.DocumentsPerLifecycle = per(c0.documents, c1.documents)
		res.WriteTransactionsPerLifecycle = per(c0.writeTransactions, c1.writeTransactions)
		retries := c1.retries - c0.retries
		res.Retries = ptrFloat(retries)
		res.RetriesPerLifecycle = per(c0.retries, c1.retries)
		if writes := c1.writeTransactions - c0.writeTransactions; writes > 0 {
			res.RetriesPerWriteTransaction = ptrFloat(math.Round(retries/writes*100000) / 100000)
		}
	}
	if rc := b.rawCommit; rc != nil && rc.CommitsPerSecond > 0 {
		res.LifecyclesPerRawCommit = ptrFloat(math.Round(res.LifecyclesPerSecond/rc.CommitsPerSecond*10000) / 10000)
	}
	if b.pid == 0 {
		b.note("the server's process is unknown (--url without --server-pid): no CPU or memory figures")
	}
	res.Notes = append(res.Notes, b.notes...)
	return res
}

// ---- the server's CPU and memory, from /proc ----

type cpuSample struct {
	at                  time.Time
	server, self, total procCPU
	idle                int64       // machine: idle+iowait ticks; total is every tick of every CPU
	store               storeCounts // the server's store counters, from its /metrics
}

// storeCounts are the server's counters of what its store did
// (accessd_store_*_total).
type storeCounts struct {
	statements, documents, writeTransactions float64
	retries                                  float64 // write transactions run again after a lost race
	ok                                       bool
}

// storeMetrics names the counters storeCounts reads.
var storeMetrics = []string{"accessd_store_statements_total", "accessd_store_documents_written_total", "accessd_store_write_transactions_total",
	retriesMetric}

// retriesMetric counts the write transactions run again after a lost race.
// A server older than it lacks it, and then counts none.
const retriesMetric = "accessd_postgres_serialization_retries_total"

// readStoreCounts scrapes the server's /metrics for the store's counters;
// not ok where /metrics is elsewhere (--metrics-addr) or lacks them.
func (b *runner) readStoreCounts(url string) storeCounts {
	resp, err := b.httpClient.Get(url + "/metrics")
	if err != nil {
		return storeCounts{}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return storeCounts{}
	}
	found := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(storeMetrics, name) {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			found[name] = v
		}
	}
	for _, name := range storeMetrics[:3] {
		if _, ok := found[name]; !ok {
			return storeCounts{}
		}
	}
	return storeCounts{statements: found[storeMetrics[0]], documents: found[storeMetrics[1]],
		writeTransactions: found[storeMetrics[2]], retries: found[retriesMetric], ok: true}
}

// procCPU is a process's utime+stime in clock ticks.
type procCPU struct {
	ticks int64
	ok    bool
}

func (a procCPU) sub(b procCPU) (seconds float64, ok bool) {
	if !a.ok || !b.ok {
		return 0, false
	}
	return float64(a.ticks-b.ticks) / float64(clockTicks()), true
}

func (b *runner) cpuSnapshot() cpuSample {
	s := cpuSample{at: time.Now(), self: readProcCPU("self")}
	if b.pid != 0 {
		s.server = procCPU{ok: true}
		for _, r := range b.replicas {
			cpu := readProcCPU(strconv.Itoa(r.pid))
			s.server.ticks += cpu.ticks
			s.server.ok = s.server.ok && cpu.ok
		}
	}
	s.total, s.idle = readMachineCPU()
	s.store = storeCounts{ok: len(b.replicas) > 0}
	for _, r := range b.replicas {
		c := b.readStoreCounts(r.url)
		s.store.statements += c.statements
		s.store.documents += c.documents
		s.store.writeTransactions += c.writeTransactions
		s.store.retries += c.retries
		s.store.ok = s.store.ok && c.ok
	}
	return s
}

// readMachineCPU reads the first line of /proc/stat: every CPU's ticks, and
// of them the idle and iowait ones.
func readMachineCPU() (total procCPU, idle int64) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return procCPU{}, 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line)
	if len(fields) < 6 || fields[0] != "cpu" {
		return procCPU{}, 0
	}
	var sum int64
	for i, f := range fields[1:] {
		if i >= 8 { // guest time is already in user and nice
			break
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return procCPU{}, 0
		}
		sum += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return procCPU{ticks: sum, ok: true}, idle
}

// machine is what the whole machine did between two snapshots.
func machine(cpu0, cpu1 cpuSample) machineReport {
	m := machineReport{CPUs: runtime.NumCPU()}
	span := cpu1.at.Sub(cpu0.at).Seconds()
	if !cpu0.total.ok || !cpu1.total.ok || span <= 0 {
		return m
	}
	busy := float64((cpu1.total.ticks-cpu1.idle)-(cpu0.total.ticks-cpu0.idle)) / float64(clockTicks())
	m.BusyCores = ptrFloat(round3(busy / span))
	server, ok1 := cpu1.server.sub(cpu0.server)
	self, ok2 := cpu1.self.sub(cpu0.self)
	if ok1 && ok2 {
		m.OtherCores = ptrFloat(round3(max(0, busy-server-self) / span))
	}
	return m
}

// readProcCPU reads utime and stime (fields 14 and 15) of /proc/<pid>/stat.
func readProcCPU(pid string) procCPU {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procCPU{}
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return procCPU{}
	}
	fields := strings.Fields(string(raw[i+1:])) // from field 3, the state
	if len(fields) < 13 {
		return procCPU{}
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return procCPU{}
	}
	return procCPU{ticks: utime + stime, ok: true}
}

var clockTicks = sync.OnceValue(func() int {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return n
		}
	}
	return 100
})

type procMem struct{ rssMB, hwmMB float64 }

// serverMemory reads the server's memory; its peak is the highest seen so
// far, so that it is never below an RSS reported earlier.
func (b *runner) serverMemory() (procMem, bool) {
	m, ok := procMemory(b.pid)
	if ok {
		b.peakRSSMB = max(b.peakRSSMB, m.hwmMB)
		m.hwmMB = b.peakRSSMB
	}
	return m, ok
}

// procMemory reads VmRSS and VmHWM (peak RSS) of /proc/<pid>/status.
func procMemory(pid int) (procMem, bool) {
	if pid == 0 {
		return procMem{}, false
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return procMem{}, false
	}
	var m procMem
	found := 0
	for line := range strings.Lines(string(raw)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		if err != nil {
			continue
		}
		found++
		if name == "VmRSS" {
			m.rssMB = round3(kb / 1024)
		} else {
			m.hwmMB = round3(kb / 1024)
		}
	}
	// The kernel updates VmHWM lazily: it can trail VmRSS a little.
	m.hwmMB = max(m.hwmMB, m.rssMB)
	return m, found == 2
}

// ---- the raw commit rate of the same engine ----

// measureRawCommit measures single-row write transactions, one after
// another on one connection, for --raw-commit: on SQLite in a file next to
// the server's database, in WAL mode with the same synchronous setting and
// BEGIN IMMEDIATE as the store; on PostgreSQL in a table of its own in the
// same database. It is the ceiling the lifecycle rate is compared with.
func (b *runner) measureRawCommit(ctx context.Context) *rawCommitReport {
	var rc *rawCommitReport
	var err error
	switch {
	case b.engine == "postgres":
		b.logf("measuring the raw commit rate of PostgreSQL for %s", b.cfg.RawCommit)
		rc, err = rawCommitPostgres(ctx, b.cfg.Database, "accessd_bench_raw_commit_"+b.runID, b.cfg.RawCommit)
	case b.engine == "sqlite" && b.dbFile != "":
		b.logf("measuring the raw commit rate of SQLite for %s", b.cfg.RawCommit)
		path := filepath.Join(filepath.Dir(b.dbFile), "bench-raw-commit-"+b.runID+".db")
		rc, err = rawCommitSQLite(ctx, path, b.cfg.Synchronous, b.cfg.RawCommit)
	default:
		b.note("no raw commit rate: with --url, give the target's --database to measure it")
		return nil
	}
	if err != nil {
		b.note("no raw commit rate: %v", err)
		return nil
	}
	return rc
}

func rawCommitSQLite(ctx context.Context, path, synchronous string, d time.Duration) (*rawCommitReport, error) {
	defer func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
	}()
	db, err := sql.Open("sqlite", path+"?_busy_timeout=5000&_journal_mode=WAL&_synchronous="+strings.ToUpper(synchronous)+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "CREATE TABLE raw_commit (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"); err != nil {
		return nil, err
	}
	n, took, err := commitLoop(ctx, d, func() error {
		tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO raw_commit (v) VALUES (?)", "x"); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return nil, err
	}
	return &rawCommitReport{Engine: "sqlite", Synchronous: synchronous, Where: "a file next to the server's database (" + filepath.Dir(path) + ")",
		Seconds: round3(took.Seconds()), Commits: n, CommitsPerSecond: round3(float64(n) / took.Seconds()),
		Note: "one connection, WAL, BEGIN IMMEDIATE; INSERT one row; COMMIT"}, nil
}

func rawCommitPostgres(ctx context.Context, dsn, table string, d time.Duration) (*rawCommitReport, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE "+table+" (id bigserial PRIMARY KEY, v text NOT NULL)"); err != nil {
		return nil, err
	}
	defer conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table)
	n, took, err := commitLoop(ctx, d, func() error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+table+" (v) VALUES ($1)", "x"); err != nil {
			tx.Rollback(ctx)
			return err
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return nil, err
	}
	return &rawCommitReport{Engine: "postgres", Where: "a table of its own in the server's database",
		Seconds: round3(took.Seconds()), Commits: n, CommitsPerSecond: round3(float64(n) / took.Seconds()),
		Note: "one connection, the server's own fsync and synchronous_commit; BEGIN; INSERT one row; COMMIT"}, nil
}

func commitLoop(ctx context.Context, d time.Duration, commit func() error) (int, time.Duration, error) {
	start := time.Now()
	deadline := start.Add(d)
	n := 0
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		if err := commit(); err != nil {
			return 0, 0, err
		}
		n++
	}
	return n, time.Since(start), nil
}

// ---- the table ----

// orNA formats a figure the report may lack.
func orNA(f *float64, format string) string {
	if f == nil {
		return "n/a"
	}
	return fmt.Sprintf(format, *f)
}

// writeTarget prints the table's scenario and target lines.
func (r *result) writeTarget(w io.Writer) {
	fmt.Fprintf(w, "scenario     %s: %s\n", r.Scenario, r.Description)
	t := r.Target
	line := t.URL
	if t.StartedChild {
		serve := "accessd serve"
		if t.Dev {
			serve += " --dev"
		}
		line += fmt.Sprintf(", child %s, pid %d", serve, t.PID)
	} else if t.PID != 0 {
		line += fmt.Sprintf(", pid %d", t.PID)
	}
	if t.Engine != "" {
		line += ", " + t.Engine + " " + t.Database
	}
	if t.Engine == "sqlite" {
		line += " (synchronous=" + t.SQLiteSynchronous + ")"
	}
	if len(t.ServeFlags) > 0 {
		line += ", serve flags " + strings.Join(t.ServeFlags, " ")
	}
	if t.Replicas > 1 {
		line += fmt.Sprintf(", %d replicas (lifecycles spread over them; server CPU is theirs together, memory the first's)", t.Replicas)
	}
	fmt.Fprintf(w, "target       %s\n", line)
}

func (r *result) writeTable(w io.Writer) {
	if r.Read != nil {
		r.writeReadTable(w)
		return
	}
	na := orNA
	r.writeTarget(w)
	l := r.Load
	var load string
	if l.Mode == "open" {
		load = fmt.Sprintf("open loop, %s arrivals at %g/s: achieved %.1f/s, %d late (> %g ms behind), latest %.3f ms",
			l.Arrival, l.Rate, *l.AchievedRate, *l.Late, *l.LateThresholdMS, *l.MaxLateMS)
	} else {
		load = fmt.Sprintf("closed loop, %d in flight", l.Concurrency)
	}
	if r.Waiting == nil {
		load += fmt.Sprintf("; warm-up %gs; %d started in %.2f s, all finished after %.2f s", l.WarmupS, l.Started, l.WindowS, l.MeasuredS)
	} else {
		load += fmt.Sprintf("; %d started in %.2f s", l.Started, l.MeasuredS)
	}
	fmt.Fprintf(w, "load         %s\n", load)
	errs := "none"
	if r.ErrorCount > 0 {
		var kinds []string
		for k, v := range r.Errors {
			kinds = append(kinds, fmt.Sprintf("%d × %s", v, k))
		}
		slices.Sort(kinds)
		errs = fmt.Sprintf("%d: %s", r.ErrorCount, strings.Join(kinds, "; "))
	}
	fmt.Fprintf(w, "lifecycles   %d completed, %.1f/s; errors: %s\n\n", r.Completed, r.LifecyclesPerSecond, errs)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency (ms)\tn\tp50\tp95\tp99\tmax\t")
	for _, row := range []struct {
		name string
		p    *percentiles
	}{
		{"create", r.LatencyMS.Create}, {"create → callout", r.LatencyMS.CreateToCallout}, {"resume", r.LatencyMS.Resume},
		{"resume → delivered", r.LatencyMS.ResumeToDelivered}, {"lifecycle", r.LatencyMS.Lifecycle},
	} {
		if row.p == nil {
			fmt.Fprintf(tw, "%s\tn/a\t\t\t\t\t\n", row.name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n", row.name, row.p.N, row.p.P50, row.p.P95, row.p.P99, row.p.Max)
	}
	tw.Flush()
	fmt.Fprintln(w)

	s := r.Server
	fmt.Fprintf(w, "server       CPU %s s (%s cores), %s ms per lifecycle; peak RSS %s MB\n",
		na(s.CPUSeconds, "%.2f"), na(s.Cores, "%.2f"), na(s.CPUPerLifecycleMS, "%.3f"), na(s.PeakRSSMB, "%.1f"))
	fmt.Fprintf(w, "store        per lifecycle: %s statements, %s documents written, %s write transactions\n",
		na(r.StatementsPerLifecycle, "%.1f"), na(r.DocumentsPerLifecycle, "%.1f"), na(r.WriteTransactionsPerLifecycle, "%.2f"))
	fmt.Fprintf(w, "retries      %s write transactions run again after a lost race: %s per lifecycle, %s per write transaction\n",
		na(r.Retries, "%.0f"), na(r.RetriesPerLifecycle, "%.3f"), na(r.RetriesPerWriteTransaction, "%.4f"))
	fmt.Fprintf(w, "bench        CPU %s s (%s cores): load, extension and resume calls\n", na(r.Bench.CPUSeconds, "%.2f"), na(r.Bench.Cores, "%.2f"))
	fmt.Fprintf(w, "machine      %d CPUs, %s cores busy, %s of them neither the server nor the bench\n", r.Machine.CPUs, na(r.Machine.BusyCores, "%.2f"), na(r.Machine.OtherCores, "%.2f"))
	if rc := r.RawCommit; rc != nil {
		engine := rc.Engine
		if rc.Synchronous != "" {
			engine += " synchronous=" + rc.Synchronous
		}
		fmt.Fprintf(w, "raw commit   %s: %.0f commits/s over %.1f s, %s\n", engine, rc.CommitsPerSecond, rc.Seconds, rc.Where)
		fmt.Fprintf(w, "ratio        %s lifecycles per raw commit\n", na(r.LifecyclesPerRawCommit, "%.4f"))
	} else {
		fmt.Fprintf(w, "raw commit   n/a\n")
	}
	if wt := r.Waiting; wt != nil {
		fmt.Fprintf(w, "waiting      %d of %d requests waiting, created in %.1f s (%.0f/s); server RSS %s MB while they wait (peak %s MB)\n",
			wt.Waiting, wt.Requests, wt.CreateSeconds, wt.CreatedPerSecond, na(wt.ServerRSSMBWaiting, "%.1f"), na(wt.ServerPeakRSSMB, "%.1f"))
		fmt.Fprintf(w, "timeouts     clock moved %s: all due work done in %.2f s (%d clock calls) = %.0f timeouts/s, server CPU %s s, other processes %s cores; %d of %d sampled requests deliveryFailed/CallbackTimedOut\n",
			wt.ClockAdvance, wt.TimeoutWallS, wt.ClockPosts, wt.TimeoutsPerS, na(wt.ServerCPUSecondsTimeouts, "%.2f"), na(wt.OtherCoresTimeouts, "%.2f"), wt.VerifiedTimedOut, wt.Verified)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note         %s\n", n)
	}
}
