package client_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

func TestClock(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, nil)
	ctx := context.Background()

	before := time.Now()
	moved, err := c.AdvanceClock(ctx, access.MustDuration("P1D"))
	ok(t, err, "AdvanceClock")
	if d := moved.Now.Sub(before); d < 24*time.Hour || d > 24*time.Hour+time.Minute || moved.Pending != 0 {
		t.Errorf("AdvanceClock(P1D) = %+v, %v after the call began", moved, d)
	}

	target := moved.Now.Add(48 * time.Hour).Truncate(time.Second)
	set, err := c.SetClock(ctx, target)
	ok(t, err, "SetClock")
	if d := set.Now.Sub(target); d < 0 || d > time.Minute {
		t.Errorf("SetClock(%v) = %v", target, set.Now)
	}

	_, err = c.SetClock(ctx, moved.Now)
	e := wantError(t, err, 400, "invalidRequest", access.KindInvalid)
	if !strings.Contains(e.Message, "only moves forward") {
		t.Errorf("message %q", e.Message)
	}
}

func TestCalloutAttemptsAndReset(t *testing.T) {
	w := newWaitingWorld(t)
	ctx := context.Background()
	r, p := w.waiting(t, "hal@contoso.test")

	// The engine records the attempt once the extension has answered; wait for it.
	var attempts []access.CalloutAttempt
	deadline := time.Now().Add(30 * time.Second)
	for len(attempts) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no callout attempt listed within 30 s")
		}
		var err error
		attempts, err = w.c.ListCalloutAttempts(ctx)
		ok(t, err, "ListCalloutAttempts")
		time.Sleep(20 * time.Millisecond)
	}
	a := attempts[0]
	if len(attempts) != 1 || a.ID == "" || a.RequestID != r.ID || a.InstanceID != p.CustomExtensionStageInstanceID ||
		a.ExtensionID != w.ext.ID || a.Stage != access.StageRequestCreated || a.URL != w.x.URL || a.Attempt != 1 ||
		a.ResponseStatus != 202 || a.Error != "" {
		t.Errorf("attempts %+v", attempts)
	}
	recent(t, "sentDateTime", a.SentAt)
	if a.RequestHeaders["Authorization"] != "PoP" {
		t.Errorf("the Authorization header is listed as %q, want only its scheme", a.RequestHeaders["Authorization"])
	}
	var body access.CalloutPayload
	if err := json.Unmarshal([]byte(a.RequestBody), &body); err != nil || body.AccessPackageAssignmentRequestID != r.ID {
		t.Errorf("the request body %q is not the callout payload of %s (%v)", a.RequestBody, r.ID, err)
	}

	ok(t, w.c.Reset(ctx), "Reset")
	catalogs, err := w.c.ListCatalogs(ctx)
	ok(t, err, "ListCatalogs")
	users, err := w.c.ListUsers(ctx)
	ok(t, err, "ListUsers")
	if len(catalogs) != 0 || len(users) != 0 {
		t.Errorf("after Reset: %d catalogs, %d users", len(catalogs), len(users))
	}
}
