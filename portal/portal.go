// Package portal is accessd's web portal: My Access for requestors,
// Approvals for approvers and an admin view with simple edits,
// server-rendered under /portal/.
//
// The portal is a client of accessd's own API. It holds, per browser
// session, a delegated bearer token of the signed-in user and makes every
// read and every action as an API call with that token, through the same
// handler that serves /v1.0. So the portal can do exactly what that user
// could do with curl and the same token: the API's route table and rules
// decide, and the portal has no rules of its own.
package portal

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/accessd/accessd/client"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// DevSignIn lets anyone pick a directory user and be signed in as them: for
// --dev only, where accessd is a test double and nobody's access is real.
type DevSignIn struct {
	// Users are the people offered.
	Users func(ctx context.Context) ([]Person, error)
	// Mint mints a delegated token for the user with that id, with the
	// scopes the portal acts with, and says when it expires.
	Mint func(ctx context.Context, userID string) (token string, expires time.Time, err error)
}

// Config wires the portal to the API.
type Config struct {
	// API is the handler serving accessd's API (/v1.0, /beta, /_accessd).
	API http.Handler
	// PublicURL is accessd's public URL: the base of the API's nextLinks
	// and, with https, what makes the session cookie Secure.
	PublicURL string
	// Dev, when set, offers the user picker.
	Dev *DevSignIn
	// OIDC, when set, offers sign-in with an external OpenID provider.
	OIDC   *OIDCConfig
	Logger *slog.Logger
	// Now is the clock of sessions; nil is time.Now.
	Now func() time.Time
}

// Server serves /portal/.
type Server struct {
	cfg      Config
	api      *client.Client
	sessions *sessionStore
	pages    map[string]*template.Template
	secure   bool
	mux      *http.ServeMux
	oidc     *oidcFlow
}

// New builds the portal.
func New(cfg Config) (*Server, error) {
	if cfg.API == nil {
		return nil, errors.New("portal: Config.API is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	api, err := client.New(client.Config{BaseURL: cfg.PublicURL, TokenFunc: tokenOf,
		HTTPClient: &http.Client{Transport: inProcess{api: cfg.API}}})
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, api: api, sessions: newSessionStore(cfg.Now), pages: pages,
		secure: strings.HasPrefix(cfg.PublicURL, "https://"), mux: http.NewServeMux()}
	if cfg.OIDC != nil {
		if s.oidc, err = newOIDCFlow(*cfg.OIDC, strings.TrimRight(cfg.PublicURL, "/")+"/portal/callback", cfg.Now); err != nil {
			return nil, err
		}
	}
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /portal/static/", http.StripPrefix("/portal/static/", staticFiles(static)))
	s.mux.HandleFunc("GET /portal", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/portal/", http.StatusMovedPermanently)
	})
	s.mux.Handle("GET /portal/{$}", s.page(s.myAccess))
	s.mux.Handle("GET /portal/request/{packageId}", s.page(s.requestForm))
	s.mux.Handle("POST /portal/request/{packageId}", s.action(s.submitRequest))
	s.mux.Handle("POST /portal/requests/{id}/cancel", s.action(s.cancelRequest))
	s.mux.Handle("POST /portal/assignments/{id}/extend", s.action(s.extendAssignment))
	s.mux.Handle("POST /portal/assignments/{id}/remove", s.action(s.removeAssignment))
	s.mux.Handle("GET /portal/approvals", s.page(s.approvals))
	s.mux.Handle("POST /portal/approvals/{id}/stages/{stageId}", s.action(s.decide))
	s.mux.Handle("GET /portal/admin", s.page(s.admin))
	s.mux.Handle("GET /portal/admin/requests/{id}", s.page(s.adminRequest))
	s.mux.Handle("GET /portal/admin/catalogs/{id}/edit", s.page(s.editCatalogForm))
	s.mux.Handle("POST /portal/admin/catalogs/{id}", s.action(s.editCatalog))
	s.mux.Handle("GET /portal/admin/catalogs/{id}/extensions/{xid}", s.page(s.extensionPage))
	s.mux.Handle("GET /portal/admin/packages/{id}/edit", s.page(s.editPackageForm))
	s.mux.Handle("POST /portal/admin/packages/{id}", s.action(s.editPackage))
	s.mux.Handle("GET /portal/admin/policies/{id}/edit", s.page(s.editPolicyForm))
	s.mux.Handle("POST /portal/admin/policies/{id}", s.action(s.editPolicy))
	s.mux.HandleFunc("GET /portal/signin", s.signInPage)
	s.mux.HandleFunc("POST /portal/signin", s.devSignIn)
	s.mux.HandleFunc("POST /portal/signin/oidc", s.oidcStart)
	s.mux.HandleFunc("GET /portal/callback", s.oidcCallback)
	s.mux.HandleFunc("POST /portal/signout", s.signOut)
	return s, nil
}

// ServeHTTP serves /portal/ and below, with headers that keep the pages
// out of frames and caches and scripts to the portal's own.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self' "+s.formActions()+"; frame-ancestors 'none'; base-uri 'none'")
	if !strings.HasPrefix(r.URL.Path, "/portal/static/") {
		h.Set("Cache-Control", "no-store")
	}
	s.mux.ServeHTTP(w, r)
}

// formActions lets the OIDC sign-in form's redirect reach the provider.
func (s *Server) formActions() string {
	if s.oidc == nil {
		return ""
	}
	return s.oidc.origin()
}

func staticFiles(root fs.FS) http.Handler {
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// current is the browser's session, made if it has none.
func (s *Server) current(w http.ResponseWriter, r *http.Request) *session {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess := s.sessions.get(c.Value); sess != nil {
			return sess
		}
	}
	sess := s.sessions.create(anonymousTTL)
	setCookie(w, sess, s.secure)
	return sess
}

// apiContext is the context of API calls made for the session.
func apiContext(r *http.Request, sess *session) context.Context {
	return withRemoteAddr(withToken(r.Context(), sess.token), r.RemoteAddr)
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string // which tab is current
	User    Person
	CSRF    string
	Flash   string
	Dev     bool
	OIDC    bool
	Content any
}

// pageHandler renders a page for a signed-in session.
type pageHandler func(w http.ResponseWriter, r *http.Request, sess *session) (name string, v view, err error)

// page sends a browser that is not signed in to the sign-in page.
func (s *Server) page(h pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := s.current(w, r)
		if !sess.signedIn() {
			s.renderSignIn(w, r, sess, http.StatusOK)
			return
		}
		name, v, err := h(w, r, sess)
		if err != nil {
			s.renderError(w, r, sess, err)
			return
		}
		if name == "" {
			return // redirected
		}
		s.render(w, r, sess, http.StatusOK, name, v)
	})
}

// actionHandler does one POST and says where to go next and what to say.
type actionHandler func(r *http.Request, sess *session) (next, flash string, err error)

// action checks the session and its CSRF token, runs h and redirects
// (post/redirect/get), carrying the outcome as a one-time message. The API's
// refusal is that message: the portal adds no rule of its own.
func (s *Server) action(h actionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := s.current(w, r)
		if !s.checkForm(w, r, sess) {
			return
		}
		if !sess.signedIn() {
			http.Redirect(w, r, "/portal/signin", http.StatusSeeOther)
			return
		}
		next, flash, err := h(r, sess)
		if err != nil {
			if e, ok := apiError(err); ok && e.Status == http.StatusUnauthorized {
				s.sessions.delete(sess.id)
				clearCookie(w, s.secure)
				http.Redirect(w, r, "/portal/signin", http.StatusSeeOther)
				return
			}
			flash = "Not done: " + explain(err)
			if next == "" {
				next = refererOr(r, "/portal/")
			}
		}
		s.sessions.setFlash(sess, flash)
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
}

// checkForm refuses a POST whose form lacks the session's CSRF token, or
// that comes from another origin.
func (s *Server) checkForm(w http.ResponseWriter, r *http.Request, sess *session) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return false
	}
	if !sess.validCSRF(r.PostForm.Get("csrf")) || crossOrigin(r) {
		http.Error(w, "This form has expired or did not come from this site. Go back, reload the page and try again.", http.StatusForbidden)
		return false
	}
	return true
}

// crossOrigin is true when the browser says the POST came from a page of
// another site (Sec-Fetch-Site), a second line behind the CSRF token.
func crossOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	return site == "cross-site"
}

// refererOr is the page the form was on, when it is a portal page.
func refererOr(r *http.Request, fallback string) string {
	ref := r.Header.Get("Referer")
	if i := strings.Index(ref, "/portal/"); i >= 0 {
		path := ref[i:]
		if !strings.Contains(path, "//") {
			return path
		}
	}
	return fallback
}

// explain is an error as a person reads it: the API's message, without the
// method and path.
func explain(err error) string {
	if e, ok := apiError(err); ok {
		msg := e.Message
		if msg == "" {
			msg = http.StatusText(e.Status)
		}
		switch e.Status {
		case http.StatusForbidden:
			return "you are not allowed to do this (" + msg + ")"
		case http.StatusNotFound:
			return "not found or not visible to you (" + msg + ")"
		case http.StatusTooManyRequests:
			return "too many requests; wait a moment and try again"
		}
		return msg
	}
	var pe pageError
	if errors.As(err, &pe) {
		return string(pe)
	}
	return "something went wrong"
}

// pageError is a problem with what the person entered, said to them as is.
type pageError string

func (e pageError) Error() string { return string(e) }

func (s *Server) render(w http.ResponseWriter, r *http.Request, sess *session, status int, name string, v view) {
	v.User = sess.user
	v.CSRF = sess.csrf
	v.Flash = s.sessions.takeFlash(sess)
	v.Dev = s.cfg.Dev != nil
	v.OIDC = s.oidc != nil
	t, ok := s.pages[name]
	if !ok {
		s.cfg.Logger.Error("portal: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.cfg.Logger.Error("portal: render", "page", name, "error", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// renderError shows why a page could not be built. A token the API no
// longer accepts ends the session.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	status := http.StatusBadGateway
	if e, ok := apiError(err); ok {
		status = e.Status
		if status == http.StatusUnauthorized {
			s.sessions.delete(sess.id)
			clearCookie(w, s.secure)
			fresh := s.sessions.create(anonymousTTL)
			setCookie(w, fresh, s.secure)
			s.sessions.setFlash(fresh, "Your session has ended: sign in again.")
			s.renderSignIn(w, r, fresh, http.StatusOK)
			return
		}
	} else {
		s.cfg.Logger.Error("portal: page failed", "path", r.URL.Path, "error", err.Error())
	}
	s.render(w, r, sess, status, "error", view{Title: "Not available", Content: explain(err)})
}
