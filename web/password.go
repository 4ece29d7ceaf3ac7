package web

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"lambdalab/store"
	"lambdalab/web/ui"
)

// passwordForm shows the change-password page; ?changed=N says the change
// just succeeded and ended N other sessions.
func (s *Server) passwordForm(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r, "/account/password")
	if u == nil {
		return
	}
	var f ui.PasswordForm
	if n, err := strconv.Atoi(r.URL.Query().Get("changed")); err == nil && n >= 0 {
		f.Changed, f.Ended = true, n
	}
	s.render(w, r, http.StatusOK, ui.PasswordPage(s.siteFor(r), f))
}

// changePassword sets a new password for the signed-in user once they
// give the current one. Every other session of theirs ends in the same
// transaction; this browser's stays, so the person who changed it is not
// sent to the sign-in page.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r, "/account/password")
	if u == nil {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.badForm(w, r, err)
		return
	}
	again := func(status int, msg string) {
		s.render(w, r, status, ui.PasswordPage(s.siteFor(r), ui.PasswordForm{Error: msg}))
	}
	// Someone at a browser left signed in could otherwise guess the
	// current password here without the sign-in page's limits. The slot is
	// taken before the slow check, so parallel guesses count too.
	if d := s.passwordGuesses.take(u.ID, time.Now()); d > 0 {
		s.tooMany(w, r, d, "Too many wrong current passwords.")
		return
	}
	if !store.CheckPassword(u.PasswordHash, r.PostForm.Get("current")) {
		s.logger.InfoContext(r.Context(), "password change refused: wrong current password", "user_id", u.ID)
		again(http.StatusBadRequest, "Your current password is not right. Nothing was changed.")
		return
	}
	s.passwordGuesses.forget(u.ID)
	pw := r.PostForm.Get("password")
	if pw != r.PostForm.Get("confirm") {
		again(http.StatusBadRequest, "The two new passwords are different. Type the same one twice.")
		return
	}
	if err := store.CheckNewPassword(pw); err != nil {
		again(http.StatusBadRequest, passwordRule(err))
		return
	}
	hash, err := store.HashPassword(pw)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("change password of user %d: %w", u.ID, err))
		return
	}
	var keep string
	if c, err := r.Cookie(sessionCookie); err == nil {
		keep = c.Value
	}
	ended, err := s.db.ChangePassword(r.Context(), u.ID, hash, keep)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.logger.InfoContext(r.Context(), "password changed", "user_id", u.ID, "sessions_ended", ended)
	http.Redirect(w, r, "/account/password?changed="+strconv.FormatInt(ended, 10), http.StatusSeeOther)
}

// logoutEverywhere ends every session of the signed-in user, this one
// included: for a learner who signed in on a lab machine and left.
func (s *Server) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r, "/account")
	if u == nil {
		return
	}
	n, err := s.db.DeleteUserSessions(r.Context(), u.ID, "")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.visits.Lock()
	delete(s.lastSeen, u.ID)
	s.visits.Unlock()
	s.logger.InfoContext(r.Context(), "signed out everywhere", "user_id", u.ID, "sessions_ended", n)
	clearSessionCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// guessLimit bounds checks of the current password on the change-password
// form: per user (whoever guesses already holds that user's session), max
// in a window, after which each try waits for the window to pass. A right
// password forgets the count.
type guessLimit struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	tries  map[int64]guesses // one entry per user at most
}

type guesses struct {
	n     int
	first time.Time
}

func newGuessLimit(max int, window time.Duration) *guessLimit {
	return &guessLimit{max: max, window: window, tries: map[int64]guesses{}}
}

// take counts one check for userID and returns zero, or, when the window's
// checks are used up, how long until the next may run (and counts nothing).
func (g *guessLimit) take(userID int64, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	f, ok := g.tries[userID]
	if !ok || !now.Before(f.first.Add(g.window)) {
		f = guesses{first: now}
	}
	if f.n >= g.max {
		return f.first.Add(g.window).Sub(now)
	}
	f.n++
	g.tries[userID] = f
	return 0
}

func (g *guessLimit) forget(userID int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.tries, userID)
}
