package graph

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/accessd/accessd/access"
)

// The /_accessd/* routes of --dev mode (README.md, the --dev walkthrough): a virtual clock,
// the callout attempts for inspection, and a reset. They exist only when
// Config.Dev is set; otherwise they are unknown paths (404).

// clockSettle is how long POST /_accessd/clock waits for the work that fell
// due to run before it answers 202; clockPoll is how often it looks.
var (
	clockSettle = 30 * time.Second
	clockPoll   = 20 * time.Millisecond
)

// clockInput is the body of POST /_accessd/clock: one of the two.
type clockInput struct {
	Advance *string `json:"advance"`
	Set     *string `json:"set"`
}

// clockOut is the answer: the clock's time, and the work still due when
// the wait ran out.
type clockOut struct {
	Now     string `json:"now"`
	Pending *int   `json:"pending,omitempty"`
}

// moveClock moves the virtual clock forward and waits until every piece of
// work that fell due has run: 200, or 202 with the count still pending.
func (s *Server) moveClock(w http.ResponseWriter, r *http.Request) error {
	var in clockInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	var advance *access.Duration
	var set *time.Time
	if in.Advance != nil {
		if strings.TrimSpace(*in.Advance) == "" {
			return access.Invalidf("property 'advance' must be an ISO 8601 duration such as P14D")
		}
		d, err := duration("advance", in.Advance)
		if err != nil {
			return err
		}
		advance = &d
	}
	if in.Set != nil {
		t, err := dateTime("set", in.Set)
		if err != nil {
			return err
		}
		if t == nil {
			return access.Invalidf("property 'set' must be a date and time such as 2027-01-01T00:00:00Z")
		}
		set = t
	}
	if _, err := s.svc.MoveClock(r.Context(), advance, set); err != nil {
		return err
	}
	deadline := time.Now().Add(clockSettle) // real time: the virtual clock is what just moved
	for {
		n, err := s.svc.CountWorkDue(r.Context())
		if err != nil {
			return err
		}
		if n == 0 {
			writeJSON(w, http.StatusOK, clockOut{Now: *timeOut(s.svc.Now())})
			return nil
		}
		if !time.Now().Before(deadline) {
			writeJSON(w, http.StatusAccepted, clockOut{Now: *timeOut(s.svc.Now()), Pending: &n})
			return nil
		}
		select {
		case <-r.Context().Done():
			return access.Internal(r.Context().Err())
		case <-time.After(clockPoll):
		}
	}
}

// calloutAttemptOut is one HTTP call of a callout as --dev mode shows it.
type calloutAttemptOut struct {
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
	RequestBody            any               `json:"requestBody"`
	ResponseStatus         *int              `json:"responseStatus"`
	ResponseBody           *string           `json:"responseBody"`
	Error                  *string           `json:"error"`
}

func calloutAttemptToWire(a access.CalloutAttempt) calloutAttemptOut {
	out := calloutAttemptOut{
		ID: a.ID, ExtensionID: optional(a.ExtensionID), RequestID: optional(a.RequestID), AssignmentID: optional(a.AssignmentID),
		InstanceID: optional(a.InstanceID), Stage: optional(string(a.Stage)), URL: a.URL, Attempt: a.Attempt,
		SentDateTime: timeOut(a.SentAt), DurationInMilliseconds: a.DurationMillis, RequestHeaders: map[string]string{},
		ResponseBody: optional(a.ResponseBody), Error: optional(a.Error),
	}
	for k, v := range a.RequestHeaders {
		if strings.EqualFold(k, "Authorization") { // never show a token, only its scheme
			v, _, _ = strings.Cut(strings.TrimSpace(v), " ")
		}
		out.RequestHeaders[k] = v
	}
	if body := strings.TrimSpace(a.RequestBody); body != "" {
		if json.Valid([]byte(body)) {
			out.RequestBody = json.RawMessage(body)
		} else {
			out.RequestBody = a.RequestBody
		}
	}
	if a.ResponseStatus != 0 {
		status := a.ResponseStatus
		out.ResponseStatus = &status
	}
	return out
}

// listCallouts lists callout attempts, newest first, paged like other lists.
func (s *Server) listCallouts(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	items, more, err := s.svc.CalloutAttempts(r.Context(), q.page())
	if err != nil {
		return err
	}
	return s.writeCallouts(w, r, q, items, more)
}

// writeCallouts writes one page of callout attempts.
func (s *Server) writeCallouts(w http.ResponseWriter, r *http.Request, q query, items []access.CalloutAttempt, more bool) error {
	out := make([]any, len(items))
	for i, a := range items {
		out[i] = calloutAttemptToWire(a)
	}
	return s.writeList(w, r, s.cfg.PublicURL+"/_accessd/$metadata#callouts", out,
		lastID(items, func(a access.CalloutAttempt) string { return a.ID }), more, q.selectSet)
}

// listExtensionCallouts lists one custom extension's recorded attempts,
// newest first, to anyone who may read the extension: the portal's admin
// view shows them. The route is there when attempts are recorded (--dev,
// --record-callouts).
func (s *Server) listExtensionCallouts(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	items, more, err := s.svc.ExtensionCalloutAttempts(r.Context(), callerOf(r), r.PathValue("id"), r.PathValue("xid"), q.page())
	if err != nil {
		return err
	}
	return s.writeCallouts(w, r, q, items, more)
}

// reset deletes all data except the signing keys and settings, then loads
// the seed again when there is one.
func (s *Server) reset(w http.ResponseWriter, r *http.Request) error {
	if err := readNoBody(r); err != nil {
		return err
	}
	if s.cfg.PauseWork != nil {
		resume := s.cfg.PauseWork() // work in flight finishes first; none starts until the reset is done
		defer resume()
	}
	if err := s.svc.Reset(r.Context()); err != nil {
		return err
	}
	s.appNames.Clear() // the service principals behind cached names are gone
	if s.cfg.Reseed != nil {
		if err := s.cfg.Reseed(r.Context()); err != nil {
			return err
		}
	}
	return writeNoContent(w)
}
