package web

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"lambdalab/store"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func mustPrefixes(t *testing.T, list string) []netip.Prefix {
	t.Helper()
	p, err := ParseTrustedProxies(list)
	if err != nil {
		t.Fatalf("ParseTrustedProxies(%q): %v", list, err)
	}
	return p
}

func TestResolveClient(t *testing.T) {
	trusted := mustPrefixes(t, "10.0.0.0/8, 127.0.0.1, fd00::/8")
	tests := []struct {
		name       string
		remote     string
		xff        []string
		proto      string
		tls        bool
		wantIP     string
		wantHTTPS  bool
		noTrusting bool
	}{
		{name: "no proxy", remote: "203.0.113.5:4000", wantIP: "203.0.113.5"},
		{name: "spoofed header from an untrusted peer", remote: "203.0.113.5:4000", xff: []string{"198.51.100.1"}, proto: "https", wantIP: "203.0.113.5"},
		{name: "trusted proxy", remote: "127.0.0.1:5000", xff: []string{"198.51.100.1"}, wantIP: "198.51.100.1"},
		{name: "client-sent entries left of the real one", remote: "127.0.0.1:5000", xff: []string{"6.6.6.6, 1.1.1.1", "198.51.100.1"}, wantIP: "198.51.100.1"},
		{name: "two trusted hops", remote: "127.0.0.1:5000", xff: []string{"198.51.100.1, 10.1.2.3"}, wantIP: "198.51.100.1"},
		{name: "only trusted hops", remote: "127.0.0.1:5000", xff: []string{"10.9.9.9, 10.1.2.3"}, wantIP: "10.9.9.9"},
		{name: "garbage from a proxy stops the walk", remote: "127.0.0.1:5000", xff: []string{"198.51.100.1, nonsense, 10.1.2.3"}, wantIP: "10.1.2.3"},
		{name: "hop with a port", remote: "127.0.0.1:5000", xff: []string{"[2001:db8::7]:443"}, wantIP: "2001:db8::7"},
		{name: "mapped peer", remote: "[::ffff:10.0.0.2]:5000", xff: []string{"198.51.100.1"}, wantIP: "198.51.100.1"},
		{name: "IPv6 proxy", remote: "[fd00::1]:5000", xff: []string{"2001:db8::9"}, wantIP: "2001:db8::9"},
		{name: "no header from a trusted proxy", remote: "127.0.0.1:5000", wantIP: "127.0.0.1"},
		{name: "trusted https", remote: "127.0.0.1:5000", xff: []string{"198.51.100.1"}, proto: "https", wantIP: "198.51.100.1", wantHTTPS: true},
		{name: "nearest proxy's proto wins", remote: "127.0.0.1:5000", proto: "https, http", wantIP: "127.0.0.1"},
		{name: "trusted proxy says http over TLS", remote: "127.0.0.1:5000", proto: "http", tls: true, wantIP: "127.0.0.1"},
		{name: "direct TLS", remote: "203.0.113.5:4000", tls: true, wantIP: "203.0.113.5", wantHTTPS: true},
		{name: "nobody trusted", remote: "127.0.0.1:5000", xff: []string{"198.51.100.1"}, proto: "https", wantIP: "127.0.0.1", noTrusting: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			tr := trusted
			if tt.noTrusting {
				tr = nil
			}
			got := resolveClient(r, tr)
			if got.ip != tt.wantIP || got.https != tt.wantHTTPS {
				t.Errorf("resolveClient(remote %s, XFF %q, proto %q, tls %v) = %s https=%v, want %s https=%v",
					tt.remote, tt.xff, tt.proto, tt.tls, got.ip, got.https, tt.wantIP, tt.wantHTTPS)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got := mustPrefixes(t, " 10.0.0.0/8,,192.168.1.7 , ::1, 10.1.2.3/16 ")
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "::1/128", "10.1.0.0/16"}
	if len(got) != len(want) {
		t.Fatalf("ParseTrustedProxies = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	if p := mustPrefixes(t, ""); len(p) != 0 {
		t.Errorf("empty list = %v, want none", p)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example.org", "10.0.0", "127.0.0.1:80"} {
		if _, err := ParseTrustedProxies(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseTrustedProxies(%q) = %v, want an error naming it", bad, err)
		}
	}
}

func TestCheckBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "",
		"https://class.example.org":  "https://class.example.org",
		"https://class.example.org/": "https://class.example.org",
		"http://127.0.0.1:8080":      "http://127.0.0.1:8080",
	} {
		if got, err := CheckBaseURL(in); err != nil || got != want {
			t.Errorf("CheckBaseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"class.example.org", "ftp://class.example.org", "https://", "https://u:p@class.example.org",
		"https://class.example.org/course", "https://class.example.org/?x=1", "https://class.example.org/#top", "://nothing"} {
		if _, err := CheckBaseURL(bad); err == nil {
			t.Errorf("CheckBaseURL(%q) accepted it", bad)
		}
	}
	if _, err := New(Config{DB: newTestDB(t), Logger: discardLogger(), Course: fixtureCourse(t), BaseURL: "class.example.org"}); err == nil {
		t.Error("New accepted a base URL without a scheme")
	}
}

func TestAbsoluteURL(t *testing.T) {
	site := newTestSite(t, func(c *Config) { c.BaseURL = "https://class.example.org/" })
	r := httptest.NewRequest("GET", "http://evil.example/x", nil)
	if got := site.srv.absoluteURL(r, "/join/abc"); got != "https://class.example.org/join/abc" {
		t.Errorf("absoluteURL with a base URL = %q", got)
	}
	plain := newTestSite(t, nil)
	r = httptest.NewRequest("GET", "http://127.0.0.1:8080/x", nil)
	if got := plain.srv.absoluteURL(r, "/join/abc"); got != "http://127.0.0.1:8080/join/abc" {
		t.Errorf("absoluteURL from the request = %q", got)
	}
}

// The request log names the client: behind a trusted proxy the address it
// forwarded for, otherwise the peer whatever the headers say.
func TestForwardedForThroughTheSite(t *testing.T) {
	for _, tt := range []struct {
		name    string
		trusted string
		want    string
	}{
		{"untrusted peer", "", "client=127.0.0.1"},
		{"trusted peer", "127.0.0.1/32", "client=198.51.100.23"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			site := newTestSite(t, func(c *Config) { c.TrustedProxies = mustPrefixes(t, tt.trusted) })
			req, _ := http.NewRequest("GET", site.ts.URL+"/healthz", nil)
			req.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.23")
			site.client().do(req)
			line := ""
			for _, l := range strings.Split(site.log.String(), "\n") {
				if strings.Contains(l, "path=/healthz") {
					line = l
				}
			}
			if !strings.Contains(line, tt.want) {
				t.Errorf("request log line %q does not contain %q", line, tt.want)
			}
		})
	}
}

// addUser makes a user with this password straight in the store.
func addUser(t *testing.T, db *store.DB, email, password string) store.User {
	t.Helper()
	hash, err := store.HashPassword(password)
	if err != nil {
		t.Fatalf("hash %q: %v", password, err)
	}
	u, err := db.CreateUser(context.Background(), email, hash, false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// testPassword passes any reasonable password rule.
const testPassword = "vivid otter lantern 93"

func TestSecureCookieAndHSTS(t *testing.T) {
	login := func(t *testing.T, c *client) response {
		r := c.post("/login", url.Values{"email": {"a@example.com"}, "password": {testPassword}})
		wantStatus(t, "login", r, http.StatusSeeOther)
		return r
	}
	check := func(t *testing.T, r response, wantSecure bool) {
		t.Helper()
		cookie := r.Header.Get("Set-Cookie")
		if !strings.Contains(cookie, sessionCookie+"=") {
			t.Fatalf("no session cookie set: %q", cookie)
		}
		if got := strings.Contains(cookie, "; Secure"); got != wantSecure {
			t.Errorf("Set-Cookie %q: Secure %v, want %v", cookie, got, wantSecure)
		}
		hsts := r.Header.Get("Strict-Transport-Security")
		if (hsts != "") != wantSecure {
			t.Errorf("Strict-Transport-Security = %q, want it sent: %v", hsts, wantSecure)
		}
	}

	t.Run("direct TLS", func(t *testing.T) {
		db := newTestDB(t)
		addUser(t, db, "a@example.com", testPassword)
		s, err := New(Config{DB: db, Logger: discardLogger(), Course: fixtureCourse(t)})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewTLSServer(s.Routes())
		t.Cleanup(ts.Close)
		jar, _ := cookiejar.New(nil)
		hc := ts.Client()
		hc.Jar = jar
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		c := &client{t: t, base: ts.URL, http: hc}
		check(t, login(t, c), true)
	})
	t.Run("trusted proxy says https", func(t *testing.T) {
		site := newTestSite(t, func(c *Config) { c.TrustedProxies = mustPrefixes(t, "127.0.0.1") })
		addUser(t, site.db, "a@example.com", testPassword)
		c := site.client()
		r := c.post("/login", url.Values{"email": {"a@example.com"}, "password": {testPassword}}, "X-Forwarded-Proto", "https")
		wantStatus(t, "login", r, http.StatusSeeOther)
		check(t, r, true)
	})
	t.Run("untrusted peer says https", func(t *testing.T) {
		site := newTestSite(t, nil)
		addUser(t, site.db, "a@example.com", testPassword)
		r := site.client().post("/login", url.Values{"email": {"a@example.com"}, "password": {testPassword}}, "X-Forwarded-Proto", "https")
		wantStatus(t, "login", r, http.StatusSeeOther)
		check(t, r, false)
	})
	t.Run("plain HTTP", func(t *testing.T) {
		site := newTestSite(t, nil)
		addUser(t, site.db, "a@example.com", testPassword)
		check(t, login(t, site.client()), false)
	})
}
