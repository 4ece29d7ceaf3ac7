package web

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"testing"

	"lambdalab/cloud/codepkg"
	"lambdalab/cloud/lambda"
	"lambdalab/store"
)

// zipEntry is one entry of a zip a test builds.
type zipEntry struct {
	name string
	body string
	mode fs.FileMode // 0 means a plain 0644 file
}

func buildZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr.SetMode(mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// unzipped is a zip's files: name → body.
func unzipped(t testing.TB, data []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("read zip: %v", err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = string(b)
	}
	return out
}

// sha256b64 is a zip's CodeSha256, computed here on its own.
func sha256b64(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// upload posts a file as the Code tab's upload form does.
func (c *client) upload(path string, fields url.Values, filename string, data []byte) response {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("package", filename)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", c.base+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", c.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

// follow GETs where a 303 points.
func (c *client) follow(what string, r response) response {
	c.t.Helper()
	wantStatus(c.t, what, r, http.StatusSeeOther)
	return c.get(r.Header.Get("Location"))
}

// draftOf is the learner's draft as the store has it: path → body.
func draftOf(t testing.TB, db *store.DB, u store.User, lab, fn string) map[string]string {
	t.Helper()
	files, err := db.Draft(context.Background(), store.DraftKey{UserID: u.ID, Lab: lab, Function: fn})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		out[f.Path] = string(f.Body)
	}
	return out
}

func sameFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// TestCodeStartEditDeploy walks the Code tab as a learner does: the lab is
// not set up, so the tab offers to start it, which makes the function from
// the starter; an autosaved edit is there on reload and in another browser
// of the same learner but not for another learner; Deploy puts the draft
// into $LATEST (its CodeSha256 is the downloaded zip's) and the new code
// runs; Lambda's refusal of a deployment is shown in its own words.
func TestCodeStartEditDeploy(t *testing.T) {
	ls := newLabSite(t, nil)
	ctx := context.Background()
	lab := ls.lab("s3-transform")
	fn := lab.Functions[0].Name
	starter, err := fs.ReadFile(lab.FS, path.Join(lab.Starter.Dir, "app.py"))
	if err != nil {
		t.Fatal(err)
	}
	const page = "/labs/s3-transform"
	a, ua := ls.student("ann@example.com")

	r := a.get(page)
	wantStatus(t, "code tab", r, http.StatusOK)
	wantContains(t, "code tab before starting", r.body, `data-testid="code-start"`, `action="/labs/s3-transform/start"`,
		`data-testid="code-editor"`, `data-editor`, `data-language="python"`, `data-autosave-url="/labs/s3-transform/draft"`,
		`data-fn="mask-logs"`, `data-path="app.py"`, `name="body"`, html.EscapeString(string(starter)))
	if _, err := ls.lambda.GetFunctionConfiguration(ctx, ua.AccountID, fn, ""); !codeMissing(err) {
		t.Fatalf("before starting, %s: %v; want it missing", fn, err)
	}

	r = a.follow("start the lab", a.post(page+"/start", url.Values{"fn": {fn}, "tab": {"code"}}))
	wantStatus(t, "after starting", r, http.StatusOK)
	wantContains(t, "after starting", r.body, `data-testid="panel-flash"`, "The lab is set up", `data-same="true"`)
	wantNotContains(t, "after starting", r.body, `data-testid="code-start"`)
	started, err := ls.lambda.GetFunctionConfiguration(ctx, ua.AccountID, fn, "")
	if err != nil {
		t.Fatalf("after starting, %s: %v", fn, err)
	}
	dl := a.get(page + "/download?fn=" + fn)
	wantStatus(t, "download", dl, http.StatusOK)
	if cd := dl.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, fn+".zip") {
		t.Errorf("download's Content-Disposition %q, want an attachment named %s.zip", cd, fn)
	}
	if got := unzipped(t, []byte(dl.body)); got["app.py"] != string(starter) || len(got) != 1 {
		t.Errorf("the starter draft downloads as %v, want app.py with the starter", keys(got))
	}
	if sha := sha256b64([]byte(dl.body)); started.CodeSha256 != sha {
		t.Errorf("the started function's CodeSha256 %s, want the starter draft's %s", started.CodeSha256, sha)
	}
	wantContains(t, "after starting", r.body, started.CodeSha256)

	// An autosave, as workspace.js sends it.
	edited := "import json\n\ndef handler(event, context):\n    return {\"drafted\": \"<yes> & more\"}\n"
	r = a.post(page+"/draft", url.Values{"fn": {fn}, "path": {"app.py"}, "body": {edited}}, "X-Autosave", "1")
	wantStatus(t, "autosave", r, http.StatusNoContent)
	r = a.get(page)
	wantContains(t, "reload after the autosave", r.body, html.EscapeString(edited), `data-same="false"`)
	wantNotContains(t, "reload after the autosave", r.body, html.EscapeString(string(starter)))

	a2 := ls.client()
	wantStatus(t, "sign in again", a2.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"correct horse battery"}}), http.StatusSeeOther)
	wantContains(t, "the same learner's other browser", a2.get(page).body, html.EscapeString(edited))

	b, ub := ls.student("bob@example.com")
	r = b.get(page)
	wantContains(t, "another learner", r.body, html.EscapeString(string(starter)))
	wantNotContains(t, "another learner", r.body, html.EscapeString(edited))

	// A form save without JavaScript sends CRLF line breaks; the draft keeps LF.
	r = a.post(page+"/draft", url.Values{"fn": {fn}, "tab": {"code"}, "path": {"app.py"}, "body": {strings.ReplaceAll(edited, "\n", "\r\n")}})
	r = a.follow("form save", r)
	wantContains(t, "form save", r.body, "Saved app.py.")
	if got := draftOf(t, ls.db, ua, lab.ID, fn)["app.py"]; got != edited {
		t.Errorf("after a form save with CRLF, app.py = %q, want %q", got, edited)
	}

	// Deploy.
	r = a.post(page+"/deploy", url.Values{"fn": {fn}, "tab": {"code"}, "file": {"app.py"}})
	r = a.follow("deploy", r)
	deployed, err := ls.lambda.GetFunctionConfiguration(ctx, ua.AccountID, fn, "")
	if err != nil {
		t.Fatal(err)
	}
	dl = a.get(page + "/download?fn=" + fn)
	if got := unzipped(t, []byte(dl.body)); got["app.py"] != edited {
		t.Errorf("the download after the edit holds app.py %q, want the edit", got["app.py"])
	}
	if sha := sha256b64([]byte(dl.body)); deployed.CodeSha256 != sha || deployed.CodeSha256 == started.CodeSha256 {
		t.Errorf("deployed CodeSha256 %s, want the draft's zip %s (and not the starter's %s)", deployed.CodeSha256, sha, started.CodeSha256)
	}
	if deployed.CodeSize != int64(len(dl.body)) {
		t.Errorf("deployed CodeSize %d, want the zip's %d bytes", deployed.CodeSize, len(dl.body))
	}
	wantContains(t, "after deploying", r.body, `data-testid="panel-flash"`, "Deployed "+fn+": CodeSha256 "+deployed.CodeSha256,
		fmt.Sprintf("%d bytes", deployed.CodeSize), `data-same="true"`, `data-testid="code-sha">`+deployed.CodeSha256)
	out, err := ls.lambda.Invoke(ctx, ua.AccountID, lambda.InvokeInput{FunctionName: fn, Payload: []byte("{}")})
	if err != nil || out.FunctionError != "" || !strings.Contains(string(out.Payload), `"drafted": "<yes> & more"`) {
		t.Errorf("invoking the deployed function: %v, error %q, payload %s; want the edited code's answer", err, out.FunctionError, out.Payload)
	}

	// Deploy from the editor's form saves what is in the editor first.
	again := "def handler(event, context):\n    return 'second'\n"
	r = a.follow("deploy from the editor", a.post(page+"/deploy", url.Values{"fn": {fn}, "tab": {"code"}, "file": {"app.py"}, "path": {"app.py"}, "body": {again}}))
	if got := draftOf(t, ls.db, ua, lab.ID, fn)["app.py"]; got != again {
		t.Errorf("deploy from the editor saved app.py = %q, want %q", got, again)
	}
	out, err = ls.lambda.Invoke(ctx, ua.AccountID, lambda.InvokeInput{FunctionName: fn, Payload: []byte("{}")})
	if err != nil || string(out.Payload) != `"second"` {
		t.Errorf("after deploying from the editor the function answers %s (%v), want \"second\"", out.Payload, err)
	}
	// Bob's function was never made, let alone changed.
	if _, err := ls.lambda.GetFunctionConfiguration(ctx, ub.AccountID, fn, ""); !codeMissing(err) {
		t.Errorf("another learner's %s: %v, want it missing still", fn, err)
	}

	// Lambda refuses a package that, with the function's layers, unzips to
	// more than 250 MB: the refusal is shown in Lambda's words, nothing
	// changes.
	big := buildZip(t, zipEntry{name: "python/filler.bin", body: strings.Repeat("\x00", codepkg.MaxUnzipped-4096)})
	layer, err := ls.lambda.PublishLayerVersion(ctx, ua.AccountID, "filler", lambda.PublishLayerInput{Content: lambda.FunctionCode{ZipFile: big}})
	if err != nil {
		t.Fatalf("publish the filler layer: %v", err)
	}
	if _, err := ls.lambda.UpdateFunctionConfiguration(ctx, ua.AccountID, fn, lambda.ConfigInput{Layers: &[]string{layer.LayerVersionArn}}); err != nil {
		t.Fatalf("attach the filler layer: %v", err)
	}
	before, _ := ls.lambda.GetFunctionConfiguration(ctx, ua.AccountID, fn, "")
	long := again + "# " + strings.Repeat("x", 8000) + "\n"
	r = a.post(page+"/deploy", url.Values{"fn": {fn}, "tab": {"code"}, "file": {"app.py"}, "path": {"app.py"}, "body": {long}})
	wantStatus(t, "a deployment Lambda refuses", r, http.StatusUnprocessableEntity)
	wantContains(t, "a deployment Lambda refuses", r.body, `data-testid="panel-error"`, "Lambda refused the deployment: InvalidParameterValueException: Unzipped size must be smaller than")
	if after, _ := ls.lambda.GetFunctionConfiguration(ctx, ua.AccountID, fn, ""); after.CodeSha256 != before.CodeSha256 {
		t.Errorf("a refused deployment changed the code: %s, was %s", after.CodeSha256, before.CodeSha256)
	}
}
