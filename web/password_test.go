package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"lambdalab/store"
)

// signIn signs c in through the login form.
func (c *client) signIn(email, password string) {
	c.t.Helper()
	r := c.post("/login", url.Values{"email": {email}, "password": {password}})
	if r.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign in %s: status %d, want 303; body:\n%.2000s", email, r.StatusCode, r.body)
	}
}

// sessionToken is the session cookie c holds, "" for none.
func (c *client) sessionToken() string {
	u, _ := url.Parse(c.base)
	for _, k := range c.http.Jar.Cookies(u) {
		if k.Name == sessionCookie {
			return k.Value
		}
	}
	return ""
}

// signedIn reports whether c's cookie still opens the account page.
func (c *client) signedIn() bool {
	c.t.Helper()
	return c.get("/account").StatusCode == http.StatusOK
}

const newPassword = "quiet harbour kestrel 71"

func TestChangePassword(t *testing.T) {
	site := newTestSite(t, nil)
	addUser(t, site.db, "a@example.com", testPassword)
	here, there := site.client(), site.client()
	here.signIn("a@example.com", testPassword)
	there.signIn("a@example.com", testPassword)

	wantStatus(t, "password page signed out", site.client().get("/account/password"), http.StatusSeeOther)
	r := here.get("/account/password")
	wantStatus(t, "password page", r, http.StatusOK)
	wantContains(t, "password page", r.body, `data-testid="password-form"`, `name="current"`)
	wantContains(t, "account page", here.get("/account").body, `href="/account/password"`, `action="/logout/everywhere"`)

	for _, tt := range []struct {
		name                 string
		current, pw, confirm string
		want                 string
	}{
		{"wrong current password", "not my password", newPassword, newPassword, "current password is not right"},
		{"new passwords differ", testPassword, newPassword, newPassword + "x", "two new passwords are different"},
		{"new password too short", testPassword, "short", "short", "Choose a password"},
	} {
		r := here.post("/account/password", url.Values{"current": {tt.current}, "password": {tt.pw}, "confirm": {tt.confirm}})
		wantStatus(t, tt.name, r, http.StatusBadRequest)
		wantContains(t, tt.name, r.body, tt.want)
		if !there.signedIn() {
			t.Fatalf("%s: a refused change signed the other browser out", tt.name)
		}
	}

	r = here.post("/account/password", url.Values{"current": {testPassword}, "password": {newPassword}, "confirm": {newPassword}})
	wantStatus(t, "change password", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/account/password?changed=1" {
		t.Errorf("after the change Location = %q, want /account/password?changed=1", loc)
	}
	wantContains(t, "after the change", here.get(r.Header.Get("Location")).body, `data-testid="password-changed"`, "1 other session was signed out")
	if !here.signedIn() {
		t.Error("the browser that changed the password was signed out")
	}
	if there.signedIn() {
		t.Error("another browser stayed signed in after the password change")
	}
	old := site.client().post("/login", url.Values{"email": {"a@example.com"}, "password": {testPassword}})
	if old.StatusCode == http.StatusSeeOther {
		t.Error("the old password still signs in")
	}
	site.client().signIn("a@example.com", newPassword)
}

// Parallel guesses at the current password are counted before the slow
// check, so a burst gets no more checks than the limit.
func TestChangePasswordGuessLimit(t *testing.T) {
	site := newTestSite(t, nil)
	addUser(t, site.db, "a@example.com", testPassword)
	c := site.client()
	c.signIn("a@example.com", testPassword)

	const burst = 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.post("/account/password", url.Values{"current": {"a wrong guess"}, "password": {newPassword}, "confirm": {newPassword}})
			mu.Lock()
			codes[r.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusBadRequest] != 5 || codes[http.StatusTooManyRequests] != burst-5 {
		t.Errorf("%d parallel wrong guesses answered %v; want 5 checked (400) and the rest 429", burst, codes)
	}
	// Even the right one waits now: the window has not passed.
	r := c.post("/account/password", url.Values{"current": {testPassword}, "password": {newPassword}, "confirm": {newPassword}})
	wantStatus(t, "right password after the burst", r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestGuessLimitWindow(t *testing.T) {
	g := newGuessLimit(2, time.Minute)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 2 {
		if d := g.take(1, t0); d != 0 {
			t.Fatalf("try %d waited %v, want 0", i+1, d)
		}
	}
	if d := g.take(1, t0.Add(10*time.Second)); d != 50*time.Second {
		t.Errorf("third try waits %v, want 50s", d)
	}
	if d := g.take(2, t0); d != 0 {
		t.Errorf("another user waits %v, want 0", d)
	}
	if d := g.take(1, t0.Add(time.Minute)); d != 0 {
		t.Errorf("after the window the try waits %v, want 0", d)
	}
	g.forget(1)
	g.take(1, t0.Add(time.Minute))
	if d := g.take(1, t0.Add(time.Minute)); d != 0 {
		t.Errorf("after forget the second try waits %v, want 0", d)
	}
}

func TestLogoutEverywhere(t *testing.T) {
	site := newTestSite(t, nil)
	u := addUser(t, site.db, "a@example.com", testPassword)
	other := addUser(t, site.db, "b@example.com", testPassword)
	a1, a2, b := site.client(), site.client(), site.client()
	a1.signIn(u.Email, testPassword)
	a2.signIn(u.Email, testPassword)
	b.signIn(other.Email, testPassword)
	tok := a2.sessionToken()

	r := a1.post("/logout/everywhere", nil)
	wantStatus(t, "sign out everywhere", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/login" {
		t.Errorf("Location = %q, want /login", loc)
	}
	if a1.signedIn() || a2.signedIn() {
		t.Error("a browser stayed signed in after signing out everywhere")
	}
	if _, err := site.db.SessionUser(context.Background(), tok); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the other browser's session is still in the database: %v", err)
	}
	if !b.signedIn() {
		t.Error("another user was signed out")
	}
	wantStatus(t, "signed out, sign out everywhere", site.client().post("/logout/everywhere", nil), http.StatusSeeOther)
}

// Signing in again from a browser ends the session its cookie held.
func TestSignInAgainEndsOldSession(t *testing.T) {
	site := newTestSite(t, nil)
	addUser(t, site.db, "a@example.com", testPassword)
	addUser(t, site.db, "b@example.com", testPassword)
	c := site.client()
	c.signIn("a@example.com", testPassword)
	first := c.sessionToken()
	c.signIn("b@example.com", testPassword)
	if c.sessionToken() == first {
		t.Fatal("signing in again kept the same token")
	}
	if _, err := site.db.SessionUser(context.Background(), first); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the first session still works after signing in again: %v", err)
	}
	if !c.signedIn() {
		t.Error("the new session does not work")
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	for _, tt := range []struct {
		name  string
		idle  time.Duration
		alive bool
	}{
		// An idle limit shorter than the time between two requests: the
		// next request finds the session gone.
		{"idle limit passed", time.Nanosecond, false},
		{"within the idle limit", time.Hour, true},
		{"no idle limit", -1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			site := newTestSite(t, func(c *Config) { c.SessionIdle = tt.idle })
			addUser(t, site.db, "a@example.com", testPassword)
			c := site.client()
			c.signIn("a@example.com", testPassword)
			if got := c.signedIn(); got != tt.alive {
				t.Errorf("idle %v: signed in on the next request = %v, want %v", tt.idle, got, tt.alive)
			}
		})
	}
}
