package web

import (
	"context"
	"errors"
	"html"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"lambdalab/store"
)

// accessKeyOf returns the one access key of the user with this email.
func accessKeyOf(t *testing.T, db *store.DB, email string) (store.User, store.AccessKey) {
	t.Helper()
	ctx := context.Background()
	u, err := db.UserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := db.AccountKeys(ctx, u.AccountID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys of %s: %v, %v; want one", email, keys, err)
	}
	return u, keys[0]
}

func TestAccountPageShowsOwnKeysOnly(t *testing.T) {
	site := newTestSite(t, nil)
	ann, bo := site.client(), site.client()
	ann.signup("ann@example.com", "correct horse")
	bo.signup("bo@example.com", "battery staple")
	annUser, annKey := accessKeyOf(t, site.db, "ann@example.com")
	_, boKey := accessKeyOf(t, site.db, "bo@example.com")

	r := ann.get("/account")
	wantStatus(t, "GET /account", r, http.StatusOK)
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("account page Cache-Control = %q, want no-store", cc)
	}
	wantContains(t, "ann's account page", r.body,
		`data-testid="account-id">`+annUser.AccountID+`<`,
		`data-testid="access-key-id">`+annKey.ID+`<`,
		`data-testid="secret">`+annKey.Secret+`<`,
		`data-testid="region">us-east-1<`,
		`data-testid="endpoint">http://127.0.0.1:4566<`,
		`action="/account/keys/rotate"`,
	)
	// The secret is folded away: it appears only inside the <details>.
	details := r.body[strings.Index(r.body, `<details data-testid="secret-details">`):]
	details = details[:strings.Index(details, "</details>")]
	if before, _, _ := strings.Cut(r.body, `<details data-testid="secret-details">`); strings.Contains(before, annKey.Secret) {
		t.Error("secret shown outside the <details>")
	}
	if strings.Contains(details, "<details open") || !strings.Contains(details, annKey.Secret) {
		t.Errorf("secret not in a closed <details>: %s", details)
	}
	wantNotContains(t, "ann's account page", r.body, boKey.ID, boKey.Secret)

	// Bo sees his own and not Ann's; nobody else's page carries either secret.
	r = bo.get("/account")
	wantContains(t, "bo's account page", r.body, boKey.ID, boKey.Secret)
	wantNotContains(t, "bo's account page", r.body, annKey.ID, annKey.Secret)
	for _, path := range []string{"/", "/instructor", "/instructor/progress.csv", "/lessons/first"} {
		wantNotContains(t, "ann's "+path, ann.get(path).body, annKey.Secret, boKey.Secret)
	}
	anon := site.client()
	r = anon.get("/account")
	wantStatus(t, "anonymous GET /account", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/login?next=%2Faccount" {
		t.Errorf("anonymous /account redirects to %q", loc)
	}
	wantNotContains(t, "anonymous /account", r.body, annKey.Secret, boKey.Secret)
	wantNotContains(t, "server log", site.log.String(), annKey.Secret, boKey.Secret)
}

// TestAccountPageExportLines evals the page's shell setup, as a learner
// pasting it would.
func TestAccountPageExportLines(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	site := newTestSite(t, func(c *Config) { c.AWSEndpoint = "http://lab.example:4566" })
	c := site.client()
	c.signup("ann@example.com", "correct horse")
	_, k := accessKeyOf(t, site.db, "ann@example.com")
	body := c.get("/account").body
	start := strings.Index(body, `<pre data-testid="export-lines"><code>`)
	if start < 0 {
		t.Fatalf("no export lines on the account page:\n%s", body)
	}
	lines := body[start+len(`<pre data-testid="export-lines"><code>`):]
	lines = html.UnescapeString(lines[:strings.Index(lines, "</code>")])
	cmd := exec.Command(bash, "--noprofile", "--norc", "-c",
		`eval "$KEYS"; printf '%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_DEFAULT_REGION" "$AWS_ENDPOINT_URL"`)
	cmd.Env = []string{"KEYS=" + lines}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("eval of %q: %v", lines, err)
	}
	if want := k.ID + "\n" + k.Secret + "\nus-east-1\nhttp://lab.example:4566\n"; string(out) != want {
		t.Errorf("eval of the page's export lines gives %q, want %q", out, want)
	}
}

func TestRotateKeys(t *testing.T) {
	ctx := context.Background()
	site := newTestSite(t, nil)
	c := site.client()
	c.signup("ann@example.com", "correct horse")
	u, old := accessKeyOf(t, site.db, "ann@example.com")

	// A cross-site form cannot rotate a learner's key.
	r := c.post("/account/keys/rotate", nil, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	wantStatus(t, "cross-site rotate", r, http.StatusForbidden)
	if _, err := site.db.AccessKey(ctx, old.ID); err != nil {
		t.Fatalf("a refused cross-site rotate changed the key: %v", err)
	}
	// Nor can someone who is not signed in.
	r = site.client().post("/account/keys/rotate", nil)
	wantStatus(t, "anonymous rotate", r, http.StatusSeeOther)
	if _, err := site.db.AccessKey(ctx, old.ID); err != nil {
		t.Fatalf("an anonymous rotate changed the key: %v", err)
	}

	r = c.post("/account/keys/rotate", nil)
	wantStatus(t, "rotate", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/account?rotated=1" {
		t.Errorf("rotate redirects to %q", loc)
	}
	if _, err := site.db.AccessKey(ctx, old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old key after rotate: %v, want ErrNotFound", err)
	}
	_, k := accessKeyOf(t, site.db, "ann@example.com")
	if k.ID == old.ID || k.AccountID != u.AccountID {
		t.Errorf("rotated key %v, old %v", k, old)
	}
	page := c.get("/account?rotated=1")
	wantContains(t, "account page after rotate", page.body, `data-testid="rotated"`, k.ID, k.Secret)
	wantNotContains(t, "account page after rotate", page.body, old.ID, old.Secret)
	wantNotContains(t, "server log", site.log.String(), old.Secret, k.Secret)
	wantContains(t, "server log", site.log.String(), "access key rotated")
}

func TestXRayLayerDownload(t *testing.T) {
	zip := filepath.Join(t.TempDir(), "layer.zip")
	if err := os.WriteFile(zip, []byte("PK\x05\x06 layer bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	var ready atomic.Bool
	ts := newTestSite(t, func(c *Config) {
		c.XRayLayer = func() (string, bool) { return zip, ready.Load() }
	})
	anon := ts.client()
	if r := anon.get("/downloads/aws-xray-sdk-layer.zip"); r.StatusCode == http.StatusOK {
		t.Fatalf("an anonymous visitor downloaded the layer")
	}
	c := ts.client()
	wantStatus(t, "sign up", c.signup("lee@example.com", "password123"), http.StatusSeeOther)
	r := c.get("/downloads/aws-xray-sdk-layer.zip")
	wantStatus(t, "download before the layer is built", r, http.StatusServiceUnavailable)
	wantContains(t, "account page before the layer is built", c.get("/account").body, `data-testid="xray-layer-pending"`)
	ready.Store(true)
	r = c.get("/downloads/aws-xray-sdk-layer.zip")
	wantStatus(t, "download", r, http.StatusOK)
	if r.body != "PK\x05\x06 layer bytes" {
		t.Errorf("downloaded %q, want the layer zip's bytes", r.body)
	}
	wantContains(t, "account page", c.get("/account").body, `href="/downloads/aws-xray-sdk-layer.zip"`, "publish-layer-version")
}
