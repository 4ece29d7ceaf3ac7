package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lambdalab/store"
)

func TestSignupSignsInAndFirstUserIsInstructor(t *testing.T) {
	site := newTestSite(t, nil)
	c := site.client()
	r := c.signup("teacher@example.com", "correct horse")
	if loc := r.Header.Get("Location"); loc != "/" {
		t.Errorf("after sign-up Location = %q, want /", loc)
	}
	var cookie *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == sessionCookie {
			cookie = ck
		}
	}
	if cookie == nil {
		t.Fatal("sign-up set no session cookie")
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure {
		t.Errorf("cookie HttpOnly=%v SameSite=%v Secure=%v, want true, Lax, false over plain HTTP", cookie.HttpOnly, cookie.SameSite, cookie.Secure)
	}
	home := c.get("/")
	wantStatus(t, "home", home, 200)
	wantContains(t, "home after sign-up", home.body, `data-testid="signed-in-as">teacher@example.com<`, `href="/instructor"`)

	u, err := site.db.UserByEmail(context.Background(), "teacher@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != store.RoleInstructor {
		t.Errorf("first user role = %q, want instructor", u.Role)
	}
	if u.PasswordHash == "correct horse" || !store.CheckPassword(u.PasswordHash, "correct horse") {
		t.Errorf("stored password hash does not verify the password")
	}

	second := site.client()
	second.signup("student@example.com", "another password")
	home = second.get("/")
	wantNotContains(t, "student home", home.body, `href="/instructor"`)
}

func TestSessionCookieSecureOverTLS(t *testing.T) {
	site := newTestSite(t, nil)
	req := httptest.NewRequest("POST", "https://lab.example/signup", strings.NewReader("email=a%40example.com&password=twelve+chars"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	site.srv.Routes().ServeHTTP(w, req)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("sign-up over TLS: status %d, body %s", w.Code, w.Body)
	}
	if sc := w.Header().Get("Set-Cookie"); !strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Errorf("Set-Cookie over TLS = %q, want Secure and HttpOnly", sc)
	}
}

func TestSignupRejectsBadInputAndKeepsEmail(t *testing.T) {
	site := newTestSite(t, nil)
	site.client().signup("taken@example.com", "password one")
	tests := []struct {
		name, email, password string
		status                int
		msg                   string
	}{
		{"bad email", "not-an-email", "long enough pw", 400, "Enter an email address like name@example.com."},
		{"short password", "new@example.com", "eleven char", 400, "at least 12 characters"},
		{"common password", "new@example.com", "Password2024!", 400, "among the first an attacker tries"},
		{"30 emoji", "new@example.com", strings.Repeat("🙂", 30), 400, "Yours is 120 bytes"},
		// Neither confirms the account nor creates one (see signupTaken).
		{"taken email, other case", "Taken@Example.com", "long enough pw", 200, "If you already have an account with this address, sign in"},
		{"hostile email", `<script>x</script>@example.com`, "long enough pw", 400, "Enter an email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := site.client().post("/signup", url.Values{"email": {tt.email}, "password": {tt.password}})
			wantStatus(t, "sign-up", r, tt.status)
			wantContains(t, "sign-up form", r.body, tt.msg)
			if !strings.Contains(tt.email, "<") {
				wantContains(t, "sign-up form keeps the email", r.body, `value="`+tt.email+`"`)
			}
			wantNotContains(t, "sign-up form", r.body, "<script>x</script>", tt.password+`"`)
		})
	}
}

func TestLoginLogout(t *testing.T) {
	site := newTestSite(t, nil)
	site.client().signup("a@example.com", "password one")
	c := site.client()

	r := c.post("/login", url.Values{"email": {"a@example.com"}, "password": {"wrong password"}})
	wantStatus(t, "wrong password", r, http.StatusUnauthorized)
	wantContains(t, "wrong password", r.body, "do not match an account", `value="a@example.com"`)

	r = c.post("/login", url.Values{"email": {"A@Example.com"}, "password": {"password one"}, "next": {"/lessons/second"}})
	wantStatus(t, "good password", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/lessons/second" {
		t.Errorf("after login Location = %q, want /lessons/second", loc)
	}
	wantContains(t, "home signed in", c.get("/").body, `data-testid="signed-in-as"`)

	r = c.post("/logout", nil)
	wantStatus(t, "logout", r, http.StatusSeeOther)
	wantContains(t, "home signed out", c.get("/").body, `data-testid="login-link"`)
}

func TestLoginNextMustBeLocal(t *testing.T) {
	for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"} {
		if got := localPath(next); got != "" {
			t.Errorf("localPath(%q) = %q, want empty", next, got)
		}
	}
	if got := localPath("/lessons/a#quiz-1"); got != "/lessons/a#quiz-1" {
		t.Errorf("localPath kept %q, want the path", got)
	}
}

// A stolen or replayed cookie of a signed-out session must not work.
func TestLogoutEndsSessionServerSide(t *testing.T) {
	site := newTestSite(t, nil)
	c := site.client()
	c.signup("a@example.com", "password one")
	u, _ := url.Parse(site.ts.URL)
	token := c.http.Jar.Cookies(u)[0].Value
	c.post("/logout", nil)
	if _, err := site.db.SessionUser(context.Background(), token); err == nil {
		t.Fatal("session still valid in the database after logout")
	}
}

func TestLoginRateLimit(t *testing.T) {
	site := newTestSite(t, nil)
	now := time.Unix(1_000_000, 0)
	site.srv.logins.now = func() time.Time { return now }
	site.client().signup("victim@example.com", "the real password")
	c := site.client()
	for i := range 5 {
		r := c.post("/login", url.Values{"email": {"victim@example.com"}, "password": {"guess"}})
		wantStatus(t, "failed login "+itoa(i+1), r, http.StatusUnauthorized)
	}
	// From this address even the right password waits its turn: the
	// limiter decides before the password is checked.
	r := c.post("/login", url.Values{"email": {"victim@example.com"}, "password": {"the real password"}})
	wantStatus(t, "login after 5 failures", r, http.StatusTooManyRequests)
	wantContains(t, "429 page", r.body, "Too many failed sign-in attempts", "wait 1 second")
	if ra := r.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1 (second)", ra)
	}
	now = now.Add(time.Second)
	r = c.post("/login", url.Values{"email": {"victim@example.com"}, "password": {"the real password"}})
	wantStatus(t, "right password once the wait is over", r, http.StatusSeeOther)
	if !strings.Contains(site.log.String(), "sign-in failed") || strings.Contains(site.log.String(), "guess") {
		t.Errorf("log should record failures without passwords:\n%s", site.log.String())
	}
}

// Failures are counted per account and address together, and per address
// across accounts (30 free, for a classroom behind one NAT); the account's
// failures from elsewhere do not stop a new address.
func TestLoginRateLimitKeys(t *testing.T) {
	site := newTestSite(t, nil)
	now := time.Unix(1_000_000, 0)
	site.srv.logins.now = func() time.Time { return now }
	h := site.srv.Routes()
	login := func(ip, email string) int {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"email": {email}, "password": {"nope nope"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = ip + ":1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	for i := range 5 {
		login("10.0.0.1", "one@example.com")
		login("10.0.0."+itoa(i+2), "one@example.com")
	}
	if got := login("10.0.0.1", "ONE@example.com"); got != http.StatusTooManyRequests {
		t.Errorf("6th failure for one email from one address: %d, want 429", got)
	}
	if got := login("10.0.0.99", "ONE@example.com"); got != http.StatusUnauthorized {
		t.Errorf("first failure for that email from a new address: %d, want 401 (no lockout)", got)
	}
	for i := range 30 {
		login("10.9.9.9", "user"+itoa(i)+"@example.com")
	}
	if got := login("10.9.9.9", "fresh@example.com"); got != http.StatusTooManyRequests {
		t.Errorf("31st failure from one address with a new email: %d, want 429", got)
	}
	if got := login("10.1.1.1", "other@example.com"); got != http.StatusUnauthorized {
		t.Errorf("unrelated address and email: %d, want 401", got)
	}
}

func TestLimiterWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(2, time.Minute)
	l.now = func() time.Time { return now }
	for i := range 2 {
		if d := l.take("k"); d != 0 {
			t.Fatalf("take %d of 2 = %v, want 0", i+1, d)
		}
	}
	if d := l.take("k"); d != time.Minute {
		t.Errorf("take after 2 of 2 = %v, want 1m", d)
	}
	now = now.Add(61 * time.Second)
	if d := l.take("k"); d != 0 {
		t.Errorf("take after the window = %v, want 0", d)
	}
	if n := l.keys.len(); n != 1 {
		t.Errorf("%d keys after one key's window passed, want 1", n)
	}
}

// TestLimiterTakeIsAtomic: however many requests arrive at once, no more
// than max are let through in a window (the workspace's action limits).
func TestLimiterTakeIsAtomic(t *testing.T) {
	l := newLimiter(30, time.Minute)
	var passed atomic.Int32
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l.take("user:1") == 0 {
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := passed.Load(); n != 30 {
		t.Errorf("%d of 200 parallel takes passed, want exactly 30", n)
	}
}

func TestCrossOriginPostRejected(t *testing.T) {
	site := newTestSite(t, nil)
	site.client().signup("first@example.com", "password one")
	c := site.client()
	c.signup("student@example.com", "password two")

	// A form on another site posting with the student's cookie.
	r := c.post("/lessons/first/complete", nil, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	wantStatus(t, "cross-site POST", r, http.StatusForbidden)
	wantContains(t, "cross-site 403 page", r.body, "sent from another site")
	// An older browser sends only Origin.
	r = c.post("/lessons/first/complete", nil, "Sec-Fetch-Site", "", "Origin", "https://evil.example")
	wantStatus(t, "cross-origin POST without Sec-Fetch-Site", r, http.StatusForbidden)

	u, _ := site.db.UserByEmail(context.Background(), "student@example.com")
	p, _ := site.db.Progress(context.Background(), u.ID)
	if len(p.Completed) != 0 {
		t.Fatalf("a refused cross-site POST changed progress: %v", p.Completed)
	}
	// The same form from our own pages goes through.
	r = c.post("/lessons/first/complete", nil)
	wantStatus(t, "same-origin POST", r, http.StatusSeeOther)
	r = c.post("/lessons/first/complete", nil, "Sec-Fetch-Site", "", "Origin", site.ts.URL)
	wantStatus(t, "same-origin POST with only Origin", r, http.StatusSeeOther)
	// Login is state-changing too.
	r = site.client().post("/login", url.Values{"email": {"student@example.com"}, "password": {"password two"}}, "Sec-Fetch-Site", "cross-site")
	wantStatus(t, "cross-site login", r, http.StatusForbidden)
}

func TestRequestBodyCapped(t *testing.T) {
	site := newTestSite(t, nil)
	r := site.client().post("/signup", url.Values{"email": {"a@example.com"}, "password": {strings.Repeat("x", 100<<10)}})
	wantStatus(t, "100 KiB sign-up", r, http.StatusRequestEntityTooLarge)
	wantContains(t, "413 page", r.body, "larger than this site accepts")
	if _, err := site.db.UserByEmail(context.Background(), "a@example.com"); err == nil {
		t.Error("an oversized form still created an account")
	}
}
