package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"lambdalab/cloud/inproc"
	"lambdalab/cloud/lambda"
	"lambdalab/store"
)

// Learner A's marker strings: what A's code, logs, payloads, objects,
// drafts, test events and reports hold and learner B never sends. None may
// appear in anything B is answered.
const (
	isoCode    = "MARKER-A-CODE-5c1e"
	isoLog     = "MARKER-A-LOG-9d2b"
	isoPayload = "MARKER-A-PAYLOAD-3e7f"
	isoDraft   = "MARKER-A-DRAFT-8a4c"
	isoEvent   = "MARKER-A-EVENT-6b0d"
	isoObject  = "MARKER-A-OBJECT-2f9e"
	// Names of A's that B never asks for: a listing of B's that shows one
	// shows A's data.
	isoHiddenKey   = "a-hidden-7c3d.txt"
	isoHiddenAlias = "a-hidden-alias-4e1b"
	isoHiddenEvent = "a-hidden-evt-1d5a"
	// isoBucket is a bucket only A has.
	isoBucket = "a-only-bucket-5e2a"
)

// isoRequest is one request learner B makes with learner A's ids. Path,
// query and form values may hold the placeholders of isoIDs.values.
type isoRequest struct {
	method, path string
	// form is sent with POST, on top of isoIDs.form (a field set to ""
	// here is left out).
	form url.Values
	// file, if set, sends the form as multipart with this file field
	// (uploads), holding a body of B's.
	file string
}

// isolationRequests are what B tries on every workspace route. Each route
// the package registers under /labs/ must be reached by at least one of
// them (TestIsolation fails otherwise): a new route needs a line here
// saying how another learner would try it.
var isolationRequests = []isoRequest{
	// The lab page on every tab with every id of A's in the query: the
	// panels look ids up (?job=, ?submission=, ?trace=, ?event=, ?key=).
	{method: "GET", path: "/labs/{lab}"},
	{method: "GET", path: "/labs/{lab}?{ids}"},
	{method: "GET", path: "/labs/{lab}?tab={tab}&{ids}"},

	// Code: the draft, its files, the download, the deploy.
	{method: "POST", path: "/labs/{lab}/start"},
	{method: "POST", path: "/labs/{lab}/draft", form: url.Values{"body": {"# B's edit\n"}}},
	{method: "POST", path: "/labs/{lab}/draft/new", form: url.Values{"path": {"b.py"}}},
	{method: "POST", path: "/labs/{lab}/draft/rename", form: url.Values{"to": {"renamed.py"}}},
	{method: "POST", path: "/labs/{lab}/draft/delete"},
	{method: "POST", path: "/labs/{lab}/draft/upload", file: "package"},
	{method: "POST", path: "/labs/{lab}/draft/reset"},
	{method: "GET", path: "/labs/{lab}/download"},
	{method: "GET", path: "/labs/{lab}/download?fn={fn}&file=app.py"},
	{method: "POST", path: "/labs/{lab}/deploy"},

	// Check my work.
	{method: "GET", path: "/labs/{lab}/check/{job}"},
	{method: "POST", path: "/labs/{lab}/check"},

	// Console, invoke, test events, tuning.
	{method: "GET", path: "/labs/{lab}/console"},
	{method: "POST", path: "/labs/{lab}/invoke", form: url.Values{"event_id": {"{event}"}}},
	{method: "GET", path: "/labs/{lab}/events/{event}"},
	{method: "POST", path: "/labs/{lab}/events", form: url.Values{"event_id": {"{event}"}, "name": {"b-event"}, "event": {`{"b": 1}`}}},
	{method: "POST", path: "/labs/{lab}/events/{event}/delete"},
	{method: "POST", path: "/labs/{lab}/tune"},

	// Configuration.
	{method: "POST", path: "/labs/{lab}/config/general", form: url.Values{"memory": {"512"}, "timeout": {"9"}}},
	{method: "POST", path: "/labs/{lab}/config/env"},
	{method: "POST", path: "/labs/{lab}/config/layers"},
	{method: "POST", path: "/labs/{lab}/config/layers/upload", file: "zip"},
	{method: "POST", path: "/labs/{lab}/config/layers/xray"},
	{method: "POST", path: "/labs/{lab}/config/concurrency", form: url.Values{"reserved": {"3"}}},
	{method: "POST", path: "/labs/{lab}/config/provisioned", form: url.Values{"qualifier": {"{alias}"}, "provisioned": {"1"}}},
	{method: "POST", path: "/labs/{lab}/config/permissions"},
	{method: "POST", path: "/labs/{lab}/config/permissions/remove"},
	{method: "POST", path: "/labs/{lab}/config/async"},
	{method: "POST", path: "/labs/{lab}/config/async/remove"},

	// Versions and aliases.
	{method: "POST", path: "/labs/{lab}/versions/publish"},
	{method: "POST", path: "/labs/{lab}/aliases", form: url.Values{"name": {"{alias}"}, "version": {"1"}}},
	{method: "POST", path: "/labs/{lab}/aliases/{alias}", form: url.Values{"version": {"1"}}},
	{method: "POST", path: "/labs/{lab}/aliases/{alias}/delete"},

	// Buckets, objects and triggers.
	{method: "GET", path: "/labs/{lab}/buckets/{bucket}"},
	{method: "GET", path: "/labs/{lab}/buckets/{bucket}?key={key}&prefix=secret/"},
	{method: "GET", path: "/labs/{lab}/buckets/{bucket}/object?key={key}"},
	{method: "POST", path: "/labs/{lab}/buckets/{bucket}/objects", file: "file"},
	{method: "POST", path: "/labs/{lab}/buckets/{bucket}/objects/delete"},
	{method: "POST", path: "/labs/{lab}/buckets/{bucket}/triggers"},
	{method: "POST", path: "/labs/{lab}/buckets/{bucket}/triggers/delete"},
	// A bucket only A has: B's requests must not reach into it.
	{method: "GET", path: "/labs/{lab}/buckets/{abucket}"},
	{method: "GET", path: "/labs/{lab}/buckets/{abucket}/object?key={key}"},
	{method: "POST", path: "/labs/{lab}/buckets/{abucket}/objects", file: "file", form: url.Values{"bucket": {"{abucket}"}}},
	{method: "POST", path: "/labs/{lab}/buckets/{abucket}/objects/delete", form: url.Values{"bucket": {"{abucket}"}}},
	{method: "POST", path: "/labs/{lab}/buckets/{abucket}/triggers", form: url.Values{"bucket": {"{abucket}"}}},
	{method: "POST", path: "/labs/{lab}/buckets/{abucket}/triggers/delete", form: url.Values{"bucket": {"{abucket}"}}},

	// Traces.
	{method: "GET", path: "/labs/{lab}/traces/{trace}"},
}

// isoIDs are learner A's ids and names, as B puts them in requests.
type isoIDs struct {
	lab, fn, bucket, key, alias, sid, trace string
	job, submission, event                  int64
}

func (ids isoIDs) values() map[string]string {
	return map[string]string{
		"{lab}": ids.lab, "{fn}": ids.fn, "{bucket}": ids.bucket, "{abucket}": isoBucket, "{key}": url.QueryEscape(ids.key),
		"{alias}": ids.alias, "{sid}": ids.sid, "{trace}": ids.trace,
		"{job}": itoa(int(ids.job)), "{submission}": itoa(int(ids.submission)), "{event}": itoa(int(ids.event)),
	}
}

// idQueries are queries holding A's ids under each name a panel or
// handler might read one by: each alone (a panel reading two would stop
// at the first), then all at once.
func (ids isoIDs) idQueries() []string {
	one := [][2]string{
		{"job", itoa(int(ids.job))}, {"submission", itoa(int(ids.submission))}, {"trace", ids.trace},
		{"event", itoa(int(ids.event))}, {"event_id", itoa(int(ids.event))}, {"id", itoa(int(ids.event))},
		{"bucket", ids.bucket}, {"bucket", isoBucket}, {"key", ids.key}, {"prefix", "secret/"}, {"alias", ids.alias},
		{"qualifier", ids.alias}, {"version", "1"}, {"path", "app.py"}, {"file", "app.py"},
	}
	all := url.Values{"fn": {ids.fn}}
	var out []string
	for _, kv := range one {
		q := url.Values{"fn": {ids.fn}, kv[0]: {kv[1]}}
		out = append(out, q.Encode())
		all.Set(kv[0], kv[1])
	}
	return append(out, all.Encode())
}

// isoExpanded is one request of the table made concrete.
type isoExpanded struct {
	path string
	form url.Values
}

// expand makes a table request concrete with A's ids: once per tab for
// {tab} and once per query of idQueries for {ids}.
func (ids isoIDs) expand(rq isoRequest, tabs []string) []isoExpanded {
	if !strings.Contains(rq.path, "{tab}") {
		tabs = []string{"check"}
	}
	queries := []string{""}
	if strings.Contains(rq.path, "{ids}") {
		queries = ids.idQueries()
	}
	var out []isoExpanded
	for _, tab := range tabs {
		for _, q := range queries {
			v := ids.values()
			v["{tab}"], v["{ids}"] = tab, q
			form := ids.form(tab)
			for k, x := range rq.form {
				form[k] = slices.Clone(x)
			}
			for k, x := range form {
				for i := range x {
					x[i] = isoFill(x[i], v)
				}
				if len(x) == 1 && x[0] == "" {
					delete(form, k)
				}
			}
			out = append(out, isoExpanded{path: isoFill(rq.path, v), form: form})
		}
	}
	return out
}

// form is what every POST of B's carries: each id of A's under the names
// the workspace's forms use.
func (ids isoIDs) form(tab string) url.Values {
	return url.Values{
		"tab": {tab}, "fn": {ids.fn}, "bucket": {ids.bucket}, "key": {ids.key}, "prefix": {"secret/"},
		"alias": {ids.alias}, "qualifier": {ids.alias}, "name": {ids.alias}, "version": {"1"},
		"sid": {ids.sid}, "statement_id": {ids.sid}, "id": {itoa(int(ids.event))}, "event_id": {itoa(int(ids.event))},
		"trace": {ids.trace}, "job": {itoa(int(ids.job))}, "submission": {itoa(int(ids.submission))},
		"path": {"app.py"}, "payload": {`{"b": 1}`},
	}
}

// TestIsolation: learner A sets up the S3 lab and uses every part of the
// workspace's data (code, a draft, test events, versions and aliases, an
// object, an invocation with its log and trace, a graded submission).
// Learner B then tries every workspace route with A's ids and names, GET
// and POST: each answer is a 404, a 403, or B's own data, never anything
// of A's (event streams are read for a while), and A's account, draft and
// test events are as they were.
func TestIsolation(t *testing.T) {
	patterns := registeredRoutes(t)
	ls := newLabSite(t, func(c *Config) {
		c.Limits = ActionLimits{Deploys: 1000, Invokes: 1000, Gradings: 1000, Changes: 1000}
	})
	ctx := context.Background()
	lab := ls.lab("s3-transform")
	a, ua := ls.student("ann@example.com")
	ids := isoSetUpA(t, ls, a, ua)
	markers := []string{ua.AccountID, isoCode, isoLog, isoPayload, isoDraft, isoEvent, isoObject,
		isoHiddenKey, isoHiddenAlias, isoHiddenEvent}
	before := isoStateOf(t, ls, ua, a)
	if !strings.Contains(before.snapshot, isoHiddenAlias) || len(before.objects) == 0 ||
		!strings.Contains(before.draft, "app.py") || !strings.Contains(before.events, isoHiddenEvent) {
		t.Fatalf("A's state as read misses what A made; comparing it proves nothing:\n%+v", before)
	}

	b, ub := ls.student("bob@example.com")
	if err := ls.grading.SetUp(ctx, ub, lab); err != nil {
		t.Fatalf("set up B: %v", err)
	}

	// A invokes A's function while a stream is read: its log line must
	// reach A's console and no stream of B's.
	invokeA := func() {
		time.Sleep(200 * time.Millisecond)
		ls.lambda.Invoke(context.Background(), ua.AccountID, lambda.InvokeInput{FunctionName: ids.fn, Payload: []byte(`{"note": "` + isoPayload + `"}`)})
	}
	_, _, body := isoDo(t, a, "GET", "/labs/"+lab.ID+"/console", nil, "", invokeA)
	if !strings.Contains(body, isoLog) {
		t.Errorf("A's console stream did not show A's invoke while it was read; B's not showing it proves nothing:\n%.2000s", body)
	}

	// Every request of the table, on every tab for the lab page's, with
	// each of A's ids alone and all at once.
	mux := http.NewServeMux()
	for _, p := range patterns {
		mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	var tabs []string
	for _, p := range ls.srv.panels() {
		tabs = append(tabs, p.ID)
	}

	// A control: A's own GETs show A's markers, so that B not seeing them
	// means something.
	seen := map[string]bool{}
	for _, rq := range isolationRequests {
		if rq.method != "GET" {
			continue
		}
		for _, x := range ids.expand(rq, tabs) {
			_, _, body := isoDo(t, a, "GET", x.path, nil, "", invokeA)
			for _, m := range markers {
				if strings.Contains(body, m) {
					seen[m] = true
				}
			}
		}
	}
	// A's deployed code and an invoke's payload need not be on any page
	// (the code tab shows the draft); the rest must be.
	for _, m := range markers {
		switch {
		case seen[m]:
		case m == isoCode || m == isoPayload:
			t.Logf("A's %q is shown to A on no route", m)
		default:
			t.Errorf("A's %q is shown to A on no route: B not seeing it proves nothing", m)
		}
	}

	covered := map[string]bool{}
	for _, rq := range isolationRequests {
		for _, x := range ids.expand(rq, tabs) {
			req, _ := http.NewRequest(rq.method, "http://x"+x.path, nil)
			if _, pat := mux.Handler(req); isWorkspaceRoute(pat) {
				covered[pat] = true
			} else {
				t.Errorf("isolationRequests: %s %s reaches no workspace route (%q): a route went away?", rq.method, rq.path, pat)
			}
			what := "B: " + rq.method + " " + x.path
			status, header, body := isoDo(t, b, rq.method, x.path, x.form, rq.file, invokeA)
			if status >= 500 {
				t.Errorf("%s: status %d\n%.1500s", what, status, body)
			}
			for _, m := range markers {
				if strings.Contains(body, m) || strings.Contains(header.Get("Location"), m) {
					t.Errorf("%s: status %d, the answer holds A's %q", what, status, m)
				}
			}
		}
	}
	for _, p := range patterns {
		if isWorkspaceRoute(p) && !covered[p] {
			t.Errorf("route %q is not in isolationRequests: add how another learner would try it with A's ids", p)
		}
	}

	// B's own pages outside the workspace.
	for _, p := range []string{"/", "/account"} {
		status, _, body := isoDo(t, b, "GET", p, nil, "", nil)
		for _, m := range markers {
			if strings.Contains(body, m) {
				t.Errorf("B: GET %s: status %d, the answer holds A's %q", p, status, m)
			}
		}
	}

	// Nothing B did reached A.
	after := isoStateOf(t, ls, ua, a)
	if before.snapshot != after.snapshot {
		t.Errorf("A's account changed while B tried A's ids:\nbefore %s\nafter  %s", before.snapshot, after.snapshot)
	}
	if !slices.Equal(before.objects, after.objects) {
		t.Errorf("A's objects changed: before %q, after %q", before.objects, after.objects)
	}
	if before.draft != after.draft || before.events != after.events {
		t.Errorf("A's draft or test events changed:\nbefore %s | %s\nafter  %s | %s", before.draft, before.events, after.draft, after.events)
	}
	if _, err := ls.db.Report(ctx, ids.submission); err != nil {
		t.Errorf("A's report: %v", err)
	}
}

// isoSetUpA gives learner A the lab and a bit of everything, each holding
// a marker, and returns A's ids.
func isoSetUpA(t *testing.T, ls *labSite, a *client, ua store.User) isoIDs {
	t.Helper()
	ctx := context.Background()
	lab := ls.lab("s3-transform")
	if err := ls.grading.SetUp(ctx, ua, lab); err != nil {
		t.Fatalf("set up A: %v", err)
	}
	fn := lab.Functions[0].Name
	acct := ua.AccountID
	code := "import json\n# " + isoCode + "\n\ndef handler(event, context):\n    print(\"" + isoLog + "\")\n    return {\"echo\": event}\n"
	zipped := checkZipFiles(t, map[string]string{"app.py": code})
	isoRetry(t, "deploy A's code", func() error {
		_, err := ls.lambda.UpdateFunctionCode(ctx, acct, fn, lambda.UpdateCodeInput{ZipFile: zipped})
		return err
	})
	isoRetry(t, "trace A's function", func() error {
		_, err := ls.lambda.UpdateFunctionConfiguration(ctx, acct, fn, lambda.ConfigInput{TracingConfig: &lambda.TracingConfig{Mode: "Active"}})
		return err
	})
	var version string
	isoRetry(t, "publish A's version", func() error {
		v, err := ls.lambda.PublishVersion(ctx, acct, fn, lambda.PublishVersionInput{})
		version = v.Version
		return err
	})
	for _, alias := range []string{"live-a", isoHiddenAlias} {
		if _, err := ls.lambda.CreateAlias(ctx, acct, fn, lambda.AliasInput{Name: alias, FunctionVersion: aws.String(version)}); err != nil {
			t.Fatalf("alias %s: %v", alias, err)
		}
	}
	if _, err := ls.lambda.AddPermission(ctx, acct, fn, "", lambda.AddPermissionInput{StatementID: "a-s3", Action: "lambda:InvokeFunction",
		Principal: "s3.amazonaws.com", SourceArn: "arn:aws:s3:::raw-logs", SourceAccount: acct}); err != nil {
		t.Fatalf("permission: %v", err)
	}
	keys, err := ls.db.AccountKeys(ctx, acct)
	if err != nil || len(keys) == 0 {
		t.Fatalf("A's keys: %v", err)
	}
	s3c := inproc.S3(ls.endpoint, keys[len(keys)-1])
	if _, err := s3c.CreateBucket(ctx, &s3sdk.CreateBucketInput{Bucket: aws.String(isoBucket)}); err != nil {
		t.Fatalf("A's own bucket: %v", err)
	}
	for _, bucket := range []string{"raw-logs", isoBucket} {
		for _, key := range []string{"secret/a-only.txt", isoHiddenKey} {
			if _, err := s3c.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(isoObject + "\n")}); err != nil {
				t.Fatalf("put %s/%s: %v", bucket, key, err)
			}
		}
	}
	start := time.Now().Add(-time.Minute)
	out, err := ls.lambda.Invoke(ctx, acct, lambda.InvokeInput{FunctionName: fn, Payload: []byte(`{"note": "` + isoPayload + `"}`)})
	if err != nil || !bytes.Contains(out.Payload, []byte(isoPayload)) {
		t.Fatalf("invoke A's function: %v", err)
	}
	var trace string
	eventually(t, 30*time.Second, func() string {
		ls.xray.Flush(ctx)
		sums, err := ls.xray.Traces(ctx, acct, start, time.Now().Add(time.Minute), "")
		if err != nil || len(sums) == 0 {
			return "no trace of A's invoke yet"
		}
		trace = sums[0].ID
		return ""
	})
	k := store.DraftKey{UserID: ua.ID, Lab: lab.ID, Function: fn}
	if _, err := ls.db.StartDraft(ctx, k, func() ([]store.DraftFile, error) {
		return []store.DraftFile{{Path: "app.py", Body: []byte("# " + isoDraft + "\n")}}, nil
	}); err != nil {
		t.Fatalf("A's draft: %v", err)
	}
	ev, err := ls.db.CreateTestEvent(ctx, store.TestEvent{UserID: ua.ID, Lab: lab.ID, Function: fn, Name: "a-event", Body: `{"note": "` + isoEvent + `"}`})
	if err != nil {
		t.Fatalf("A's test event: %v", err)
	}
	if _, err := ls.db.CreateTestEvent(ctx, store.TestEvent{UserID: ua.ID, Lab: lab.ID, Function: fn, Name: isoHiddenEvent, Body: `{"note": "` + isoEvent + `"}`}); err != nil {
		t.Fatalf("A's test event: %v", err)
	}

	// A's work graded: its report's log excerpts hold A's log line.
	r := a.post("/labs/"+lab.ID+"/check", url.Values{"tab": {"check"}})
	wantStatus(t, "A checks", r, http.StatusSeeOther)
	job := jobIDFrom(t, lab.ID, r.Header.Get("Location"))
	sseEvents(t, a, "/labs/"+lab.ID+"/check/"+itoa(int(job)), 3*time.Minute, func(name, _ string) bool { return name == "finished" })
	j, err := ls.db.GradingJob(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ls.db.Report(ctx, j.SubmissionID)
	if err != nil || !bytes.Contains(rep.Report, []byte(isoLog)) {
		t.Fatalf("A's report has no log line of A's (%v):\n%s", err, rep.Report)
	}
	return isoIDs{lab: lab.ID, fn: fn, bucket: "raw-logs", key: "secret/a-only.txt", alias: "live-a", sid: "a-s3", trace: trace,
		job: job, submission: j.SubmissionID, event: ev.ID}
}

// isoState is what of A's must not change while B tries A's ids.
type isoState struct {
	snapshot      string // the account as a submission snapshots it
	objects       []string
	draft, events string
}

func isoStateOf(t *testing.T, ls *labSite, ua store.User, a *client) isoState {
	t.Helper()
	ctx := context.Background()
	lab := ls.lab("s3-transform")
	var st isoState
	// A submission snapshots the account's configuration: functions,
	// versions, aliases, policies, layers, buckets and triggers.
	job, _, err := ls.grading.Submit(ctx, ua, lab.ID, nil)
	if err != nil {
		t.Fatalf("snapshot A: %v", err)
	}
	sub, err := ls.db.Submission(ctx, job.SubmissionID)
	if err != nil {
		t.Fatal(err)
	}
	st.snapshot = string(sub.State)
	keys, _ := ls.db.AccountKeys(ctx, ua.AccountID)
	s3c := inproc.S3(ls.endpoint, keys[len(keys)-1])
	for _, bucket := range []string{"raw-logs", "masked-logs", isoBucket} {
		out, err := s3c.ListObjectsV2(ctx, &s3sdk.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatalf("list A's %s: %v", bucket, err)
		}
		for _, o := range out.Contents {
			st.objects = append(st.objects, bucket+"/"+aws.ToString(o.Key)+" "+aws.ToString(o.ETag))
		}
	}
	files, err := ls.db.Draft(ctx, store.DraftKey{UserID: ua.ID, Lab: lab.ID, Function: lab.Functions[0].Name})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(files)
	st.draft = string(b)
	evs, err := ls.db.TestEvents(ctx, ua.ID, lab.ID, lab.Functions[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(evs)
	st.events = string(b)
	return st
}

// isoDo sends one request and returns its answer; an event stream is
// read for a second and a half, then cut, while during (if set) runs:
// what A does then must not reach B's stream either.
func isoDo(t *testing.T, c *client, method, path string, form url.Values, file string, during func()) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var body io.Reader
	ctype := ""
	if method == "POST" {
		if file != "" {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			for k, vs := range form {
				for _, v := range vs {
					mw.WriteField(k, v)
				}
			}
			fw, _ := mw.CreateFormFile(file, "b.zip")
			fw.Write(checkZipFiles(t, map[string]string{"b.txt": "B's own file\n"}))
			mw.Close()
			body, ctype = &buf, mw.FormDataContentType()
		} else {
			body, ctype = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
		}
	}
	req, _ := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Origin", c.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		timer := time.AfterFunc(1500*time.Millisecond, cancel)
		defer timer.Stop()
		if during != nil {
			done := make(chan struct{})
			go func() {
				defer close(done)
				during()
			}()
			defer func() { <-done }()
		}
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("read %s %s: %v", method, path, err)
	}
	// A zip (a code download) is read inside: its files are what it shows.
	if zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err == nil {
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatalf("%s %s: zip entry %s: %v", method, path, f.Name, err)
			}
			inner, _ := io.ReadAll(rc)
			rc.Close()
			b = append(append(b, '\n'), inner...)
		}
	}
	return resp.StatusCode, resp.Header, string(b)
}

func isoFill(s string, vals map[string]string) string {
	for k, v := range vals {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// isoRetry retries a Lambda call that the function's last update still
// blocks (ResourceConflictException).
func isoRetry(t *testing.T, what string, f func() error) {
	t.Helper()
	eventually(t, 30*time.Second, func() string {
		if err := f(); err != nil {
			return what + ": " + err.Error()
		}
		return ""
	})
}

// isWorkspaceRoute reports whether a pattern is one of the lab
// workspace's: every route under /labs/.
func isWorkspaceRoute(pattern string) bool {
	_, path, _ := strings.Cut(pattern, " ")
	if !strings.HasPrefix(pattern, "/") && path != "" {
		return strings.HasPrefix(path, "/labs/")
	}
	return strings.HasPrefix(pattern, "/labs/")
}

// registeredRoutes reads the package's source for every pattern it
// registers (mux.HandleFunc and mux.Handle with a literal pattern), so
// that a route added anywhere is seen here. A pattern that is not a
// string literal fails the test: it could not be checked.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var out []string
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: a route registered with a pattern that is not a literal; the isolation test cannot see it", fset.Position(call.Pos()))
				return true
			}
			p, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatalf("%s: %v", fset.Position(lit.Pos()), err)
			}
			out = append(out, p)
			return true
		})
	}
	if !slices.Contains(out, "POST /labs/{lab}/check") {
		t.Fatalf("read %d routes from the source, not the check route: the reading is broken", len(out))
	}
	return out
}
