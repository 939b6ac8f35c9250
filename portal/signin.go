package portal

import (
	"net/http"
	"slices"
	"strings"
)

type signInContent struct {
	Users []Person
	Err   string
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	sess := s.current(w, r)
	if sess.signedIn() {
		http.Redirect(w, r, "/portal/", http.StatusSeeOther)
		return
	}
	s.renderSignIn(w, r, sess, http.StatusOK)
}

// renderSignIn shows the ways to sign in this server offers, or how to
// enable one.
func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, sess *session, status int) {
	var c signInContent
	if s.cfg.Dev != nil {
		users, err := s.cfg.Dev.Users(r.Context())
		if err != nil {
			c.Err = "The directory could not be read: " + err.Error()
		}
		slices.SortFunc(users, func(a, b Person) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
		c.Users = users
	}
	s.render(w, r, sess, status, "signin", view{Title: "Sign in", Nav: "signin", Content: c})
}

// devSignIn signs the browser in as the user picked (--dev only).
func (s *Server) devSignIn(w http.ResponseWriter, r *http.Request) {
	sess := s.current(w, r)
	if !s.checkForm(w, r, sess) {
		return
	}
	if s.cfg.Dev == nil {
		http.Error(w, "The user picker is offered in --dev mode only.", http.StatusNotFound)
		return
	}
	id := r.PostForm.Get("user")
	users, err := s.cfg.Dev.Users(r.Context())
	if err != nil {
		http.Error(w, "the directory could not be read", http.StatusBadGateway)
		return
	}
	i := slices.IndexFunc(users, func(p Person) bool { return p.ID == id })
	if i < 0 {
		s.sessions.setFlash(sess, "Choose a user from the list.")
		http.Redirect(w, r, "/portal/signin", http.StatusSeeOther)
		return
	}
	token, expires, err := s.cfg.Dev.Mint(r.Context(), id)
	if err != nil {
		s.cfg.Logger.Error("portal: mint a token", "user", id, "error", err.Error())
		http.Error(w, "a token could not be minted", http.StatusInternalServerError)
		return
	}
	fresh := s.sessions.signIn(sess, users[i], token, expires)
	setCookie(w, fresh, s.secure)
	s.cfg.Logger.Info("portal: signed in", "user", id, "how", "dev")
	http.Redirect(w, r, "/portal/", http.StatusSeeOther)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	sess := s.current(w, r)
	if !s.checkForm(w, r, sess) {
		return
	}
	s.sessions.delete(sess.id)
	clearCookie(w, s.secure)
	http.Redirect(w, r, "/portal/signin", http.StatusSeeOther)
}
