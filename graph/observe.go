package graph

import (
	"context"
	"net/http"
	"time"

	"github.com/accessd/accessd/access"
)

// Observer follows each request, so that metrics can count it and a tracer
// can make it a span while graph knows neither; cmd/accessd gives it one
// from the telemetry package. Its methods run on every request and must be quick.
type Observer interface {
	// RequestStarted is called as a request arrives, before it is routed;
	// the context it returns is the request's from then on.
	RequestStarted(r *http.Request) context.Context
	// RequestEnded is called once the answer is written.
	RequestEnded(ctx context.Context, e RequestEnd)
}

// RequestEnd is what an Observer learns of an answered request.
type RequestEnd struct {
	Method string
	// Route is the pattern of the route that served the request, such as
	// "GET /v1.0/users/{id}", never the path itself, so that it makes a
	// label of bounded cardinality; "" when no route did (404, 405).
	Route    string
	Status   int
	Duration time.Duration
	Caller   access.Caller // zero unless the request carried a valid token
}

// ReadinessCheck is one condition /readyz needs besides a reachable
// database, such as "the engine runs". Check answers nil when it holds.
type ReadinessCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// requestStarted lets the observer, if any, see the request arrive.
func (s *Server) requestStarted(r *http.Request) context.Context {
	if s.cfg.Observer == nil {
		return r.Context()
	}
	return s.cfg.Observer.RequestStarted(r)
}

// requestEnded tells the observer, if any, how the request went.
func (s *Server) requestEnded(r *http.Request, route string, status int, took time.Duration, caller access.Caller) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.RequestEnded(r.Context(), RequestEnd{Method: r.Method, Route: route, Status: status, Duration: took, Caller: caller})
	}
}

// ready answers a load balancer: 200 when this replica can do its work,
// 503 naming each check that failed. The reasons go to the log only: the
// route needs no token, and a database's error may name hosts and users.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) error {
	checks := append([]ReadinessCheck{{Name: "database", Check: s.svc.Ping}}, s.cfg.Readiness...)
	failed := []string{}
	for _, c := range checks {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		err := c.Check(ctx)
		cancel()
		if err != nil {
			s.log.Warn("not ready", "check", c.Name, "error", err.Error())
			failed = append(failed, c.Name)
		}
	}
	if len(failed) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failed": failed})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
