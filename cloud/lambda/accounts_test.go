package lambda

// Copying a learner's account into a scratch account and deleting it, end
// to end: the Go API, SQLite, the S3 service in process, and the engine on
// real Docker with real Python handlers.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lambdalab/cloud"
	s3svc "lambdalab/cloud/s3"
	"lambdalab/sandbox"
	"lambdalab/store"
)

// writeDir writes files (path → content) into a fresh folder.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		// As in pyFunction: no fork may inherit the open file.
		syscall.ForkLock.Lock()
		err := os.WriteFile(p, []byte(content), 0o644)
		syscall.ForkLock.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// s3Do sends one S3 request as account, from inside AWS as it were.
func s3Do(t *testing.T, objs *s3svc.Service, account, method, target string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequestWithContext(cloud.WithPrincipal(context.Background(), cloud.Principal{AccountID: account}),
		method, "http://localhost"+target, bytes.NewReader(body))
	w := httptest.NewRecorder()
	objs.ServeHTTP(w, r)
	if w.Code/100 != 2 {
		t.Fatalf("%s %s as %s: %d %s", method, target, account, w.Code, w.Body)
	}
	return w
}

// copySrc is the function of the copied account: it says which version it
// is, reads a word from its layer, and fails the first try of the S3 event
// for fail-once.txt.
func copySrc(version string) string {
	return pyPost + fmt.Sprintf(`from greeting import WORD

VERSION = %q

def handler(event, context):
    if "Records" in event:
        key = event["Records"][0]["s3"]["object"]["key"]
        print("s3 event for", key, "in version", VERSION)
        if key == "fail-once.txt" and int(post("/attempt", {})) == 1:
            raise ValueError("first try fails")
        return {"key": key}
    print("handling", json.dumps(event))
    return {"word": WORD, "version": VERSION, "arn": context.invoked_function_arn, "event": event}
`, version)
}

type copyAnswer struct {
	Word, Version, Arn string
	Event              map[string]any
}

func invokeAnswer(t *testing.T, l *lab, account, qualifier, payload string) (copyAnswer, *InvokeOutput) {
	t.Helper()
	out, err := l.svc.Invoke(context.Background(), account, InvokeInput{FunctionName: "fn", Qualifier: qualifier, Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("invoke fn:%s in %s: %v", qualifier, account, err)
	}
	if out.FunctionError != "" {
		t.Fatalf("invoke fn:%s in %s failed: %s\n%s", qualifier, account, out.Payload, out.Log)
	}
	var a copyAnswer
	if err := json.Unmarshal(out.Payload, &a); err != nil {
		t.Fatalf("answer %s: %v", out.Payload, err)
	}
	return a, out
}

func digestOf(t *testing.T, db *store.DB, account string) string {
	t.Helper()
	d, err := db.AccountDigest(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCopyAndDeleteAccount(t *testing.T) {
	sk := newSink()
	l := newLab(t, dockerBackend(t), sandbox.Config{AWS: sk}, Config{Clock: Clock{Scale: e2eScale}})
	ctx := context.Background()
	objs, err := s3svc.New(ctx, s3svc.Config{DB: l.db, Dir: filepath.Join(t.TempDir(), "s3"), Functions: l.svc, Notifier: l.svc})
	if err != nil {
		t.Fatal(err)
	}
	l.svc.SetObjectStore(objs)
	orig := l.acct

	// The learner's account: a function on a layer of its own, two
	// versions, a weighted alias that S3 may invoke, reserved and
	// provisioned concurrency, and a bucket that notifies the alias.
	layer, err := l.svc.PublishLayerVersion(ctx, orig, "words", PublishLayerInput{
		Content: FunctionCode{Dir: writeDir(t, map[string]string{"python/greeting.py": "WORD = 'hello from the layer'\n"})}})
	if err != nil {
		t.Fatal(err)
	}
	l.pyFunction(t, "fn", copySrc("one"))
	if _, err := l.svc.UpdateFunctionConfiguration(ctx, orig, "fn", ConfigInput{Layers: &[]string{layer.LayerVersionArn}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.PublishVersion(ctx, orig, "fn", PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.UpdateFunctionCode(ctx, orig, "fn", UpdateCodeInput{Dir: writeDir(t, map[string]string{"app.py": copySrc("two")}), Publish: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.CreateAlias(ctx, orig, "fn", AliasInput{Name: "live", FunctionVersion: ptr("1"),
		RoutingConfig: &RoutingConfig{map[string]float64{"2": 0.5}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.AddPermission(ctx, orig, "fn", "live", AddPermissionInput{StatementID: "s3", Action: "lambda:InvokeFunction",
		Principal: "s3.amazonaws.com", SourceArn: "arn:aws:s3:::photos", SourceAccount: orig}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.PutFunctionConcurrency(ctx, orig, "fn", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.PutProvisionedConcurrencyConfig(ctx, orig, "fn", "1", 1); err != nil {
		t.Fatal(err)
	}
	s3Do(t, objs, orig, http.MethodPut, "/photos", nil)
	big := bytes.Repeat([]byte("0123456789abcdef"), 20<<10) // 320 KiB: kept in a file
	for key, body := range map[string][]byte{"big.bin": big, "small.txt": []byte("small")} {
		if err := objs.PutObject(ctx, orig, "photos", key, body, "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
	}
	notification := func(account string) string {
		return `<NotificationConfiguration><CloudFunctionConfiguration><Id>to-fn</Id><CloudFunction>` +
			functionARN(account, "fn") + `:live</CloudFunction><Event>s3:ObjectCreated:*</Event></CloudFunctionConfiguration></NotificationConfiguration>`
	}
	s3Do(t, objs, orig, http.MethodPut, "/photos?notification", []byte(notification(orig)))
	want, _ := invokeAnswer(t, l, orig, "1", `{"q": 1}`)
	if err := l.engine.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := digestOf(t, l.db, orig)

	// The copy.
	scratchAcct, _, err := l.db.CreateScratchAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scratch := scratchAcct.ID
	var seen logSink
	stop := l.svc.WatchInvocations(scratch, seen.add)
	defer stop()
	if err := l.svc.CopyAccount(ctx, orig, scratch); err != nil {
		t.Fatalf("CopyAccount: %v", err)
	}
	if digestOf(t, l.db, orig) != before {
		t.Error("copying changed the original account")
	}

	got, out := invokeAnswer(t, l, scratch, "1", `{"q": 1}`)
	if got.Word != want.Word || got.Version != "one" || got.Version != want.Version || fmt.Sprint(got.Event) != fmt.Sprint(want.Event) {
		t.Errorf("the copy answers %+v, the original %+v", got, want)
	}
	if w := functionARN(scratch, "fn") + ":1"; got.Arn != w {
		t.Errorf("the copy's function runs as %s, want %s", got.Arn, w)
	}
	_, aliasOut := invokeAnswer(t, l, scratch, "live", `{"q": 2}`)
	if v := aliasOut.ExecutedVersion; v != "1" && v != "2" {
		t.Errorf("the copy's alias ran version %s, want 1 or 2", v)
	}

	// The copy's ARNs name the copy's account.
	cfg, err := l.svc.GetFunctionConfiguration(ctx, scratch, "fn", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg.FunctionArn, ":"+scratch+":") || !strings.Contains(cfg.Role, "::"+scratch+":") ||
		len(cfg.Layers) != 1 || cfg.Layers[0].Arn != layerARN(scratch, "words")+":1" {
		t.Errorf("the copy's configuration names %s, role %s, layers %+v; want the copy's account %s", cfg.FunctionArn, cfg.Role, cfg.Layers, scratch)
	}
	if _, err := l.svc.GetLayerVersion(ctx, scratch, "words", 1); err != nil {
		t.Errorf("the copy has no layer words:1: %v", err)
	}
	alias, err := l.svc.GetAlias(ctx, scratch, "fn", "live")
	if err != nil || alias.AliasArn != functionARN(scratch, "fn")+":live" || alias.FunctionVersion != "1" ||
		alias.RoutingConfig == nil || alias.RoutingConfig.AdditionalVersionWeights["2"] != 0.5 {
		t.Errorf("the copy's alias = %+v, %v", alias, err)
	}
	pol, err := l.svc.GetPolicy(ctx, scratch, "fn", "live")
	if err != nil || strings.Contains(pol.Policy, orig) || !strings.Contains(pol.Policy, `"AWS:SourceAccount":"`+scratch+`"`) {
		t.Errorf("the copy's policy = %s, %v; want the copy's account, not %s", pol.Policy, err, orig)
	}
	if ok, err := l.svc.ServiceAllowed(ctx, scratch, functionARN(scratch, "fn")+":live", "s3.amazonaws.com", "arn:aws:s3:::photos", scratch); !ok || err != nil {
		t.Errorf("the copy's policy does not let the copy's bucket invoke the alias: %v", err)
	}
	b, err := l.db.S3Bucket(ctx, scratch, "photos")
	if err != nil || !strings.Contains(string(b.Notification), functionARN(scratch, "fn")+":live") {
		t.Errorf("the copy's notification = %s, %v", b.Notification, err)
	}
	if c, err := l.svc.GetFunctionConcurrency(ctx, scratch, "fn"); err != nil || c.ReservedConcurrentExecutions == nil || *c.ReservedConcurrentExecutions != 3 {
		t.Errorf("the copy's reserved concurrency = %+v, %v", c, err)
	}
	if n, ok := l.engine.ReservedConcurrency(scratch, "fn"); !ok || n != 3 {
		t.Errorf("the engine reserves %d (%v) for the copy, want 3", n, ok)
	}
	waitFor(t, time.Minute, "the copy's provisioned instance", func() bool {
		p, err := l.svc.GetProvisionedConcurrencyConfig(ctx, scratch, "fn", "1")
		return err == nil && p.Status == "READY"
	})

	// The watcher saw both synchronous invokes.
	logs := seen.all()
	if len(logs) != 2 {
		t.Fatalf("the watcher saw %d invocations, want the 2 synchronous ones", len(logs))
	}
	first := logs[0]
	if first.Async || first.Attempt != 1 || first.Qualifier != "1" || first.RequestID != out.RequestID ||
		first.Record.Outcome != "success" || !bytes.Equal(first.Payload, out.Payload) ||
		!bytes.Contains(first.Log, []byte("START RequestId: "+out.RequestID)) || !bytes.Contains(first.Log, []byte("handling {\"q\": 1}")) ||
		!bytes.Contains(first.Log, []byte("REPORT RequestId: "+out.RequestID)) || first.Record.Cold != bytes.Contains(first.Log, []byte("Init Duration")) {
		t.Errorf("the watcher saw %+v\nlog:\n%s", first, first.Log)
	}
	if logs[1].Qualifier != "live" || logs[1].Record.Version != aliasOut.ExecutedVersion {
		t.Errorf("the alias invoke was seen as qualifier %q, version %s", logs[1].Qualifier, logs[1].Record.Version)
	}

	// Change the copy: code, a version, the alias, objects (which notify
	// the alias: one event fails its first try).
	if _, err := l.svc.UpdateFunctionCode(ctx, scratch, "fn", UpdateCodeInput{Dir: writeDir(t, map[string]string{"app.py": copySrc("three")}), Publish: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.UpdateAlias(ctx, scratch, "fn", "live", AliasInput{FunctionVersion: ptr("3"),
		RoutingConfig: &RoutingConfig{map[string]float64{"2": 0.1}}}); err != nil {
		t.Fatal(err)
	}
	if err := objs.PutObject(ctx, scratch, "photos", "fail-once.txt", []byte("hi"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	if err := objs.PutObject(ctx, scratch, "photos", "big.bin", []byte("overwritten in the copy"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	failOnce := func() []InvocationLog {
		var out []InvocationLog
		for _, l := range seen.all() {
			if l.Async && bytes.Contains(l.Log, []byte("s3 event for fail-once.txt")) {
				out = append(out, l)
			}
		}
		return out
	}
	waitFor(t, time.Minute, "both tries of the S3 event", func() bool { return len(failOnce()) == 2 })
	tries := failOnce()
	for i, tr := range tries {
		outcome := []string{"error", "success"}[i]
		if tr.Attempt != i+1 || tr.Record.Outcome != outcome || tr.RequestID != tries[0].RequestID || tr.Qualifier != "live" ||
			!bytes.Contains(tr.Log, []byte("REPORT RequestId: "+tr.RequestID)) {
			t.Errorf("try %d seen as attempt %d, %s, request %s, qualifier %q; want %d, %s, one request id, live\nlog:\n%s",
				i+1, tr.Attempt, tr.Record.Outcome, tr.RequestID, tr.Qualifier, i+1, outcome, tr.Log)
		}
	}
	if !bytes.Contains(tries[0].Log, []byte("first try fails")) || !bytes.Contains(tries[0].Payload, []byte("ValueError")) {
		t.Errorf("the failed try's log:\n%s\npayload %s", tries[0].Log, tries[0].Payload)
	}
	waitFor(t, time.Minute, "the copy's events to be settled", func() bool { return l.queueLen(t) == 0 })
	if err := l.engine.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if digestOf(t, l.db, orig) != before {
		t.Error("changing the copy changed the original account")
	}
	if o, err := l.db.S3Object(ctx, orig, "photos", "big.bin", false); err != nil || o.Size != int64(len(big)) || o.File == "" {
		t.Errorf("the original's big.bin = %+v, %v", o, err)
	}
	if a, err := l.svc.GetAlias(ctx, orig, "fn", "live"); err != nil || a.FunctionVersion != "1" {
		t.Errorf("the original's alias = %+v, %v; want it on version 1 still", a, err)
	}

	// Deleting: refused for a user's account; for the copy, no rows, no
	// instances, no reservation; the original goes on.
	u, err := l.db.CreateUser(ctx, "ann@example.com", "hash", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.svc.DeleteAccount(ctx, u.AccountID); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("DeleteAccount of a user's account = %v, want ErrInvalid", err)
	}
	if len(l.engine.Instances(scratch)) == 0 {
		t.Fatal("the copy has no warm instances to close")
	}
	if err := l.svc.DeleteAccount(ctx, scratch); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	if digestOf(t, l.db, scratch) != digestOf(t, l.db, "999999999998") {
		t.Error("the deleted account left rows behind")
	}
	if got := l.engine.Instances(scratch); len(got) != 0 {
		t.Errorf("the deleted account still has instances %+v", got)
	}
	if _, ok := l.engine.ReservedConcurrency(scratch, "fn"); ok {
		t.Error("the deleted account still has its reservation in the engine")
	}
	if err := l.svc.DeleteAccount(ctx, scratch); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a second DeleteAccount = %v, want ErrNotFound", err)
	}
	if a, _ := invokeAnswer(t, l, orig, "1", `{"q": 3}`); a.Version != "one" || a.Arn != functionARN(orig, "fn")+":1" {
		t.Errorf("after the copy's deletion the original answers %+v", a)
	}
	if got := l.engine.Instances(orig); len(got) == 0 {
		t.Error("the original lost its warm instances with the copy")
	}
}
