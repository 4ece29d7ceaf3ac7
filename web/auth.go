package web

import (
	"errors"
	"fmt"
	"math"
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
	f := ui.AuthForm{Signup: true, Next: localPath(r.URL.Query().Get("next")), Invite: strings.TrimSpace(r.URL.Query().Get("invite"))}
	if s.signupMode != SignupOpen {
		first, err := s.db.HasUsers(r.Context())
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		first = !first
		if s.signupMode == SignupClosed && !first {
			s.signupClosed(w, r)
			return
		}
		f.InviteNeeded = s.signupMode == SignupInvite && !first
	}
	s.render(w, r, http.StatusOK, ui.AuthPage(s.siteFor(r), f))
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
//
// Nothing costly comes first: the attempt is counted, the e-mail and the
// password get every check that needs no hash, then mayJoin decides whether
// this person may have an account at all, and only then is the password
// hashed.
func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.badForm(w, r, err)
		return
	}
	f := ui.AuthForm{Signup: true, Email: strings.TrimSpace(r.PostForm.Get("email")), Next: localPath(r.PostForm.Get("next")),
		Invite: strings.TrimSpace(r.PostForm.Get("invite")), InviteNeeded: s.signupMode == SignupInvite}
	pw := r.PostForm.Get("password")
	again := func(status int, msg string) {
		f.Error = msg
		s.render(w, r, status, ui.AuthPage(s.siteFor(r), f))
	}
	if d := s.signups.take(clientKey(r)); d > 0 {
		s.tooMany(w, r, d, "Too many sign-up attempts came from your network.")
		return
	}
	if msg := checkEmail(f.Email); msg != "" {
		again(http.StatusBadRequest, msg)
		return
	}
	if err := store.CheckNewPassword(pw); err != nil {
		again(http.StatusBadRequest, passwordRule(err))
		return
	}
	create, ok := s.mayJoin(w, r, f)
	if !ok {
		return
	}
	hash, err := s.hashPassword(pw)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	u, err := create(r.Context(), f.Email, hash)
	if errors.Is(err, store.ErrInviteUnusable) {
		// Its last use went to a sign-up racing this one, or it expired.
		again(http.StatusBadRequest, inviteRefused)
		return
	}
	if errors.Is(err, store.ErrSignupClosed) {
		// Someone else became the first user meanwhile.
		s.signupClosed(w, r)
		return
	}
	if errors.Is(err, store.ErrEmailTaken) {
		// Taken since mayJoin looked, by a sign-up racing this one.
		s.signupTaken(w, r, f)
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
	s.logger.InfoContext(r.Context(), "account created", "user_id", u.ID, "role", string(u.Role))
	s.startSession(w, r, u, f.Next)
}

// mayJoin decides whether the person sending a well-formed sign-up form may
// have an account, and answers them itself when not; when they may, it
// returns how to create it. Who may join (the sign-up mode, an invite, the
// e-mail domain: see admission) is decided before whether the e-mail is
// free, so someone without an invite learns nothing about who has an
// account; all of it before any password is hashed.
func (s *Server) mayJoin(w http.ResponseWriter, r *http.Request, f ui.AuthForm) (newUser, bool) {
	some, err := s.db.HasUsers(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return nil, false
	}
	if !some {
		f.InviteNeeded = false
	}
	create, ok := s.admission(w, r, f, !some)
	if !ok {
		return nil, false
	}
	_, err = s.db.UserByEmail(r.Context(), f.Email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return create, true
	case err == nil:
		s.signupTaken(w, r, f)
	case errors.Is(err, store.ErrInvalid):
		f.Error = "Enter an email address like name@example.com."
		s.render(w, r, http.StatusBadRequest, ui.AuthPage(s.siteFor(r), f))
	default:
		s.serverError(w, r, fmt.Errorf("look up user: %w", err))
	}
	return nil, false
}

// signupTaken answers a sign-up for an e-mail that already has an account:
// the sign-in form, worded so it neither confirms the account nor says
// whose it is. Open sign-up cannot hide that an address is taken from
// someone willing to try to create it; what keeps the list of registered
// addresses from being farmed is that each try costs one of the client's
// sign-up attempts (s.signups) and no hashing, so none of anyone's CPU.
func (s *Server) signupTaken(w http.ResponseWriter, r *http.Request, f ui.AuthForm) {
	f.Signup = false
	f.Error = "If you already have an account with this address, sign in with its password. Otherwise check the address and sign up again."
	s.render(w, r, http.StatusOK, ui.AuthPage(s.siteFor(r), f))
}

// login signs a user in. The sign-in limiter decides before the password
// is checked (see signinLimiter): a client that has failed too often for
// this account, or from its address, waits, whatever the password. Known
// and unknown e-mails cost one bcrypt compare each, so time tells nothing.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.badForm(w, r, err)
		return
	}
	f := ui.AuthForm{Email: strings.TrimSpace(r.PostForm.Get("email")), Next: localPath(r.PostForm.Get("next"))}
	if len(f.Email) > maxEmailBytes {
		// No account can have it, and it must not become a limiter key.
		f.Error = "That email address is too long."
		s.render(w, r, http.StatusBadRequest, ui.AuthPage(s.siteFor(r), f))
		return
	}
	ticket, d := s.logins.reserve(strings.ToLower(f.Email), clientKey(r))
	if ticket == nil {
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
		hash = s.dummyHash
	}
	if !s.checkPassword(hash, r.PostForm.Get("password")) || err != nil {
		// The reservation stays, counted as this failure.
		s.logger.InfoContext(r.Context(), "sign-in failed", "ip", clientIP(r))
		f.Error = "That email and password do not match an account."
		s.render(w, r, http.StatusUnauthorized, ui.AuthPage(s.siteFor(r), f))
		return
	}
	ticket.succeeded()
	s.startSession(w, r, u, f.Next)
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u store.User, next string) {
	if err := s.beginSession(w, r, u); err != nil {
		s.serverError(w, r, err)
		return
	}
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
	secs := int(math.Ceil(d.Seconds()))
	w.Header().Set("Retry-After", itoa(secs))
	n, unit := secs, "second"
	if secs > 90 {
		n, unit = int(math.Ceil(d.Minutes())), "minute"
	}
	if n != 1 {
		unit += "s"
	}
	s.errorPage(w, r, http.StatusTooManyRequests, "Too many attempts",
		fmt.Sprintf("%s For your account's safety, please wait %d %s and try again.", why, n, unit))
}

// maxEmailBytes is the longest address SMTP allows, and so the longest any
// account has.
const maxEmailBytes = 254

// checkEmail returns a message for a malformed address, "" when it is fine.
func checkEmail(email string) string {
	if email == "" {
		return "Enter your email address."
	}
	if len(email) > maxEmailBytes {
		return "That email address is too long."
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email {
		return "Enter an email address like name@example.com."
	}
	return ""
}

// passwordRule is the sign-up page's sentence for a password that
// store.CheckNewPassword refused.
func passwordRule(err error) string {
	var long *store.PasswordTooLongError
	switch {
	case errors.As(err, &long):
		// bcrypt counts UTF-8 bytes, and so must the person choosing.
		return fmt.Sprintf("Choose a password of at most %d bytes. Yours is %d bytes: letters beyond plain English take 2 to 4 bytes each (é is 2, an emoji 4).", store.MaxPasswordBytes, long.Bytes)
	case errors.Is(err, store.ErrPasswordTooLong):
		return fmt.Sprintf("Choose a password of at most %d bytes.", store.MaxPasswordBytes)
	case errors.Is(err, store.ErrPasswordCommon):
		return "That password is among the first an attacker tries. Choose another: a few unrelated words make a good one."
	default:
		return fmt.Sprintf("Choose a password of at least %d characters.", store.MinPasswordLen)
	}
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

// clientIP is the client's address: the peer's, or behind a trusted proxy
// the one it forwarded for (see proxy.go). Anyone else's X-Forwarded-For
// is ignored: anyone can send it.
func clientIP(r *http.Request) string { return clientOf(r).ip }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
