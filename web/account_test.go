package web

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lambdalab/cloud/lambda"
	"lambdalab/sandbox"
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
	wantStatus(t, "sign up", c.signup("lee@example.com", "lee long password"), http.StatusSeeOther)
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

// TestAccountPageCLIProfile runs the page's `aws configure set` lines
// against a stand-in aws that prints its arguments, as the real one would
// receive them from a learner's shell.
func TestAccountPageCLIProfile(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	site := newTestSite(t, func(c *Config) { c.AWSEndpoint = "http://lab.example:4566" })
	c := site.client()
	c.signup("ann@example.com", "correct horse")
	_, k := accessKeyOf(t, site.db, "ann@example.com")
	body := c.get("/account").body
	block := func(id string) string {
		t.Helper()
		open := `<pre data-testid="` + id + `"><code>`
		i := strings.Index(body, open)
		if i < 0 {
			t.Fatalf("no %s on the account page:\n%s", id, body)
		}
		rest := body[i+len(open):]
		return html.UnescapeString(rest[:strings.Index(rest, "</code>")])
	}
	// The secret is folded away with the rest of the setup.
	details := body[strings.Index(body, `<details data-testid="secret-details">`):]
	details = details[:strings.Index(details, "</details>")]
	if !strings.Contains(details, `data-testid="configure-lines"`) {
		t.Error("the aws configure lines are outside the folded secret")
	}
	run := func(script string) string {
		t.Helper()
		cmd := exec.Command(bash, "--noprofile", "--norc", "-c", `aws() { printf '%s|' "$@"; echo; }; eval "$LINES"`)
		cmd.Env = []string{"LINES=" + script}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("eval of %q: %v", script, err)
		}
		return string(out)
	}
	want := "configure|set|aws_access_key_id|" + k.ID + "|--profile|lambdalab|\n" +
		"configure|set|aws_secret_access_key|" + k.Secret + "|--profile|lambdalab|\n" +
		"configure|set|region|us-east-1|--profile|lambdalab|\n" +
		"configure|set|endpoint_url|http://lab.example:4566|--profile|lambdalab|\n"
	if got := run(block("configure-lines")); got != want {
		t.Errorf("aws configure lines ran as\n%s\nwant\n%s", got, want)
	}
	if got, want := run(block("cli-example")), "--profile|lambdalab|--endpoint-url|http://lab.example:4566|lambda|list-functions|\n"; got != want {
		t.Errorf("the example ran as %q, want %q", got, want)
	}
}

// billingCell is the text of the billing cell with this testid.
func billingCell(t *testing.T, body, testid string) string {
	t.Helper()
	open := `data-testid="` + testid + `">`
	i := strings.Index(body, open)
	if i < 0 {
		t.Fatalf("no %s on the page", testid)
	}
	rest := body[i+len(open):]
	return html.UnescapeString(rest[:strings.Index(rest, "<")])
}

func TestAccountBillingTotals(t *testing.T) {
	ctx := context.Background()
	site := newTestSite(t, nil)
	ann, bo := site.client(), site.client()
	ann.signup("ann@example.com", "correct horse")
	bo.signup("bo@example.com", "battery staple")
	annUser, _ := accessKeyOf(t, site.db, "ann@example.com")
	boUser, _ := accessKeyOf(t, site.db, "bo@example.com")

	now := time.Now().UTC()
	lastMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Add(-time.Hour)
	n := 0
	record := func(u store.User, at time.Time, billed int64, mb int, outcome string) {
		t.Helper()
		n++
		inv := store.Invocation{RequestID: fmt.Sprintf("req-%d", n), AccountID: u.AccountID, Function: "fn", Version: "$LATEST",
			Start: at, End: at, DurationMS: float64(billed), BilledMS: billed, MemoryMB: mb, Outcome: outcome}
		if outcome != "throttled" {
			inv.GBSeconds, inv.CostUSD = sandbox.GBSeconds(billed, mb), sandbox.Cost(billed, mb, "x86_64")
		}
		if err := site.db.InsertInvocation(ctx, inv); err != nil {
			t.Fatal(err)
		}
	}
	// Ann: 3 invokes at 1,024 MB for 100 ms this month (0.3 GB-s), one
	// throttle, and 2 s at 512 MB last month (1 GB-s). Bo: 10 GB-s.
	for range 3 {
		record(annUser, now, 100, 1024, "success")
	}
	record(annUser, now, 0, 1024, "throttled")
	record(annUser, lastMonth, 2000, 512, "success")
	record(boUser, now, 5000, 2048, "success")

	body := ann.get("/account").body
	for id, want := range map[string]string{
		"bill-month-requests":     "3",
		"bill-month-throttled":    "1",
		"bill-month-gbs":          "0.3",
		"bill-month-compute":      "$0.000005",  // 0.3 × $0.0000166667
		"bill-month-request-cost": "$0.0000006", // 3 × $0.0000002
		"bill-month-total":        "$0.0000056",
		"bill-all-requests":       "4",
		"bill-all-gbs":            "1.3",
		"bill-all-compute":        "$0.000022", // 1.3 × $0.0000166667
		"bill-all-request-cost":   "$0.0000008",
		"bill-all-total":          "$0.000022", // $0.0000224667, two digits
		"free-requests":           "3 of 1,000,000 (0.0003%)",
		"free-gbs":                "0.3 of 400,000 (0.000075%)",
		"free-covered":            "$0.0000056",
		"free-to-pay":             "$0.00",
	} {
		if got := billingCell(t, body, id); got != want {
			t.Errorf("ann's %s = %q, want %q", id, got, want)
		}
	}
	wantContains(t, "ann's billing", body, "as of "+sandbox.PricesAsOf, `href="https://aws.amazon.com/lambda/pricing/"`, "$0.20 per million")
	wantNotContains(t, "ann's billing", body, `data-testid="billing-provisioned"`)

	body = bo.get("/account").body
	for id, want := range map[string]string{
		"bill-month-requests": "1",
		"bill-all-gbs":        "10",
		"bill-month-compute":  "$0.00017", // 10 × $0.0000166667
	} {
		if got := billingCell(t, body, id); got != want {
			t.Errorf("bo's %s = %q, want %q", id, got, want)
		}
	}
	wantNotContains(t, "bo's billing", body, `data-testid="bill-month-throttled"`)
}

// TestBillingArithmetic checks the totals past the free tier and with
// provisioned concurrency, which a learner's account rarely reaches.
func TestBillingArithmetic(t *testing.T) {
	month := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := month.Add(time.Hour)
	// 2M requests and 500,000 GB-s this month, x86 on demand.
	gbs := 500_000.0
	u := store.UsageTotals{Requests: 2_000_000, BilledMS: 1, GBSeconds: gbs,
		CostUSD: gbs*sandbox.PricePerGBSecondX86 + 2_000_000*sandbox.PricePerRequest}
	tests := []struct {
		name   string
		pcs    []provisionedConfig
		checks map[string]string
	}{
		{"over the free tier", nil, map[string]string{
			"month total": "$8.73", // $8.33 duration + $0.40 requests
			"covered":     "$6.87", // 400,000 GB-s ($6.67) and 1M requests ($0.20)
			"to pay":      "$1.87", // 100,000 GB-s ($1.67) and 1M requests ($0.20)
			"requests":    "2,000,000 of 1,000,000 (200%)",
			"provisioned": "",
		}},
		{"with provisioned concurrency set 10 days before the month", []provisionedConfig{
			{Function: "api", Qualifier: "live", Instances: 1, MemoryMB: 1024, Arch: "x86_64", Since: month.AddDate(0, 0, -10)},
		}, map[string]string{
			// This month: 1 GB for an hour, 3,600 GB-s × $0.0000041667.
			"provisioned":     "$0.015",
			"month total":     "$8.75",
			"to pay":          "$1.88", // the free tier does not cover it
			"row month":       "3,600 GB-s, $0.015",
			"row all":         "867,600 GB-s, $3.62", // 10 days and an hour
			"all provisioned": "$3.62",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := billingView(now, u, u, tt.pcs)
			got := map[string]string{
				"month total": v.ThisMonth.Total, "covered": v.FreeTier.Covered, "to pay": v.FreeTier.ToPay,
				"requests":    v.FreeTier.Requests + " of " + v.FreeTier.RequestsLimit + " (" + v.FreeTier.RequestsShare + ")",
				"provisioned": v.ThisMonth.Provisioned, "all provisioned": v.AllTime.Provisioned,
			}
			if len(v.Provisioned) > 0 {
				p := v.Provisioned[0]
				got["row month"] = p.MonthGBSeconds + " GB-s, " + p.MonthCost
				got["row all"] = p.AllGBSeconds + " GB-s, " + p.AllCost
			}
			for k, want := range tt.checks {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
		})
	}
}

// TestAccountBillingProvisioned configures provisioned concurrency on the
// real stack: its charge appears on the owner's page, from the time it was
// set, and on no one else's.
func TestAccountBillingProvisioned(t *testing.T) {
	ls := newLabSite(t, nil)
	ctx := context.Background()
	ann, annUser := ls.student("ann@example.com")
	bo, _ := ls.student("bo@example.com")

	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte("def handler(event, context):\n    return 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt, h, role, mem := "python3.13", "app.handler", "arn:aws:iam::"+annUser.AccountID+":role/test", 256
	if _, err := ls.lambda.CreateFunction(ctx, annUser.AccountID, lambda.CreateFunctionInput{FunctionName: "api",
		Code: lambda.FunctionCode{Dir: dir}, ConfigInput: lambda.ConfigInput{Runtime: &rt, Handler: &h, Role: &role, MemorySize: &mem}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ls.lambda.PublishVersion(ctx, annUser.AccountID, "api", lambda.PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ls.lambda.PutProvisionedConcurrencyConfig(ctx, annUser.AccountID, "api", "1", 2); err != nil {
		t.Fatal(err)
	}

	body := ann.get("/account").body
	row := body[strings.Index(body, `data-testid="billing-provisioned-row"`):]
	row = row[:strings.Index(row, "</tr>")]
	// Set moments ago: 5 minutes billed, 2 × 0.25 GB × 300 s = 150 GB-s,
	// at $0.0000041667 a GB-s $0.000625.
	wantContains(t, "ann's provisioned row", row, "api:1", ">2<", "256 MB", "150 GB-s, $0.00063")
	if got := billingCell(t, body, "bill-month-provisioned"); got != "$0.00063" {
		t.Errorf("ann's provisioned charge this month = %q, want $0.00063 (150 GB-s × $0.0000041667)", got)
	}
	if got := billingCell(t, body, "free-to-pay"); got != "$0.00063" {
		t.Errorf("ann's left to pay = %q, want the provisioned charge, $0.00063, which the free tier does not cover", got)
	}
	wantNotContains(t, "bo's account page", bo.get("/account").body, `data-testid="billing-provisioned"`, "api:1")
}
