package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"lambdalab/store"
)

// bcryptCounter wraps the server's password functions to count the bcrypt
// work requests cost; the real functions still run.
type bcryptCounter struct {
	hashes, compares atomic.Int64
	mu               sync.Mutex
	comparedWith     []string // hashes compared against
}

func countBcrypt(s *Server) *bcryptCounter {
	c := &bcryptCounter{}
	hash, check := s.hashPassword, s.checkPassword
	s.hashPassword = func(pw string) (string, error) {
		c.hashes.Add(1)
		return hash(pw)
	}
	s.checkPassword = func(h, pw string) bool {
		c.compares.Add(1)
		c.mu.Lock()
		c.comparedWith = append(c.comparedWith, h)
		c.mu.Unlock()
		return check(h, pw)
	}
	return c
}

// postForm sends a form straight to the handler from addr, as a request
// from a real goroutine would arrive; it returns the recorder.
func postForm(h http.Handler, path, addr string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = addr
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// addAccount creates an account without the sign-up handler, so tests spend
// none of a client's sign-up attempts.
func addAccount(t *testing.T, db *store.DB, email, password string) {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateUser(context.Background(), email, string(h), false); err != nil {
		t.Fatal(err)
	}
}

// A burst of guesses arriving together must not all be checked: the
// limiter reserves a slot before the (slow) password check.
func TestLoginConcurrentGuessesAreLimited(t *testing.T) {
	site := newTestSite(t, nil)
	now := time.Unix(1_000_000, 0)
	site.srv.logins.now = func() time.Time { return now } // no wait runs out mid-burst
	addAccount(t, site.db, "victim@example.com", "the real password")
	bc := countBcrypt(site.srv)
	h := site.srv.Routes()

	const n = 100
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := postForm(h, "/login", "10.0.0.7:4000", url.Values{"email": {"victim@example.com"}, "password": {fmt.Sprintf("guess %d", i)}})
			codes[i] = w.Code
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if got := bc.compares.Load(); got != 5 {
		t.Errorf("%d concurrent wrong guesses: %d password checks, want 5 (the free tries)", n, got)
	}
	if count[http.StatusUnauthorized] != 5 || count[http.StatusTooManyRequests] != n-5 {
		t.Errorf("statuses %v, want 5 × 401 and %d × 429", count, n-5)
	}
}

// Both paths run one bcrypt compare, the unknown one against a real hash,
// so response time does not tell which e-mails are registered.
func TestLoginUnknownEmailRunsOneCompare(t *testing.T) {
	site := newTestSite(t, nil)
	addAccount(t, site.db, "known@example.com", "the real password")
	bc := countBcrypt(site.srv)
	h := site.srv.Routes()

	for _, email := range []string{"known@example.com", "unknown@example.com", "not an email"} {
		before := bc.compares.Load()
		w := postForm(h, "/login", "10.0.0.8:4000", url.Values{"email": {email}, "password": {"wrong password"}})
		if w.Code != http.StatusUnauthorized {
			t.Errorf("login as %q: status %d, want 401", email, w.Code)
		}
		if got := bc.compares.Load() - before; got != 1 {
			t.Errorf("login as %q ran %d bcrypt compares, want 1", email, got)
		}
	}
	dummy := bc.comparedWith[1]
	if cost, err := bcrypt.Cost([]byte(dummy)); err != nil || cost != bcrypt.DefaultCost {
		t.Errorf("unknown e-mail compared against %q (cost %d, %v), want a real hash at the default cost", dummy, cost, err)
	}
}

func TestLoginEmailLengthBounded(t *testing.T) {
	site := newTestSite(t, nil)
	bc := countBcrypt(site.srv)
	long := strings.Repeat("a", 300) + "@example.com"
	w := postForm(site.srv.Routes(), "/login", "10.0.0.9:4000", url.Values{"email": {long}, "password": {"whatever it is"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "too long") {
		t.Errorf("login with a 312-byte e-mail: %d, want 400 saying it is too long", w.Code)
	}
	if n := site.srv.logins.accounts.len() + site.srv.logins.pairs.len(); n != 0 || bc.compares.Load() != 0 {
		t.Errorf("a too-long e-mail made %d limiter keys and %d compares, want none", n, bc.compares.Load())
	}
}

// An attacker guessing from one address must not lock the owner out: the
// owner's right password from another address still gets in, and the
// attacker stays slowed.
func TestLoginOwnerNotLockedOut(t *testing.T) {
	site := newTestSite(t, nil)
	now := time.Unix(1_000_000, 0)
	site.srv.logins.now = func() time.Time { return now }
	addAccount(t, site.db, "owner@example.com", "the real password")
	h := site.srv.Routes()
	try := func(addr, pw string) int {
		return postForm(h, "/login", addr+":5000", url.Values{"email": {"owner@example.com"}, "password": {pw}}).Code
	}
	for i := range 50 {
		try("203.0.113.66", "guess "+itoa(i))
		now = now.Add(100 * time.Millisecond)
	}
	if got := try("203.0.113.66", "the real password"); got != http.StatusTooManyRequests {
		t.Errorf("attacker's address after 50 guesses: %d, want 429", got)
	}
	if got := try("198.51.100.1", "the real password"); got != http.StatusSeeOther {
		t.Errorf("owner from a clean address while attacked: %d, want 303", got)
	}
	if got := try("203.0.113.66", "another guess"); got != http.StatusTooManyRequests {
		t.Errorf("attacker after the owner signed in: %d, want still 429", got)
	}
}

// Guesses spread over many addresses mark the account as under attack:
// each address then gets one free try instead of five, yet the owner from
// an address that has not failed still gets in.
func TestLoginDistributedGuessingSlowedNotBlocked(t *testing.T) {
	site := newTestSite(t, nil)
	now := time.Unix(1_000_000, 0)
	site.srv.logins.now = func() time.Time { return now }
	addAccount(t, site.db, "owner@example.com", "the real password")
	h := site.srv.Routes()
	try := func(addr, pw string) int {
		return postForm(h, "/login", addr+":5000", url.Values{"email": {"owner@example.com"}, "password": {pw}}).Code
	}
	for i := range 25 {
		if got := try("192.0.2."+itoa(i+1), "guess"); got != http.StatusUnauthorized {
			t.Fatalf("first guess from address %d: %d, want 401", i+1, got)
		}
	}
	if got := try("192.0.2.1", "second guess"); got != http.StatusTooManyRequests {
		t.Errorf("second guess from an address while the account is under attack: %d, want 429", got)
	}
	now = now.Add(time.Second)
	if got := try("192.0.2.1", "second guess"); got != http.StatusUnauthorized {
		t.Errorf("second guess after a second: %d, want 401 (slowed, not blocked)", got)
	}
	if got := try("198.51.100.1", "the real password"); got != http.StatusSeeOther {
		t.Errorf("owner from a clean address while the account is under attack: %d, want 303", got)
	}
}

func TestBackoffDelayDoublesToCeiling(t *testing.T) {
	r := backoffRule{free: 5, base: time.Second, ceiling: 15 * time.Minute}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{0, 0}, {4, 0}, {5, time.Second}, {6, 2 * time.Second}, {8, 8 * time.Second},
		{14, 512 * time.Second}, {15, 15 * time.Minute}, {1000, 15 * time.Minute},
	}
	for _, tt := range tests {
		if got := r.delay(tt.n, r.free); got != tt.want {
			t.Errorf("delay after %d failures = %v, want %v", tt.n, got, tt.want)
		}
	}
}

// Failures are forgiven one per rule.forgive, so a pair that stops failing
// gets its free tries back rather than staying slowed for ever.
func TestSigninLimiterForgives(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newSigninLimiter(5, 15*time.Minute)
	l.now = func() time.Time { return now }
	for range 5 {
		if tk, d := l.reserve("a@example.com", "10.0.0.1"); tk == nil {
			t.Fatalf("free try refused, wait %v", d)
		}
	}
	if tk, d := l.reserve("a@example.com", "10.0.0.1"); tk != nil || d != time.Second {
		t.Fatalf("6th try: ticket %v, wait %v; want none and 1s", tk, d)
	}
	now = now.Add(5 * 15 * time.Minute)
	for i := range 5 {
		if tk, d := l.reserve("a@example.com", "10.0.0.1"); tk == nil {
			t.Fatalf("try %d after 75 quiet minutes refused, wait %v", i+1, d)
		}
	}
}

// A success gives back its reservation: the pair is forgotten and the
// address's count is as before.
func TestSigninLimiterSuccessReleases(t *testing.T) {
	l := newSigninLimiter(5, 15*time.Minute)
	for range 3 {
		l.reserve("a@example.com", "10.0.0.1")
	}
	tk, _ := l.reserve("a@example.com", "10.0.0.1")
	tk.succeeded()
	if p := l.pairs.get("a@example.com\x0010.0.0.1"); p != nil {
		t.Errorf("pair kept after success: %+v", *p)
	}
	if c := l.clients.get("10.0.0.1"); c == nil || c.n != 3 {
		t.Errorf("client count after 3 failures and a success = %+v, want 3", c)
	}
}

func TestLimiterTablesBounded(t *testing.T) {
	l := newLimiter(3, time.Hour)
	for i := range 20000 {
		l.take("k" + itoa(i))
	}
	if n := l.keys.len(); n != maxLimiterKeys {
		t.Errorf("after 20,000 keys the table holds %d, want its bound %d", n, maxLimiterKeys)
	}
	if l.keys.get("k0") != nil || l.keys.get("k19999") == nil {
		t.Error("eviction kept the oldest key or dropped the newest")
	}

	sl := newSigninLimiter(5, 15*time.Minute)
	for i := range 20000 {
		sl.reserve("user"+itoa(i)+"@example.com", "10."+itoa(i/65536)+"."+itoa(i/256%256)+"."+itoa(i%256))
	}
	for name, tbl := range map[string]*lru[failures]{"pairs": sl.pairs, "clients": sl.clients, "accounts": sl.accounts} {
		if n := tbl.len(); n != maxLimiterKeys {
			t.Errorf("sign-in %s after 20,000 keys: %d, want %d", name, n, maxLimiterKeys)
		}
		if len(tbl.items) != tbl.len() {
			t.Errorf("sign-in %s: map %d and list %d disagree", name, len(tbl.items), tbl.len())
		}
	}
}

func TestClientKey(t *testing.T) {
	key := func(remote string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		return clientKey(r)
	}
	tests := []struct{ a, b string }{
		{"[2001:db8:1:2::1]:1000", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:2000"},
		{"[2001:db8:1:2::1]:1000", "[2001:DB8:1:2::9%eth0]:2000"},
		{"192.0.2.1:1000", "[::ffff:192.0.2.1]:2000"},
	}
	for _, tt := range tests {
		if ka, kb := key(tt.a), key(tt.b); ka != kb {
			t.Errorf("clientKey(%s) = %q, clientKey(%s) = %q; want one key", tt.a, ka, tt.b, kb)
		}
	}
	for _, pair := range [][2]string{
		{"[2001:db8:1:2::1]:1000", "[2001:db8:1:3::1]:1000"},
		{"192.0.2.1:1000", "192.0.2.2:1000"},
	} {
		if key(pair[0]) == key(pair[1]) {
			t.Errorf("%s and %s share key %q, want two", pair[0], pair[1], key(pair[0]))
		}
	}
	if k := key(strings.Repeat("x", 5000)); len(k) > 80 {
		t.Errorf("a 5,000-byte peer became a %d-byte key", len(k))
	}
}

// Addresses of one IPv6 /64 share their sign-in limits.
func TestLoginIPv6SlashSixtyFourSharesLimit(t *testing.T) {
	site := newTestSite(t, nil)
	now := time.Unix(1_000_000, 0)
	site.srv.logins.now = func() time.Time { return now }
	h := site.srv.Routes()
	for i := range 5 {
		w := postForm(h, "/login", fmt.Sprintf("[2001:db8:5:6::%x]:1000", i+1), url.Values{"email": {"a@example.com"}, "password": {"guess guess"}})
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i+1, w.Code)
		}
	}
	if w := postForm(h, "/login", "[2001:db8:5:6:abcd::1]:1000", url.Values{"email": {"a@example.com"}, "password": {"guess guess"}}); w.Code != http.StatusTooManyRequests {
		t.Errorf("6th guess from another address of the /64: %d, want 429", w.Code)
	}
}

// Sign-ups for taken e-mails cost no hashing at all, and count against
// the client like any other attempt.
func TestSignupTakenEmailsCostNoHashAndAreLimited(t *testing.T) {
	site := newTestSite(t, nil)
	for i := range 10 {
		addAccount(t, site.db, "taken"+itoa(i)+"@example.com", "someone's password")
	}
	bc := countBcrypt(site.srv)
	h := site.srv.Routes()

	const n = 480
	var wg sync.WaitGroup
	codes := make([]int, n)
	bodies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := postForm(h, "/signup", "10.0.0.20:4000", url.Values{"email": {"taken" + itoa(i%10) + "@example.com"}, "password": {"a new long password"}})
			codes[i], bodies[i] = w.Code, w.Body.String()
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for i, c := range codes {
		count[c]++
		if c == http.StatusOK && (!strings.Contains(bodies[i], "If you already have an account") || strings.Contains(bodies[i], "already exists")) {
			t.Errorf("taken e-mail answered:\n%.500s", bodies[i])
			break
		}
	}
	if got := bc.hashes.Load() + bc.compares.Load(); got != 0 {
		t.Errorf("%d sign-ups for taken e-mails spent %d bcrypt operations, want 0", n, got)
	}
	if count[http.StatusOK] != 60 || count[http.StatusTooManyRequests] != n-60 {
		t.Errorf("statuses %v, want 60 × 200 and %d × 429", count, n-60)
	}
	users, err := site.db.Users(context.Background())
	if err != nil || len(users) != 10 {
		t.Errorf("users after the burst: %d, %v; want the 10 there were", len(users), err)
	}
}

// Every attempt counts, so bad input cannot be sent without end either.
func TestSignupCountsFailedAttempts(t *testing.T) {
	site := newTestSite(t, nil)
	h := site.srv.Routes()
	for i := range 60 {
		if w := postForm(h, "/signup", "10.0.0.21:4000", url.Values{"email": {"bad" + itoa(i)}, "password": {"x"}}); w.Code != http.StatusBadRequest {
			t.Fatalf("bad sign-up %d: %d, want 400", i+1, w.Code)
		}
	}
	w := postForm(h, "/signup", "10.0.0.21:4000", url.Values{"email": {"good@example.com"}, "password": {"a good long password"}})
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("sign-up after 60 failed ones: %d, want 429 with Retry-After", w.Code)
	}
	if w := postForm(h, "/signup", "10.0.0.22:4000", url.Values{"email": {"good@example.com"}, "password": {"a good long password"}}); w.Code != http.StatusSeeOther {
		t.Errorf("sign-up from another address: %d, want 303", w.Code)
	}
}

// Accounts made under the old 8-character rule still sign in.
func TestShortOldPasswordStillSignsIn(t *testing.T) {
	site := newTestSite(t, nil)
	addAccount(t, site.db, "old@example.com", "eight ch")
	w := postForm(site.srv.Routes(), "/login", "10.0.0.30:4000", url.Values{"email": {"old@example.com"}, "password": {"eight ch"}})
	if w.Code != http.StatusSeeOther {
		t.Errorf("sign-in with an 8-character password from before the rule: %d, want 303", w.Code)
	}
}

func TestAuthFormsLimitPasswordLength(t *testing.T) {
	site := newTestSite(t, nil)
	c := site.client()
	signup := c.get("/signup")
	wantContains(t, "sign-up form", signup.body, `minlength="12"`, `maxlength="72"`, "at most 72 bytes", "an emoji as 4")
	wantContains(t, "sign-in form", c.get("/login").body, `maxlength="72"`)
}
