package web

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"lambdalab/store"
	"lambdalab/web/ui"
)

func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) {
	if userFrom(r.Context()) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, ui.AuthPage(s.siteFor(r), ui.AuthForm{Signup: true, Next: localPath(r.URL.Query().Get("next"))}))
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	if userFrom(r.Context()) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, ui.AuthPage(s.siteFor(r), ui.AuthForm{Next: localPath(r.URL.Query().Get("next"))}))
}

// signup creates an account (the very first becomes the instructor, which
// store decides), signs it in and goes on to next.
func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.badForm(w, r, err)
		return
	}
	f := ui.AuthForm{Signup: true, Email: strings.TrimSpace(r.PostForm.Get("email")), Next: localPath(r.PostForm.Get("next"))}
	again := func(status int, msg string) {
		f.Error = msg
		s.render(w, r, status, ui.AuthPage(s.siteFor(r), f))
	}
	if msg := checkEmail(f.Email); msg != "" {
		again(http.StatusBadRequest, msg)
		return
	}
	ipKey := "ip:" + clientIP(r)
	if d := s.signups.wait(ipKey); d > 0 {
		s.tooMany(w, r, d, "Too many accounts were created from your network.")
		return
	}
	hash, err := store.HashPassword(r.PostForm.Get("password"))
	if errors.Is(err, store.ErrPasswordTooShort) || errors.Is(err, store.ErrPasswordTooLong) {
		again(http.StatusBadRequest, passwordRule(err))
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	u, err := s.db.CreateUser(r.Context(), f.Email, hash, false)
	if errors.Is(err, store.ErrEmailTaken) {
		again(http.StatusConflict, "An account with this email already exists. Sign in instead.")
		return
	}
	if errors.Is(err, store.ErrInvalid) {
		again(http.StatusBadRequest, "Enter an email address like name@example.com.")
		return
	}
	if err != nil {
		s.serverError(w, r, fmt.Errorf("create user: %w", err))
		return
	}
	s.signups.add(ipKey)
	s.logger.InfoContext(r.Context(), "account created", "user_id", u.ID, "role", string(u.Role))
	s.startSession(w, r, u, f.Next)
}

// login signs a user in. Failures are counted per client address and per
// email; past the limit every attempt gets 429 until the window passes,
// whether or not the password would have been right.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.badForm(w, r, err)
		return
	}
	f := ui.AuthForm{Email: strings.TrimSpace(r.PostForm.Get("email")), Next: localPath(r.PostForm.Get("next"))}
	keys := []string{"ip:" + clientIP(r), "email:" + strings.ToLower(f.Email)}
	if d := s.logins.wait(keys...); d > 0 {
		s.tooMany(w, r, d, "Too many failed sign-in attempts.")
		return
	}
	u, err := s.db.UserByEmail(r.Context(), f.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid) {
		s.serverError(w, r, fmt.Errorf("look up user: %w", err))
		return
	}
	hash := u.PasswordHash
	if err != nil {
		// Spend the same bcrypt time as for a real account, so response
		// time does not reveal which emails are registered.
		hash = s.dummyPasswordHash()
	}
	if !store.CheckPassword(hash, r.PostForm.Get("password")) || err != nil {
		s.logins.add(keys...)
		s.logger.InfoContext(r.Context(), "sign-in failed", "ip", clientIP(r))
		f.Error = "That email and password do not match an account."
		s.render(w, r, http.StatusUnauthorized, ui.AuthPage(s.siteFor(r), f))
		return
	}
	s.logins.reset(keys[1])
	s.startSession(w, r, u, f.Next)
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u store.User, next string) {
	token, err := s.db.CreateSession(r.Context(), u.ID, s.sessionTTL)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("create session for user %d: %w", u.ID, err))
		return
	}
	setSessionCookie(w, r, token, s.sessionTTL)
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := s.db.DeleteSession(r.Context(), c.Value); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.serverError(w, r, fmt.Errorf("delete session: %w", err))
			return
		}
	}
	if u := userFrom(r.Context()); u != nil {
		s.visits.Lock()
		delete(s.lastSeen, u.ID)
		s.visits.Unlock()
	}
	clearSessionCookie(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, d time.Duration, why string) {
	mins := int(math.Ceil(d.Minutes()))
	w.Header().Set("Retry-After", itoa(int(math.Ceil(d.Seconds()))))
	unit := "minutes"
	if mins == 1 {
		unit = "minute"
	}
	s.errorPage(w, r, http.StatusTooManyRequests, "Too many attempts",
		fmt.Sprintf("%s For your account's safety, please wait %d %s and try again.", why, mins, unit))
}

func (s *Server) dummyPasswordHash() string {
	s.dummyOnce.Do(func() {
		h, err := store.HashPassword("not-a-real-password-" + time.Now().String())
		if err != nil {
			s.logger.Error("hash dummy password", "err", err)
		}
		s.dummyHash = h
	})
	return s.dummyHash
}

// checkEmail returns a message for a malformed address, "" when it is fine.
func checkEmail(email string) string {
	if email == "" {
		return "Enter your email address."
	}
	if len(email) > 254 {
		return "That email address is too long."
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email {
		return "Enter an email address like name@example.com."
	}
	return ""
}

func passwordRule(err error) string {
	if errors.Is(err, store.ErrPasswordTooLong) {
		return "Choose a password of at most 72 bytes."
	}
	return fmt.Sprintf("Choose a password of at least %d characters.", store.MinPasswordLen)
}

// localPath accepts only a path on this site as a place to return to, so a
// crafted link cannot send someone elsewhere after signing in.
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	return p
}

// clientIP is the peer address. Headers such as X-Forwarded-For are not
// trusted: anyone can send them.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
