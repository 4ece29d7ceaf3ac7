package web

import (
	"archive/zip"
	"bytes"
	"context"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"lambdalab/cloud/lambda"
	"lambdalab/store"
)

// The Configuration tab against the real Lambda service of the learner's
// account. The ready X-Ray layer takes a while to build the first time, so
// only TestConfigXRayLayer keeps the stack's builder; the others start
// without one (the panel then says the layer is being prepared).

func cfgNoXRay(c *Config) { c.XRayLayer = nil }

// cfgZip is a zip of files (name → content).
func cfgZip(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const cfgHandler = "def handler(event, context):\n    return {\"ok\": True}\n"

// cfgFunction creates the lab function name in u's account with a tiny
// Python handler.
func cfgFunction(t testing.TB, ls *labSite, u store.User, name string) lambda.FunctionConfiguration {
	t.Helper()
	rt, h, role := "python3.13", "app.handler", "arn:aws:iam::"+u.AccountID+":role/test"
	cfg, err := ls.lambda.CreateFunction(context.Background(), u.AccountID, lambda.CreateFunctionInput{
		FunctionName: name, Code: lambda.FunctionCode{ZipFile: cfgZip(t, map[string]string{"app.py": cfgHandler})},
		ConfigInput: lambda.ConfigInput{Runtime: &rt, Handler: &h, Role: &role}})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return cfg
}

// cfgPost posts a form of the panel of lab's function fn to path (under
// /labs/{lab}/), with the hidden fields the page would send.
func cfgPost(c *client, lab, path, fn, form string, vals url.Values) response {
	c.t.Helper()
	if vals == nil {
		vals = url.Values{}
	}
	vals.Set("fn", fn)
	vals.Set("tab", "config")
	vals.Set("form", form)
	return c.post("/labs/"+lab+"/"+path, vals)
}

// cfgDone wants a 303 back to the panel and returns the page it leads to.
func cfgDone(t testing.TB, c *client, what string, r response) string {
	t.Helper()
	wantStatus(t, what, r, http.StatusSeeOther)
	loc := r.Header.Get("Location")
	if !strings.Contains(loc, "note=") {
		t.Errorf("%s: redirected to %s, without a note", what, loc)
	}
	page := c.get(loc)
	wantStatus(t, what+": the page after", page, http.StatusOK)
	return page.body
}

var cfgRevisionRE = regexp.MustCompile(`name="revision" value="([^"]*)"`)

// cfgRevision is the first RevisionId a page's forms carry.
func cfgRevision(t testing.TB, body string) string {
	t.Helper()
	m := cfgRevisionRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no revision field in the page:\n%.2000s", body)
	}
	return m[1]
}

// cfgRefusalOf is the reason the service gives for err, as the page shows
// it (HTML-escaped).
func cfgRefusalOf(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		t.Fatal("the service accepted what the test expected it to refuse")
	}
	reason, ok := refusal(err)
	if !ok {
		t.Fatalf("not a refusal: %v", err)
	}
	return html.EscapeString(reason)
}

func cfgGet(t testing.TB, ls *labSite, acct, name string) lambda.FunctionConfiguration {
	t.Helper()
	cfg, err := ls.lambda.GetFunctionConfiguration(context.Background(), acct, name, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestConfigGeneral(t *testing.T) {
	ls := newLabSite(t, cfgNoXRay)
	c, u := ls.student("general@example.com")
	lab, fn := "xray-layer", "order-report"
	page := c.get(labURL(lab, "config", fn))
	wantStatus(t, "panel before the function exists", page, http.StatusOK)
	wantContains(t, "panel before the function exists", page.body, `data-testid="config-missing"`, "not in your account yet")

	cfgFunction(t, ls, u, fn)
	page = c.get(labURL(lab, "config", fn))
	wantStatus(t, "panel", page, http.StatusOK)
	wantContains(t, "panel", page.body, `data-testid="config-memory"`, `value="128"`, "1,769 MB", "PassThrough", "about 7% of one vCPU")
	rev := cfgRevision(t, page.body)

	form := func(memory, timeout, revision string) url.Values {
		return url.Values{"runtime": {"python3.13"}, "handler": {"app.handler"}, "memory": {memory}, "timeout": {timeout},
			"ephemeral": {"512"}, "tracing": {"Active"}, "description": {"reports"}, "revision": {revision}}
	}
	body := cfgDone(t, c, "save settings", cfgPost(c, lab, "config/general", fn, "general", form("256", "10", rev)))
	got := cfgGet(t, ls, u.AccountID, fn)
	if got.MemorySize != 256 || got.Timeout != 10 || got.TracingConfig.Mode != "Active" || got.Description != "reports" {
		t.Fatalf("after saving: memory %d, timeout %d, tracing %s, description %q; want 256, 10, Active, reports",
			got.MemorySize, got.Timeout, got.TracingConfig.Mode, got.Description)
	}
	wantContains(t, "panel after saving", body, `data-testid="config-flash"`, "256 MB", "10 seconds", "Active: Lambda samples")

	// Values Lambda refuses come back with Lambda's reason, the learner's
	// values in the form, and the function as it was.
	rev = cfgRevision(t, body)
	for _, tt := range []struct {
		name             string
		memory, timeout  int
		sentMem, sentTim string
	}{
		{"memory 64", 64, 10, "64", "10"},
		{"timeout 901", 256, 901, "256", "901"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ls.lambda.UpdateFunctionConfiguration(context.Background(), u.AccountID, fn,
				lambda.ConfigInput{MemorySize: &tt.memory, Timeout: &tt.timeout})
			want := cfgRefusalOf(t, err)
			r := cfgPost(c, lab, "config/general", fn, "general", form(tt.sentMem, tt.sentTim, rev))
			wantStatus(t, tt.name, r, http.StatusUnprocessableEntity)
			wantContains(t, tt.name, r.body, `data-testid="config-error"`, want, `value="`+tt.sentMem+`"`, `value="`+tt.sentTim+`"`)
			if after := cfgGet(t, ls, u.AccountID, fn); after.MemorySize != 256 || after.Timeout != 10 || after.RevisionID != got.RevisionID {
				t.Errorf("%s changed the function: memory %d, timeout %d", tt.name, after.MemorySize, after.Timeout)
			}
		})
	}

	r := cfgPost(c, lab, "config/general", fn, "general", form("lots", "10", rev))
	wantStatus(t, "memory not a number", r, http.StatusUnprocessableEntity)
	wantContains(t, "memory not a number", r.body, "Memory must be a whole number", `value="lots"`)

	// Another tab (here the CLI) changes the function: the form made before
	// is refused with Lambda's PreconditionFailed, not applied over it.
	desc := "changed elsewhere"
	if _, err := ls.lambda.UpdateFunctionConfiguration(context.Background(), u.AccountID, fn, lambda.ConfigInput{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	r = cfgPost(c, lab, "config/general", fn, "general", form("512", "10", rev))
	wantStatus(t, "stale revision", r, http.StatusConflict)
	wantContains(t, "stale revision", r.body, "PreconditionFailedException")
	if after := cfgGet(t, ls, u.AccountID, fn); after.MemorySize != 256 || after.Description != desc {
		t.Errorf("a stale form changed the function: memory %d, description %q", after.MemorySize, after.Description)
	}
}

func TestConfigEnv(t *testing.T) {
	ls := newLabSite(t, cfgNoXRay)
	c, u := ls.student("env@example.com")
	lab, fn := "xray-layer", "order-report"
	cfgFunction(t, ls, u, fn)
	page := c.get(labURL(lab, "config", fn))
	rev := cfgRevision(t, page.body)
	if n := strings.Count(page.body, `data-testid="config-env-row"`); n != cfgBlankEnvRows {
		t.Fatalf("a function without variables shows %d rows, want %d blank ones", n, cfgBlankEnvRows)
	}

	// Two blank rows filled, one left blank.
	vals := url.Values{"env_key": {"REPORT_BUCKET", " MODE ", ""}, "env_value": {"order-reports", "fast", ""}, "revision": {rev}}
	body := cfgDone(t, c, "add variables", cfgPost(c, lab, "config/env", fn, "env", vals))
	got := cfgGet(t, ls, u.AccountID, fn)
	if got.Environment == nil || got.Environment.Variables["REPORT_BUCKET"] != "order-reports" || got.Environment.Variables["MODE"] != "fast" || len(got.Environment.Variables) != 2 {
		t.Fatalf("environment after adding: %+v", got.Environment)
	}
	wantContains(t, "panel with variables", body, `value="REPORT_BUCKET"`, `value="order-reports"`, `value="MODE"`)

	// Remove MODE (row 0 in name order) and keep the other.
	rev = cfgRevision(t, body)
	vals = url.Values{"env_key": {"MODE", "REPORT_BUCKET", ""}, "env_value": {"fast", "order-reports", ""}, "env_remove": {"0"}, "revision": {rev}}
	cfgDone(t, c, "remove a variable", cfgPost(c, lab, "config/env", fn, "env", vals))
	got = cfgGet(t, ls, u.AccountID, fn)
	if got.Environment == nil || len(got.Environment.Variables) != 1 || got.Environment.Variables["REPORT_BUCKET"] != "order-reports" {
		t.Fatalf("environment after removing MODE: %+v", got.Environment)
	}

	rev = got.RevisionID
	r := cfgPost(c, lab, "config/env", fn, "env", url.Values{"env_key": {"A1", "A1"}, "env_value": {"x", "y"}, "revision": {rev}})
	wantStatus(t, "a name twice", r, http.StatusUnprocessableEntity)
	wantContains(t, "a name twice", r.body, "A1 is given twice", `value="y"`)

	// A reserved name is Lambda's to refuse, with its words.
	_, err := ls.lambda.UpdateFunctionConfiguration(context.Background(), u.AccountID, fn,
		lambda.ConfigInput{Environment: &lambda.Environment{Variables: map[string]string{"AWS_REGION": "eu-west-1"}}})
	want := cfgRefusalOf(t, err)
	r = cfgPost(c, lab, "config/env", fn, "env", url.Values{"env_key": {"AWS_REGION"}, "env_value": {"eu-west-1"}, "revision": {rev}})
	wantStatus(t, "a reserved name", r, http.StatusUnprocessableEntity)
	wantContains(t, "a reserved name", r.body, want, `value="AWS_REGION"`)
	if after := cfgGet(t, ls, u.AccountID, fn); after.RevisionID != rev {
		t.Error("a refused environment changed the function")
	}
}

// cfgPostMultipart sends the layer upload form as a browser does.
func cfgPostMultipart(c *client, path string, fields map[string]string, file []byte) response {
	c.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("zip", "layer.zip")
		fw.Write(file)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", c.base+path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", c.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

func TestConfigLayers(t *testing.T) {
	ls := newLabSite(t, cfgNoXRay)
	c, u := ls.student("layers@example.com")
	lab, fn := "xray-layer", "order-report"
	ctx := context.Background()
	cfgFunction(t, ls, u, fn)
	publish := func(name string) string {
		lv, err := ls.lambda.PublishLayerVersion(ctx, u.AccountID, name, lambda.PublishLayerInput{
			Content:            lambda.FunctionCode{ZipFile: cfgZip(t, map[string]string{"python/" + name + ".py": "X = 1\n"})},
			CompatibleRuntimes: []string{"python3.13"}, Description: name + " helpers"})
		if err != nil {
			t.Fatal(err)
		}
		return lv.LayerVersionArn
	}
	a, b := publish("alpha"), publish("beta")
	arns := func() []string {
		var out []string
		for _, l := range cfgGet(t, ls, u.AccountID, fn).Layers {
			out = append(out, l.Arn)
		}
		return out
	}
	page := c.get(labURL(lab, "config", fn))
	wantContains(t, "panel", page.body, `data-testid="config-layers-none"`, "alpha version 1: alpha helpers (python3.13)", `data-testid="config-xray-pending"`)
	rev := cfgRevision(t, page.body)

	// Attach alpha from the list, then beta by its ARN.
	body := cfgDone(t, c, "attach alpha", cfgPost(c, lab, "config/layers", fn, "layer-attach", url.Values{"op": {"attach"}, "attach": {a}, "revision": {rev}}))
	if got := arns(); len(got) != 1 || got[0] != a {
		t.Fatalf("layers after attaching alpha: %v", got)
	}
	rev = cfgRevision(t, body)
	body = cfgDone(t, c, "attach beta", cfgPost(c, lab, "config/layers", fn, "layer-attach", url.Values{"op": {"attach"}, "arn": {b}, "layer": {a}, "revision": {rev}}))
	if got := arns(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("layers after attaching beta: %v", got)
	}
	wantContains(t, "panel with two layers", body, `data-arn="`+a+`"`, `data-arn="`+b+`"`, `data-testid="config-layer-down"`)

	// Move alpha down: beta first.
	rev = cfgRevision(t, body)
	body = cfgDone(t, c, "move down", cfgPost(c, lab, "config/layers", fn, "layers", url.Values{"op": {"down:0"}, "layer": {a, b}, "revision": {rev}}))
	if got := arns(); len(got) != 2 || got[0] != b || got[1] != a {
		t.Fatalf("layers after moving alpha down: %v, want beta then alpha", got)
	}
	if strings.Index(body, `data-arn="`+b+`"`) > strings.Index(body, `data-arn="`+a+`"`) {
		t.Error("the panel does not show beta before alpha")
	}

	// A list shown before a change made elsewhere is refused.
	stale := rev
	r := cfgPost(c, lab, "config/layers", fn, "layers", url.Values{"op": {"remove:0"}, "layer": {a, b}, "revision": {stale}})
	wantStatus(t, "stale layer list", r, http.StatusConflict)
	wantContains(t, "stale layer list", r.body, "PreconditionFailedException")

	// Remove beta (now first).
	rev = cfgRevision(t, body)
	cfgDone(t, c, "remove beta", cfgPost(c, lab, "config/layers", fn, "layers", url.Values{"op": {"remove:0"}, "layer": {b, a}, "revision": {rev}}))
	if got := arns(); len(got) != 1 || got[0] != a {
		t.Fatalf("layers after removing beta: %v", got)
	}

	// Upload a new layer and attach it.
	rev = cfgGet(t, ls, u.AccountID, fn).RevisionID
	upload := "/labs/" + lab + "/config/layers/upload?fn=" + fn + "&tab=config"
	fields := map[string]string{"form": "layer-upload", "name": "gamma", "description": "uploaded", "runtimes": "python3.13, nodejs20.x",
		"attach": "1", "layer": a, "revision": rev}
	body = cfgDone(t, c, "upload", cfgPostMultipart(c, upload, fields, cfgZip(t, map[string]string{"python/gamma.py": "G = 3\n"})))
	got := arns()
	if len(got) != 2 || got[0] != a || !strings.Contains(got[1], ":layer:gamma:1") {
		t.Fatalf("layers after uploading gamma: %v", got)
	}
	lv, err := ls.lambda.GetLayerVersion(ctx, u.AccountID, "gamma", 1)
	if err != nil || lv.Description != "uploaded" || len(lv.CompatibleRuntimes) != 2 {
		t.Fatalf("gamma version 1: %+v, %v", lv, err)
	}
	wantContains(t, "panel after upload", body, "Published gamma version 1", "and attached it to order-report")

	// A file that is not a zip is refused with Lambda's reason, and nothing
	// is published.
	_, err = ls.lambda.PublishLayerVersion(ctx, u.AccountID, "delta", lambda.PublishLayerInput{Content: lambda.FunctionCode{ZipFile: []byte("not a zip")}})
	want := cfgRefusalOf(t, err)
	fields["name"], fields["revision"] = "delta", cfgGet(t, ls, u.AccountID, fn).RevisionID
	r = cfgPostMultipart(c, upload, fields, []byte("not a zip"))
	wantStatus(t, "bad zip", r, http.StatusUnprocessableEntity)
	wantContains(t, "bad zip", r.body, want, `value="delta"`, "Choose the zip again")
	if vs, _ := ls.lambda.ListLayerVersions(ctx, u.AccountID, "delta"); len(vs.LayerVersions) != 0 {
		t.Errorf("a refused zip was published: %+v", vs.LayerVersions)
	}
	r = cfgPostMultipart(c, upload, fields, nil)
	wantStatus(t, "no file", r, http.StatusUnprocessableEntity)
	wantContains(t, "no file", r.body, "Choose the layer")
}

func TestConfigXRayLayer(t *testing.T) {
	ls := newLabSite(t, nil)
	c, u := ls.student("xray@example.com")
	lab, fn := "xray-layer", "order-report"
	ctx := context.Background()
	cfgFunction(t, ls, u, fn)
	page := c.get(labURL(lab, "config", fn))
	wantStatus(t, "panel", page, http.StatusOK)
	wantContains(t, "panel", page.body, `data-testid="config-xray-submit"`)
	rev := cfgRevision(t, page.body)

	body := cfgDone(t, c, "publish the ready layer", cfgPost(c, lab, "config/layers/xray", fn, "layer-xray", url.Values{"revision": {rev}}))
	cfg := cfgGet(t, ls, u.AccountID, fn)
	if len(cfg.Layers) != 1 || !strings.HasSuffix(cfg.Layers[0].Arn, ":layer:"+xrayLayerName+":1") {
		t.Fatalf("layers after the ready layer: %+v", cfg.Layers)
	}
	if cfg.Layers[0].CodeSize < 10<<10 {
		t.Errorf("the ready layer is %d bytes: too small to hold the SDK", cfg.Layers[0].CodeSize)
	}
	wantContains(t, "panel after", body, `data-testid="config-xray-attached"`, "Published the X-Ray SDK as "+xrayLayerName+" version 1")

	// Asking again (say from another function, after detaching) reuses the
	// version that holds the same zip.
	if _, err := ls.lambda.UpdateFunctionConfiguration(ctx, u.AccountID, fn, lambda.ConfigInput{Layers: &[]string{}}); err != nil {
		t.Fatal(err)
	}
	rev = cfgGet(t, ls, u.AccountID, fn).RevisionID
	body = cfgDone(t, c, "again", cfgPost(c, lab, "config/layers/xray", fn, "layer-xray", url.Values{"revision": {rev}}))
	vs, err := ls.lambda.ListLayerVersions(ctx, u.AccountID, xrayLayerName)
	if err != nil || len(vs.LayerVersions) != 1 {
		t.Fatalf("versions of %s after asking twice: %+v, %v; want 1", xrayLayerName, vs.LayerVersions, err)
	}
	if cfg := cfgGet(t, ls, u.AccountID, fn); len(cfg.Layers) != 1 {
		t.Errorf("not attached again: %+v", cfg.Layers)
	}
	wantContains(t, "panel after asking again", body, "already has the SDK")
}

func TestConfigConcurrency(t *testing.T) {
	ls := newLabSite(t, cfgNoXRay)
	c, u := ls.student("reserve@example.com")
	lab, fn := "concurrency", "checkout"
	ctx := context.Background()
	cfgFunction(t, ls, u, fn)
	acct, err := ls.lambda.GetAccountSettings(ctx, u.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	page := c.get(labURL(lab, "config", fn))
	wantContains(t, "panel", page.body, "none: checkout shares", "of them are unreserved", `data-testid="config-provisioned-none"`)

	body := cfgDone(t, c, "reserve 0", cfgPost(c, lab, "config/concurrency", fn, "reserved", url.Values{"op": {"put"}, "reserved": {"0"}}))
	got, err := ls.lambda.GetFunctionConcurrency(ctx, u.AccountID, fn)
	if err != nil || got.ReservedConcurrentExecutions == nil || *got.ReservedConcurrentExecutions != 0 {
		t.Fatalf("reservation after 0: %+v, %v", got, err)
	}
	wantContains(t, "panel with 0", body, "0: every invocation of checkout is throttled", `data-testid="config-reserve-delete"`)

	body = cfgDone(t, c, "reserve 3", cfgPost(c, lab, "config/concurrency", fn, "reserved", url.Values{"op": {"put"}, "reserved": {"3"}}))
	after, err := ls.lambda.GetAccountSettings(ctx, u.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if after.AccountLimit.UnreservedConcurrentExecutions != acct.AccountLimit.UnreservedConcurrentExecutions-3 {
		t.Errorf("unreserved %d after reserving 3, was %d", after.AccountLimit.UnreservedConcurrentExecutions, acct.AccountLimit.UnreservedConcurrentExecutions)
	}
	wantContains(t, "panel with 3", body, "at most 3 invocations of checkout", itoa(after.AccountLimit.UnreservedConcurrentExecutions)+" of them are unreserved")

	cfgDone(t, c, "remove the reservation", cfgPost(c, lab, "config/concurrency", fn, "reserved", url.Values{"op": {"delete"}}))
	if got, _ := ls.lambda.GetFunctionConcurrency(ctx, u.AccountID, fn); got.ReservedConcurrentExecutions != nil {
		t.Fatalf("reservation after removing: %d", *got.ReservedConcurrentExecutions)
	}

	_, err = ls.lambda.PutFunctionConcurrency(ctx, u.AccountID, fn, -1)
	want := cfgRefusalOf(t, err)
	r := cfgPost(c, lab, "config/concurrency", fn, "reserved", url.Values{"op": {"put"}, "reserved": {"-1"}})
	wantStatus(t, "reserve -1", r, http.StatusUnprocessableEntity)
	wantContains(t, "reserve -1", r.body, want, `value="-1"`)
	r = cfgPost(c, lab, "config/concurrency", fn, "reserved", url.Values{"op": {"put"}, "reserved": {"five"}})
	wantStatus(t, "reserve five", r, http.StatusUnprocessableEntity)
	wantContains(t, "reserve five", r.body, "Reserved concurrency must be a whole number")

	// Provisioned concurrency on $LATEST is refused with Lambda's reason.
	_, err = ls.lambda.PutProvisionedConcurrencyConfig(ctx, u.AccountID, fn, "$LATEST", 1)
	want = cfgRefusalOf(t, err)
	r = cfgPost(c, lab, "config/provisioned", fn, "provisioned", url.Values{"op": {"put"}, "qualifier": {"$LATEST"}, "count": {"1"}})
	wantStatus(t, "provisioned on $LATEST", r, http.StatusUnprocessableEntity)
	wantContains(t, "provisioned on $LATEST", r.body, want)
}

func TestConfigProvisioned(t *testing.T) {
	ls := newLabSite(t, cfgNoXRay)
	c, u := ls.student("warm@example.com")
	lab, fn := "concurrency", "checkout"
	ctx := context.Background()
	cfgFunction(t, ls, u, fn)
	if _, err := ls.lambda.PublishVersion(ctx, u.AccountID, fn, lambda.PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	page := c.get(labURL(lab, "config", fn))
	wantContains(t, "panel", page.body, `data-testid="config-provision"`, `<option value="1">version 1</option>`)

	body := cfgDone(t, c, "provision version 1", cfgPost(c, lab, "config/provisioned", fn, "provisioned", url.Values{"op": {"put"}, "qualifier": {"1"}, "count": {"1"}}))
	wantContains(t, "panel right after", body, `data-qualifier="1"`)
	eventually(t, 60*time.Second, func() string {
		p, err := ls.lambda.GetProvisionedConcurrencyConfig(ctx, u.AccountID, fn, "1")
		if err != nil {
			return err.Error()
		}
		if p.Status != "READY" {
			return "status " + p.Status
		}
		return ""
	})
	page = c.get(labURL(lab, "config", fn))
	wantContains(t, "panel when ready", page.body, `data-status="READY"`, "kept warm")
	wantNotContains(t, "panel when ready", page.body, `hx-trigger="every 2s"`)

	cfgDone(t, c, "release", cfgPost(c, lab, "config/provisioned", fn, "provisioned", url.Values{"op": {"delete"}, "qualifier": {"1"}}))
	if ps, _ := ls.lambda.ListProvisionedConcurrencyConfigs(ctx, u.AccountID, fn); len(ps.ProvisionedConcurrencyConfigs) != 0 {
		t.Errorf("configurations after release: %+v", ps.ProvisionedConcurrencyConfigs)
	}
}

func TestConfigPermissions(t *testing.T) {
	ls := newLabSite(t, cfgNoXRay)
	c, u := ls.student("policy@example.com")
	lab, fn := "versions-aliases", "word-count"
	ctx := context.Background()
	cfgFunction(t, ls, u, fn)
	if _, err := ls.lambda.PublishVersion(ctx, u.AccountID, fn, lambda.PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	one := "1"
	if _, err := ls.lambda.CreateAlias(ctx, u.AccountID, fn, lambda.AliasInput{Name: "prod", FunctionVersion: &one}); err != nil {
		t.Fatal(err)
	}
	page := c.get(labURL(lab, "config", fn))
	wantContains(t, "panel", page.body, `data-testid="config-policy-none"`, `<option value="prod">alias prod (version 1)</option>`)

	add := url.Values{"qualifier": {"prod"}, "sid": {"s3-wc-uploads"}, "principal": {"s3.amazonaws.com"}, "action": {"lambda:InvokeFunction"},
		"source_arn": {"arn:aws:s3:::wc-uploads"}, "source_account": {u.AccountID}}
	body := cfgDone(t, c, "add permission", cfgPost(c, lab, "config/permissions", fn, "permission", add))
	p, err := ls.lambda.GetPolicy(ctx, u.AccountID, fn, "prod")
	if err != nil || !strings.Contains(p.Policy, `"s3-wc-uploads"`) {
		t.Fatalf("policy of prod: %+v, %v", p, err)
	}
	if _, err := ls.lambda.GetPolicy(ctx, u.AccountID, fn, ""); !cfgNotFound(err) {
		t.Errorf("the function itself got a policy too: %v", err)
	}
	wantContains(t, "panel with a statement", body,
		"s3.amazonaws.com may invoke word-count:prod when the source is arn:aws:s3:::wc-uploads and the source account is "+u.AccountID,
		`data-sid="s3-wc-uploads"`)

	// The same statement id again is Lambda's conflict.
	_, err = ls.lambda.AddPermission(ctx, u.AccountID, fn, "prod", lambda.AddPermissionInput{StatementID: "s3-wc-uploads", Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com"})
	want := cfgRefusalOf(t, err)
	r := cfgPost(c, lab, "config/permissions", fn, "permission", add)
	wantStatus(t, "same sid", r, http.StatusConflict)
	wantContains(t, "same sid", r.body, want, `value="arn:aws:s3:::wc-uploads"`)

	cfgDone(t, c, "remove", cfgPost(c, lab, "config/permissions/remove", fn, "permission-remove", url.Values{"qualifier": {"prod"}, "sid": {"s3-wc-uploads"}}))
	if _, err := ls.lambda.GetPolicy(ctx, u.AccountID, fn, "prod"); !cfgNotFound(err) {
		t.Errorf("policy of prod after removing its statement: %v", err)
	}
}

func TestConfigAsync(t *testing.T) {
	ls := newLabSite(t, cfgNoXRay)
	c, u := ls.student("async@example.com")
	lab, fn := "concurrency", "checkout"
	ctx := context.Background()
	cfgFunction(t, ls, u, fn)
	dest := cfgFunction(t, ls, u, "place-orders").FunctionArn
	page := c.get(labURL(lab, "config", fn))
	wantContains(t, "panel", page.body, `data-testid="config-async-none"`)

	body := cfgDone(t, c, "async settings", cfgPost(c, lab, "config/async", fn, "async",
		url.Values{"qualifier": {""}, "retries": {"0"}, "max_age": {"3600"}, "on_failure": {dest}}))
	got, err := ls.lambda.GetFunctionEventInvokeConfig(ctx, u.AccountID, fn, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.MaximumRetryAttempts == nil || *got.MaximumRetryAttempts != 0 || got.MaximumEventAgeInSeconds == nil ||
		*got.MaximumEventAgeInSeconds != 3600 || got.DestinationConfig.OnFailure.Destination != dest {
		t.Fatalf("async settings: %+v", got)
	}
	wantContains(t, "panel with async settings", body, `data-testid="config-async-row"`, "0: a failed event is not tried again",
		"3600 seconds (1 hour)", dest, `name="max_age" value="3600"`)

	for _, tt := range []struct {
		name            string
		retries, maxAge int
	}{{"retries 5", 5, 60}, {"age 30", 1, 30}} {
		_, err := ls.lambda.PutFunctionEventInvokeConfig(ctx, u.AccountID, fn, "", lambda.EventInvokeConfigInput{
			MaximumRetryAttempts: &tt.retries, MaximumEventAgeInSeconds: &tt.maxAge}, false)
		want := cfgRefusalOf(t, err)
		r := cfgPost(c, lab, "config/async", fn, "async", url.Values{"retries": {itoa(tt.retries)}, "max_age": {itoa(tt.maxAge)}})
		wantStatus(t, tt.name, r, http.StatusUnprocessableEntity)
		wantContains(t, tt.name, r.body, want)
	}
	r := cfgPost(c, lab, "config/async", fn, "async", url.Values{"retries": {"two"}})
	wantStatus(t, "retries two", r, http.StatusUnprocessableEntity)
	wantContains(t, "retries two", r.body, "Retry attempts must be a whole number", `value="two"`)
	r = cfgPost(c, lab, "config/async", fn, "async", url.Values{"on_success": {"arn:aws:sqs:us-east-1:" + u.AccountID + ":q"}})
	wantStatus(t, "an SQS destination", r, http.StatusUnprocessableEntity)
	wantContains(t, "an SQS destination", r.body, "InvalidParameterValueException")
	if again, _ := ls.lambda.GetFunctionEventInvokeConfig(ctx, u.AccountID, fn, ""); again.DestinationConfig.OnFailure.Destination != dest {
		t.Error("a refused form changed the async settings")
	}

	cfgDone(t, c, "remove", cfgPost(c, lab, "config/async/remove", fn, "async-remove", url.Values{"qualifier": {""}}))
	if _, err := ls.lambda.GetFunctionEventInvokeConfig(ctx, u.AccountID, fn, ""); !cfgNotFound(err) {
		t.Errorf("async settings after removing: %v", err)
	}
}

// TestConfigIsolation: a second learner sees nothing of the first one's
// function and changes nothing of it through any route of the
// Configuration and Versions tabs; each acts on their own, empty account.
func TestConfigIsolation(t *testing.T) {
	ls := newLabSite(t, cfgNoXRay)
	a, ua := ls.student("first@example.com")
	b, ub := ls.student("second@example.com")
	lab, fn := "versions-aliases", "word-count"
	ctx := context.Background()
	cfgFunction(t, ls, ua, fn)
	v, err := ls.lambda.PublishVersion(ctx, ua.AccountID, fn, lambda.PublishVersionInput{Description: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ls.lambda.CreateAlias(ctx, ua.AccountID, fn, lambda.AliasInput{Name: "prod", FunctionVersion: &v.Version}); err != nil {
		t.Fatal(err)
	}
	if _, err := ls.lambda.AddPermission(ctx, ua.AccountID, fn, "", lambda.AddPermissionInput{StatementID: "s3", Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com"}); err != nil {
		t.Fatal(err)
	}
	before := cfgGet(t, ls, ua.AccountID, fn)
	page := a.get(labURL(lab, "config", fn))
	rev := cfgRevision(t, page.body)

	for _, tab := range []string{"config", "versions"} {
		r := b.get(labURL(lab, tab, fn))
		wantStatus(t, "second learner's "+tab, r, http.StatusOK)
		wantContains(t, "second learner's "+tab, r.body, "not in your account yet")
		wantNotContains(t, "second learner's "+tab, r.body, ua.AccountID, rev)
	}

	posts := []struct {
		path, form string
		vals       url.Values
	}{
		{"config/general", "general", url.Values{"runtime": {"python3.13"}, "handler": {"app.handler"}, "memory": {"512"}, "timeout": {"30"}, "ephemeral": {"512"}, "tracing": {"Active"}, "revision": {rev}}},
		{"config/env", "env", url.Values{"env_key": {"X1"}, "env_value": {"y"}, "revision": {rev}}},
		{"config/layers", "layers", url.Values{"op": {"attach"}, "arn": {"arn:aws:lambda:us-east-1:" + ua.AccountID + ":layer:x:1"}, "revision": {rev}}},
		{"config/concurrency", "reserved", url.Values{"op": {"put"}, "reserved": {"0"}}},
		{"config/concurrency", "reserved", url.Values{"op": {"delete"}}},
		{"config/provisioned", "provisioned", url.Values{"op": {"put"}, "qualifier": {"prod"}, "count": {"1"}}},
		{"config/permissions", "permission", url.Values{"sid": {"evil"}, "principal": {"*"}, "action": {"lambda:InvokeFunction"}}},
		{"config/permissions/remove", "permission-remove", url.Values{"sid": {"s3"}}},
		{"config/async", "async", url.Values{"retries": {"0"}}},
		{"config/async/remove", "async-remove", url.Values{}},
		{"versions/publish", "publish", url.Values{"revision": {rev}}},
		{"aliases", "alias-new", url.Values{"name": {"evil"}, "version": {"1"}}},
		{"aliases/prod", "alias:prod", url.Values{"version": {"$LATEST"}}},
		{"aliases/prod/delete", "alias-delete", url.Values{}},
	}
	for _, p := range posts {
		r := cfgPost(b, lab, p.path, fn, p.form, p.vals)
		if r.StatusCode == http.StatusSeeOther || r.StatusCode == http.StatusOK {
			t.Errorf("second learner's POST %s: status %d, want a refusal", p.path, r.StatusCode)
		}
		wantNotContains(t, "second learner's POST "+p.path, r.body, ua.AccountID)
	}

	// The upload publishes into the second learner's own account (that is
	// theirs to do) and cannot attach to a function they do not have.
	r := cfgPostMultipart(b, "/labs/"+lab+"/config/layers/upload?fn="+fn+"&tab=config",
		map[string]string{"form": "layer-upload", "name": "theirs", "attach": "1", "revision": rev},
		cfgZip(t, map[string]string{"python/x.py": "X = 1\n"}))
	wantStatus(t, "second learner's upload", r, http.StatusNotFound)
	r = cfgPost(b, lab, "config/layers/xray", fn, "layer-xray", url.Values{"revision": {rev}})
	if r.StatusCode < 400 {
		t.Errorf("second learner's ready layer: status %d, want a refusal", r.StatusCode)
	}
	if layers, _ := ls.lambda.ListLayers(ctx, ua.AccountID); len(layers.Layers) != 0 {
		t.Errorf("the first learner's account got layers: %+v", layers.Layers)
	}

	after := cfgGet(t, ls, ua.AccountID, fn)
	if after.RevisionID != before.RevisionID || after.MemorySize != before.MemorySize {
		t.Errorf("the first learner's function changed: %+v", after)
	}
	if al, err := ls.lambda.GetAlias(ctx, ua.AccountID, fn, "prod"); err != nil || al.FunctionVersion != v.Version {
		t.Errorf("the first learner's alias changed: %+v, %v", al, err)
	}
	if p, err := ls.lambda.GetPolicy(ctx, ua.AccountID, fn, ""); err != nil || strings.Contains(p.Policy, "evil") || !strings.Contains(p.Policy, `"s3"`) {
		t.Errorf("the first learner's policy changed: %+v, %v", p, err)
	}
	if c, _ := ls.lambda.GetFunctionConcurrency(ctx, ua.AccountID, fn); c.ReservedConcurrentExecutions != nil {
		t.Error("the first learner's function got a reservation")
	}
	vs, _ := ls.lambda.ListVersionsByFunction(ctx, ua.AccountID, fn, "", 50)
	if len(vs.Versions) != 2 {
		t.Errorf("the first learner's function has %d versions, want $LATEST and 1", len(vs.Versions))
	}
	if fs, _ := ls.lambda.ListFunctions(ctx, ub.AccountID, "", 50); len(fs.Functions) != 0 {
		t.Errorf("the second learner's account got functions: %+v", fs.Functions)
	}
}

func TestCfgStatementWords(t *testing.T) {
	tests := []struct {
		name, doc, target, want string
	}{
		{"a service for a bucket",
			`{"Statement":[{"Sid":"a","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction",
			"Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}}]}`,
			"fn:prod", "s3.amazonaws.com may invoke fn:prod when the source is arn:aws:s3:::bucket and the source account is 123456789012"},
		{"anyone", `{"Statement":[{"Sid":"b","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction"}]}`,
			"fn", "anyone may invoke fn"},
		{"another account, any action", `{"Statement":[{"Sid":"c","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":"lambda:*"}]}`,
			"fn", "the account 210987654321 may call any Lambda action on fn"},
		{"one other action", `{"Statement":[{"Sid":"d","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:GetFunction"}]}`,
			"fn:1", "events.amazonaws.com may call lambda:GetFunction on fn:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cfgPolicyWords(tt.doc, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Words != tt.want {
				t.Errorf("cfgPolicyWords(%s) = %+v, want %q", tt.doc, got, tt.want)
			}
		})
	}
	if _, err := cfgPolicyWords("not json", "fn"); err == nil {
		t.Error("a policy that is not JSON was put in words")
	}
}

func TestVerAliasWeights(t *testing.T) {
	tests := []struct {
		weight, second string
		want           float64 // the fraction sent to Lambda; -1: refused here
	}{
		{"10", "2", 0.1},
		{"10 %", "2", 0.1},
		{"2.5", "2", 0.025},
		{"0", "2", 0},
		{"150", "2", 1.5}, // Lambda's to refuse, with its words
		{"", "2", -1},
		{"ten", "2", -1},
		{"NaN", "2", -1},
		{"10", "", -1},
		{"", "", 0},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("POST", "/", strings.NewReader(url.Values{"version": {"1"}, "second": {tt.second}, "weight": {tt.weight}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		in, msg := verAliasInput(r)
		switch {
		case tt.want < 0 && msg == "":
			t.Errorf("weight %q for %q: accepted as %v, want refused", tt.weight, tt.second, in.RoutingConfig.AdditionalVersionWeights)
		case tt.want >= 0 && msg != "":
			t.Errorf("weight %q for %q: refused (%s), want %v", tt.weight, tt.second, msg, tt.want)
		case tt.want >= 0 && tt.second != "" && in.RoutingConfig.AdditionalVersionWeights[tt.second] != tt.want:
			t.Errorf("weight %q: sent %v, want %v", tt.weight, in.RoutingConfig.AdditionalVersionWeights, tt.want)
		case tt.want >= 0 && tt.second == "" && len(in.RoutingConfig.AdditionalVersionWeights) != 0:
			t.Errorf("no second version: sent %v, want no weights", in.RoutingConfig.AdditionalVersionWeights)
		}
	}
	for f, want := range map[float64]string{0.1: "10 %", 0.025: "2.5 %", 1.0 / 3: "33.333 %", 0: "0 %"} {
		if got := verPercent(f); got != want {
			t.Errorf("verPercent(%v) = %q, want %q", f, got, want)
		}
	}
}
