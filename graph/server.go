// Package graph serves accessd's Microsoft Graph compatible API: routes for
// v1.0 and beta, their wire shapes, OData conventions, errors and
// authentication of callers.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/accessd/accessd/access"
)

// Authenticator checks a bearer token and says who is calling. The identity
// package implements it; tests may use it too.
type Authenticator interface {
	Verify(ctx context.Context, raw string) (access.Caller, error)
}

// Config is what the API needs from the outside.
type Config struct {
	Service   *access.Service
	Auth      Authenticator
	PublicURL string // base of @odata.context and @odata.nextLink, without a trailing slash
	Logger    *slog.Logger
	Clock     access.Clock
	IDs       access.IDSource // makes request-id values

	// Served without a token, so that extensions and clients can find accessd's keys.
	OpenIDConfiguration func() []byte
	JWKS                func() []byte
	JWKSPath            string

	// Dev serves the /_accessd/* routes of --dev mode (virtual clock, callout
	// inspection, reset); without it they answer 404 like any unknown path.
	Dev bool
	// Reseed, when set, loads the --seed file again after POST /_accessd/reset.
	Reseed func(ctx context.Context) error
	// PauseWork, when set, stops the engine for a reset: it returns once work
	// in flight has finished, and the function it returns lets work go on.
	PauseWork func() (resume func())

	// Throttle limits how often each caller may call; its zero value
	// throttles nobody.
	Throttle Throttle
	// Observer, when set, sees every request: metrics and traces.
	Observer Observer
	// Metrics, when set, is served at GET /metrics without a token, as
	// Prometheus sends none; nil when --metrics-addr serves it elsewhere.
	Metrics http.Handler
	// Readiness lists what GET /readyz checks after the database.
	Readiness []ReadinessCheck
}

// Server is the HTTP API.
type Server struct {
	cfg Config
	svc *access.Service
	mux *http.ServeMux
	log *slog.Logger

	throttle *throttle
	appNames sync.Map // service principal id → displayName, for createdBy of app callers
}

// handler is what every route implements: it writes a success answer itself
// and returns an error for everything else.
type handler func(w http.ResponseWriter, r *http.Request) error

// NewServer registers every route.
func NewServer(cfg Config) *Server {
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	s := &Server{cfg: cfg, svc: cfg.Service, mux: http.NewServeMux(), log: cfg.Logger, throttle: newThrottle(cfg.Throttle)}
	s.mux.Handle("GET /healthz", s.public(s.health))
	s.mux.Handle("GET /readyz", s.public(s.ready))
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", cfg.Metrics)
	}
	s.mux.Handle("GET /.well-known/openid-configuration", s.public(rawJSON(cfg.OpenIDConfiguration)))
	s.mux.Handle("GET "+cfg.JWKSPath, s.public(rawJSON(cfg.JWKS)))
	for _, rt := range s.routes() {
		s.mux.Handle(rt.method+" "+rt.path, s.guard(rt))
		if rt.list {
			s.mux.Handle(rt.method+" "+rt.path+"/$count", s.guard(rt))
		}
	}
	return s
}

type callerKey struct{}
type outcomeKey struct{}

// outcome carries a handler's error, and the caller once its token is
// verified, to the one log line of its request.
type outcome struct {
	err    error
	caller access.Caller
}

// callerOf is the authenticated caller of a route of the table.
func callerOf(r *http.Request) access.Caller { return callerIn(r.Context()) }

// callerIn is callerOf for the context of the request.
func callerIn(ctx context.Context) access.Caller {
	c, _ := ctx.Value(callerKey{}).(access.Caller)
	return c
}

// asCaller binds a service read to the caller of the request whose
// context it is given, for the helpers that take a read of (ctx, id).
func asCaller[T any](get func(context.Context, access.Caller, string) (T, error)) func(context.Context, string) (T, error) {
	return func(ctx context.Context, id string) (T, error) { return get(ctx, callerIn(ctx), id) }
}

// guard adapts a route of the table: it authenticates the caller, reads
// the roles it holds, and lets it through to the handler when its token
// carries the route's permission (access.Caller.Admits). The route's rule
// goes with the caller to the service, which applies it to the objects the
// call touches.
func (s *Server) guard(rt route) http.Handler {
	return s.public(func(w http.ResponseWriter, r *http.Request) error {
		raw, ok := bearer(r)
		if !ok {
			return s.anonymous(r, access.E(access.KindUnauthenticated, "the request has no bearer token; send Authorization: Bearer <token>"))
		}
		caller, err := s.cfg.Auth.Verify(r.Context(), raw)
		if err != nil {
			return s.anonymous(r, err)
		}
		if err := s.throttle.admitCaller(caller.ObjectID); err != nil {
			return err
		}
		if o, ok := r.Context().Value(outcomeKey{}).(*outcome); ok {
			o.caller = caller
		}
		if caller, err = s.svc.Identify(r.Context(), caller, rt.rule != access.RulePermission); err != nil {
			return err
		}
		if caller.IsApp && caller.DisplayName == "" {
			caller.DisplayName = s.appName(r.Context(), caller.ObjectID)
		}
		caller.Rule = rt.rule
		if err := caller.Admits(rt.need, rt.rule); err != nil {
			return err
		}
		return rt.h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, caller)))
	})
}

// appName finds an application caller's display name, which app tokens do
// not carry, so that createdBy shows a name rather than an id. Names are
// cached: a renamed application shows its old name until the next start.
func (s *Server) appName(ctx context.Context, id string) string {
	if name, ok := s.appNames.Load(id); ok {
		return name.(string)
	}
	sp, err := s.svc.ServicePrincipal(ctx, id)
	if err != nil {
		return ""
	}
	s.appNames.Store(id, sp.DisplayName)
	return sp.DisplayName
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// public adapts a handler: its error becomes the Graph envelope.
func (s *Server) public(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			if o, ok := r.Context().Value(outcomeKey{}).(*outcome); ok {
				o.err = err
			}
			writeError(w, r, s.cfg.Clock.Now(), err)
		}
	})
}

// ServeHTTP sets the request ids, rewrites OData key syntax, answers 404 and
// 405 in the Graph envelope, recovers from panics, and logs one line.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := s.cfg.IDs.NewID()
	clientRequestID := r.Header.Get("client-request-id")
	if clientRequestID == "" {
		clientRequestID = requestID
	}
	w.Header().Set("request-id", requestID)
	w.Header().Set("client-request-id", clientRequestID)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	out := &outcome{}
	r = r.WithContext(context.WithValue(s.requestStarted(r), outcomeKey{}, out))
	route := ""
	originalPath := r.URL.Path
	if p := rewriteKeys(r.URL.Path); p != r.URL.Path {
		r.URL.Path, r.URL.RawPath = p, ""
	}
	r = s.canonicalOperation(r)
	defer func() {
		if p := recover(); p != nil {
			out.err = access.Internal(panicError{p})
			if !rec.wrote {
				writeError(rec, r, s.cfg.Clock.Now(), out.err)
			}
		}
		took := time.Since(start)
		s.logRequest(r, originalPath, rec.status, took, requestID, out)
		s.requestEnded(r, route, rec.status, took, out.caller)
	}()
	// No object has a NUL in its id, and PostgreSQL cannot even compare one.
	if strings.ContainsRune(r.URL.Path, 0) || strings.Contains(r.URL.RawQuery, "%00") {
		out.err = access.NotFoundf("no resource at an address with a NUL character")
		writeError(rec, r, s.cfg.Clock.Now(), out.err)
		return
	}
	// Nor is any id text that is not UTF-8, which PostgreSQL refuses to compare.
	if !utf8.ValidString(r.URL.Path) {
		out.err = access.NotFoundf("no resource at an address that is not UTF-8")
		writeError(rec, r, s.cfg.Clock.Now(), out.err)
		return
	}
	if values, err := queryValues(r.URL.RawQuery); err == nil && !validUTF8(values) {
		out.err = access.Invalidf("the query string is not UTF-8")
		writeError(rec, r, s.cfg.Clock.Now(), out.err)
		return
	}
	if _, route = s.mux.Handler(r); route == "" {
		out.err = s.unrouted(rec, r)
		writeError(rec, r, s.cfg.Clock.Now(), out.err)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// unrouted tells a wrong method on a known path (405) from an unknown path (404).
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) error {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return access.E(access.KindMethodNotAllowed, "%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", "))
	}
	return access.NotFoundf("no resource at %s", r.URL.Path)
}

func (s *Server) logRequest(r *http.Request, path string, status int, took time.Duration, requestID string, out *outcome) {
	attrs := []any{"method", r.Method, "path", path, "status", status, "ms", float64(took.Microseconds()) / 1000, "request_id", requestID}
	if out.caller.ObjectID != "" {
		attrs = append(attrs, "oid", out.caller.ObjectID)
	}
	if out.caller.AppID != "" {
		attrs = append(attrs, "appid", out.caller.AppID)
	}
	err := out.err
	switch {
	case err != nil && access.KindOf(err) == access.KindInternal:
		s.log.Error("request", append(attrs, "error", err.Error())...)
	case err != nil:
		s.log.Info("request", append(attrs, "error", err.Error())...)
	default:
		s.log.Info("request", attrs...)
	}
}

// validUTF8 reports whether every name and value of a query string is UTF-8.
func validUTF8(values url.Values) bool {
	for k, vs := range values {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

type panicError struct{ v any }

func (p panicError) Error() string { return "panic: " + fmt.Sprint(p.v) }

// statusRecorder remembers the status for the log line.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.svc.Ping(ctx); err != nil {
		s.log.Error("health check failed", "error", err.Error())
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func rawJSON(body func() []byte) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, err := w.Write(body())
		return err
	}
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"generalException","message":"the answer could not be encoded"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// writeEntity writes one object with its @odata.context, honouring $select.
func writeEntity(w http.ResponseWriter, status int, context string, v any, sel selection) error {
	body, err := encodeEntity(context, v, sel)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
	return nil
}

// encodeEntity puts "@odata.context" first in the encoded object.
func encodeEntity(context string, v any, sel selection) ([]byte, error) {
	obj, err := marshal(v)
	if err != nil {
		return nil, access.Internal(err)
	}
	if obj, err = sel.entity(obj); err != nil {
		return nil, err
	}
	if context == "" {
		return obj, nil
	}
	ctx, _ := json.Marshal(context)
	out := make([]byte, 0, len(obj)+len(ctx)+20)
	out = append(out, `{"@odata.context":`...)
	out = append(out, ctx...)
	if len(obj) > 2 {
		out = append(out, ',')
	}
	return append(out, obj[1:]...), nil
}

// listBody is a Graph collection answer.
type listBody struct {
	Context  string            `json:"@odata.context"`
	Count    *int              `json:"@odata.count,omitempty"`
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"@odata.nextLink,omitempty"`
}

// listPage is one page of a list, as writePage writes it.
type listPage struct {
	context   string
	items     []any
	count     *int   // the size of the whole filtered list, when $count=true asked for it
	skipToken string // where the next page starts; "" on the last page
}

// writeList writes one page of a list held in memory; lastID is where the
// next page starts, when there is one.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, context string, items []any, lastID string, more bool, sel selection) error {
	page := listPage{context: context, items: items}
	if more {
		page.skipToken = legacySkipToken(lastID)
	}
	return s.writePage(w, r, page, sel)
}

// writePage writes one page. With $select, a name is refused only when no
// item of the page has it, since a list of members may mix users, groups
// and service principals.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, page listPage, sel selection) error {
	body := listBody{Context: page.context, Count: page.count, Value: make([]json.RawMessage, 0, len(page.items))}
	encoded := make([][]byte, 0, len(page.items))
	for _, it := range page.items {
		obj, err := marshal(it)
		if err != nil {
			return access.Internal(err)
		}
		if obj, err = sel.nested(obj, ""); err != nil {
			return err
		}
		encoded = append(encoded, obj)
	}
	if len(sel[""]) > 0 && len(encoded) > 0 {
		for _, name := range sel[""] {
			found := false
			for _, obj := range encoded {
				if _, err := selectProperties(obj, []string{name}, false); err == nil {
					found = true
					break
				}
			}
			if !found {
				_, err := selectProperties(encoded[0], []string{name}, false)
				return err
			}
		}
	}
	for _, obj := range encoded {
		obj, err := selectProperties(obj, sel[""], true)
		if err != nil {
			return err
		}
		body.Value = append(body.Value, obj)
	}
	if page.skipToken != "" {
		body.NextLink = nextLink(s.cfg.PublicURL, r, page.skipToken)
	}
	out, err := body.encode()
	if err != nil {
		return access.Internal(err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(out)
	return nil
}

// encode writes the page as encoding/json would, but puts the items,
// which marshal has already written, in as they are: encoding/json would
// scan each json.RawMessage again to compact it, a tenth of the CPU of a
// page of 100 assignments.
func (b listBody) encode() ([]byte, error) {
	items := b.Value
	b.Value = nil
	head, err := marshal(b) // {"@odata.context":…,"@odata.count":…,"value":null,…}
	if err != nil {
		return nil, err
	}
	const hole = `"value":null`
	at := bytes.Index(head, []byte(hole))
	if at < 0 {
		return nil, fmt.Errorf("graph: no value member in %s", head)
	}
	size := len(head) + len(items)
	for _, it := range items {
		size += len(it)
	}
	out := make([]byte, 0, size)
	out = append(out, head[:at]...)
	out = append(out, `"value":[`...)
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, it...)
	}
	out = append(out, ']')
	return append(out, head[at+len(hole):]...), nil
}

// marshal encodes v as Graph does, leaving <, > and & as they are.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
