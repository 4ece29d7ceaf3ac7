package xray

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lambdalab/sandbox"
	"lambdalab/store"
)

func newTestDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newAccount(t testing.TB, db *store.DB) string {
	t.Helper()
	a, _, err := db.CreateScratchAccount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func newService(t testing.TB, cfg Config) (*Service, *store.DB) {
	t.Helper()
	if cfg.DB == nil {
		cfg.DB = newTestDB(t)
	}
	s := New(cfg)
	t.Cleanup(func() { s.Close(context.Background()) })
	return s, cfg.DB
}

func flush(t testing.TB, s *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

var always = time.Unix(0, 0)

func farFuture() time.Time { return time.Now().Add(100 * 365 * 24 * time.Hour) }

func TestTraceAssembledOutOfOrder(t *testing.T) {
	s, db := newService(t, Config{})
	acct := newAccount(t, db)
	// Lambda's segments after the function's own subsegments, which came
	// innermost first: every child arrives before its parent.
	inv := LambdaInvocation{
		AccountID: acct, Function: "resize", Version: "$LATEST", RequestID: "req-1",
		Trace: LambdaTrace{TraceID: fxTrace, ServiceID: "1111111111111111", FunctionID: "2222222222222222", InvocationID: fxParent},
		Start: seconds(1717000000.0), End: seconds(1717000002.1),
		InitStart: seconds(1716999999.5), InitDuration: 400 * time.Millisecond,
		InvokeStart: seconds(1717000000.05), InvokeEnd: seconds(1717000002.0),
	}
	for _, d := range pythonDatagrams {
		if err := s.Datagram(acct, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Datagram(acct, []byte(goDatagram)); err != nil {
		t.Fatal(err)
	}
	// An orphan: its parent never arrives.
	orphan := header + `{"id":"dddddddddddddddd","name":"lost","start_time":1717000000.5,"end_time":1717000000.6,"type":"subsegment","trace_id":"` + fxTrace + `","parent_id":"eeeeeeeeeeeeeeee"}`
	// Two subsegments naming each other: a cycle is cut, not followed.
	cycA := header + `{"id":"aaaaaaaaaaaaaaa1","name":"cycA","start_time":1717000000.7,"end_time":1717000000.8,"type":"subsegment","trace_id":"` + fxTrace + `","parent_id":"aaaaaaaaaaaaaaa2"}`
	cycB := header + `{"id":"aaaaaaaaaaaaaaa2","name":"cycB","start_time":1717000000.7,"end_time":1717000000.8,"type":"subsegment","trace_id":"` + fxTrace + `","parent_id":"aaaaaaaaaaaaaaa1"}`
	for _, d := range []string{orphan, cycA, cycB} {
		if err := s.Datagram(acct, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordLambda(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	flush(t, s)

	tr, err := s.Trace(context.Background(), acct, fxTrace)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range tr.Segments {
		names = append(names, n.Name+map[bool]string{true: "(orphan)"}[n.Orphan])
	}
	// Sorted by start: the function segment starts with its init.
	if got, want := strings.Join(names, ","), "resize,resize,lost(orphan),cycA(orphan)"; got != want && got != "resize,resize,lost(orphan),cycB(orphan)" {
		t.Errorf("top level = %s, want %s", got, want)
	}
	fn, svc := tr.Segments[0], tr.Segments[1]
	if fn.Origin != "AWS::Lambda::Function" || svc.Origin != "AWS::Lambda" || fn.ParentID != svc.ID {
		t.Fatalf("function segment %s (parent %s), service segment %s %s", fn.Origin, fn.ParentID, svc.Origin, svc.ID)
	}
	got := tree(fn)
	want := "resize[Initialization[] Invocation[transform[S3[]] parse[] handle[dynamodb[] child2[]]] Overhead[]]"
	if got != want {
		t.Errorf("function tree\n got %s\nwant %s", got, want)
	}
	inv0 := fn.Children[1]
	if inv0.ID != fxParent || inv0.Duration != 1950*time.Millisecond {
		t.Errorf("Invocation %s lasted %v", inv0.ID, inv0.Duration)
	}
	transform := inv0.Children[0]
	if transform.Annotations["bucket"] != "in" || transform.Start != seconds(1717000000.100001) {
		t.Errorf("transform %+v", transform)
	}
	if !tr.HasFault || !tr.HasError || !tr.IsPartial || tr.Start != seconds(1716999999.5) {
		t.Errorf("trace flags fault %v error %v partial %v start %v", tr.HasFault, tr.HasError, tr.IsPartial, tr.Start)
	}
	// The document X-Ray would return embeds what arrived on its own.
	doc := string(fn.Document())
	for _, want := range []string{`"name":"transform"`, `"name":"S3"`, `"content_length"`, `"origin":"AWS::Lambda::Function"`} {
		if !strings.Contains(doc, want) {
			t.Errorf("function document lacks %s: %s", want, doc)
		}
	}
	if _, err := ParseDocument(fn.Document()); err != nil {
		t.Errorf("the assembled document does not parse: %v", err)
	}
}

func tree(n *Node) string {
	var parts []string
	for _, c := range n.Children {
		parts = append(parts, tree(c))
	}
	return n.Name + "[" + strings.Join(parts, " ") + "]"
}

func TestAccountsIsolated(t *testing.T) {
	s, db := newService(t, Config{})
	a, b := newAccount(t, db), newAccount(t, db)
	s.InstanceSink(sandbox.Caller{AccountID: a, Function: "f"}, []byte(hostSegment))
	flush(t, s)
	if sums, err := s.Traces(context.Background(), a, always, farFuture(), ""); err != nil || len(sums) != 1 {
		t.Fatalf("A's traces = %v, %v", sums, err)
	}
	if sums, err := s.Traces(context.Background(), b, always, farFuture(), ""); err != nil || len(sums) != 0 {
		t.Errorf("B sees %v, %v", sums, err)
	}
	if _, err := s.Trace(context.Background(), b, "1-5759e988-bd862e3fe1be46a994272793"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("B reading A's trace by id: %v, want ErrNotFound", err)
	}
	// The document's own aws.account_id (111122223333) does not matter
	// for an instance's datagram: the instance's account does.
	if sums, _ := s.Traces(context.Background(), "111122223333", always, farFuture(), ""); len(sums) != 0 {
		t.Errorf("the account named in the document got the trace")
	}
}

func TestBounds(t *testing.T) {
	s, db := newService(t, Config{MaxTraces: 3})
	acct := newAccount(t, db)
	big := header + `{"trace_id":"` + fxTrace + `","id":"defdfd9912dc5a56","start_time":1,"end_time":2,"name":"n","metadata":{"default":{"x":"` + strings.Repeat("x", MaxDocument) + `"}}}`
	if err := s.Datagram(acct, []byte(big)); !errors.Is(err, ErrInvalidDocument) {
		t.Errorf("oversized document: %v, want refused", err)
	}
	if err := s.PutDocument(context.Background(), acct, []byte(strings.TrimPrefix(big, header))); !errors.Is(err, ErrInvalidDocument) {
		t.Errorf("oversized document through the API: %v, want refused", err)
	}
	base := time.Now().Add(-time.Hour)
	var ids []string
	for i := 0; i < 5; i++ {
		id := NewTraceID(base)
		ids = append(ids, id)
		doc := `{"trace_id":"` + id + `","id":"` + NewID() + `","start_time":` + ftoa(epoch(base.Add(time.Duration(i)*time.Second))) + `,"end_time":` + ftoa(epoch(base.Add(time.Duration(i)*time.Second+time.Millisecond))) + `,"name":"n"}`
		if err := s.PutDocument(context.Background(), acct, []byte(doc)); err != nil {
			t.Fatal(err)
		}
		flush(t, s) // one batch each, so arrival order is certain
	}
	sums, err := s.Traces(context.Background(), acct, always, farFuture(), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range sums {
		got = append(got, x.ID)
	}
	if want := []string{ids[4], ids[3], ids[2]}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("kept %v, want the newest three %v", got, want)
	}
	if st := s.Stats(); st.Refused != 2 || st.Stored != 5 {
		t.Errorf("stats %+v, want 2 refused and 5 stored", st)
	}
}

func TestQueueFullDrops(t *testing.T) {
	// A writer that cannot keep up: the queue holds 2, the rest is dropped
	// without blocking the sender.
	s, db := newService(t, Config{Queue: 2, FlushEvery: time.Hour, Batch: 1 << 20})
	acct := newAccount(t, db)
	var dropped int
	for i := 0; i < 50; i++ {
		if err := s.Datagram(acct, []byte(hostSegment)); errors.Is(err, ErrQueueFull) {
			dropped++
		}
	}
	if dropped == 0 || s.Stats().Dropped != int64(dropped) {
		t.Errorf("dropped %d, stats %+v", dropped, s.Stats())
	}
}

func TestTraceHeader(t *testing.T) {
	h := NewTraceHeader(fxTrace, fxParent, true)
	if h != "Root="+fxTrace+";Parent="+fxParent+";Sampled=1" {
		t.Errorf("NewTraceHeader = %q", h)
	}
	if h := NewTraceHeader(fxTrace, fxParent, false); !strings.HasSuffix(h, ";Sampled=0") {
		t.Errorf("unsampled = %q", h)
	}
	for _, in := range []string{
		"Root=" + fxTrace + ";Parent=" + fxParent + ";Sampled=1",
		"Self=1-67891234-12456789abcdef012345678;Root=" + fxTrace + ";Parent=" + fxParent + ";Sampled=1;Lineage=a87bd80c:1|68fd508a:5;",
		" Root = " + fxTrace + " ; Parent=" + fxParent + ";Sampled=1;",
	} {
		got := ParseTraceHeader(in)
		if got != (TraceHeader{Root: fxTrace, Parent: fxParent, Sampled: "1"}) || !got.Valid() {
			t.Errorf("ParseTraceHeader(%q) = %+v", in, got)
		}
	}
	if ParseTraceHeader("Root=1-abc;Sampled=1").Valid() {
		t.Error("a malformed root is valid")
	}
	now := time.Unix(0x66581a80, 0)
	re := regexp.MustCompile(`^Root=1-66581a80-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$`)
	lt := NewLambdaTrace(now, "")
	if !re.MatchString(lt.Header()) || lt.Upstream != "" || ParseTraceHeader(lt.Header()).Parent != lt.InvocationID {
		t.Errorf("new trace header %q (upstream %q)", lt.Header(), lt.Upstream)
	}
	up := NewLambdaTrace(now, "Root="+fxTrace+";Parent="+fxParent+";Sampled=1;Lineage=x")
	if up.TraceID != fxTrace || up.Upstream != fxParent || up.InvocationID == fxParent {
		t.Errorf("continued trace %+v", up)
	}
}

func TestLambdaSegments(t *testing.T) {
	lt := NewLambdaTrace(time.Now(), "")
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	warm := LambdaInvocation{AccountID: "123456789012", Function: "f", Version: "3", RequestID: "r", Trace: lt,
		Start: t0, End: t0.Add(50 * time.Millisecond), InvokeStart: t0.Add(time.Millisecond), InvokeEnd: t0.Add(40 * time.Millisecond),
		Fault: true, ErrorType: "ValueError", ErrorMessage: "boom"}
	docs := LambdaSegments(warm)
	if len(docs) != 2 {
		t.Fatalf("%d documents, want 2", len(docs))
	}
	svc, err := ParseDocument(docs[0])
	if err != nil {
		t.Fatal(err)
	}
	fn, err := ParseDocument(docs[1])
	if err != nil {
		t.Fatal(err)
	}
	if svc.Name != "f" || svc.Origin != "AWS::Lambda" || svc.ID != lt.ServiceID || svc.ParentID != "" || svc.HTTP.Response.Status != 200 || svc.AWS["request_id"] != "r" {
		t.Errorf("service segment %s", docs[0])
	}
	if fn.Name != "f" || fn.Origin != "AWS::Lambda::Function" || fn.ParentID != lt.ServiceID || fn.ID != lt.FunctionID || !fn.Fault ||
		fn.ResourceARN != "arn:aws:lambda:us-east-1:123456789012:function:f:3" {
		t.Errorf("function segment %s", docs[1])
	}
	var names []string
	for _, s := range fn.Subsegments {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "Invocation,Overhead" || fn.Subsegments[0].ID != lt.InvocationID ||
		fn.Subsegments[0].Cause.Exceptions[0].Message != "boom" || fn.Cause.ExceptionID != fn.Subsegments[0].Cause.Exceptions[0].ID {
		t.Errorf("warm subsegments %v: %s", names, docs[1])
	}
	cold := warm
	cold.InitStart, cold.InitDuration, cold.Fault = t0.Add(-300*time.Millisecond), 250*time.Millisecond, false
	fn, _ = ParseDocument(LambdaSegments(cold)[1])
	if len(fn.Subsegments) != 3 || fn.Subsegments[0].Name != "Initialization" || seconds(fn.StartTime) != cold.InitStart ||
		seconds(fn.Subsegments[0].EndTime) != t0.Add(-50*time.Millisecond) || fn.Fault {
		t.Errorf("cold function segment %+v", fn)
	}
	throttled := LambdaInvocation{AccountID: "123456789012", Function: "f", Trace: lt, Start: t0, End: t0, StatusCode: 429, Throttle: true}
	if docs := LambdaSegments(throttled); len(docs) != 1 || !strings.Contains(string(docs[0]), `"throttle":true`) {
		t.Errorf("throttled: %q", docs)
	}
}

// hostUDP is a client of s's daemon port for host tools, listening until
// the test ends.
func hostUDP(t *testing.T, s *Service) net.Conn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr, err := s.ListenUDP(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestListenUDP(t *testing.T) {
	s, db := newService(t, Config{})
	acct := newAccount(t, db)
	c := hostUDP(t, s)
	named := strings.Replace(hostSegment, "111122223333", acct, 1)
	unnamed := header + `{"trace_id":"` + fxTrace + `","id":"defdfd9912dc5a56","start_time":1,"end_time":2,"name":"n"}`
	unknown := strings.Replace(hostSegment, "defdfd9912dc5a56", "defdfd9912dc5a57", 1) // names 111122223333, no such account
	for _, d := range []string{unnamed, unknown, named} {
		c.Write([]byte(d))
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Received < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	flush(t, s)
	sums, err := s.Traces(context.Background(), acct, always, farFuture(), "")
	if err != nil || len(sums) != 1 || sums[0].ID != "1-5759e988-bd862e3fe1be46a994272793" {
		t.Errorf("host datagram naming the account: %v, %v", sums, err)
	}
	if st := s.Stats(); st.Refused != 1 || st.Stored != 1 {
		t.Errorf("stats %+v: want the unnamed one refused and the unknown account's skipped", st)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
