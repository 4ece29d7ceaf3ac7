package grader

// The test harness of this package: the whole emulated AWS side (Lambda,
// S3, X-Ray behind the SigV4 endpoint) on a real SQLite database, with a
// sandbox engine on the shared real Docker backend, wired as serve wires it.

import (
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"gopkg.in/yaml.v3"

	"lambdalab/cloud/codepkg"
	"lambdalab/cloud/endpoint"
	"lambdalab/cloud/lambda"
	"lambdalab/cloud/s3"
	"lambdalab/cloud/xray"
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

// stack is one process's emulated AWS side.
type stack struct {
	db       *store.DB
	lambda   *lambda.Service
	s3       *s3.Service
	xray     *xray.Service
	endpoint *endpoint.Endpoint
	engine   *sandbox.Engine
	grader   *Grader
}

// newStack starts the services on a fresh database in a temporary folder
// and an engine on the shared Docker backend (skipping without Docker
// unless LAMBDALAB_REQUIRE_DOCKER=1).
func newStack(t testing.TB) *stack {
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
	st := &stack{db: db, lambda: svc, s3: objects, xray: xr, endpoint: ep, engine: engine}
	st.grader = New(Config{DB: db, Lambda: svc, S3: objects, XRay: xr, Endpoint: ep, ReadyLayer: testReadyLayer, FlushRecords: engine.Flush})
	return st
}

// env makes a scratch account on the stack and the Env acting in it, as a
// grading run does, with files as the submission folder.
func (st *stack) env(t testing.TB, files fs.FS) *Env {
	t.Helper()
	env, cleanup, err := st.grader.scratch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	env.Files = files
	env.GradingStart = time.Now()
	env.CheckStart = env.GradingStart
	return env
}

// files makes a submission folder from name → content.
func files(m map[string]string) fs.FS {
	fsys := fstest.MapFS{}
	for name, body := range m {
		fsys[name] = &fstest.MapFile{Data: []byte(body), Mode: 0o644}
	}
	return fsys
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
		readyLayer.path, readyLayer.err = docker.BuildXRayLayer(ctx, filepath.Join(cache, "lambdalab-test", "xray-layer"), os.Stderr)
	})
	return readyLayer.path, readyLayer.err
}

// runStep decodes a step's arguments from YAML as the loader would (every
// field known, Validate called), expands its values and runs it, within
// timeout.
func runStep(t *testing.T, env *Env, k Kind, kind, src string, timeout time.Duration) error {
	t.Helper()
	args := k.Args()
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(args); err != nil {
		t.Fatalf("decode %s {%s}: %v", kind, src, err)
	}
	if v, ok := args.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			t.Fatalf("%s {%s} is invalid: %v", kind, src, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	expanded, err := env.expandArgs(ctx, args)
	if err != nil {
		t.Fatalf("expand %s {%s}: %v", kind, src, err)
	}
	return k.Run(ctx, env, expanded)
}
