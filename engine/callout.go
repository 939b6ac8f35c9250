package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/accessd/accessd/access"
)

// maxRetryAfter caps how long a Retry-After on 429 or 503 is honoured.
const maxRetryAfter = 30 * time.Second

// tokenRenewal is how long before its expiry a cached callout token is replaced.
const tokenRenewal = time.Minute

// callout sends one callout with its attempts and records the outcome,
// or leaves it to be recorded later (deferred.go): deferred says so, and
// the work then stays in flight until it is.
func (e *Engine) callout(ctx context.Context, c access.Claimed) (deferred bool, err error) {
	plan := c.Plan
	if plan == nil { // claimed without being begun
		p, err := e.svc.BeginCallout(ctx, c.Work)
		if err != nil {
			return false, err
		}
		plan = &p
	}
	if plan.Skip {
		return false, nil
	}
	if err := e.svc.CalloutBody(ctx, plan); err != nil {
		return false, err
	}
	if plan.Skip {
		return false, nil
	}
	e.startSending(c.Work.InstanceID)
	res, err := e.sendObserved(ctx, *plan)
	answered := e.stopSending(c.Work.InstanceID)
	if err != nil {
		return false, err // accessd's own failure: backoff, not a failed callout
	}
	switch e.svc.OutcomeRecordOf(*plan, res) {
	case access.RecordRemoval:
		e.deferRemoval(c.Work.ID)
		return true, nil
	case access.RecordUnlessAnswered:
		if answered {
			return false, nil // the callback removed the row and ended the instance
		}
		e.deferUnlessAnswered(access.CalloutDone{Work: c.Work, Result: res})
		return true, nil
	}
	f := finish{done: access.CalloutDone{Work: c.Work, Result: res}, err: make(chan error, 1)}
	e.finishes <- f
	return false, <-f.err
}

// send makes up to 1 + maximumRetries attempts; any 2xx ends them, and so
// does a callback that arrived meanwhile. An error is accessd's own failure.
func (e *Engine) send(ctx context.Context, plan access.CalloutPlan) (access.CalloutResult, error) {
	x := plan.Extension
	url := x.Endpoint.CalloutURL()
	attempts := x.Client.Attempts()
	deadline := time.Now().Add(e.cfg.Lease * 4 / 5) // stay inside the lease
	var res access.CalloutResult
	auth, err := e.authorization(x)
	if err != nil {
		return res, fmt.Errorf("signing the callout token: %w", err)
	}
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			// Once a callback has been received, no retry is sent.
			if settled, err := e.svc.CalloutSettled(ctx, plan.Work); err == nil && settled {
				return res, nil
			}
		}
		webhook, err := e.webhookHeaders(plan)
		if err != nil {
			return res, fmt.Errorf("signing the callout: %w", err)
		}
		rec, retryAfter, runID := e.attempt(ctx, plan, url, auth, webhook, attempt, x.Client.Timeout())
		res.Attempts = append(res.Attempts, rec)
		if rec.Error == "" && rec.ResponseStatus >= 200 && rec.ResponseStatus < 300 {
			res.OK, res.Error, res.CorrelationID = true, "", runID
			return res, nil
		}
		res.Error = rec.Error
		if res.Error == "" {
			res.Error = fmt.Sprintf("the extension answered %d", rec.ResponseStatus)
		}
		if attempt < attempts && retryAfter > 0 {
			if wait := min(retryAfter, maxRetryAfter, time.Until(deadline)); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return res, nil
				}
			}
		}
	}
	return res, nil
}

// webhookHeaders signs one attempt of a callout, when its extension has a
// secret. Each attempt has its own timestamp, on the machine's clock, which
// extensions compare with theirs.
func (e *Engine) webhookHeaders(plan access.CalloutPlan) (map[string]string, error) {
	if e.cfg.Signing == nil {
		return nil, nil
	}
	return e.cfg.Signing.webhookHeaders(plan.Extension.ID, plan.Work.InstanceID, e.cfg.TokenClock.Now(), plan.Body)
}

// attempt makes one HTTP call. It returns what --dev mode records of it, the
// Retry-After the extension asked for, and the x-ms-workflow-run-id it
// answered with (a Logic App's run id), if any.
func (e *Engine) attempt(ctx context.Context, plan access.CalloutPlan, url, auth string, webhook map[string]string, n int, timeout time.Duration) (rec access.CalloutAttempt, retryAfter time.Duration, runID string) {
	w := plan.Work
	requestID := e.cfg.IDs.NewID() // new for every attempt, also when a crash makes us send again
	rec = access.CalloutAttempt{ID: e.cfg.IDs.NewID(), ExtensionID: plan.Extension.ID, RequestID: w.RequestID,
		AssignmentID: w.AssignmentID, InstanceID: w.InstanceID, Stage: w.Stage, URL: url, Attempt: n,
		SentAt: e.cfg.Clock.Now(), RequestBody: string(plan.Body)}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(plan.Body))
	if err != nil {
		rec.Error = err.Error()
		return rec, 0, ""
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("client-request-id", requestID)
	req.Header.Set("x-ms-client-request-id", requestID)
	req.Header.Set("x-ms-correlation-request-id", requestID)
	req.Header.Set("Authorization", auth)
	e.addCalloutHeaders(ctx, req.Header)
	rec.RequestHeaders = map[string]string{
		"Content-Type": req.Header.Get("Content-Type"), "client-request-id": requestID,
		"x-ms-client-request-id": requestID, "x-ms-correlation-request-id": requestID,
		"Authorization": schemeOf(auth), // the token itself is never recorded
	}
	for name, value := range webhook {
		req.Header.Set(name, value)
		if name == "webhook-signature" {
			value = signatureVersions(value)
		}
		rec.RequestHeaders[name] = value
	}
	start := time.Now()
	resp, err := e.cfg.Client.Do(req)
	rec.DurationMillis = time.Since(start).Milliseconds()
	if err != nil {
		rec.Error = err.Error()
		return rec, 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	rec.ResponseStatus, rec.ResponseBody = resp.StatusCode, string(body)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return rec, retryAfter, resp.Header.Get("x-ms-workflow-run-id")
}

func schemeOf(auth string) string {
	for i, c := range auth {
		if c == ' ' {
			return auth[:i]
		}
	}
	return auth
}

// parseRetryAfter reads seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

// authorization returns the Authorization header of a callout to x. A signed
// token is reused for the same endpoint until a minute before it expires:
// an RS256 signature costs about a millisecond.
func (e *Engine) authorization(x access.CustomExtension) (string, error) {
	tok := access.CalloutTokenFor(x, e.cfg.Issuer, e.cfg.AppID)
	now := e.cfg.TokenClock.Now()
	e.tokensMu.Lock()
	defer e.tokensMu.Unlock()
	if c, ok := e.tokens[tok.CacheKey]; ok && now.Before(c.expiry.Add(-tokenRenewal)) {
		return tok.Scheme + " " + c.value, nil
	}
	claims := tok.Claims
	exp := now.Add(access.CalloutTokenLifetime)
	claims["iat"], claims["nbf"], claims["exp"] = now.Unix(), now.Unix(), exp.Unix()
	signed, err := e.cfg.Signer.Sign(claims)
	if err != nil {
		return "", err
	}
	e.tokens[tok.CacheKey] = cachedToken{value: signed, expiry: exp}
	return tok.Scheme + " " + signed, nil
}
