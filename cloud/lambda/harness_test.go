package lambda

// The test harness of this package: a Service on a real database (SQLite,
// or PostgreSQL when LAMBDALAB_TEST_DATABASE=postgres) and package store,
// with an engine on either a stub backend (above the Docker seam) or the
// real Docker backend with the real runtime image.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"lambdalab/cloud/codepkg"
	"lambdalab/sandbox"
	"lambdalab/sandbox/docker/dockertest"
	"lambdalab/sandbox/runtimes"
	"lambdalab/store"
	"lambdalab/store/storetest"
)

// dockerBackend returns the shared Docker backend (see dockertest: it
// skips without Docker, and fails when LAMBDALAB_REQUIRE_DOCKER=1).
func dockerBackend(t testing.TB) sandbox.Backend {
	t.Helper()
	return dockertest.Backend(t)
}

// TestMain sweeps the tests' containers, then stops the PostgreSQL server
// that a LAMBDALAB_TEST_DATABASE=postgres run started.
func TestMain(m *testing.M) {
	code := m.Run()
	dockertest.Cleanup()
	storetest.Stop()
	os.Exit(code)
}

// stubBackend stands in for Docker above the Backend seam: its instances
// answer through the test's invoke func.
type stubBackend struct {
	invoke func(ctx context.Context, inv sandbox.Invocation) sandbox.Outcome
}

type stubInstance struct {
	id string
	b  *stubBackend
}

var stubSeq struct {
	sync.Mutex
	n int
}

func (b *stubBackend) Start(ctx context.Context, spec sandbox.InstanceSpec) (sandbox.Instance, error) {
	stubSeq.Lock()
	defer stubSeq.Unlock()
	stubSeq.n++
	return &stubInstance{id: "stub-" + strconv.Itoa(stubSeq.n), b: b}, nil
}

func (b *stubBackend) Sweep(ctx context.Context) error { return nil }

func (i *stubInstance) ID() string { return i.id }

func (i *stubInstance) Bind(ctx context.Context, b sandbox.Binding) (sandbox.InitResult, error) {
	return sandbox.InitResult{Status: sandbox.StatusSuccess, Duration: time.Millisecond}, nil
}

func (i *stubInstance) Invoke(ctx context.Context, inv sandbox.Invocation) (sandbox.Outcome, error) {
	start := time.Now()
	out := i.b.invoke(ctx, inv)
	out.Start = start
	if out.Done.IsZero() {
		out.Done = time.Now()
	}
	return out, nil
}

func (i *stubInstance) MaxMemoryUsed(ctx context.Context) (int64, error) { return 30 << 20, nil }

func (i *stubInstance) Close(ctx context.Context) (sandbox.CloseInfo, error) {
	return sandbox.CloseInfo{}, nil
}

// openTestDB opens target and closes it when the test ends.
func openTestDB(t testing.TB, target string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// lab is a Service with its database, package store and engine.
type lab struct {
	acct   string // the learner account the tests act in
	svc    *Service
	db     *store.DB
	target string // what db was opened from (storetest.Target)
	pkgs   *codepkg.Store
	engine *sandbox.Engine
}

// newLab starts a Service on a fresh database with an engine on backend.
// Clock and AsyncWorkers come from cfg; the AWS handler inside instances
// from ecfg.AWS.
func newLab(t testing.TB, backend sandbox.Backend, ecfg sandbox.Config, cfg Config) *lab {
	t.Helper()
	l := openLab(t, storetest.Target(t, "lambdalab.db"), nil, "", cfg)
	l.start(t, backend, ecfg)
	return l
}

// openLab opens the database at target (storetest.Target) and makes a Service on
// it without an engine. pkgs nil opens a package store in a temp folder;
// acct "" makes a fresh account to act in.
func openLab(t testing.TB, target string, pkgs *codepkg.Store, acct string, cfg Config) *lab {
	t.Helper()
	ctx := context.Background()
	db := openTestDB(t, target)
	if pkgs == nil {
		var err error
		if pkgs, err = codepkg.Open(filepath.Join(t.TempDir(), "packages")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pkgs.Close() })
	}
	cfg.DB, cfg.Packages = db, pkgs
	l := &lab{svc: New(cfg), db: db, target: target, pkgs: pkgs}
	l.acct = acct
	if acct == "" {
		a, _, err := db.CreateScratchAccount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l.acct = a.ID
	}
	t.Cleanup(l.svc.Close)
	return l
}

// start gives the Service an engine on backend, which starts async delivery.
func (l *lab) start(t testing.TB, backend sandbox.Backend, ecfg sandbox.Config) {
	t.Helper()
	ecfg.Runtime = func(rt string) ([]string, []string, error) {
		cmd, err := runtimes.Command(rt)
		return cmd, runtimes.Env(rt), err
	}
	l.engine = sandbox.New(l.db, backend, ecfg)
	// Cleanups run last first: the service stops before its engine.
	t.Cleanup(func() { l.engine.Close(context.Background()) })
	if err := l.svc.SetEngine(context.Background(), l.engine); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.svc.Close)
}

// pyFunction creates a python3.13 function whose app.py is src.
func (l *lab) pyFunction(t testing.TB, name, src string) {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	// No fork may inherit the descriptor while the file is open for
	// writing (sandbox/e2e_test.go explains the "text file busy" this avoids).
	syscall.ForkLock.Lock()
	err := os.WriteFile(filepath.Join(dir, "app.py"), []byte(src), 0o644)
	syscall.ForkLock.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	rt, handler, role, timeout := sandbox.RuntimePython313, "app.handler", "arn:aws:iam::"+l.acct+":role/lambdalab-test", 10
	_, err = l.svc.CreateFunction(context.Background(), l.acct, CreateFunctionInput{FunctionName: name,
		Code: FunctionCode{Dir: dir}, ConfigInput: ConfigInput{Runtime: &rt, Handler: &handler, Role: &role, Timeout: &timeout}})
	if err != nil {
		t.Fatalf("create function %s: %v", name, err)
	}
}

// eventConfig sets a function's async configuration.
func (l *lab) setEventConfig(t testing.TB, name string, retries, maxAge *int, onSuccess, onFailure string) {
	t.Helper()
	in := EventInvokeConfigInput{MaximumRetryAttempts: retries, MaximumEventAgeInSeconds: maxAge,
		DestinationConfig: &DestinationConfig{OnSuccess: Destination{onSuccess}, OnFailure: Destination{onFailure}}}
	if _, err := l.svc.PutFunctionEventInvokeConfig(context.Background(), l.acct, name, "", in, false); err != nil {
		t.Fatalf("put event invoke config of %s: %v", name, err)
	}
}

// event queues one asynchronous invocation and returns its request id.
func (l *lab) event(t testing.TB, name, payload string) string {
	t.Helper()
	out, err := l.svc.Invoke(context.Background(), l.acct, InvokeInput{FunctionName: name, InvocationType: Event, Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("invoke %s (Event): %v", name, err)
	}
	if out.StatusCode != 202 || out.RequestID == "" {
		t.Fatalf("invoke %s (Event) = status %d, request id %q; want 202 and an id", name, out.StatusCode, out.RequestID)
	}
	return out.RequestID
}

// queueLen is how many events the async queue holds.
func (l *lab) queueLen(t testing.TB) int {
	t.Helper()
	n, err := l.svc.async.queue.Len(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// arn is the unqualified ARN of one of the lab's functions.
func (l *lab) arn(name string) string { return functionARN(l.acct, name) }

// sink is the AWS endpoint inside the test's instances: functions POST to
// it what they want the test to see. /attempt answers how many times the
// calling function has asked (its attempt number, whatever instance it
// runs on); any other path is recorded.
type sink struct {
	mu       sync.Mutex
	attempts map[string]int
	posts    chan sinkPost
}

type sinkPost struct {
	Function string
	Path     string
	Body     []byte
}

func newSink() *sink { return &sink{attempts: map[string]int{}, posts: make(chan sinkPost, 1000)} }

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, ok := sandbox.CallerFrom(r.Context())
	if !ok {
		http.Error(w, "no caller", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.URL.Path == "/attempt" {
		s.mu.Lock()
		s.attempts[c.Function]++
		n := s.attempts[c.Function]
		s.mu.Unlock()
		fmt.Fprint(w, n)
		return
	}
	select {
	case s.posts <- sinkPost{Function: c.Function, Path: r.URL.Path, Body: body}:
	default:
		http.Error(w, "sink full", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprint(w, "ok")
}

// next waits for the next post of function fn to path.
func (s *sink) next(t testing.TB, d time.Duration, fn, path string) []byte {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case p := <-s.posts:
			if p.Function == fn && p.Path == path {
				return p.Body
			}
			t.Logf("sink: ignoring %s from %s: %s", p.Path, p.Function, p.Body)
		case <-timer.C:
			t.Fatalf("no POST %s from %s within %v", path, fn, d)
			return nil
		}
	}
}

// pyPost is Python for a post(path, body) helper that reaches the sink.
const pyPost = `import json, os, urllib.request

def post(path, body):
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.read().decode()
`
