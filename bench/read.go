package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The read scenario: a closed loop of one list call, the page an
// administrator's tool asks for most, on the data readData generated.

// readQuery is the list call of the read scenario for one package: its
// delivered assignments, oldest first, one page of 100 with the size of
// the whole set and each target expanded.
func readQuery(packageID string) string {
	q := url.Values{}
	q.Set("$filter", fmt.Sprintf("accessPackage/id eq '%s' and state eq 'delivered'", packageID))
	q.Set("$orderby", "schedule/startDateTime")
	q.Set("$count", "true")
	q.Set("$expand", "target")
	q.Set("$top", "100")
	return emPath + "/assignments?" + q.Encode()
}

// readReport is the read scenario's part of the report.
type readReport struct {
	Query        string       `json:"query"` // for one package, with {id} for its id
	Dataset      readDataset  `json:"dataset"`
	Reads        int          `json:"reads"`
	ReadsPerS    float64      `json:"reads_per_s"`
	LatencyMS    *percentiles `json:"latency_ms"`
	CPUPerReadMS *float64     `json:"cpu_per_read_ms"`
	Verified     int          `json:"verified"` // pages whose count, length, order and targets were checked
}

// readPage is what the bench reads of one page.
type readPage struct {
	Count *int `json:"@odata.count"`
	Value []struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		Schedule struct {
			StartDateTime string `json:"startDateTime"`
		} `json:"schedule"`
		AccessPackage *struct {
			ID string `json:"id"`
		} `json:"accessPackage"`
		Target *struct {
			ObjectID string `json:"objectId"`
		} `json:"target"`
	} `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// check says what is wrong with a page of package p, or "".
func (pg readPage) check(wantCount int) string {
	switch {
	case pg.Count == nil:
		return "no @odata.count"
	case *pg.Count != wantCount:
		return fmt.Sprintf("@odata.count %d, want %d", *pg.Count, wantCount)
	case len(pg.Value) != min(100, wantCount):
		return fmt.Sprintf("%d assignments on the page, want %d", len(pg.Value), min(100, wantCount))
	case wantCount > 100 && pg.NextLink == "":
		return "no @odata.nextLink"
	}
	last := ""
	for _, a := range pg.Value {
		switch {
		case a.State != "delivered":
			return fmt.Sprintf("assignment %s is %s", a.ID, a.State)
		case a.Target == nil || a.Target.ObjectID == "":
			return fmt.Sprintf("assignment %s has no expanded target", a.ID)
		case a.Schedule.StartDateTime < last:
			return fmt.Sprintf("assignment %s starts at %s, before the one above it (%s)", a.ID, a.Schedule.StartDateTime, last)
		}
		last = a.Schedule.StartDateTime
	}
	return ""
}

// prepareRead generates (or finds) the read data in the database the server
// is about to serve.
func prepareRead(ctx context.Context, b *runner, db string) error {
	ds, err := readData(ctx, db, b.cfg.Synchronous, b.readSize(), b.logf)
	if err != nil {
		return err
	}
	if !ds.Reused {
		b.logf("generated the read data in %.1f s (%.0f rows/s)", ds.GenerateSeconds, ds.RowsPerSecond)
	}
	b.readData = &ds
	return nil
}

func (b *runner) readSize() readSize {
	return readSize{Assignments: b.cfg.Assignments, Requests: b.cfg.Requests, Packages: b.cfg.Packages,
		Users: max(b.cfg.Assignments/10, b.cfg.Assignments/max(1, b.cfg.Packages))}
}

// deliveredPerPackage is how many of package p's assignments are
// delivered, computed as readGenerator spreads them.
func deliveredPerPackage(n readSize, p int) int {
	perPackage := max(1, n.Assignments/max(1, n.Packages))
	from, to := p*perPackage, (p+1)*perPackage
	if p == n.Packages-1 {
		to = n.Assignments
	}
	count := 0
	for i := from; i < to; i++ {
		if i%100 < readStates[0].share {
			count++
		}
	}
	return count
}

// runRead is the run of the read scenario: a warm-up, then --concurrency
// callers read pages of random packages for --duration.
func runRead(ctx context.Context, b *runner) (*result, error) {
	ds := b.readData
	want := make([]int, len(ds.PackageIDs))
	for p := range want {
		want[p] = deliveredPerPackage(ds.readSize, p)
	}
	// Every package's page is checked once before the load.
	verified := 0
	for p, id := range ds.PackageIDs {
		var pg readPage
		if err := b.api.Do(ctx, http.MethodGet, readQuery(id), nil, &pg); err != nil {
			return nil, fmt.Errorf("reading package %s: %w", id, err)
		}
		if problem := pg.check(want[p]); problem != "" {
			return nil, fmt.Errorf("package %s: %s", id, problem)
		}
		verified++
	}
	if b.cfg.Warmup > 0 {
		b.logf("warm-up: %s", b.cfg.Warmup)
		b.readLoop(ctx, b.cfg.Warmup, want)
		if errs, n := b.errs.snapshot(); n > 0 {
			b.note("warm-up errors (not counted): %v", errs)
		}
		b.errs.reset()
	}
	b.logf("measuring: %s", b.cfg.Duration)
	cpu0 := b.cpuSnapshot()
	start := time.Now()
	took := b.readLoop(ctx, b.cfg.Duration, want)
	wall := time.Since(start)
	cpu1 := b.cpuSnapshot()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res := &result{
		Scenario: b.sc.name, Description: b.sc.summary,
		Target: targetReport{URL: b.url, StartedChild: b.child != nil, PID: b.pid, Engine: b.engine, Database: b.dbShown, Replicas: len(b.replicas),
			SQLiteSynchronous: b.cfg.Synchronous, ServeFlags: b.cfg.ServeFlags},
		Load: loadReport{Mode: "closed", Concurrency: b.cfg.Concurrency, WarmupS: b.cfg.Warmup.Seconds(), DurationS: b.cfg.Duration.Seconds(),
			WindowS: round3(wall.Seconds()), MeasuredS: round3(wall.Seconds()), Started: len(took)},
		RawCommit: b.rawCommit, Notes: []string{},
	}
	rd := &readReport{Query: readQuery("{id}"), Dataset: *ds, Reads: len(took), Verified: verified}
	rd.ReadsPerS = round3(float64(len(took)) / wall.Seconds())
	rd.LatencyMS = percentilesOf(took)
	res.Read = rd
	res.Completed = len(took)
	res.Errors, res.ErrorCount = b.errs.snapshot()
	res.Server.PID = b.pid
	span := cpu1.at.Sub(cpu0.at).Seconds()
	if cpu, ok := cpu1.server.sub(cpu0.server); ok {
		res.Server.CPUSeconds = ptrFloat(round3(cpu))
		res.Server.Cores = ptrFloat(round3(cpu / span))
		res.Server.ClockTicks = clockTicks()
		if len(took) > 0 {
			rd.CPUPerReadMS = ptrFloat(round3(cpu * 1000 / float64(len(took))))
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
	if b.pid == 0 {
		b.note("the server's process is unknown (--url without --server-pid): no CPU or memory figures")
	}
	res.Notes = append(res.Notes, b.notes...)
	return res, nil
}

// readLoop runs --concurrency callers for d, each reading the page of a
// random package and checking its count, and returns how long each
// successful read took. Every package's page was checked whole before the
// load (runRead); in the loop only the count is read, from the head of
// the answer, so that decoding 100 KB of JSON in the bench does not take
// the CPU the server's time is measured on.
func (b *runner) readLoop(ctx context.Context, d time.Duration, want []int) []time.Duration {
	stopAt := time.Now().Add(d)
	ids := b.readData.PackageIDs
	var mu sync.Mutex
	var took []time.Duration
	var seq atomic.Uint64
	var wg sync.WaitGroup
	for range b.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seq.Add(1), 7))
			var mine []time.Duration
			for ctx.Err() == nil && time.Now().Before(stopAt) {
				p := rng.IntN(len(ids))
				start := time.Now()
				resp, err := b.api.Raw(ctx, http.MethodGet, readQuery(ids[p]), nil)
				elapsed := time.Since(start)
				switch {
				case err != nil:
					b.errs.add(errorKind("read", err))
				case resp.Status != http.StatusOK:
					b.errs.add(fmt.Sprintf("read: status %d", resp.Status))
				case leadingCount(resp.Body) != want[p]:
					b.errs.add("read: wrong @odata.count")
				default:
					mine = append(mine, elapsed)
				}
			}
			mu.Lock()
			took = append(took, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return took
}

// writeReadTable prints the read scenario's report.
func (r *result) writeReadTable(w io.Writer) {
	rd := r.Read
	na := orNA
	r.writeTarget(w)
	d := rd.Dataset
	how := fmt.Sprintf("generated in %.1f s", d.GenerateSeconds)
	if d.Reused {
		how = "reused"
	}
	fmt.Fprintf(w, "data         %d assignments, %d requests, %d packages in %d catalogs, %d users (%s)\n",
		d.Assignments, d.Requests, d.Packages, d.Catalogs, d.Users, how)
	fmt.Fprintf(w, "query        GET %s\n", rd.Query)
	errs := "none"
	if r.ErrorCount > 0 {
		errs = fmt.Sprintf("%d: %v", r.ErrorCount, r.Errors)
	}
	fmt.Fprintf(w, "load         closed loop, %d in flight; warm-up %gs; %d pages in %.2f s = %.1f/s; errors: %s\n",
		r.Load.Concurrency, r.Load.WarmupS, rd.Reads, r.Load.MeasuredS, rd.ReadsPerS, errs)
	if p := rd.LatencyMS; p != nil {
		fmt.Fprintf(w, "latency (ms) n %d, p50 %.2f, p95 %.2f, p99 %.2f, max %.2f\n", p.N, p.P50, p.P95, p.P99, p.Max)
	}
	s := r.Server
	fmt.Fprintf(w, "server       CPU %s s (%s cores), %s ms per page; peak RSS %s MB\n",
		na(s.CPUSeconds, "%.2f"), na(s.Cores, "%.2f"), na(rd.CPUPerReadMS, "%.3f"), na(s.PeakRSSMB, "%.1f"))
	fmt.Fprintf(w, "machine      %d CPUs, %s cores busy, %s of them neither the server nor the bench\n", r.Machine.CPUs, na(r.Machine.BusyCores, "%.2f"), na(r.Machine.OtherCores, "%.2f"))
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note         %s\n", n)
	}
}

// leadingCount is the @odata.count of a page, read from the members that
// come before "value" (accessd writes the annotations first); -1 when it
// is not there.
func leadingCount(body []byte) int {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return -1
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil || key == "value" {
			return -1
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return -1
		}
		if key == "@odata.count" {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}
