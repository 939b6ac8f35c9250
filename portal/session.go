package portal

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Sessions live in this process's memory: a restart signs everyone out,
// and replicas behind a load balancer do not share them (pin browsers to a
// replica, or sign in again). The bearer token a session holds never
// leaves the server; the browser holds only the session's random id.

const (
	sessionCookie = "accessd_portal"
	// anonymousTTL bounds a session nobody has signed in to: it only
	// carries the CSRF token of the sign-in form.
	anonymousTTL = time.Hour
	// maxSessions bounds memory against a flood of anonymous visits; the
	// oldest-expiring sessions go first.
	maxSessions = 20000
)

// Person is a signed-in user, as the token names them.
type Person struct {
	ID   string
	Name string
	UPN  string
}

// session is one browser's state. The CSRF token is per session and stays
// for its life; every form carries it and every POST is checked against it.
type session struct {
	id      string
	csrf    string
	user    Person // zero until signed in
	token   string // the delegated bearer token the API is called with
	expires time.Time
	flash   string // one message shown on the next page, then dropped
}

func (s *session) signedIn() bool { return s.user.ID != "" && s.token != "" }

type sessionStore struct {
	mu       sync.Mutex
	sessions map[string]*session
	now      func() time.Time
}

func newSessionStore(now func() time.Time) *sessionStore {
	return &sessionStore{sessions: make(map[string]*session), now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("portal: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// get is the live session with that id, or nil.
func (st *sessionStore) get(id string) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.sessions[id]
	if s == nil {
		return nil
	}
	if !st.now().Before(s.expires) {
		delete(st.sessions, id)
		return nil
	}
	return s
}

// create starts a session valid for ttl.
func (st *sessionStore) create(ttl time.Duration) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.sessions) >= maxSessions {
		st.evictLocked()
	}
	s := &session{id: randomToken(), csrf: randomToken(), expires: st.now().Add(ttl)}
	st.sessions[s.id] = s
	return s
}

// evictLocked drops expired sessions and, if that is not enough, the tenth
// that expires first.
func (st *sessionStore) evictLocked() {
	now := st.now()
	for id, s := range st.sessions {
		if !now.Before(s.expires) {
			delete(st.sessions, id)
		}
	}
	for len(st.sessions) >= maxSessions*9/10 {
		var oldest *session
		for _, s := range st.sessions {
			if oldest == nil || s.expires.Before(oldest.expires) {
				oldest = s
			}
		}
		delete(st.sessions, oldest.id)
	}
}

// signIn replaces the anonymous session old (which may be nil) with a new
// one for the user: a new id, so that an id planted before sign-in is
// worth nothing after it.
func (st *sessionStore) signIn(old *session, user Person, token string, expires time.Time) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	if old != nil {
		delete(st.sessions, old.id)
	}
	if len(st.sessions) >= maxSessions {
		st.evictLocked()
	}
	s := &session{id: randomToken(), csrf: randomToken(), user: user, token: token, expires: expires}
	st.sessions[s.id] = s
	return s
}

func (st *sessionStore) delete(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.sessions, id)
}

// takeFlash returns and clears the session's message.
func (st *sessionStore) takeFlash(s *session) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	f := s.flash
	s.flash = ""
	return f
}

func (st *sessionStore) setFlash(s *session, msg string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s.flash = msg
}

// validCSRF compares in constant time.
func (s *session) validCSRF(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// setCookie writes the session cookie: HttpOnly always, Secure when the
// portal is served over https, SameSite=Lax so that the OIDC provider's
// redirect back (a top-level GET) still carries it while cross-site POSTs
// do not.
func setCookie(w http.ResponseWriter, s *session, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.id, Path: "/portal", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, Expires: s.expires})
}

func clearCookie(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/portal", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}
