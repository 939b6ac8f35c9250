package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/sqlstore"
)

// The read scenario measures lists on a database the size of a large
// tenant. Making a million assignments through the API would take hours,
// so readData writes them straight into the store, in the stored format the
// server reads, before the server starts. The data is the same on every
// run (a fixed seed), so that runs compare.

// readSize is how much the read scenario generates.
type readSize struct {
	Assignments int `json:"assignments"`
	Requests    int `json:"requests"`
	Packages    int `json:"packages"`
	Users       int `json:"users"`
}

// readDatasetSetting marks a database that holds the read scenario's data,
// with its size, so that a second run on the same PostgreSQL database (or a
// kept SQLite file) reuses it instead of adding a million rows more.
const readDatasetSetting = "bench_read_dataset"

// readDataset is what the read scenario's data is, for the report.
type readDataset struct {
	readSize
	Catalogs        int      `json:"catalogs"`
	Reused          bool     `json:"reused"`
	GenerateSeconds float64  `json:"generate_s"`
	RowsPerSecond   float64  `json:"rows_per_s,omitempty"`
	PackageIDs      []string `json:"-"`
}

// packagesPerCatalog groups the packages in catalogs, as a tenant would.
const packagesPerCatalog = 10

// readStates is how the assignments' states are spread: 80% delivered,
// the rest evenly in the other states, so that a package's delivered
// assignments are about 8,000 of its 10,000.
var readStates = []struct {
	state  access.AssignmentState
	status string
	share  int // in percent
}{
	{access.AssignmentDelivered, access.StatusDelivered, 80},
	{access.AssignmentDelivering, access.StatusDelivering, 5},
	{access.AssignmentPartiallyDelivered, access.StatusPartiallyDelivered, 5},
	{access.AssignmentDeliveryFailed, access.StatusDeliveryFailed, 5},
	{access.AssignmentExpired, access.StatusExpired, 5},
}

// rowsPerTransaction bounds each write transaction of the generator: large
// enough that commits cost little, small enough to keep each short.
const rowsPerTransaction = 5000

// readData makes sure the database at dsn holds the read scenario's data
// of size n, generating it unless a previous run left exactly that, and
// returns the packages' ids.
func readData(ctx context.Context, dsn, synchronous string, n readSize, logf func(string, ...any)) (readDataset, error) {
	start := time.Now()
	ds := readDataset{readSize: n, Catalogs: (n.Packages + packagesPerCatalog - 1) / packagesPerCatalog}
	store, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Synchronous: synchronous})
	if err != nil {
		return ds, fmt.Errorf("opening the database to generate the read data: %w", err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return ds, fmt.Errorf("migrating the database: %w", err)
	}
	want, _ := json.Marshal(n)
	var have string
	err = store.View(ctx, func(tx access.Tx) error {
		var err error
		have, _, err = tx.Setting(readDatasetSetting)
		return err
	})
	if err != nil {
		return ds, err
	}
	g := newReadGenerator(n)
	ds.PackageIDs = g.packageIDs
	switch {
	case have == string(want):
		ds.Reused = true
		logf("the database already holds the read data (%s)", have)
		return ds, nil
	case have != "":
		return ds, fmt.Errorf("the database holds read data of another size (%s, want %s): use a fresh database", have, want)
	}

	logf("generating %d assignments, %d requests, %d packages and %d users in the store", n.Assignments, n.Requests, n.Packages, n.Users)
	rows := 0
	put := func(count int, what string, each func(tx access.Tx, i int) error) error {
		for from := 0; from < count; from += rowsPerTransaction {
			to := min(count, from+rowsPerTransaction)
			err := store.Update(ctx, func(tx access.Tx) error {
				for i := from; i < to; i++ {
					if err := each(tx, i); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("generating %s: %w", what, err)
			}
		}
		rows += count
		logf("  %d %s (%.1f s)", count, what, time.Since(start).Seconds())
		return nil
	}
	steps := []struct {
		what  string
		count int
		each  func(tx access.Tx, i int) error
	}{
		{"catalogs", ds.Catalogs, func(tx access.Tx, i int) error { return tx.PutCatalog(g.catalog(i)) }},
		{"access packages", n.Packages, func(tx access.Tx, i int) error { return tx.PutAccessPackage(g.accessPackage(i)) }},
		{"policies", n.Packages, func(tx access.Tx, i int) error { return tx.PutAssignmentPolicy(g.policy(i)) }},
		{"users", n.Users, func(tx access.Tx, i int) error { return tx.PutUser(g.user(i)) }},
		{"assignments", n.Assignments, func(tx access.Tx, i int) error { return tx.PutAssignment(g.assignment(i)) }},
		{"requests", n.Requests, func(tx access.Tx, i int) error { return tx.PutRequest(g.request(i)) }},
	}
	for _, st := range steps {
		if err := put(st.count, st.what, st.each); err != nil {
			return ds, err
		}
	}
	if err := store.Analyze(ctx); err != nil {
		return ds, err
	}
	logf("  analyzed (%.1f s)", time.Since(start).Seconds())
	if err := store.Update(ctx, func(tx access.Tx) error { return tx.PutSetting(readDatasetSetting, string(want)) }); err != nil {
		return ds, err
	}
	ds.GenerateSeconds = round3(time.Since(start).Seconds())
	ds.RowsPerSecond = round3(float64(rows) / time.Since(start).Seconds())
	return ds, nil
}

// readGenerator makes the read scenario's objects. Object i of a kind is
// always the same object: its id and fields come from i alone.
type readGenerator struct {
	n          readSize
	epoch      time.Time // the first assignment's creation
	step       time.Duration
	catalogIDs []string
	packageIDs []string
	policyIDs  []string
	userIDs    []string
	// order maps an assignment's number to its place in creation order, so
	// that creation order is not id order, nor package by package.
	order []int32
	ids   []string // the assignments' ids
}

func newReadGenerator(n readSize) *readGenerator {
	rng := rand.New(rand.NewPCG(20261207, uint64(n.Assignments)))
	g := &readGenerator{n: n, epoch: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	// Spread over a year, at least a millisecond apart.
	g.step = max(time.Millisecond, 365*24*time.Hour/time.Duration(max(1, n.Assignments)))
	idsOf := func(count int) []string {
		out := make([]string, count)
		for i := range out {
			out[i] = guid(rng)
		}
		return out
	}
	g.catalogIDs = idsOf((n.Packages + packagesPerCatalog - 1) / packagesPerCatalog)
	g.packageIDs = idsOf(n.Packages)
	g.policyIDs = idsOf(n.Packages)
	g.userIDs = idsOf(n.Users)
	g.ids = idsOf(n.Assignments)
	g.order = make([]int32, n.Assignments)
	for i := range g.order {
		g.order[i] = int32(i)
	}
	rng.Shuffle(len(g.order), func(i, j int) { g.order[i], g.order[j] = g.order[j], g.order[i] })
	return g
}

// guid is a random version-4 UUID, as accessd's ids look.
func guid(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (g *readGenerator) catalog(i int) access.Catalog {
	c := access.Catalog{ID: g.catalogIDs[i], DisplayName: fmt.Sprintf("bench read catalog %03d", i),
		Description: "accessd bench, scenario read", CreatedBy: "accessd bench", ModifiedBy: "accessd bench",
		CreatedDateTime: g.epoch, ModifiedDateTime: g.epoch}
	c.Normalize()
	return c
}

func (g *readGenerator) accessPackage(i int) access.AccessPackage {
	return access.AccessPackage{ID: g.packageIDs[i], CatalogID: g.catalogIDs[i/packagesPerCatalog],
		DisplayName: fmt.Sprintf("bench read package %03d", i), Description: "accessd bench, scenario read",
		CreatedBy: "accessd bench", ModifiedBy: "accessd bench", CreatedDateTime: g.epoch, ModifiedDateTime: g.epoch}
}

func (g *readGenerator) policy(i int) access.AssignmentPolicy {
	p := access.AssignmentPolicy{ID: g.policyIDs[i], AccessPackageID: g.packageIDs[i], CatalogID: g.catalogIDs[i/packagesPerCatalog],
		DisplayName: fmt.Sprintf("bench read policy %03d", i), AllowedTargetScope: access.ScopeAllMemberUsers,
		CreatedDateTime: g.epoch, ModifiedDateTime: g.epoch}
	p.Normalize()
	return p
}

func (g *readGenerator) user(i int) access.User {
	nick := fmt.Sprintf("bench-read-%06d", i)
	return access.User{ID: g.userIDs[i], DisplayName: fmt.Sprintf("Bench Reader %06d", i), UserPrincipalName: nick + "@bench.test",
		Mail: nick + "@bench.test", MailNickname: nick, AccountEnabled: true}
}

// assignment i belongs to package i/perPackage; its target is a user no
// other assignment of that package has.
func (g *readGenerator) assignment(i int) access.Assignment {
	perPackage := max(1, g.n.Assignments/max(1, g.n.Packages))
	pkg := min(i/perPackage, g.n.Packages-1)
	u := (pkg*perPackage + i%perPackage) % len(g.userIDs)
	user := g.user(u)
	st := readStates[0]
	for pct, k := i%100, 0; k < len(readStates); k++ {
		if pct < readStates[k].share {
			st = readStates[k]
			break
		}
		pct -= readStates[k].share
	}
	created := g.epoch.Add(time.Duration(g.order[i]) * g.step)
	a := access.Assignment{ID: g.ids[i], AccessPackageID: g.packageIDs[pkg], PolicyID: g.policyIDs[pkg], CatalogID: g.catalogIDs[pkg/packagesPerCatalog],
		Target: access.Subject{ID: user.ID, Kind: access.SubjectUser, DisplayName: user.DisplayName, PrincipalName: user.UserPrincipalName, Email: user.Mail},
		State:  st.state, Status: st.status, Schedule: access.Schedule{StartDateTime: &created}, CreatedDateTime: created}
	if st.state == access.AssignmentExpired {
		ended := created.Add(24 * time.Hour)
		a.ExpiredDateTime = &ended
	}
	return a
}

// request i is the request that made assignment i*stride: every assignment
// but one in stride was made before the database began keeping requests.
func (g *readGenerator) request(i int) access.Request {
	stride := max(1, g.n.Assignments/max(1, g.n.Requests))
	a := g.assignment((i * stride) % max(1, g.n.Assignments))
	submitted := a.CreatedDateTime.Add(-time.Second)
	r := access.Request{ID: guidFrom(a.ID), Type: access.RequestAdminAdd, State: access.StateDelivered, Status: access.StatusDelivered,
		CreatedDateTime: submitted, CompletedDateTime: &a.CreatedDateTime, AccessPackageID: a.AccessPackageID, PolicyID: a.PolicyID,
		CatalogID: a.CatalogID, Target: a.Target, Requestor: access.Subject{ID: "bench", Kind: access.SubjectServicePrincipal, DisplayName: "accessd bench"},
		AssignmentID: a.ID, Policy: access.PolicySnapshot{DisplayName: "bench read policy"}}
	return r
}

// guidFrom is another id derived from one: a request's from its assignment's.
func guidFrom(id string) string {
	b := []byte(id)
	for i, c := range b {
		switch {
		case c >= '0' && c <= '8', c >= 'a' && c <= 'e':
			b[i] = c + 1
		case c == '9':
			b[i] = 'a'
		case c == 'f':
			b[i] = '0'
		}
	}
	return string(b)
}
