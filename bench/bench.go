// Package bench is the load tool behind `accessd bench`. It drives whole
// request lifecycles through a running accessd (a child `accessd serve` on
// a temporary database, with --dev only for a scenario that moves the
// virtual clock, or --url) and answers its callouts with a built-in
// extension, then reports throughput, latency percentiles, the server's CPU
// and memory, and the raw commit rate of the same database engine.
// docs/benchmarks.md describes it; the scenarios are in scenarios.go and
// the report in report.go.
//
// It talks to accessd over HTTP only, as any client would, so that it
// measures the server a user runs; only the raw commit rate is measured on
// the database directly, as the ceiling to compare with.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
)

// ErrUsage means the arguments were wrong and the flag package has already
// said so on stderr: the caller should not print it again.
var ErrUsage = errors.New("usage")

const usage = `usage: accessd bench [flags]

Runs request lifecycles against accessd and reports lifecycles per second,
latency percentiles, the server's CPU and peak memory, and the raw commit
rate of the same database. By default it starts "accessd serve" with its
default settings on a temporary SQLite database (or on --database
postgres://…) and --callout-allow-private, since the bench's extension
listens on 127.0.0.1, adding --dev only for a scenario marked "needs --dev"
below, which moves the server's virtual clock; --url targets a running
server (started with --callout-allow-private or --dev, and in --dev mode
for such a scenario) with --token.

Scenarios (--scenario):
%s
Flags:
`

// config is every setting of `accessd bench`.
type config struct {
	Scenario         string
	URL              string
	Token            string
	Database         string
	Synchronous      string
	Concurrency      int
	Rate             float64
	Arrival          string
	Duration         time.Duration
	Warmup           time.Duration
	Requests         int
	Assignments      int
	Packages         int
	Users            int
	SetupConcurrency int
	RawCommit        time.Duration
	LifecycleTimeout time.Duration
	CallbackTimeout  time.Duration
	MaxInflight      int
	ServerPID        int
	Replicas         int
	ExtensionAddr    string
	ServeFlags       []string
	JSON             bool
	Keep             bool
}

func newFlagSet(cfg *config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("accessd bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		var names strings.Builder
		for _, s := range scenarios {
			dev := ""
			if s.needsDev {
				dev = " (needs --dev)"
			}
			fmt.Fprintf(&names, "  %-9s %s%s\n", s.name, s.summary, dev)
		}
		fmt.Fprintf(fs.Output(), usage, names.String())
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Scenario, "scenario", "wait", "what a lifecycle is: "+strings.Join(scenarioNames(), ", "))
	fs.StringVar(&cfg.URL, "url", "", "target a running accessd at this URL instead of starting one (needs --token)")
	fs.StringVar(&cfg.Token, "token", "", "bearer token for --url: EntitlementManagement.ReadWrite.All and Directory.ReadWrite.All")
	fs.StringVar(&cfg.Database, "database", "", "database of the child server: a postgres:// URL (default: a SQLite file in a temporary directory); with --url, the target's database, for the raw commit measurement")
	fs.StringVar(&cfg.Synchronous, "sqlite-synchronous", "normal", "SQLite synchronous setting of the child server and of the raw commit measurement: normal or full")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "closed loop: lifecycles in flight at once (also for creating the waiting scenario's requests)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: start this many lifecycles per second instead of a closed loop")
	fs.StringVar(&cfg.Arrival, "arrival", "poisson", "open loop arrivals: poisson or fixed (evenly spaced)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "warm-up before the measured time, not counted")
	fs.IntVar(&cfg.Requests, "requests", 100000, "waiting scenario: requests created and left waiting; read scenario: requests generated")
	fs.IntVar(&cfg.Assignments, "assignments", 1000000, "read scenario: assignments generated, spread evenly over --packages")
	fs.IntVar(&cfg.Packages, "packages", 100, "read scenario: access packages generated, ten to a catalog")
	fs.IntVar(&cfg.Users, "users", 0, "users created for the measured time, one per lifecycle (default: sized from --rate, or from the warm-up's rate)")
	fs.IntVar(&cfg.SetupConcurrency, "setup-concurrency", 32, "API calls at once while creating users before the load")
	fs.DurationVar(&cfg.RawCommit, "raw-commit", 2*time.Second, "how long to measure the raw single-row commit rate (0 skips it)")
	fs.DurationVar(&cfg.LifecycleTimeout, "lifecycle-timeout", 60*time.Second, "a lifecycle not finished after this long counts as an error")
	fs.DurationVar(&cfg.CallbackTimeout, "callback-timeout", 0, "callbackConfiguration timeout of launch-and-wait extensions, whole minutes, at least 5m (default: 5m, and 1h for waiting, whose requests take minutes to create); the waiting scenario moves the clock one minute past it")
	fs.IntVar(&cfg.MaxInflight, "max-inflight", 20000, "open loop: most lifecycles in flight; an arrival beyond it waits (and is late)")
	fs.IntVar(&cfg.Replicas, "replicas", 1, "start this many accessd serve processes on the one --database (postgres:// only) and spread lifecycles over them; CPU is theirs together")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "with --url: the server's process id, for its CPU and memory (Linux /proc)")
	fs.StringVar(&cfg.ExtensionAddr, "extension-addr", "127.0.0.1:0", "listen address of the built-in extension endpoint; the server must reach it")
	fs.Func("serve-flag", "extra flag for the child server (accessd serve), e.g. --serve-flag=--workers=64 (repeatable); the bench adds --dev only for a scenario that needs it", func(s string) error {
		cfg.ServeFlags = append(cfg.ServeFlags, s)
		return nil
	})
	fs.BoolVar(&cfg.JSON, "json", false, "print one JSON object instead of a table")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directory (database, server log) and say where it is")
	return fs
}

func (c config) validate() error {
	var problems []string
	if scenarioNamed(c.Scenario) == nil {
		problems = append(problems, fmt.Sprintf("--scenario %q: want one of %s", c.Scenario, strings.Join(scenarioNames(), ", ")))
	}
	if c.URL != "" && c.Token == "" {
		problems = append(problems, "--url needs --token")
	}
	if c.URL == "" && c.Token != "" {
		problems = append(problems, "--token is for --url; a child server gets a token of its own")
	}
	switch {
	case c.Replicas < 1 || c.Replicas > 16:
		problems = append(problems, "--replicas must be from 1 to 16")
	case c.Replicas > 1 && c.URL != "":
		problems = append(problems, "--replicas is for the servers the bench starts, not --url")
	case c.Replicas > 1 && !isPostgresURL(c.Database):
		problems = append(problems, "--replicas needs --database postgres://…: SQLite takes one server per file")
	}
	if c.URL == "" && c.ServerPID != 0 {
		problems = append(problems, "--server-pid is for --url")
	}
	if c.Synchronous != "normal" && c.Synchronous != "full" {
		problems = append(problems, fmt.Sprintf("--sqlite-synchronous must be normal or full, not %q", c.Synchronous))
	}
	if c.Concurrency < 1 {
		problems = append(problems, "--concurrency must be at least 1")
	}
	if c.Rate < 0 {
		problems = append(problems, "--rate must not be negative")
	}
	if c.Arrival != "poisson" && c.Arrival != "fixed" {
		problems = append(problems, fmt.Sprintf("--arrival must be poisson or fixed, not %q", c.Arrival))
	}
	if c.Duration <= 0 {
		problems = append(problems, "--duration must be positive")
	}
	if c.Warmup < 0 {
		problems = append(problems, "--warmup must not be negative")
	}
	if c.Requests < 1 {
		problems = append(problems, "--requests must be at least 1")
	}
	if c.Assignments < 1 || c.Packages < 1 || c.Packages > c.Assignments {
		problems = append(problems, "--assignments and --packages must be at least 1, with no more packages than assignments")
	}
	if c.URL != "" && c.Database == "" && scenarioNamed(c.Scenario) != nil && scenarioNamed(c.Scenario).prepare != nil {
		problems = append(problems, fmt.Sprintf("--scenario %s with --url needs --database: the database the server serves, to generate its data into", c.Scenario))
	}
	if c.Users < 0 {
		problems = append(problems, "--users must not be negative")
	}
	if c.SetupConcurrency < 1 {
		problems = append(problems, "--setup-concurrency must be at least 1")
	}
	if c.RawCommit < 0 {
		problems = append(problems, "--raw-commit must not be negative")
	}
	if c.LifecycleTimeout <= 0 {
		problems = append(problems, "--lifecycle-timeout must be positive")
	}
	if c.CallbackTimeout != 0 && (c.CallbackTimeout < 5*time.Minute || c.CallbackTimeout%time.Minute != 0) {
		problems = append(problems, "--callback-timeout must be whole minutes, at least 5m")
	}
	if c.MaxInflight < 1 {
		problems = append(problems, "--max-inflight must be at least 1")
	}
	if c.URL != "" {
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("--url %q is not an http or https URL", c.URL))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// runner is one run of `accessd bench`: the target, the client and the
// built-in extension, shared by every scenario.
type runner struct {
	cfg      config
	sc       *scenario
	progress io.Writer // what the run is doing, for people: stderr

	url   string // the (first) server's base URL
	token string
	child *child // the first child server; nil with --url
	// replicas are every server the bench drives: one, or --replicas
	// children on one PostgreSQL database, each lifecycle bound to one.
	replicas []replica
	dev      bool   // the child was started with --dev (the scenario needs it)
	pid      int    // the server's process id, 0 when unknown
	engine   string // "sqlite" or "postgres"
	dbShown  string // the database as reported (a password redacted)
	dbFile   string // the SQLite database file, when known: the raw commit file goes next to it
	dir      string // temporary directory: the SQLite database unless --database, the server log
	runID    string // names this run's users and objects
	accessd  string // the accessd binary the child server and its token come from

	// Every call goes through httpClient, whose pool keeps an idle
	// connection for each lifecycle in flight (http.DefaultClient keeps two).
	httpClient *http.Client
	api        *client.Client

	ext       *http.Server
	extURL    string
	policy    string
	pkg       string
	targets   sync.Map // target user id → *lifecycle
	userSeq   atomic.Int64
	callouts  atomic.Int64 // callouts received for known targets
	errs      errorCounts
	notes     []string
	peakRSSMB float64 // the server's, highest seen
	rawCommit *rawCommitReport
	readData  *readDataset // the read scenario's data, once prepared
}

// Run is `accessd bench` with args, the arguments after "bench". accessd is
// the path of the accessd binary that the bench starts as its server
// (`accessd serve`) and asks for a token (`accessd token`); with --url it is
// not used. The report goes to stdout, progress to stderr. After -h or
// --help it returns flag.ErrHelp, the usage printed; after wrong arguments,
// ErrUsage.
func Run(ctx context.Context, accessd string, args []string, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet(&cfg, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ErrUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		return ErrUsage
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	sc := scenarioNamed(cfg.Scenario)
	concurrencySet := false
	fs.Visit(func(f *flag.Flag) { concurrencySet = concurrencySet || f.Name == "concurrency" })
	if sc.concurrency > 0 && !concurrencySet {
		cfg.Concurrency = sc.concurrency
	}
	b := &runner{cfg: cfg, sc: sc, progress: stderr, runID: randomHex(4), accessd: accessd}
	if b.cfg.CallbackTimeout == 0 {
		b.cfg.CallbackTimeout = b.sc.callbackTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0 // no limit
	tr.MaxIdleConnsPerHost = 4096
	tr.ForceAttemptHTTP2 = false
	b.httpClient = &http.Client{Transport: tr, Timeout: 2 * time.Minute} // POST /_accessd/clock may take 30 s

	res, err := b.run(ctx)
	if stopErr := b.stop(); stopErr != nil && err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	res.writeTable(stdout)
	return nil
}

func (b *runner) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: "+format+"\n", args...)
}

func (b *runner) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

func (b *runner) run(ctx context.Context) (*result, error) {
	if err := b.startTarget(ctx); err != nil {
		return nil, err
	}
	// A scenario without stages (read) drives no lifecycles: it needs
	// neither the extension nor a policy, nor the commit rate to compare with.
	if len(b.sc.stages) == 0 {
		return b.sc.run(ctx, b)
	}
	if err := b.startExtension(); err != nil {
		return nil, err
	}
	if err := b.setupPolicy(ctx); err != nil {
		return nil, err
	}
	// The raw commit rate is measured before the load, while the server is
	// idle, so that the two never compete for the disk or the cores.
	if b.cfg.RawCommit > 0 {
		b.rawCommit = b.measureRawCommit(ctx)
	}
	return b.sc.run(ctx, b)
}

// ---- the target: a child `accessd serve` (--dev if the scenario needs it), or --url ----

// child is an `accessd serve` process the bench started.
type child struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan error
}

// replica is one server the bench drives, with its own client.
type replica struct {
	url   string
	pid   int // 0 when unknown
	child *child
	api   *client.Client
}

// apiFor is the client of the replica a lifecycle is bound to.
func (b *runner) apiFor(lc *lifecycle) *client.Client {
	return b.replicas[lc.replica%len(b.replicas)].api
}

func (b *runner) startTarget(ctx context.Context) error {
	b.engine, b.dbShown = "sqlite", b.cfg.Database
	if isPostgresURL(b.cfg.Database) {
		b.engine = "postgres"
		if u, err := url.Parse(b.cfg.Database); err == nil {
			b.dbShown = u.Redacted()
		} else {
			b.dbShown = "postgres://…"
		}
	}
	if b.cfg.URL != "" {
		b.url, b.token, b.pid = strings.TrimSuffix(b.cfg.URL, "/"), b.cfg.Token, b.cfg.ServerPID
		switch {
		case b.cfg.Database == "":
			b.engine = ""
		case b.engine == "sqlite":
			b.dbFile = sqliteFile(b.cfg.Database)
		}
		if b.sc.prepare != nil {
			if err := b.sc.prepare(ctx, b, b.cfg.Database); err != nil {
				return err
			}
		}
		b.replicas = []replica{{url: b.url, pid: b.pid}}
		return b.connect(ctx)
	}

	dir, err := os.MkdirTemp("", "accessd-bench-")
	if err != nil {
		return err
	}
	b.dir = dir
	db := b.cfg.Database
	if db == "" {
		db = filepath.Join(dir, "bench.db")
		b.dbShown = db
	}
	if b.engine == "sqlite" {
		b.dbFile = sqliteFile(db)
	}
	if b.sc.prepare != nil {
		if err := b.sc.prepare(ctx, b, db); err != nil {
			return err
		}
	}
	exe := b.accessd
	args := serveArgs(b.sc, b.cfg, db)
	b.dev = b.sc.needsDev
	for i := range b.cfg.Replicas {
		logName := "serve.log"
		if i > 0 {
			logName = fmt.Sprintf("serve-%d.log", i+1)
		}
		b.logf("starting %s %s", exe, strings.Join(redactArgs(args), " "))
		r, err := b.startChild(ctx, exe, args, filepath.Join(dir, logName))
		if r.child != nil {
			b.replicas = append(b.replicas, r)
		}
		if err != nil {
			return err
		}
	}
	b.child, b.url, b.pid = b.replicas[0].child, b.replicas[0].url, b.replicas[0].pid

	// The token is minted once the server is up: `accessd token` names the
	// issuer the server recorded when it started.
	out, err := exec.CommandContext(ctx, exe, "token", "--database", db, "--app", "bench", "--ttl", "24h",
		"--roles", "EntitlementManagement.ReadWrite.All,Directory.ReadWrite.All").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		return fmt.Errorf("accessd token: %v %s", err, bytes.TrimSpace(stderr))
	}
	b.token = strings.TrimSpace(string(out))
	return b.connect(ctx)
}

// startChild starts one `accessd serve` and waits for its address.
func (b *runner) startChild(ctx context.Context, exe string, args []string, logPath string) (replica, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return replica{}, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = childProcessAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return replica{}, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return replica{}, fmt.Errorf("starting accessd serve: %w", err)
	}
	c := &child{cmd: cmd, log: logFile, done: make(chan error, 1)}
	r := replica{child: c, pid: cmd.Process.Pid}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { c.done <- cmd.Wait() }()
	select {
	case line := <-lines:
		u, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			return r, fmt.Errorf("accessd serve printed %q, not 'listening on …'%s", line, logTail(c))
		}
		r.url = u
		return r, nil
	case err := <-c.done:
		c.done <- err
		return r, fmt.Errorf("accessd serve exited before listening: %v%s", err, logTail(c))
	case <-time.After(2 * time.Minute):
		return r, fmt.Errorf("accessd serve did not print its address within 2 minutes%s", logTail(c))
	case <-ctx.Done():
		return r, ctx.Err()
	}
}

// serveArgs is the command line of the child server: the server's
// defaults but for a free port, the database, --callout-allow-private (the
// bench's extension is on loopback) and --sqlite-synchronous (the raw
// commit measurement uses the same), --dev only when the scenario needs it,
// then --serve-flag.
func serveArgs(sc *scenario, cfg config, db string) []string {
	args := []string{"serve", "--addr", "127.0.0.1:0", "--database", db, "--callout-allow-private"}
	if sc.needsDev {
		args = append(args, "--dev")
	}
	args = append(args, "--sqlite-synchronous", cfg.Synchronous)
	return append(args, cfg.ServeFlags...)
}

// connect makes the client of the server at b.url and checks the token
// with one small read: a wrong URL or token fails here, not as thousands of
// failed lifecycles.
func (b *runner) connect(ctx context.Context) error {
	for i := range b.replicas {
		r := &b.replicas[i]
		var err error
		r.api, err = client.New(client.Config{BaseURL: r.url, Token: b.token, HTTPClient: b.httpClient})
		if err != nil {
			return err
		}
		err = r.api.Do(ctx, http.MethodGet, emPath+"/catalogs?$top=1", nil, nil)
		var refused *client.Error
		switch {
		case errors.As(err, &refused):
			return fmt.Errorf("calling accessd at %s with the token: %w", r.url, err)
		case err != nil:
			return fmt.Errorf("reaching accessd at %s: %w", r.url, err)
		}
	}
	b.api = b.replicas[0].api
	return nil
}

// stop ends the child server (SIGTERM, then SIGKILL), then the extension, and
// removes the temporary directory unless --keep.
func (b *runner) stop() error {
	var err error
	if b.httpClient != nil {
		// The server's graceful stop waits up to 5 s for connections that
		// were opened but never carried a request: close ours first.
		b.httpClient.CloseIdleConnections()
	}
	for _, r := range b.replicas {
		c := r.child
		if c == nil {
			continue
		}
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-c.done:
			case <-time.After(30 * time.Second):
				c.cmd.Process.Kill()
				<-c.done
				err = fmt.Errorf("accessd serve did not stop within 30 s of SIGTERM%s", logTail(c))
			}
		}
		c.log.Close()
	}
	if b.ext != nil {
		// Close, not Shutdown: the run is over, and Shutdown would wait up
		// to 5 s for connections the server opened but never used.
		b.ext.Close()
	}
	if b.dir != "" {
		if b.cfg.Keep {
			b.logf("kept %s (database, server log serve.log)", b.dir)
		} else {
			os.RemoveAll(b.dir)
		}
	}
	return err
}

// serverLogTail is the end of the first child's log, for error messages.
func (b *runner) serverLogTail() string {
	return logTail(b.child)
}

// logTail is the end of a child's log, for error messages.
func logTail(c *child) string {
	if c == nil {
		return ""
	}
	raw, err := os.ReadFile(c.log.Name())
	if err != nil || len(raw) == 0 {
		return ""
	}
	if len(raw) > 2000 {
		raw = raw[len(raw)-2000:]
	}
	return "\nserver log (end):\n" + string(raw)
}

func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if isPostgresURL(a) {
			if u, err := url.Parse(a); err == nil {
				out[i] = u.Redacted()
			}
		}
	}
	return out
}

// sqliteFile is the file a SQLite path or file: URI names.
func sqliteFile(dsn string) string {
	if rest, ok := strings.CutPrefix(dsn, "file:"); ok {
		dsn, _, _ = strings.Cut(rest, "?")
	}
	return dsn
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

func randomHex(n int) string {
	buf := make([]byte, n)
	rand.Read(buf)
	return hex.EncodeToString(buf)
}

// ---- talking to accessd ----

// The routes the bench calls by path through the client's Do, where a
// typed call would cost more: GetRequest has the server expand five
// navigation properties, and SubmitRequest decodes the whole answer on a
// machine the bench shares with the server. Both would change what is
// measured, and runs before and after a change must compare.
const (
	emPath       = "/v1.0/identityGovernance/entitlementManagement"
	requestsPath = emPath + "/assignmentRequests"
)

// errorKind names a failed call for the error counts: the HTTP status and
// the Graph error code, or the transport error's kind or cause without the
// URL, so that one failure seen on many requests counts as one kind.
func errorKind(what string, err error) string {
	var refused *client.Error
	var timeout net.Error
	var transport *url.Error
	switch {
	case errors.As(err, &refused) && refused.Code != "":
		return fmt.Sprintf("%s: HTTP %d %s", what, refused.Status, refused.Code)
	case errors.As(err, &refused):
		return fmt.Sprintf("%s: HTTP %d", what, refused.Status)
	case errors.Is(err, context.Canceled):
		return what + ": canceled"
	case errors.As(err, &timeout) && timeout.Timeout():
		return what + ": timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return what + ": connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return what + ": connection reset"
	case errors.As(err, &transport):
		return what + ": " + transport.Err.Error()
	}
	return what + ": " + err.Error()
}

// errorCounts counts errors by kind.
type errorCounts struct {
	mu     sync.Mutex
	byKind map[string]int
}

func (e *errorCounts) add(kind string) {
	e.mu.Lock()
	if e.byKind == nil {
		e.byKind = map[string]int{}
	}
	e.byKind[kind]++
	e.mu.Unlock()
}

func (e *errorCounts) reset() {
	e.mu.Lock()
	e.byKind = nil
	e.mu.Unlock()
}

func (e *errorCounts) snapshot() (map[string]int, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out, n := map[string]int{}, 0
	for k, v := range e.byKind {
		out[k] = v
		n += v
	}
	return out, n
}

// ---- setup: a catalog, its extensions, a package and a policy ----

func (b *runner) setupPolicy(ctx context.Context) error {
	name := "bench " + b.runID
	catalog, err := b.api.CreateCatalog(ctx, access.Catalog{DisplayName: name, Description: "accessd bench, scenario " + b.sc.name})
	if err != nil {
		return fmt.Errorf("creating the catalog: %w", err)
	}
	calloutTimeoutMillis := 2000
	var settings []any
	for _, st := range b.sc.stages {
		ext := access.CustomExtension{
			Type:           access.RequestWorkflowExtension,
			DisplayName:    name + " " + st.stage,
			Endpoint:       access.Endpoint{Type: access.HTTPRequestEndpoint, TargetURL: b.extURL + "/callout/" + st.stage},
			Authentication: access.Authentication{Type: access.PopTokenAuthentication},
			Client:         &access.ClientConfiguration{TimeoutInMilliseconds: &calloutTimeoutMillis},
		}
		if st.wait {
			ext.Callback = &access.CallbackConfiguration{TimeoutDuration: access.Duration{Clock: b.cfg.CallbackTimeout}}
		}
		created, err := b.api.CreateCustomExtension(ctx, catalog.ID, ext)
		if err != nil {
			return fmt.Errorf("creating the %s extension: %w", st.stage, err)
		}
		settings = append(settings, map[string]any{"stage": st.stage, "customExtension": map[string]any{"id": created.ID}})
	}
	pkg, err := b.api.CreateAccessPackage(ctx, access.AccessPackage{DisplayName: name, CatalogID: catalog.ID})
	if err != nil {
		return fmt.Errorf("creating the access package: %w", err)
	}
	b.pkg = pkg.ID
	policy, err := b.api.CreateAssignmentPolicy(ctx, map[string]any{
		"displayName": name, "accessPackage": map[string]any{"id": b.pkg}, "allowedTargetScope": "allMemberUsers",
		"customExtensionStageSettings": settings,
	})
	if err != nil {
		return fmt.Errorf("creating the policy: %w", err)
	}
	b.policy = policy.ID
	return nil
}

func isoMinutes(d time.Duration) string { return fmt.Sprintf("PT%dM", int(d/time.Minute)) }

// newUsers creates n directory users over the API, setup-concurrency at a
// time, each the target of one lifecycle, and registers their lifecycles.
func (b *runner) newUsers(ctx context.Context, n int) ([]*lifecycle, error) {
	if n <= 0 {
		return nil, nil
	}
	start := time.Now()
	out := make([]*lifecycle, n)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(b.cfg.SetupConcurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				seq := b.userSeq.Add(1)
				nick := fmt.Sprintf("bench-%s-%d", b.runID, seq)
				user, err := b.api.CreateUser(ctx, access.User{AccountEnabled: true, DisplayName: nick, MailNickname: nick,
					UserPrincipalName: nick + "@bench.test", Mail: nick + "@bench.test"})
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("creating users: %w", err); cancel() })
					return
				}
				lc := &lifecycle{target: user.ID, replica: int(seq), done: make(chan struct{})}
				b.targets.Store(user.ID, lc)
				out[i] = lc
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	took := time.Since(start)
	b.logf("created %d users in %.1f s (%.0f/s)", n, took.Seconds(), float64(n)/took.Seconds())
	return out, nil
}
