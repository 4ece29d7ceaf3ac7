package web

// The lab workspace's test stack: the site with the whole emulated AWS side
// behind it (Lambda, S3 and X-Ray behind the SigV4 endpoint), a sandbox
// engine on the shared real Docker backend, the embedded course and labs,
// and the grading queue, wired as serve wires them.

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lambdalab/cloud/codepkg"
	"lambdalab/cloud/endpoint"
	"lambdalab/cloud/lambda"
	"lambdalab/cloud/s3"
	"lambdalab/cloud/xray"
	"lambdalab/content"
	"lambdalab/grader"
	"lambdalab/grader/grading"
	"lambdalab/grader/queue"
	"lambdalab/labs"
	"lambdalab/sandbox"
	"lambdalab/sandbox/docker"
	"lambdalab/sandbox/docker/dockertest"
	"lambdalab/sandbox/runtimes"
	"lambdalab/store"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dockertest.Cleanup()
	os.Exit(code)
}

// labSite is the site with labs that really run.
type labSite struct {
	*testSite
	lambda   *lambda.Service
	s3       *s3.Service
	xray     *xray.Service
	endpoint *endpoint.Endpoint
	engine   *sandbox.Engine
	grading  *grading.Grading
	labs     []*labs.Lab
}

var embedded struct {
	once   sync.Once
	course *content.Course
	labs   []*labs.Lab
	err    error
}

// embeddedCourse is the course and labs lambdalab ships, loaded once.
func embeddedCourse(t testing.TB) (*content.Course, []*labs.Lab) {
	t.Helper()
	embedded.once.Do(func() {
		embedded.course, embedded.err = content.Load(content.Embedded())
		if embedded.err == nil {
			embedded.labs, embedded.err = labs.Load(labs.Embedded(), labs.Options{Kinds: grader.LabKinds()})
		}
	})
	if embedded.err != nil {
		t.Fatalf("load the embedded course and labs: %v", embedded.err)
	}
	return embedded.course, embedded.labs
}

// newLabSite starts the whole stack on a fresh database in a temporary
// folder (skipping without Docker unless LAMBDALAB_REQUIRE_DOCKER=1).
// mutate may change the site's Config before it starts.
func newLabSite(t testing.TB, mutate func(*Config)) *labSite {
	t.Helper()
	backend := dockertest.Backend(t)
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "lambdalab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pkgs, err := codepkg.Open(filepath.Join(dir, "packages"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pkgs.Close() })
	logger := slog.New(slog.DiscardHandler)
	xr := xray.New(xray.Config{DB: db})
	t.Cleanup(func() { xr.Close(context.Background()) })
	svc := lambda.New(lambda.Config{DB: db, Packages: pkgs, Clock: lambda.Clock{Scale: 60}, XRay: xr})
	objects, err := s3.New(ctx, s3.Config{DB: db, Dir: filepath.Join(dir, "s3"), Functions: svc, Notifier: svc})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetObjectStore(objects)
	lambdaAPI := svc.Handler()
	ep := endpoint.New(endpoint.Config{
		DB:       db,
		Services: map[string]http.Handler{"lambda": lambdaAPI, "s3": objects, "xray": xr.Handler()},
		Unsigned: map[string]http.Handler{"/_lambdalab/code/": lambdaAPI},
	})
	engine := sandbox.New(db, backend, sandbox.Config{
		Prestart: 1,
		Runtime: func(rt string) ([]string, []string, error) {
			cmd, err := runtimes.Command(rt)
			return cmd, runtimes.Env(rt), err
		},
		AWS:  ep.Instance(),
		XRay: xr.InstanceSink,
	})
	// Cleanups run last first: the service stops before its engine.
	t.Cleanup(func() { engine.Close(context.Background()) })
	if err := svc.SetEngine(ctx, engine); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)

	course, all := embeddedCourse(t)
	g := grader.New(grader.Config{DB: db, Lambda: svc, S3: objects, XRay: xr, Endpoint: ep, ReadyLayer: testReadyLayer, FlushRecords: engine.Flush, Logger: logger})
	gr := grading.New(db, g, all, queue.Config{Workers: 2}, logger)
	if err := gr.Queue().Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gr.Queue().Close(context.Background()) })

	logs := &syncBuffer{}
	cfg := Config{
		DB:     db,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Course: course,
		Labs:   all,
		// Uploads of a deployment package are larger than a form.
		MaxBodyBytes: 64 << 10,
		Cloud: &Cloud{
			Lambda:   svc,
			Endpoint: ep,
			XRay:     xr,
			Engine:   func() *sandbox.Engine { return engine },
			Labs:     func() LabRunner { return gr },
		},
		XRayLayer: func() (string, bool) {
			p, err := testReadyLayer(context.Background(), "xray-sdk")
			return p, err == nil
		},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	ts := httptest.NewServer(s.Routes())
	t.Cleanup(func() {
		s.Close()
		ts.CloseClientConnections()
		ts.Close()
	})
	site := &testSite{t: t, srv: s, db: db, ts: ts, log: logs}
	return &labSite{testSite: site, lambda: svc, s3: objects, xray: xr, endpoint: ep, engine: engine, grading: gr, labs: all}
}

// lab is the embedded lab with id.
func (ls *labSite) lab(id string) *labs.Lab {
	ls.t.Helper()
	for _, l := range ls.labs {
		if l.ID == id {
			return l
		}
	}
	ls.t.Fatalf("no lab %s", id)
	return nil
}

// student signs up a new learner and returns their browser and record.
func (ls *labSite) student(email string) (*client, store.User) {
	ls.t.Helper()
	c := ls.client()
	c.signup(email, "correct horse battery")
	u, err := ls.db.UserByEmail(context.Background(), email)
	if err != nil {
		ls.t.Fatalf("user %s: %v", email, err)
	}
	return c, u
}

// eventually retries f until it returns "" or timeout passes, then fails
// with f's last complaint.
func eventually(t testing.TB, timeout time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var readyLayer struct {
	once sync.Once
	path string
	err  error
}

// testReadyLayer builds the ready X-Ray layer once per test binary, in the
// user cache that sandbox/docker's own tests share, so it is fetched from
// Debian's archive at most once per machine.
func testReadyLayer(ctx context.Context, name string) (string, error) {
	if name != "xray-sdk" {
		return "", os.ErrNotExist
	}
	readyLayer.once.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			readyLayer.err = err
			return
		}
		readyLayer.path, readyLayer.err = docker.BuildXRayLayer(ctx, filepath.Join(cache, "lambdalab-test", "xray-layer"), io.Discard)
	})
	return readyLayer.path, readyLayer.err
}

// sseEvents reads a server-sent event stream until want returns true for
// an event (name and data) or timeout passes; it returns every event read.
func sseEvents(t testing.TB, c *client, path string, timeout time.Duration, want func(name, data string) bool) [][2]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d\n%.1000s", path, resp.StatusCode, b)
	}
	var got [][2]string
	var name string
	var data []string
	buf := make([]byte, 0, 64<<10)
	rd := io.Reader(resp.Body)
	tmp := make([]byte, 4096)
	for {
		n, err := rd.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for {
			i := strings.Index(string(buf), "\n")
			if i < 0 {
				break
			}
			line := strings.TrimSuffix(string(buf[:i]), "\r")
			buf = buf[i+1:]
			switch {
			case line == "":
				if name != "" || len(data) > 0 {
					ev := [2]string{name, strings.Join(data, "\n")}
					got = append(got, ev)
					if want(ev[0], ev[1]) {
						return got
					}
				}
				name, data = "", nil
			case strings.HasPrefix(line, "event:"):
				name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
			}
		}
		if err != nil {
			t.Fatalf("GET %s: stream ended (%v) before the wanted event; got %q", path, err, got)
		}
	}
}
