package sandbox

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// awsBackend's instances call their AWS handler during every invocation
// and once more after it, as a thread that outlives its invocation would.
type awsBackend struct {
	fakeBackend
	mu      sync.Mutex
	specs   map[string]InstanceSpec
	callers []Caller
}

func (b *awsBackend) Start(ctx context.Context, spec InstanceSpec) (Instance, error) {
	in, err := b.fakeBackend.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.specs[in.ID()] = spec
	b.mu.Unlock()
	return &awsInstance{Instance: in, b: b}, nil
}

type awsInstance struct {
	Instance
	b *awsBackend
}

func (i *awsInstance) call() {
	i.b.mu.Lock()
	h := i.b.specs[i.ID()].AWS
	i.b.mu.Unlock()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}

func (i *awsInstance) Invoke(ctx context.Context, inv Invocation) (Outcome, error) {
	i.call()
	return i.Instance.Invoke(ctx, inv)
}

// TestCallerRequestID checks that a request from inside an instance carries
// the invocation in flight, and none once it has ended.
func TestCallerRequestID(t *testing.T) {
	b := &awsBackend{fakeBackend: fakeBackend{invoke: echo}, specs: map[string]InstanceSpec{}}
	aws := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := CallerFrom(r.Context())
		b.mu.Lock()
		b.callers = append(b.callers, c)
		b.mu.Unlock()
	})
	e := newTestEngine(t, b, Config{AWS: aws})
	ctx := context.Background()
	var ids []string
	for range 2 {
		res, err := e.Invoke(ctx, InvokeInput{Function: testFunction()})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.RequestID)
	}
	// One instance served both (warm); a late call after them has no
	// invocation.
	inst := e.Instances("")
	if len(inst) != 1 {
		t.Fatalf("instances = %d, want 1", len(inst))
	}
	(&awsInstance{b: b, Instance: &fakeInstance{id: inst[0].ID}}).call()

	b.mu.Lock()
	defer b.mu.Unlock()
	want := []string{ids[0], ids[1], ""}
	if len(b.callers) != len(want) {
		t.Fatalf("AWS calls = %d, want %d", len(b.callers), len(want))
	}
	for i, c := range b.callers {
		if c.RequestID != want[i] || c.Function != "hello" || c.InstanceID != inst[0].ID {
			t.Errorf("call %d came from %+v, want function hello on %s with request id %q", i, c, inst[0].ID, want[i])
		}
	}
}
