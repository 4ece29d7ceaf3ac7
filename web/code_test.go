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
	"lambdalab/static"
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

// TestCodeDraftFiles: adding, renaming and deleting files, with clear
// refusals of bad paths; saves past the bounds refused with the text kept;
// an upload replaces the draft, and every kind of bad zip is refused with
// its reason and the draft unchanged; the download round-trips through an
// upload; reset asks first and restores the starter.
func TestCodeDraftFiles(t *testing.T) {
	ls := newLabSite(t, nil)
	lab := ls.lab("s3-transform")
	fn := lab.Functions[0].Name
	starter, _ := fs.ReadFile(lab.FS, path.Join(lab.Starter.Dir, "app.py"))
	const page = "/labs/s3-transform"
	a, ua := ls.student("ann@example.com")
	form := func(kv ...string) url.Values {
		v := url.Values{"fn": {fn}, "tab": {"code"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	draft := func() map[string]string { return draftOf(t, ls.db, ua, lab.ID, fn) }
	wantStatus(t, "code tab", a.get(page), http.StatusOK)
	if got := draft(); !sameFiles(got, map[string]string{"app.py": string(starter)}) {
		t.Fatalf("the first look seeds the draft with the starter; got %s", keys(got))
	}

	// Add.
	r := a.follow("add a file", a.post(page+"/draft/new", form("path", "lib/helpers.py")))
	wantContains(t, "after adding", r.body, "Added lib/helpers.py.", `data-path="lib/helpers.py"`, `aria-current="page"`)
	if got := draft(); len(got) != 2 || got["lib/helpers.py"] != "" {
		t.Errorf("after adding: %s", keys(got))
	}
	for _, bad := range []struct{ path, want string }{
		{"", "Give the file a name"},
		{"/etc/passwd", "absolute path"},
		{"../up.py", "leave the function"},
		{"lib/../../x.py", "leave the function"},
		{`lib\win.py`, "backslash"},
		{"lib//x.py", "empty or . part"},
		{strings.Repeat("a", 256), "at most 255 bytes"},
		{"app.py", "already has a file app.py"},
	} {
		r := a.post(page+"/draft/new", form("path", bad.path))
		if r.StatusCode != http.StatusUnprocessableEntity && r.StatusCode != http.StatusConflict {
			t.Errorf("add %q: status %d, want a refusal", bad.path, r.StatusCode)
		}
		wantContains(t, fmt.Sprintf("add %q", bad.path), r.body, `data-testid="panel-error"`, html.EscapeString(bad.want))
	}
	if got := draft(); len(got) != 2 {
		t.Errorf("refused adds changed the draft: %s", keys(got))
	}

	// Rename.
	r = a.follow("rename", a.post(page+"/draft/rename", form("path", "lib/helpers.py", "to", "util.py")))
	wantContains(t, "after renaming", r.body, "Renamed lib/helpers.py to util.py.", `data-path="util.py"`)
	r = a.post(page+"/draft/rename", form("path", "util.py", "to", "app.py"))
	wantStatus(t, "rename onto another file", r, http.StatusConflict)
	wantContains(t, "rename onto another file", r.body, "already has a file app.py")
	r = a.post(page+"/draft/rename", form("path", "nope.py", "to", "x.py"))
	wantStatus(t, "rename a missing file", r, http.StatusConflict)
	wantContains(t, "rename a missing file", r.body, "no file nope.py")
	r = a.post(page+"/draft/rename", form("path", "util.py", "to", "../x.py"))
	wantStatus(t, "rename out of the folder", r, http.StatusUnprocessableEntity)
	if got := keys(draft()); got != "app.py,util.py" {
		t.Errorf("after renames: %s, want app.py,util.py", got)
	}

	// Delete asks first, then deletes.
	r = a.get(page + "?file=util.py")
	wantContains(t, "delete form", r.body, `action="/labs/s3-transform/draft/delete"`, `data-confirm="Delete util.py from your draft of mask-logs?"`)
	r = a.follow("delete", a.post(page+"/draft/delete", form("path", "util.py")))
	wantContains(t, "after deleting", r.body, "Deleted util.py.")
	wantNotContains(t, "after deleting", r.body, `data-path="util.py"`)
	wantStatus(t, "delete again", a.post(page+"/draft/delete", form("path", "util.py")), http.StatusConflict)

	// Saves the editor refuses keep what was typed.
	huge := "# " + strings.Repeat("x", codeMaxEdit) + "\n"
	r = a.post(page+"/draft", form("path", "app.py", "body", huge))
	wantStatus(t, "save over 1 MB", r, http.StatusUnprocessableEntity)
	wantContains(t, "save over 1 MB", r.body, "at most 1 MB", html.EscapeString(huge[:100]))
	r = a.post(page+"/draft", form("path", "app.py", "body", huge), "X-Autosave", "1")
	wantStatus(t, "autosave over 1 MB", r, http.StatusRequestEntityTooLarge)
	wantContains(t, "autosave over 1 MB", r.body, "at most 1 MB")
	wantStatus(t, "autosave of a bad path", a.post(page+"/draft", form("path", "../x", "body", "x"), "X-Autosave", "1"), http.StatusUnprocessableEntity)
	if got := draft()["app.py"]; got != string(starter) {
		t.Errorf("refused saves changed app.py")
	}

	// Upload replaces the draft; a binary file is kept, not editable.
	good := buildZip(t, zipEntry{name: "app.py", body: "def handler(e, c):\n    return 1\n"}, zipEntry{name: "lib/"},
		zipEntry{name: "lib/data.bin", body: "\x00\x01\x02binary"}, zipEntry{name: "./notes.txt", body: "hi\n"})
	r = a.follow("upload", a.upload(page+"/draft/upload", form(), "mine.zip", good))
	wantContains(t, "after uploading", r.body, "Uploaded mine.zip", "3 files")
	want := map[string]string{"app.py": "def handler(e, c):\n    return 1\n", "lib/data.bin": "\x00\x01\x02binary", "notes.txt": "hi\n"}
	if got := draft(); !sameFiles(got, want) {
		t.Errorf("after uploading: %s, want %s", keys(got), keys(want))
	}
	r = a.get(page + "?file=lib/data.bin")
	wantContains(t, "a binary file", r.body, `data-testid="code-binary"`, "binary, 9 bytes")
	wantNotContains(t, "a binary file", r.body, `data-path="lib/data.bin" data-testid="code-editor"`, `id="code-body"`)

	many := make([]zipEntry, store.MaxDraftFiles+1)
	for i := range many {
		many[i] = zipEntry{name: fmt.Sprintf("f%d.txt", i), body: "x"}
	}
	for _, bad := range []struct {
		what string
		zip  []byte
		want string
	}{
		{"not a zip", []byte("this is not a zip at all"), "not a zip archive"},
		{"a truncated zip", good[:len(good)/2], "not a zip archive"},
		{"zip slip", buildZip(t, zipEntry{name: "../../evil.py", body: "x"}), "zip slip"},
		{"an absolute path", buildZip(t, zipEntry{name: "/etc/cron.d/x", body: "x"}), "absolute path"},
		{"a backslash", buildZip(t, zipEntry{name: `lib\x.py`, body: "x"}), "backslashes"},
		{"a symlink", buildZip(t, zipEntry{name: "link", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}), "symbolic link"},
		{"too many files", buildZip(t, many...), fmt.Sprintf("a draft holds at most %d", store.MaxDraftFiles)},
		{"over 50 MB unzipped", buildZip(t, zipEntry{name: "big.bin", body: strings.Repeat("\x00", store.MaxDraftBytes+1)}), "a draft holds at most 50 MB"},
		{"an empty zip", buildZip(t), "holds no files"},
	} {
		r := a.upload(page+"/draft/upload", form(), "bad.zip", bad.zip)
		wantStatus(t, "upload of "+bad.what, r, http.StatusUnprocessableEntity)
		wantContains(t, "upload of "+bad.what, r.body, `data-testid="panel-error"`, html.EscapeString(bad.want), "Your draft is unchanged.")
		if got := draft(); !sameFiles(got, want) {
			t.Errorf("after the upload of %s the draft is %s, want it unchanged", bad.what, keys(got))
		}
	}
	r = a.upload(page+"/draft/upload", form(), "huge.zip", bytes.Repeat([]byte("x"), codeMaxUpload+1))
	wantStatus(t, "upload over 50 MB", r, http.StatusRequestEntityTooLarge)
	wantContains(t, "upload over 50 MB", r.body, "larger than 50 MB")

	// Download, then upload what was downloaded: the same draft.
	dl := a.get(page + "/download?fn=" + fn)
	wantStatus(t, "download", dl, http.StatusOK)
	if dl.Header.Get("Content-Type") != "application/zip" {
		t.Errorf("download Content-Type %q", dl.Header.Get("Content-Type"))
	}
	if got := unzipped(t, []byte(dl.body)); !sameFiles(got, want) {
		t.Errorf("the download holds %s, want the draft %s", keys(got), keys(want))
	}
	a.follow("change before the round trip", a.post(page+"/draft/new", form("path", "extra.py")))
	a.follow("upload the download", a.upload(page+"/draft/upload", form(), fn+".zip", []byte(dl.body)))
	if got := draft(); !sameFiles(got, want) {
		t.Errorf("after uploading the download the draft is %s, want %s", keys(got), keys(want))
	}

	// Reset asks (with JavaScript a dialog, without it the disclosure),
	// then restores the starter.
	r = a.get(page)
	wantContains(t, "reset form", r.body, `data-testid="code-reset"`, `<summary>Reset to the starter code…</summary>`,
		`action="/labs/s3-transform/draft/reset"`, `data-confirm="Replace your draft of mask-logs with the starter code?`)
	r = a.follow("reset", a.post(page+"/draft/reset", form()))
	wantContains(t, "after reset", r.body, "is the starter code again", html.EscapeString(string(starter)))
	if got := draft(); !sameFiles(got, map[string]string{"app.py": string(starter)}) {
		t.Errorf("after reset the draft is %s, want the starter", keys(got))
	}
}

// TestLabPageFrame: the lab page's markup per WORKSPACE.md on a lab with
// two functions: instructions with a task list and one section per task,
// the separator, the boosted workspace with the function picker and tabs
// as links (the chosen ones marked), the panel, the console after it, the
// workspace's stylesheet and scripts; ?tab= and ?fn= choose, unknown ones
// are 404; the flash shows at the panel's top.
func TestLabPageFrame(t *testing.T) {
	ls := newLabSite(t, nil)
	lab := ls.lab("concurrency")
	a, _ := ls.student("ann@example.com")
	r := a.get("/labs/concurrency")
	wantStatus(t, "lab page", r, http.StatusOK)
	wantContains(t, "lab page", r.body,
		`class="lab-layout"`, `id="instructions"`, `<h1 id="lab-title">`+html.EscapeString(lab.Title)+`</h1>`,
		fmt.Sprintf("about %d min", lab.Minutes), `data-testid="lab-state" data-state="in-progress"`,
		`data-split role="separator" tabindex="0" aria-orientation="vertical"`,
		`id="workspace"`, `hx-boost="true"`, `hx-target="#panel"`, `hx-select="#panel"`, `hx-swap="outerHTML"`,
		`id="panel"`, `href="`+static.URL("workspace.css")+`"`, `<strong>5</strong>`)
	if len(lab.Tasks) < 2 {
		t.Fatalf("lab %s has %d tasks; the test wants a few", lab.ID, len(lab.Tasks))
	}
	for _, task := range lab.Tasks {
		wantContains(t, "lab page", r.body, `<section id="task-`+task.ID+`"`, `href="#task-`+task.ID+`"`, html.EscapeString(task.Title))
	}
	if i, j := strings.Index(r.body, `id="task-`+lab.Tasks[0].ID+`"`), strings.Index(r.body, `id="task-`+lab.Tasks[1].ID+`"`); i < 0 || j < i {
		t.Errorf("tasks out of order: %d, %d", i, j)
	}
	for _, f := range lab.Functions {
		wantContains(t, "function picker", r.body, `href="/labs/concurrency?fn=`+f.Name+`"`)
	}
	wantContains(t, "function picker", r.body, `data-testid="fn-choice" data-fn="checkout" aria-current="page"`)
	for _, p := range ls.srv.panels() {
		u := labURL(lab.ID, p.ID, "checkout")
		wantContains(t, "tabs", r.body, `href="`+html.EscapeString(u)+`" hx-push-url="true" data-testid="tab-`+p.ID+`"`)
	}
	wantContains(t, "tabs", r.body, `data-testid="tab-code" aria-current="page"`)
	for _, name := range labScripts {
		if u, ok := static.Lookup(name); ok {
			wantContains(t, "scripts", r.body, `<script src="`+u+`" defer>`)
		}
	}
	// The console is outside the panel, after it, so a tab swap keeps it.
	panelAt, consoleAt := strings.Index(r.body, `id="panel"`), strings.Index(r.body, `id="console"`)
	if consoleAt < panelAt || strings.Count(r.body[panelAt:consoleAt], "</div>") <= strings.Count(r.body[panelAt:consoleAt], "<div") {
		t.Errorf("console at %d, panel at %d: want the console after the panel, outside it", consoleAt, panelAt)
	}
	instructions := r.body[strings.Index(r.body, `id="instructions"`):strings.Index(r.body, `data-split`)]
	wantNotContains(t, "instructions", instructions, ` style="`, "<script")

	r = a.get("/labs/concurrency?tab=config&fn=place-orders&note=" + url.QueryEscape("Saved <it> & more."))
	wantStatus(t, "config tab of place-orders", r, http.StatusOK)
	wantContains(t, "config tab of place-orders", r.body,
		`data-testid="tab-config" aria-current="page"`, `data-testid="fn-choice" data-fn="place-orders" aria-current="page"`,
		`href="/labs/concurrency?fn=place-orders" hx-push-url="true" data-testid="tab-code"`, `href="/labs/concurrency?fn=checkout&amp;tab=config"`,
		html.EscapeString("Saved <it> & more."))
	wantNotContains(t, "config tab of place-orders", r.body, `data-testid="tab-code" aria-current`)
	if n := strings.Count(r.body, html.EscapeString("Saved <it> & more.")); n != 1 {
		t.Errorf("the flash is shown %d times, want once", n)
	}
	r = a.get("/labs/concurrency?note=Hello+there")
	wantContains(t, "flash on the code tab", r.body, `role="status" data-testid="panel-flash">Hello there</p>`)

	wantStatus(t, "unknown tab", a.get("/labs/concurrency?tab=nope"), http.StatusNotFound)
	wantStatus(t, "unknown function", a.get("/labs/concurrency?fn=mask-logs"), http.StatusNotFound)
	// A lab with one function has no picker.
	wantNotContains(t, "one-function lab", a.get("/labs/s3-transform").body, `data-testid="fn-picker"`)
}

// TestCodeOtherLearner: every Code route acts in the signed-in learner's
// own draft and account. A second learner naming the first one's files
// reaches only their own draft; their deploy makes their own function; a
// function of another lab is a 404 and a reader is sent to sign in.
func TestCodeOtherLearner(t *testing.T) {
	ls := newLabSite(t, nil)
	ctx := context.Background()
	lab := ls.lab("s3-transform")
	fn := lab.Functions[0].Name
	const page = "/labs/s3-transform"
	form := func(kv ...string) url.Values {
		v := url.Values{"fn": {fn}, "tab": {"code"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	a, ua := ls.student("ann@example.com")
	a.follow("ann starts", a.post(page+"/start", form()))
	a.follow("ann adds", a.post(page+"/draft/new", form("path", "secret.py")))
	wantStatus(t, "ann saves", a.post(page+"/draft", form("path", "secret.py", "body", "TOPSECRET = 1\n"), "X-Autosave", "1"), http.StatusNoContent)
	a.follow("ann deploys", a.post(page+"/deploy", form()))
	annDraft := draftOf(t, ls.db, ua, lab.ID, fn)
	annFn, err := ls.lambda.GetFunctionConfiguration(ctx, ua.AccountID, fn, "")
	if err != nil {
		t.Fatal(err)
	}

	b, ub := ls.student("bob@example.com")
	r := b.get(page + "?file=secret.py")
	wantStatus(t, "bob names ann's file", r, http.StatusOK)
	wantNotContains(t, "bob names ann's file", r.body, "TOPSECRET", `data-path="secret.py"`)
	if got := unzipped(t, []byte(b.get(page+"/download?fn="+fn).body)); len(got) != 1 || got["secret.py"] != "" {
		t.Errorf("bob's download holds %s, want only his starter", keys(got))
	}
	wantStatus(t, "bob renames ann's file", b.post(page+"/draft/rename", form("path", "secret.py", "to", "mine.py", "account", ua.AccountID)), http.StatusConflict)
	wantStatus(t, "bob deletes ann's file", b.post(page+"/draft/delete", form("path", "secret.py", "account", ua.AccountID)), http.StatusConflict)
	wantStatus(t, "bob saves under ann's name", b.post(page+"/draft", form("path", "secret.py", "body", "bob's\n", "account", ua.AccountID), "X-Autosave", "1"), http.StatusNoContent)
	b.follow("bob uploads", b.upload(page+"/draft/upload", form("account", ua.AccountID), "b.zip", buildZip(t, zipEntry{name: "app.py", body: "def handler(e, c):\n    return 'bob'\n"})))
	b.follow("bob resets", b.post(page+"/draft/reset", form()))
	b.follow("bob uploads again", b.upload(page+"/draft/upload", form(), "b.zip", buildZip(t, zipEntry{name: "app.py", body: "def handler(e, c):\n    return 'bob'\n"})))
	b.follow("bob deploys", b.post(page+"/deploy", form("account", ua.AccountID)))
	b.follow("bob starts", b.post(page+"/start", form("account", ua.AccountID)))

	if got := draftOf(t, ls.db, ua, lab.ID, fn); !sameFiles(got, annDraft) {
		t.Errorf("bob's requests changed ann's draft: %s, was %s", keys(got), keys(annDraft))
	}
	if got, _ := ls.lambda.GetFunctionConfiguration(ctx, ua.AccountID, fn, ""); got.CodeSha256 != annFn.CodeSha256 || got.RevisionID != annFn.RevisionID {
		t.Errorf("bob's deploy changed ann's function: %s, was %s", got.CodeSha256, annFn.CodeSha256)
	}
	out, err := ls.lambda.Invoke(ctx, ub.AccountID, lambda.InvokeInput{FunctionName: fn, Payload: []byte("{}")})
	if err != nil || string(out.Payload) != `"bob"` {
		t.Errorf("bob's own function answers %s (%v), want his code's \"bob\"", out.Payload, err)
	}

	// A function that is not this lab's, on every route: 404.
	other := url.Values{"fn": {"checkout"}, "tab": {"code"}, "path": {"app.py"}, "to": {"x.py"}, "body": {"x"}}
	for _, route := range []string{"/draft", "/draft/new", "/draft/rename", "/draft/delete", "/draft/reset", "/deploy", "/start"} {
		wantStatus(t, "another lab's function on "+route, b.post(page+route, other), http.StatusNotFound)
	}
	wantStatus(t, "another lab's function on the upload", b.upload(page+"/draft/upload", other, "x.zip", buildZip(t, zipEntry{name: "a", body: "b"})), http.StatusNotFound)
	wantStatus(t, "another lab's function on the download", b.get(page+"/download?fn=checkout"), http.StatusNotFound)
	wantStatus(t, "an unknown lab", b.get("/labs/no-such-lab/download?fn="+fn), http.StatusNotFound)

	reader := ls.client()
	for _, route := range []string{"/draft", "/draft/new", "/deploy", "/start"} {
		r := reader.post(page+route, form("path", "x.py"))
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("a reader posting to %s: %d to %q, want sent to sign in", route, r.StatusCode, r.Header.Get("Location"))
		}
	}
	if r := reader.get(page + "/download?fn=" + fn); r.StatusCode != http.StatusSeeOther {
		t.Errorf("a reader's download: %d, want sent to sign in", r.StatusCode)
	}
}

// TestCodeWhileSandboxStarts: before the lab runner is there, the Code tab
// still shows and saves the draft, and starting the lab or deploying a
// function the account lacks says the sandbox is still starting (503)
// instead of failing.
func TestCodeWhileSandboxStarts(t *testing.T) {
	ls := newLabSite(t, func(c *Config) { c.Cloud.Labs = func() LabRunner { return nil } })
	const page = "/labs/s3-transform"
	a, ua := ls.student("ann@example.com")
	r := a.get(page)
	wantStatus(t, "code tab", r, http.StatusOK)
	wantContains(t, "code tab", r.body, `data-testid="code-start"`, "The sandbox is still starting", `data-testid="code-editor"`)
	form := url.Values{"fn": {"mask-logs"}, "tab": {"code"}}
	r = a.post(page+"/start", form)
	wantStatus(t, "start while the sandbox starts", r, http.StatusServiceUnavailable)
	wantContains(t, "start while the sandbox starts", r.body, `data-testid="panel-error"`, "The sandbox is still starting")
	r = a.post(page+"/deploy", form)
	wantStatus(t, "deploy while the sandbox starts", r, http.StatusServiceUnavailable)
	wantContains(t, "deploy while the sandbox starts", r.body, "mask-logs is not in your account yet", "still starting")
	if _, err := ls.lambda.GetFunctionConfiguration(context.Background(), ua.AccountID, "mask-logs", ""); !codeMissing(err) {
		t.Errorf("mask-logs after refused starts: %v, want it missing", err)
	}
	wantStatus(t, "a save while the sandbox starts", a.post(page+"/draft", url.Values{"fn": {"mask-logs"}, "path": {"app.py"}, "body": {"x = 1\n"}}, "X-Autosave", "1"), http.StatusNoContent)
}
