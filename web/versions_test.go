package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"lambdalab/cloud/lambda"
)

// verPost posts a form of the Versions tab.
func verPost(c *client, lab, path, fn, form string, vals url.Values) response {
	c.t.Helper()
	if vals == nil {
		vals = url.Values{}
	}
	vals.Set("fn", fn)
	vals.Set("tab", "versions")
	vals.Set("form", form)
	return c.post("/labs/"+lab+"/"+path, vals)
}

func TestVersionsPublish(t *testing.T) {
	ls := newLabSite(t, cfgNoXRay)
	c, u := ls.student("publish@example.com")
	lab, fn := "versions-aliases", "word-count"
	ctx := context.Background()
	first := cfgFunction(t, ls, u, fn)
	page := c.get(labURL(lab, "versions", fn))
	wantStatus(t, "panel", page, http.StatusOK)
	wantContains(t, "panel", page.body, `data-testid="versions-none"`, first.CodeSha256)
	rev := cfgRevision(t, page.body)

	body := cfgDone(t, c, "publish", verPost(c, lab, "versions/publish", fn, "publish", url.Values{"description": {"sizes only"}, "revision": {rev}}))
	v1, err := ls.lambda.GetFunctionConfiguration(ctx, u.AccountID, fn, "1")
	if err != nil || v1.Description != "sizes only" {
		t.Fatalf("version 1: %+v, %v", v1, err)
	}
	wantContains(t, "panel with version 1", body, `data-version="1"`, "sizes only", verShortSha(v1.CodeSha256), "Published version 1")

	// Nothing changed: Lambda returns version 1 again, and the page says so.
	rev = cfgRevision(t, body)
	body = cfgDone(t, c, "publish again", verPost(c, lab, "versions/publish", fn, "publish", url.Values{"description": {"again"}, "revision": {rev}}))
	wantContains(t, "panel after a no-op publish", body, "Nothing changed since version 1")
	if vs, _ := ls.lambda.ListVersionsByFunction(ctx, u.AccountID, fn, "", 50); len(vs.Versions) != 2 {
		t.Fatalf("%d versions after a no-op publish, want $LATEST and 1", len(vs.Versions))
	}

	// New code deployed meanwhile: the page's publish form is refused, so
	// code the learner has not seen is not frozen by accident.
	zip := cfgZip(t, map[string]string{"app.py": cfgHandler + "# v2\n"})
	if _, err := ls.lambda.UpdateFunctionCode(ctx, u.AccountID, fn, lambda.UpdateCodeInput{ZipFile: zip}); err != nil {
		t.Fatal(err)
	}
	r := verPost(c, lab, "versions/publish", fn, "publish", url.Values{"description": {"stale"}, "revision": {rev}})
	wantStatus(t, "stale publish", r, http.StatusConflict)
	wantContains(t, "stale publish", r.body, "PreconditionFailedException", `value="stale"`)

	rev = cfgRevision(t, r.body)
	body = cfgDone(t, c, "publish 2", verPost(c, lab, "versions/publish", fn, "publish", url.Values{"description": {"counts words"}, "revision": {rev}}))
	v2, err := ls.lambda.GetFunctionConfiguration(ctx, u.AccountID, fn, "2")
	if err != nil || v2.CodeSha256 == v1.CodeSha256 {
		t.Fatalf("version 2: %+v, %v (version 1 has %s)", v2, err, v1.CodeSha256)
	}
	wantContains(t, "panel with two versions", body, `data-version="2"`, verShortSha(v2.CodeSha256), "counts words")
	if strings.Index(body, `data-version="2"`) > strings.Index(body, `data-version="1"`) {
		t.Error("the newest version is not listed first")
	}
}

func TestVersionsAliases(t *testing.T) {
	ls := newLabSite(t, cfgNoXRay)
	c, u := ls.student("aliases@example.com")
	lab, fn := "versions-aliases", "word-count"
	ctx := context.Background()
	cfgFunction(t, ls, u, fn)
	if _, err := ls.lambda.PublishVersion(ctx, u.AccountID, fn, lambda.PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	zip := cfgZip(t, map[string]string{"app.py": cfgHandler + "# v2\n"})
	if _, err := ls.lambda.UpdateFunctionCode(ctx, u.AccountID, fn, lambda.UpdateCodeInput{ZipFile: zip, Publish: true}); err != nil {
		t.Fatal(err)
	}

	body := cfgDone(t, c, "create prod", verPost(c, lab, "aliases", fn, "alias-new", url.Values{"name": {"prod"}, "version": {"1"}}))
	a, err := ls.lambda.GetAlias(ctx, u.AccountID, fn, "prod")
	if err != nil || a.FunctionVersion != "1" || a.RoutingConfig != nil {
		t.Fatalf("prod after creating: %+v, %v", a, err)
	}
	wantContains(t, "panel with prod", body, `data-alias="prod"`, "prod → version 1", a.AliasArn)

	// A tenth to version 2.
	edit := func(vals url.Values) response {
		return verPost(c, lab, "aliases/prod", fn, "alias:prod", vals)
	}
	body = cfgDone(t, c, "weight version 2", edit(url.Values{"version": {"1"}, "second": {"2"}, "weight": {"10"}, "revision": {a.RevisionID}}))
	a, err = ls.lambda.GetAlias(ctx, u.AccountID, fn, "prod")
	if err != nil || a.FunctionVersion != "1" || a.RoutingConfig == nil || a.RoutingConfig.AdditionalVersionWeights["2"] != 0.1 {
		t.Fatalf("prod after weighting: %+v, %v", a, err)
	}
	wantContains(t, "panel with the split", body, "10 % of its invocations to version 2", `name="weight" value="10"`)

	// What Lambda refuses comes back with its reason, the form refilled and
	// open, and the alias as it was.
	for _, tt := range []struct {
		name    string
		primary string
		second  string
		weight  float64
		sent    string
	}{
		{"weight 150 %", "1", "2", 1.5, "150"},
		{"second version = primary", "1", "1", 0.5, "50"},
		{"weighted $LATEST", "$LATEST", "2", 0.1, "10"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ls.lambda.UpdateAlias(ctx, u.AccountID, fn, "prod", lambda.AliasInput{FunctionVersion: &tt.primary,
				RoutingConfig: &lambda.RoutingConfig{AdditionalVersionWeights: map[string]float64{tt.second: tt.weight}}})
			want := cfgRefusalOf(t, err)
			r := edit(url.Values{"version": {tt.primary}, "second": {tt.second}, "weight": {tt.sent}, "revision": {a.RevisionID}})
			wantStatus(t, tt.name, r, http.StatusUnprocessableEntity)
			wantContains(t, tt.name, r.body, want, `value="`+tt.sent+`"`, "<details open")
			if got, _ := ls.lambda.GetAlias(ctx, u.AccountID, fn, "prod"); got.RevisionID != a.RevisionID {
				t.Errorf("a refused form changed prod: %+v", got)
			}
		})
	}
	r := edit(url.Values{"version": {"1"}, "second": {"2"}, "weight": {"a tenth"}, "revision": {a.RevisionID}})
	wantStatus(t, "weight not a number", r, http.StatusUnprocessableEntity)
	wantContains(t, "weight not a number", r.body, "The share must be a number of percent")
	r = edit(url.Values{"version": {"1"}, "second": {"2"}, "weight": {""}, "revision": {a.RevisionID}})
	wantStatus(t, "second version without a share", r, http.StatusUnprocessableEntity)

	// Someone else moves prod: the page's form is refused.
	two := "2"
	if _, err := ls.lambda.UpdateAlias(ctx, u.AccountID, fn, "prod", lambda.AliasInput{FunctionVersion: &two,
		RoutingConfig: &lambda.RoutingConfig{AdditionalVersionWeights: map[string]float64{}}}); err != nil {
		t.Fatal(err)
	}
	r = edit(url.Values{"version": {"1"}, "revision": {a.RevisionID}})
	wantStatus(t, "stale alias", r, http.StatusConflict)
	wantContains(t, "stale alias", r.body, "PreconditionFailedException", "prod → version 2")

	// Roll back: version 1 alone.
	a, _ = ls.lambda.GetAlias(ctx, u.AccountID, fn, "prod")
	cfgDone(t, c, "roll back", edit(url.Values{"version": {"1"}, "second": {""}, "weight": {""}, "revision": {a.RevisionID}}))
	if a, _ = ls.lambda.GetAlias(ctx, u.AccountID, fn, "prod"); a.FunctionVersion != "1" || a.RoutingConfig != nil {
		t.Fatalf("prod after rolling back: %+v", a)
	}

	// A weighted alias can be created at once, too.
	cfgDone(t, c, "create canary", verPost(c, lab, "aliases", fn, "alias-new", url.Values{"name": {"canary"}, "version": {"1"}, "second": {"2"}, "weight": {"2.5"}}))
	if a, err := ls.lambda.GetAlias(ctx, u.AccountID, fn, "canary"); err != nil || a.RoutingConfig == nil || a.RoutingConfig.AdditionalVersionWeights["2"] != 0.025 {
		t.Fatalf("canary: %+v, %v", a, err)
	}
	r = verPost(c, lab, "aliases", fn, "alias-new", url.Values{"name": {"42"}, "version": {"1"}})
	wantStatus(t, "a numeric alias name", r, http.StatusUnprocessableEntity)
	wantContains(t, "a numeric alias name", r.body, "InvalidParameterValueException", `value="42"`)

	page := c.get(labURL(lab, "versions", fn))
	wantContains(t, "panel", page.body, `data-confirm="Delete the alias canary?`)
	cfgDone(t, c, "delete canary", verPost(c, lab, "aliases/canary/delete", fn, "alias-delete", nil))
	as, _ := ls.lambda.ListAliases(ctx, u.AccountID, fn, "")
	if len(as.Aliases) != 1 || as.Aliases[0].Name != "prod" {
		t.Fatalf("aliases after deleting canary: %+v", as.Aliases)
	}
	r = verPost(c, lab, "aliases/canary/delete", fn, "alias-delete", nil)
	wantStatus(t, "delete an alias that is not there", r, http.StatusNotFound)
}

// TestVersionsServed invokes a weighted alias on the real sandbox and wants
// the panel to count the versions that ran as Lambda reported them.
func TestVersionsServed(t *testing.T) {
	ls := newLabSite(t, cfgNoXRay)
	c, u := ls.student("served@example.com")
	lab, fn := "versions-aliases", "word-count"
	ctx := context.Background()
	cfgFunction(t, ls, u, fn)
	if _, err := ls.lambda.PublishVersion(ctx, u.AccountID, fn, lambda.PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	zip := cfgZip(t, map[string]string{"app.py": cfgHandler + "# v2\n"})
	if _, err := ls.lambda.UpdateFunctionCode(ctx, u.AccountID, fn, lambda.UpdateCodeInput{ZipFile: zip, Publish: true}); err != nil {
		t.Fatal(err)
	}
	one := "1"
	if _, err := ls.lambda.CreateAlias(ctx, u.AccountID, fn, lambda.AliasInput{Name: "prod", FunctionVersion: &one,
		RoutingConfig: &lambda.RoutingConfig{AdditionalVersionWeights: map[string]float64{"2": 0.5}}}); err != nil {
		t.Fatal(err)
	}
	page := c.get(labURL(lab, "versions", fn))
	wantContains(t, "panel before invoking", page.body, `data-testid="versions-served-none"`)

	ran := map[string]int{}
	const n = 12
	for range n {
		out, err := ls.lambda.Invoke(ctx, u.AccountID, lambda.InvokeInput{FunctionName: fn, Qualifier: "prod", Payload: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		if out.FunctionError != "" {
			t.Fatalf("invoke failed: %s", out.Payload)
		}
		ran[out.ExecutedVersion]++
	}
	if err := ls.engine.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	page = c.get(labURL(lab, "versions", fn))
	wantContains(t, "panel after invoking", page.body, "The last "+itoa(n)+" invocations")
	for ver, count := range ran {
		wantContains(t, "panel after invoking", page.body, `data-version="`+ver+`" data-count="`+itoa(count)+`"`)
	}
	if got := strings.Count(page.body, `data-testid="versions-invocation"`); got != n {
		t.Errorf("%d recent invocations listed, want %d", got, n)
	}
}
