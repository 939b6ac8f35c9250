package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/accessd/accessd/access"
)

// The /_accessd routes of `accessd serve --dev`: a virtual clock, the
// callout attempts, and a reset. Without --dev they answer 404.

// Clock is the virtual clock after a move.
type Clock struct {
	Now time.Time
	// Pending counts the work that fell due and had not run when accessd
	// stopped waiting for it (30 seconds); 0 when all of it ran.
	Pending int
}

type clockWire struct {
	Now     *string `json:"now"`
	Pending int     `json:"pending"`
}

func (c *Client) moveClock(ctx context.Context, body map[string]string) (Clock, error) {
	var w clockWire
	if err := c.Do(ctx, http.MethodPost, "/_accessd/clock", body, &w); err != nil {
		return Clock{}, err
	}
	var r reader
	out := Clock{Now: r.time("now", w.Now), Pending: w.Pending}
	return out, r.err
}

// AdvanceClock moves the virtual clock forward by d and returns once the
// timers and callouts that fell due have run, so that a test can look at
// their outcome right after.
func (c *Client) AdvanceClock(ctx context.Context, d access.Duration) (Clock, error) {
	return c.moveClock(ctx, map[string]string{"advance": d.String()})
}

// SetClock moves the virtual clock forward to t; like AdvanceClock it
// waits for the work that fell due. The clock never moves back.
func (c *Client) SetClock(ctx context.Context, t time.Time) (Clock, error) {
	return c.moveClock(ctx, map[string]string{"set": timeText(t)})
}

// calloutAttemptWire is one HTTP call of a callout as --dev mode lists it.
type calloutAttemptWire struct {
	ID                     string            `json:"id"`
	ExtensionID            *string           `json:"extensionId"`
	RequestID              *string           `json:"requestId"`
	AssignmentID           *string           `json:"assignmentId"`
	InstanceID             *string           `json:"instanceId"`
	Stage                  *string           `json:"stage"`
	URL                    string            `json:"url"`
	Attempt                int               `json:"attempt"`
	SentDateTime           *string           `json:"sentDateTime"`
	DurationInMilliseconds int64             `json:"durationInMilliseconds"`
	RequestHeaders         map[string]string `json:"requestHeaders"`
	RequestBody            json.RawMessage   `json:"requestBody"`
	ResponseStatus         *int              `json:"responseStatus"`
	ResponseBody           *string           `json:"responseBody"`
	Error                  *string           `json:"error"`
}

// toDomain reads an attempt. accessd shows a JSON request body as JSON and
// any other as a string; RequestBody is the JSON text or that string.
// RequestHeaders show the Authorization header reduced to its scheme.
func (w calloutAttemptWire) toDomain() (access.CalloutAttempt, error) {
	var r reader
	a := access.CalloutAttempt{ID: w.ID, ExtensionID: str(w.ExtensionID), RequestID: str(w.RequestID), AssignmentID: str(w.AssignmentID),
		InstanceID: str(w.InstanceID), Stage: access.Stage(str(w.Stage)), URL: w.URL, Attempt: w.Attempt,
		SentAt: r.time("sentDateTime", w.SentDateTime), DurationMillis: w.DurationInMilliseconds, RequestHeaders: w.RequestHeaders,
		ResponseBody: str(w.ResponseBody), Error: str(w.Error)}
	if w.ResponseStatus != nil {
		a.ResponseStatus = *w.ResponseStatus
	}
	body := rawOrNil(w.RequestBody)
	var text string
	if json.Unmarshal(body, &text) == nil {
		a.RequestBody = text
	} else {
		a.RequestBody = string(body)
	}
	return a, r.err
}

// ListCalloutAttempts lists every HTTP call of every callout, newest first.
func (c *Client) ListCalloutAttempts(ctx context.Context) ([]access.CalloutAttempt, error) {
	return list(ctx, c, "/_accessd/callouts", nil, calloutAttemptWire.toDomain)
}

// Reset deletes everything but the signing keys, and loads the server's
// --seed file again if it has one.
func (c *Client) Reset(ctx context.Context) error {
	return c.Do(ctx, http.MethodPost, "/_accessd/reset", nil, nil)
}
