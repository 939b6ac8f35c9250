package accesstest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// lease is how long the work tests lease what they claim.
const lease = 30 * time.Second

func addWork(t *testing.T, s access.Store, ws ...access.Work) {
	t.Helper()
	update(t, s, func(tx access.Tx) error {
		var errs []error
		for _, w := range ws {
			errs = append(errs, tx.AddWork(w))
		}
		return errors.Join(errs...)
	})
}

// claim runs ClaimWork in its own Update, as a worker does.
func claim(t *testing.T, s access.Store, now time.Time, owner string, limit int) []access.Work {
	t.Helper()
	var got []access.Work
	update(t, s, func(tx access.Tx) error {
		var err error
		got, err = tx.ClaimWork(now, owner, now.Add(lease), limit)
		return err
	})
	return got
}

var errRollback = errors.New("accesstest: roll back")

// pendingWork lists the ids of every work item, leased or not, ordered by
// due time then id. It claims them all in an Update it rolls back, so
// nothing changes.
func pendingWork(t *testing.T, s access.Store) []string {
	t.Helper()
	var got []access.Work
	err := s.Update(ctx(t), func(tx access.Tx) error {
		future := Epoch.AddDate(100, 0, 0)
		var err error
		if got, err = tx.ClaimWork(future, "lister", future.Add(time.Second), 1000); err != nil {
			return err
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("listing work: %v", err)
	}
	return ids(got)
}

func testWorkClaim(t *testing.T, s access.Store) {
	now := Epoch
	// Every kind, every field set; ids chosen so that id order differs from due order.
	a := NewWork("w-5", access.WorkCallout, "req-1", "asg-1", now.Add(-2*time.Minute))
	a.Attempt = 3
	b := NewWork("w-4", access.WorkCallbackTimeout, "req-1", "", now.Add(-time.Minute))
	c := NewWork("w-3", access.WorkStart, "req-2", "", now.Add(-time.Minute))
	d := NewWork("w-2", access.WorkExpire, "", "asg-2", now) // due exactly now: claimable
	notYet := NewWork("w-1", access.WorkCallout, "req-3", "", now.Add(time.Microsecond))
	later := NewWork("w-0", access.WorkCallout, "req-4", "", now.Add(time.Hour))
	addWork(t, s, later, d, b, notYet, a, c)

	// Oldest due first, then by id; the limit is honoured.
	diff(t, "first claim, limit 2", claim(t, s, now, "worker-1", 2), []access.Work{a, c})
	// Live leases keep claimed work from everyone, its owner included.
	diff(t, "second claim", claim(t, s, now, "worker-2", 10), []access.Work{b, d})
	diff(t, "third claim", claim(t, s, now, "worker-1", 10), []access.Work(nil))
	diff(t, "claim a microsecond later", claim(t, s, now.Add(time.Microsecond), "worker-2", 10), []access.Work{notYet})
	// An hour later every lease has ended, so everything is claimable again.
	diff(t, "claim an hour later", claim(t, s, now.Add(time.Hour), "worker-3", 10), []access.Work{a, c, b, d, notYet, later})

	// ClaimWork writes, so a View cannot claim; a limit below 1 and a lease
	// that has already ended are refused.
	if err := s.View(ctx(t), func(tx access.Tx) error {
		_, err := tx.ClaimWork(now.AddDate(1, 0, 0), "viewer", now.AddDate(1, 0, 1), 10)
		return err
	}); err == nil {
		t.Errorf("ClaimWork in a View succeeded")
	}
	if err := s.Update(ctx(t), func(tx access.Tx) error { _, err := tx.ClaimWork(now, "w", now.Add(lease), 0); return err }); err == nil {
		t.Errorf("ClaimWork with limit 0 succeeded")
	}
	if err := s.Update(ctx(t), func(tx access.Tx) error { _, err := tx.ClaimWork(now, "w", now, 1); return err }); err == nil {
		t.Errorf("ClaimWork with a lease ending now succeeded")
	}

	// An id used before is a conflict.
	wantKind(t, "adding work twice", s.Update(ctx(t), func(tx access.Tx) error { return tx.AddWork(a) }), access.KindConflict)
}

func testWorkLeaseRescue(t *testing.T, s access.Store) {
	now := Epoch
	w := NewWork("w-1", access.WorkCallout, "req-1", "", now)
	addWork(t, s, w)
	diff(t, "claim by the worker that crashes", claim(t, s, now, "crashed", 10), []access.Work{w})
	diff(t, "claim just before the lease ends", claim(t, s, now.Add(lease-time.Microsecond), "rescuer", 10), []access.Work(nil))
	// A lease ends at the instant it runs until.
	rescueAt := now.Add(lease)
	diff(t, "claim when the lease ends", claim(t, s, rescueAt, "rescuer", 10), []access.Work{w})
	diff(t, "claim during the rescuer's lease", claim(t, s, rescueAt.Add(lease/2), "crashed", 10), []access.Work(nil))
	diff(t, "claim after the rescuer's lease", claim(t, s, rescueAt.Add(lease), "third", 10), []access.Work{w})
}

// testShiftLeases: a jump of the virtual clock moves the leases still
// running, and only those, so claimed work is not taken over while in hand.
func testShiftLeases(t *testing.T, s access.Store) {
	now := Epoch
	held := NewWork("w-1", access.WorkCallout, "req-1", "", now)
	addWork(t, s, held)
	claim(t, s, now, "worker", 10) // held is leased until now+lease
	ended := NewWork("w-2", access.WorkCallout, "req-2", "", now.Add(-2*lease))
	addWork(t, s, ended)
	claim(t, s, now.Add(-2*lease), "old", 10) // ended's lease ran out at now-lease
	jump := 48 * time.Hour
	update(t, s, func(tx access.Tx) error { return tx.ShiftLeases(now, now.Add(jump)) })
	diff(t, "claim after the jump, within the shifted lease", claim(t, s, now.Add(jump+lease-time.Microsecond), "rescuer", 10), []access.Work{ended})
	diff(t, "claim when the shifted lease ends", claim(t, s, now.Add(jump+lease), "rescuer", 10), []access.Work{held})
}

// testRenewLeases: an owner extends the leases it still holds, and only
// those: work another owner took over after the lease ran out keeps the
// new owner's lease.
func testRenewLeases(t *testing.T, s access.Store) {
	now := Epoch
	kept := NewWork("w-1", access.WorkCallout, "req-1", "", now)
	lost := NewWork("w-2", access.WorkCallout, "req-2", "", now)
	addWork(t, s, kept, lost)
	claim(t, s, now, "worker", 10) // both leased until now+lease
	update(t, s, func(tx access.Tx) error { return tx.RenewLeases("worker", []string{kept.ID}, now.Add(2*lease)) })
	diff(t, "claim when the first lease ends", claim(t, s, now.Add(lease), "rescuer", 10), []access.Work{lost})
	// lost is the rescuer's now (until now+2*lease): worker renews only kept.
	renewed := now.Add(3 * lease)
	update(t, s, func(tx access.Tx) error {
		return tx.RenewLeases("worker", []string{kept.ID, lost.ID, "w-missing"}, renewed)
	})
	diff(t, "claim when the rescuer's lease ends", claim(t, s, now.Add(2*lease), "third", 10), []access.Work{lost})
	diff(t, "claim before the renewed lease ends", claim(t, s, renewed.Add(-time.Microsecond), "fourth", 10), []access.Work(nil))
	diff(t, "claim when the renewed lease ends", claim(t, s, renewed, "fourth", 10), []access.Work{kept, lost})
	update(t, s, func(tx access.Tx) error { return tx.RenewLeases("worker", nil, renewed) })
}

func testWorkRetry(t *testing.T, s access.Store) {
	now := Epoch
	w := NewWork("w-1", access.WorkCallout, "req-1", "asg-1", now)
	other := NewWork("w-2", access.WorkStart, "req-2", "", now.Add(time.Hour))
	addWork(t, s, w, other)
	claim(t, s, now, "worker", 10)

	retryAt := now.Add(10 * time.Second) // before the lease would end
	update(t, s, func(tx access.Tx) error { return tx.RetryWork(w.ID, retryAt, 1) })
	diff(t, "claim before the new due time", claim(t, s, retryAt.Add(-time.Microsecond), "worker", 10), []access.Work(nil))
	retried := w
	retried.DueAt, retried.Attempt = retryAt, 1
	diff(t, "claim at the new due time: the lease is gone", claim(t, s, retryAt, "worker", 10), []access.Work{retried})

	// Retrying unleased work moves it too, earlier as well as later.
	update(t, s, func(tx access.Tx) error { return tx.RetryWork(other.ID, now.Add(-time.Hour), 7) })
	other.DueAt, other.Attempt = now.Add(-time.Hour), 7
	diff(t, "claim of the work moved earlier", claim(t, s, now, "worker", 10), []access.Work{other})

	update(t, s, func(tx access.Tx) error {
		wantKind(t, "retrying missing work", tx.RetryWork("w-missing", now, 1), access.KindNotFound)
		return nil
	})
}

func testWorkDelete(t *testing.T, s access.Store) {
	now := Epoch
	leased, free, keep := NewWork("w-1", access.WorkCallout, "req-1", "", now),
		NewWork("w-2", access.WorkStart, "req-1", "", now.Add(time.Hour)),
		NewWork("w-3", access.WorkStart, "req-2", "", now.Add(time.Hour))
	addWork(t, s, leased, free, keep)
	claim(t, s, now, "worker", 1)
	update(t, s, func(tx access.Tx) error { return errors.Join(tx.DeleteWork(leased.ID), tx.DeleteWork(free.ID)) })
	diff(t, "work left", pendingWork(t, s), []string{keep.ID})
	// Deleting again, or what never was, is not an error.
	update(t, s, func(tx access.Tx) error { return errors.Join(tx.DeleteWork(leased.ID), tx.DeleteWork("w-missing")) })
	diff(t, "work left after deleting again", pendingWork(t, s), []string{keep.ID})
}

func testWorkDrop(t *testing.T, s access.Store) {
	now := Epoch
	addWork(t, s,
		NewWork("r1-callout", access.WorkCallout, "req-1", "asg-1", now),
		NewWork("r1-timeout", access.WorkCallbackTimeout, "req-1", "", now.Add(time.Hour)),
		NewWork("r1-start", access.WorkStart, "req-1", "", now.Add(2*time.Hour)),
		NewWork("r2-callout", access.WorkCallout, "req-2", "asg-2", now.Add(3*time.Hour)),
		NewWork("r2-start", access.WorkStart, "req-2", "", now.Add(4*time.Hour)),
		NewWork("a1-expire", access.WorkExpire, "", "asg-1", now.Add(5*time.Hour)),
		NewWork("a2-expire", access.WorkExpire, "", "asg-2", now.Add(6*time.Hour)),
	)
	// Leased work is dropped too.
	claim(t, s, now.Add(24*time.Hour), "worker", 3)

	drop := func(what, requestID, assignmentID string, kinds []access.WorkKind, want []string) {
		t.Helper()
		update(t, s, func(tx access.Tx) error { return tx.DropWork(requestID, assignmentID, kinds...) })
		diff(t, "work left after "+what, pendingWork(t, s), want)
	}
	drop("dropping req-1's timers", "req-1", "", []access.WorkKind{access.WorkStart, access.WorkCallbackTimeout},
		[]string{"r1-callout", "r2-callout", "r2-start", "a1-expire", "a2-expire"})
	drop("dropping all of asg-1's work", "", "asg-1", nil, []string{"r2-callout", "r2-start", "a2-expire"})
	drop("dropping asg-2's expiry", "", "asg-2", []access.WorkKind{access.WorkExpire}, []string{"r2-callout", "r2-start"})
	drop("dropping work of req-2 and another assignment", "req-2", "asg-other", nil, []string{"r2-callout", "r2-start"})
	drop("dropping work of req-2 and asg-2", "req-2", "asg-2", nil, []string{"r2-start"})
	drop("dropping req-2's expiries", "req-2", "", []access.WorkKind{access.WorkExpire}, []string{"r2-start"})

	err := s.Update(ctx(t), func(tx access.Tx) error { return tx.DropWork("", "") })
	if err == nil {
		t.Errorf("DropWork without a request or an assignment succeeded")
	}
	diff(t, "work left after a refused drop", pendingWork(t, s), []string{"r2-start"})
	drop("dropping all of req-2's work", "req-2", "", nil, []string(nil))
}

func testNextWorkAt(t *testing.T, s access.Store) {
	now := Epoch
	next := func(what string, want time.Time, wantOK bool) {
		t.Helper()
		at, ok, err := read2(t, s, func(tx access.Tx) (time.Time, bool, error) { return tx.NextWorkAt() })
		if err != nil {
			t.Fatalf("%s: NextWorkAt: %v", what, err)
		}
		if ok != wantOK || !at.Equal(want) {
			t.Errorf("%s: NextWorkAt = %v, %v; want %v, %v", what, at, ok, want, wantOK)
		}
	}
	next("no work", time.Time{}, false)
	a := NewWork("w-a", access.WorkCallout, "req-1", "", now.Add(10*time.Minute))
	b := NewWork("w-b", access.WorkStart, "req-2", "", now.Add(5*time.Minute))
	addWork(t, s, a)
	next("one item", a.DueAt, true)
	addWork(t, s, b)
	next("an earlier item", b.DueAt, true)

	// A leased item becomes claimable when its lease ends.
	claimedAt := b.DueAt.Add(time.Minute)
	claim(t, s, claimedAt, "worker", 1)
	next("b leased", claimedAt.Add(lease), true)
	update(t, s, func(tx access.Tx) error { return tx.RetryWork(a.ID, claimedAt.Add(lease/2), 1) })
	next("a due before b's lease ends", claimedAt.Add(lease/2), true)
	update(t, s, func(tx access.Tx) error { return tx.RetryWork(a.ID, now.Add(time.Hour), 1) })
	next("a due after b's lease ends", claimedAt.Add(lease), true)
	update(t, s, func(tx access.Tx) error { return tx.RetryWork(b.ID, now.Add(2*time.Hour), 1) })
	next("b released and due later", now.Add(time.Hour), true)

	// An item leased alone: its lease's end, even once that has passed.
	update(t, s, func(tx access.Tx) error { return tx.DeleteWork(b.ID) })
	claim(t, s, now.Add(time.Hour), "worker", 1)
	next("only a, leased", now.Add(time.Hour+lease), true)

	update(t, s, func(tx access.Tx) error { return tx.DeleteWork(a.ID) })
	next("all work done", time.Time{}, false)
}

func testCountWorkDue(t *testing.T, s access.Store) {
	now := Epoch
	addWork(t, s,
		NewWork("w-1", access.WorkCallout, "req-1", "", now.Add(-time.Hour)),
		NewWork("w-2", access.WorkStart, "req-2", "", now),
		NewWork("w-3", access.WorkStart, "req-3", "", now.Add(time.Microsecond)),
		NewWork("w-4", access.WorkExpire, "", "asg-1", now.Add(time.Hour)),
	)
	count := func(at time.Time) int {
		return read(t, s, func(tx access.Tx) (int, error) { return tx.CountWorkDue(at) })
	}
	diff(t, "due before all", count(now.Add(-2*time.Hour)), 0)
	diff(t, "due now", count(now), 2)
	claim(t, s, now, "worker", 1)
	diff(t, "due now, one leased", count(now), 2)
	diff(t, "due in an hour", count(now.Add(time.Hour)), 4)
}

func testWorkStats(t *testing.T, s access.Store) {
	now := Epoch
	stats := func(at time.Time) []access.WorkKindStats {
		return read(t, s, func(tx access.Tx) ([]access.WorkKindStats, error) { return tx.WorkStats(at) })
	}
	diff(t, "no work", stats(now), []access.WorkKindStats(nil))

	addWork(t, s,
		NewWork("w-1", access.WorkStart, "req-1", "", now.Add(-time.Hour)),
		NewWork("w-2", access.WorkStart, "req-2", "", now.Add(-time.Minute)),
		NewWork("w-3", access.WorkStart, "req-3", "", now.Add(time.Microsecond)),
		NewWork("w-4", access.WorkCallout, "req-1", "", now),
		NewWork("w-5", access.WorkExpire, "", "asg-1", now.Add(30*24*time.Hour)),
	)
	// Claimed work is still queued, and still due: it counts until it is done.
	claim(t, s, now, "worker", 1)
	diff(t, "at now", stats(now), []access.WorkKindStats{
		{Kind: access.WorkCallout, Due: 1, OldestDue: now},
		{Kind: access.WorkExpire, Later: 1},
		{Kind: access.WorkStart, Due: 2, Later: 1, OldestDue: now.Add(-time.Hour)},
	})
	diff(t, "before all", stats(now.Add(-2*time.Hour)), []access.WorkKindStats{
		{Kind: access.WorkCallout, Later: 1},
		{Kind: access.WorkExpire, Later: 1},
		{Kind: access.WorkStart, Later: 3},
	})
	update(t, s, func(tx access.Tx) error { return tx.DeleteWork("w-1") })
	diff(t, "oldest done", stats(now)[2], access.WorkKindStats{Kind: access.WorkStart, Due: 1, Later: 1, OldestDue: now.Add(-time.Minute)})
}

// testConcurrentClaims has workers claim in separate transactions at the
// same instant until nothing is left: each item must go to exactly one.
func testConcurrentClaims(t *testing.T, s access.Store) {
	const items, workers, limit = 200, 4, 10
	now := Epoch
	var ws []access.Work
	for i := range items {
		ws = append(ws, NewWork(fmt.Sprintf("w-%03d", i), access.WorkCallout, fmt.Sprintf("req-%03d", i), "",
			now.Add(-time.Duration(rand.IntN(1000))*time.Millisecond)))
	}
	addWork(t, s, ws...)

	claimed := make([][]string, workers)
	var wg sync.WaitGroup
	for n := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("worker-%d", n)
			for {
				var got []access.Work
				err := s.Update(ctx(t), func(tx access.Tx) error {
					var err error
					got, err = tx.ClaimWork(now, owner, now.Add(lease), limit)
					return err
				})
				if err != nil {
					t.Errorf("%s: %v", owner, err)
					return
				}
				if len(got) > limit {
					t.Errorf("%s: claimed %d items with limit %d", owner, len(got), limit)
				}
				if len(got) == 0 {
					return
				}
				claimed[n] = append(claimed[n], ids(got)...)
				if len(claimed[n]) > items {
					t.Errorf("%s claimed more items than there are: claims do not lease", owner)
					return
				}
			}
		})
	}
	wg.Wait()
	times := map[string]int{}
	for _, got := range claimed {
		for _, id := range got {
			times[id]++
		}
	}
	for _, w := range ws {
		if n := times[w.ID]; n != 1 {
			t.Errorf("%s was claimed %d times, want once", w.ID, n)
		}
	}
	if len(times) != items {
		t.Errorf("%d distinct items claimed, want %d", len(times), items)
	}
}

func testCalloutAttempts(t *testing.T, s access.Store) {
	const n = 25
	var attempts []access.CalloutAttempt
	for i := range n {
		attempts = append(attempts, access.CalloutAttempt{
			ID: historyID(i), ExtensionID: "ext-1", RequestID: "req-1", AssignmentID: "asg-1", InstanceID: "inst-1",
			Stage: access.StageRequestCreated, URL: "https://hooks.example.test/ext-1", Attempt: i%2 + 1,
			SentAt: Epoch.Add(time.Duration(i) * time.Second), DurationMillis: int64(40 + i),
			RequestHeaders: map[string]string{"client-request-id": fmt.Sprintf("crid-%d", i), "Authorization": "Bearer …"},
			RequestBody:    `{"Stage":"assignmentRequestCreated"}`, ResponseStatus: 202, ResponseBody: "accepted",
		})
	}
	attempts[3].ResponseStatus, attempts[3].ResponseBody, attempts[3].Error = 0, "", "context deadline exceeded"
	attempts[4].RequestHeaders = nil
	shuffled := slices.Clone(attempts)
	rand.Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.AddCalloutAttempts(shuffled[:10]), tx.AddCalloutAttempts(nil), tx.AddCalloutAttempts(shuffled[10:]))
	})

	newestFirst := slices.Clone(attempts)
	slices.Reverse(newestFirst)
	diff(t, "callout attempts", read(t, s, func(tx access.Tx) ([]access.CalloutAttempt, error) {
		return tx.CalloutAttempts(access.Page{Limit: 100})
	}), newestFirst)
	for _, limit := range []int{1, 4, n, 100} {
		got := pageThrough(t, s, "CalloutAttempts", limit, func(tx access.Tx, p access.Page) ([]access.CalloutAttempt, error) {
			return tx.CalloutAttempts(p)
		})
		diff(t, fmt.Sprintf("callout attempts, limit %d", limit), got, ids(newestFirst))
	}
	// After need not be an id that exists: the page holds the ids below it.
	got := read(t, s, func(tx access.Tx) ([]access.CalloutAttempt, error) {
		return tx.CalloutAttempts(access.Page{After: historyID(10) + "x", Limit: 2})
	})
	diff(t, "page after an absent id", ids(got), []string{historyID(10), historyID(9)})

	err := s.Update(ctx(t), func(tx access.Tx) error { return tx.AddCalloutAttempts(attempts[:1]) })
	wantKind(t, "adding an attempt twice", err, access.KindConflict)
}

// One extension's attempts are listed and pruned apart from another's:
// pruning keeps the newest, and leaves fewer than it keeps alone.
func testExtensionCalloutAttempts(t *testing.T, s access.Store) {
	var attempts []access.CalloutAttempt
	for i := range 8 {
		ext := "ext-a"
		if i%3 == 2 {
			ext = "ext-b"
		}
		attempts = append(attempts, access.CalloutAttempt{ID: historyID(i), ExtensionID: ext, SentAt: Epoch.Add(time.Duration(i) * time.Second)})
	}
	update(t, s, func(tx access.Tx) error { return tx.AddCalloutAttempts(attempts) })
	of := func(ext string) []string {
		t.Helper()
		return ids(read(t, s, func(tx access.Tx) ([]access.CalloutAttempt, error) {
			return tx.ExtensionCalloutAttempts(ext, access.Page{Limit: 100})
		}))
	}
	aNewestFirst := []string{historyID(7), historyID(6), historyID(4), historyID(3), historyID(1), historyID(0)}
	bNewestFirst := []string{historyID(5), historyID(2)}
	diff(t, "ext-a's attempts", of("ext-a"), aNewestFirst)
	diff(t, "ext-b's attempts", of("ext-b"), bNewestFirst)
	diff(t, "ext-a's second page", ids(read(t, s, func(tx access.Tx) ([]access.CalloutAttempt, error) {
		return tx.ExtensionCalloutAttempts("ext-a", access.Page{After: historyID(4), Limit: 2})
	})), []string{historyID(3), historyID(1)})

	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PruneCalloutAttempts("ext-a", 3), tx.PruneCalloutAttempts("ext-b", 5), tx.PruneCalloutAttempts("ext-none", 1))
	})
	diff(t, "ext-a after keeping 3", of("ext-a"), aNewestFirst[:3])
	diff(t, "ext-b after keeping 5 of its 2", of("ext-b"), bNewestFirst)
	update(t, s, func(tx access.Tx) error { return tx.PruneCalloutAttempts("ext-a", 1) })
	diff(t, "ext-a after keeping 1", of("ext-a"), aNewestFirst[:1])
}

func testResetData(t *testing.T, s access.Store) {
	w := newWorld(t, s)
	req := NewRequest("req-1", w.policy, w.user.ID)
	res := NewResource("res-1", w.catalog.ID, w.group.ID)
	incompatible := NewAccessPackage("pkg-incompatible", w.catalog.ID)
	incompatible.IncompatiblePackages = []string{w.pkg.ID}
	update(t, s, func(tx access.Tx) error {
		return errors.Join(
			tx.AddToGroup(w.group.ID, access.GroupMembers, access.ObjectUser, w.user.ID),
			tx.PutResource(res),
			tx.AddResourceRequest(NewResourceRequest("rr-1", res)),
			tx.AddAppRoleAssignment(NewAppRoleAssignment("ara-1", w.sp, w.sp.AppRoles[0].ID, w.user.ID)),
			tx.PutAccessPackage(incompatible),
			tx.PutRequest(req),
			tx.PutAssignment(NewAssignment(req.AssignmentID, w.policy, w.user.ID)),
			tx.AddHistory(access.HistoryEntry{ID: historyID(1), RequestID: req.ID, At: Epoch, Action: "submitted"}),
			tx.AddWork(NewWork("w-1", access.WorkCallout, req.ID, req.AssignmentID, Epoch)),
			tx.AddCalloutAttempts([]access.CalloutAttempt{{ID: historyID(2), RequestID: req.ID, SentAt: Epoch}}),
			tx.PutSetting("clock.offset", "PT1H"),
		)
	})
	claim(t, s, Epoch, "worker", 1)

	// A reset that rolls back changes nothing.
	if err := s.Update(ctx(t), func(tx access.Tx) error {
		if err := tx.ResetData(); err != nil {
			return err
		}
		return errRollback
	}); err != errRollback {
		t.Fatalf("ResetData in a failed update: %v", err)
	}
	diff(t, "request after a reset that rolled back", read(t, s, func(tx access.Tx) (access.Request, error) { return tx.Request(req.ID) }), req)

	update(t, s, func(tx access.Tx) error { return tx.ResetData() })
	view(t, s, func(tx access.Tx) error {
		all := access.Page{Limit: 100}
		diff(t, "catalogs", ids(must(tx.Catalogs(all))), []string(nil))
		diff(t, "access packages", ids(must(tx.AccessPackages("", all))), []string(nil))
		diff(t, "policies", ids(must(tx.AssignmentPolicies("", all))), []string(nil))
		diff(t, "policies binding the extension", must(tx.CountPoliciesBinding(w.ext.ID)), 0)
		diff(t, "extensions", ids(must(tx.CustomExtensions(w.catalog.ID, all))), []string(nil))
		diff(t, "users", ids(must(tx.Users(all))), []string(nil))
		diff(t, "groups", ids(must(tx.Groups(all))), []string(nil))
		diff(t, "group members", ids(must(tx.GroupRelation(w.group.ID, access.GroupMembers, all))), []string(nil))
		diff(t, "service principals", ids(must(tx.ServicePrincipals(all))), []string(nil))
		diff(t, "resources", ids(must(tx.Resources("", all))), []string(nil))
		wantKind(t, "resource by origin", second(tx.ResourceByOrigin(w.catalog.ID, access.OriginGroup, w.group.ID)), access.KindNotFound)
		diff(t, "resource requests", ids(must(tx.ResourceRequests(all))), []string(nil))
		diff(t, "app role assignments", ids(must(tx.AppRoleAssignments("", w.user.ID, all))), []string(nil))
		diff(t, "packages incompatible with the package", must(tx.PackagesIncompatibleWith(w.pkg.ID)), []string(nil))
		diff(t, "requests", ids(must(tx.Requests(access.RequestFilter{}, all))), []string(nil))
		diff(t, "open requests referencing the extension", must(tx.CountOpenRequestsReferencing(w.ext.ID)), 0)
		diff(t, "assignments", ids(must(tx.Assignments(access.AssignmentFilter{}, all))), []string(nil))
		diff(t, "history", ids(must(tx.History(req.ID, all))), []string(nil))
		diff(t, "callout attempts", ids(must(tx.CalloutAttempts(all))), []string(nil))
		diff(t, "work due", must(tx.CountWorkDue(Epoch.AddDate(100, 0, 0))), 0)
		_, ok, err := tx.NextWorkAt()
		if ok || err != nil {
			t.Errorf("NextWorkAt after the reset: %v, %v; want no work", ok, err)
		}
		// Signing keys and settings stay.
		diff(t, "signing keys", must(tx.SigningKeys()), []access.SigningKey{w.signing})
		v, ok, err := tx.Setting("clock.offset")
		if v != "PT1H" || !ok || err != nil {
			t.Errorf("setting after the reset: %q, %v, %v; want PT1H", v, ok, err)
		}
		return nil
	})
	// Every id can be used again.
	newWorld(t, s)
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutRequest(req), tx.AddWork(NewWork("w-1", access.WorkCallout, req.ID, "", Epoch)),
			tx.PutResource(res), tx.AddResourceRequest(NewResourceRequest("rr-1", res)),
			tx.AddAppRoleAssignment(NewAppRoleAssignment("ara-1", w.sp, w.sp.AppRoles[0].ID, w.user.ID)))
	})
}

// testLifecycleWrites covers the writes a request lifecycle makes in few
// statements: a new request with AddRequest, several pieces of work in one
// AddWork (some already leased), several deleted at once, and a request's
// timers dropped with the callouts of given instances.
func testLifecycleWrites(t *testing.T, s access.Store) {
	pkg := NewAccessPackage("pkg-1", "cat-1")
	r := NewRequest("req-1", NewFullPolicy("pol-1", pkg, "u-approver", "ext-1"), "u-1")
	update(t, s, func(tx access.Tx) error { return tx.AddRequest(r) })
	view(t, s, func(tx access.Tx) error {
		diff(t, "added request", must(tx.Request(r.ID)), r)
		diff(t, "open requests referencing ext-1", must(tx.CountOpenRequestsReferencing("ext-1")), 1)
		return nil
	})
	wantKind(t, "adding a request twice", s.Update(ctx(t), func(tx access.Tx) error { return tx.AddRequest(r) }), access.KindConflict)
	// Read back and written again, it is the request PutRequest replaces.
	update(t, s, func(tx access.Tx) error {
		got, err := tx.Request(r.ID)
		if err != nil {
			return err
		}
		got.State = access.StateDelivered
		return tx.PutRequest(got)
	})
	view(t, s, func(tx access.Tx) error {
		diff(t, "open requests referencing ext-1 once it is final", must(tx.CountOpenRequestsReferencing("ext-1")), 0)
		return nil
	})

	callout := NewWork("w-callout", access.WorkCallout, r.ID, "", Epoch)
	callout.InstanceID = "inst-1"
	otherCallout := NewWork("w-callout-2", access.WorkCallout, r.ID, "", Epoch)
	otherCallout.InstanceID = "inst-2"
	deadline := NewWork("w-deadline", access.WorkCallbackTimeout, r.ID, "", Epoch.Add(time.Hour))
	leased := NewWork("w-leased", access.WorkCallout, "req-2", "", Epoch)
	leased.InstanceID, leased.LeaseOwner, leased.LeaseUntil = "inst-3", "engine-1", Epoch.Add(time.Minute)
	done1, done2 := NewWork("w-done-1", access.WorkStart, "req-3", "", Epoch), NewWork("w-done-2", access.WorkStart, "req-4", "", Epoch)
	update(t, s, func(tx access.Tx) error { return tx.AddWork(callout, otherCallout, deadline, leased, done1, done2) })
	update(t, s, func(tx access.Tx) error { return tx.DeleteWork(done1.ID, done2.ID, "w-missing") })
	// Leased work is not claimable until its lease runs out, then it is.
	diff(t, "claimable while leased", ids(claim(t, s, Epoch.Add(time.Second), "engine-2", 10)), []string{callout.ID, otherCallout.ID})
	update(t, s, func(tx access.Tx) error {
		return tx.DropRequestWork(r.ID, []access.WorkKind{access.WorkCallbackTimeout}, []string{"inst-1"})
	})
	view(t, s, func(tx access.Tx) error {
		at, ok, err := tx.NextWorkAt()
		diff(t, "next work after dropping", at, Epoch.Add(lease+time.Second))
		diff(t, "any work after dropping", ok, true)
		return err
	})
	// What is left: the other callout (leased by engine-2) and the leased one.
	diff(t, "claimable after the leases", ids(claim(t, s, Epoch.Add(2*time.Hour), "engine-3", 10)), []string{otherCallout.ID, leased.ID})
	update(t, s, func(tx access.Tx) error { return tx.DropRequestWork(r.ID, nil, nil) }) // nothing to drop
}
