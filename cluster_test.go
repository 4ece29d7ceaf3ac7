package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"lambdalab/store"
	"lambdalab/store/storetest"
)

// clusterStatus is a serve's answer to GET /_lambdalab/cluster.
type clusterStatus struct{ Role, Replica, Controller string }

var clusterStatusLine = regexp.MustCompile(`^role=(\w+) replica=(\S+) controller=(\S+)\n$`)

func tryClusterStatus(base string) (clusterStatus, error) {
	resp, err := http.Get(base + "/_lambdalab/cluster")
	if err != nil {
		return clusterStatus{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := clusterStatusLine.FindStringSubmatch(string(body))
	if resp.StatusCode != http.StatusOK || m == nil {
		return clusterStatus{}, fmt.Errorf("GET /_lambdalab/cluster: %d %q", resp.StatusCode, body)
	}
	return clusterStatus{Role: m[1], Replica: m[2], Controller: m[3]}, nil
}

func clusterStatusOf(t *testing.T, base string) clusterStatus {
	t.Helper()
	st, err := tryClusterStatus(base)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// clusterUser adds a user to the database at pgURL with `lambdalab user add`
// and returns the AWS keys `lambdalab user keys` prints for them.
func clusterUser(t testing.TB, pgURL, email, password string) map[string]string {
	t.Helper()
	return userIn(t, email, password, "--database", pgURL)
}

// userIn adds a user with `lambdalab user add` to the database that where
// names (--database URL or --data DIR) and returns the AWS keys `lambdalab
// user keys` prints for them.
func userIn(t testing.TB, email, password string, where ...string) map[string]string {
	t.Helper()
	if _, errOut, err := runCmd(t, nil, password+"\n", append([]string{"user", "add", "--email", email, "--password-stdin"}, where...)...); err != nil {
		t.Fatalf("user add: %v\n%s", err, errOut)
	}
	out, errOut, err := runCmd(t, nil, "", append([]string{"user", "keys", "--email", email}, where...)...)
	if err != nil {
		t.Fatalf("user keys: %v\n%s", err, errOut)
	}
	keys := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^export ([A-Z_]+)='([^']*)';$`).FindAllStringSubmatch(out, -1) {
		keys[m[1]] = m[2]
	}
	if keys["AWS_ACCESS_KEY_ID"] == "" || keys["AWS_SECRET_ACCESS_KEY"] == "" {
		t.Fatalf("user keys printed no key pair:\n%s", out)
	}
	return keys
}

// clusterRoleOf is what a serve's /_lambdalab/cluster says it is, or
// "unreachable".
func clusterRoleOf(t *testing.T, base string) string {
	t.Helper()
	st, err := tryClusterStatus(base)
	if err != nil {
		return "unreachable"
	}
	return st.Role
}

// TestClusterReplicaForwards runs two serves on one PostgreSQL database and
// one data folder (the sandbox off; cluster_e2e_test.go runs it on): the
// second is a replica that answers lessons itself and forwards the rest,
// signed AWS requests included, and takes over when the first stops.
func TestClusterReplicaForwards(t *testing.T) {
	pgURL := storetest.PostgresURL(t)
	data := t.TempDir()
	keys := clusterUser(t, pgURL, "member@example.com", "cluster password 1")

	// Both believe a proxy on loopback, as replicas behind one load
	// balancer share its address in --trusted-proxies.
	a := startServe(t, data, "--database", pgURL, "--trusted-proxies", "127.0.0.1")
	b := startServe(t, data, "--database", pgURL, "--trusted-proxies", "127.0.0.1")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("A's log:\n%s\nB's log:\n%s", a.Logs, b.Logs)
		}
	})
	if got := clusterRoleOf(t, a.URL); got != "controller" {
		t.Fatalf("the first serve is %s, want controller", got)
	}
	if got := clusterRoleOf(t, b.URL); got != "replica" {
		t.Fatalf("the second serve is %s, want replica", got)
	}
	// Author mode shares a database with no one.
	if _, _, err := runCmd(t, map[string]string{"LAMBDALAB_SANDBOX": "off"}, "", "serve", "--addr", "127.0.0.1:0", "--aws-addr", "off",
		"--data", t.TempDir(), "--database", pgURL, "--content", t.TempDir()); err == nil || !strings.Contains(err.Error(), "author mode (--content) runs on a serve of its own") {
		t.Errorf("author mode beside a controller = %v, want a refusal", err)
	}

	// Signing in is forwarded (the controller counts attempts); the cookie
	// it sets works on both, as sessions live in the database.
	u := newHTTPUser(t, b.URL)
	page := u.post("/login", url.Values{"email": {"member@example.com"}, "password": {"cluster password 1"}, "next": {"/account"}})
	if !strings.Contains(page, `data-testid="signed-in-as">member@example.com<`) {
		t.Fatalf("signing in through the replica did not sign in:\n%.800s", page)
	}
	if !regexp.MustCompile(`msg=request method=POST path=/login status=303 .*client=127.0.0.1`).MatchString(a.Logs.String()) {
		t.Errorf("the controller logged no forwarded sign-in:\n%s", a.Logs)
	}
	if strings.Contains(b.Logs.String(), "path=/login status=303") {
		t.Errorf("the replica answered the sign-in itself")
	}
	before := strings.Count(a.Logs.String(), "path=/lessons/")
	if home := u.get("/lessons/gb-seconds"); !strings.Contains(home, `data-testid="signed-in-as">member@example.com<`) {
		t.Errorf("a lesson on the replica does not show the signed-in user:\n%.800s", home)
	}
	if after := strings.Count(a.Logs.String(), "path=/lessons/"); after != before {
		t.Errorf("a lesson was forwarded to the controller; the replica serves lessons itself")
	}

	// The client's address survives forwarding: the load balancer's
	// X-Forwarded-For reaches the controller's request log. A client that
	// writes the replica's own headers is not believed.
	get := func(base, path string, h map[string]string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get(b.URL, "/account?via=lb", map[string]string{"X-Forwarded-For": "198.51.100.7"})
	get(a.URL, "/account?forged=1", map[string]string{tokenHeader: "guess", peerHeader: "203.0.113.9:1", "X-Forwarded-For": ""})
	forwarded := regexp.MustCompile(`path=/account status=\d+ .*client=198.51.100.7`)
	waitFor(t, 10*time.Second, "the forwarded client's address in the controller's log", func() bool { return forwarded.MatchString(a.Logs.String()) })
	if strings.Contains(a.Logs.String(), "203.0.113.9") {
		t.Errorf("the controller believed a client's own %s header", peerHeader)
	}

	// AWS requests go through with their signature: a bucket and an object
	// made through the replica are the controller's.
	ctx := context.Background()
	viaB := s3Client(b.AWSURL, keys)
	if _, err := viaB.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatalf("CreateBucket through the replica: %v", err)
	}
	body := strings.Repeat("cluster ", 20000) // bigger than one read
	if _, err := viaB.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("dir/a b+c.txt"), Body: strings.NewReader(body)}); err != nil {
		t.Fatalf("PutObject through the replica: %v", err)
	}
	readObject := func(base string) string {
		out, err := s3Client(base, keys).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("shared"), Key: aws.String("dir/a b+c.txt")})
		if err != nil {
			t.Fatalf("GetObject from %s: %v", base, err)
		}
		defer out.Body.Close()
		got, _ := io.ReadAll(out.Body)
		return string(got)
	}
	if got := readObject(a.AWSURL); got != body {
		t.Fatalf("the controller's object is %d bytes, want %d", len(got), len(body))
	}
	bad := s3Client(b.AWSURL, map[string]string{"AWS_ACCESS_KEY_ID": keys["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": "wrong" + keys["AWS_SECRET_ACCESS_KEY"][5:]})
	if _, err := bad.ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Errorf("a wrong signature through the replica = %v, want SignatureDoesNotMatch from the controller", err)
	}

	// The controller stops; the replica takes over and serves what it
	// forwarded: the session and the object are still there.
	if err := a.stop(); err != nil {
		t.Fatalf("stop the controller: %v", err)
	}
	stopped := time.Now()
	waitFor(t, 20*time.Second, "the replica to take over", func() bool { return clusterRoleOf(t, b.URL) == "controller" })
	t.Logf("took over %v after the controller stopped", time.Since(stopped).Round(time.Millisecond))
	if page := u.get("/account"); !strings.Contains(page, `data-testid="signed-in-as">member@example.com<`) {
		t.Errorf("after the takeover the session no longer signs in:\n%.800s", page)
	}
	if got := readObject(b.AWSURL); got != body {
		t.Errorf("after the takeover the object is %d bytes, want %d", len(got), len(body))
	}
	if !strings.Contains(b.Logs.String(), `msg="took over as controller"`) {
		t.Errorf("the replica did not log its takeover")
	}
}

// TestForwarderWaitsForController: a request forwarded while the recorded
// controller refuses connections waits and goes to the next one recorded,
// its body whole; once the wait is over the client gets a 503 that the AWS
// SDKs retry.
func TestForwarderWaitsForController(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.Target(t, "cluster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	deadURL := closed.URL
	closed.Close() // nothing listens there now
	var seen struct {
		body, host, token, peer string
	}
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen.body, seen.host, seen.token, seen.peer = string(b), r.Host, r.Header.Get(tokenHeader), r.Header.Get(peerHeader)
		w.WriteHeader(http.StatusCreated)
	}))
	defer live.Close()
	if err := db.SetController(ctx, store.Controller{Replica: "dead:1", WebURL: deadURL, Token: "old", Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	fwd := newForwarder(&controllerLink{db: db}, "web", func(c store.Controller) string { return c.WebURL }, slog.New(slog.DiscardHandler))
	go func() {
		time.Sleep(700 * time.Millisecond)
		db.SetController(ctx, store.Controller{Replica: "new:2", WebURL: live.URL, Token: "new", Since: time.Now()})
	}()
	body := strings.Repeat("x", 100_000)
	req := httptest.NewRequest("POST", "http://class.example.org/labs/l/deploy", strings.NewReader(body))
	req.Header.Set(peerHeader, "203.0.113.9:1") // a client's own: replaced
	rec := httptest.NewRecorder()
	fwd.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("forwarded request = %d %s, want the live controller's 201", rec.Code, rec.Body)
	}
	if len(seen.body) != len(body) || seen.host != "class.example.org" || seen.token != "new" || seen.peer != req.RemoteAddr {
		t.Errorf("the controller saw body %d bytes, host %q, token %q, peer %q; want %d bytes, the client's host, the new term's token, %q",
			len(seen.body), seen.host, seen.token, seen.peer, len(body), req.RemoteAddr)
	}
}

// TestControllerStopsWhenItsLockIsGone: a controller whose lock session
// ends while it runs (the database restarted, an operator ended it) may
// have a successor already, so it stops with an error a supervisor sees.
func TestControllerStopsWhenItsLockIsGone(t *testing.T) {
	pgURL := storetest.PostgresURL(t)
	s := startServe(t, t.TempDir(), "--database", pgURL)
	if n := storetest.EndLockSessions(t, pgURL); n != 1 {
		t.Fatalf("ended %d lock sessions, want the controller's one", n)
	}
	waitFor(t, 20*time.Second, "the controller to stop", func() bool {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
	if err := s.stop(); err == nil || !strings.Contains(err.Error(), "lost the controller lock") {
		t.Errorf("serve ended with %v, want the lost lock named", err)
	}
}

// TestAdvertisedURL: how the other serves are told to reach this one.
func TestAdvertisedURL(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	listen := func(addr string) net.Listener {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	loop, any := listen("127.0.0.1:0"), listen("0.0.0.0:0")
	_, loopPort, _ := net.SplitHostPort(loop.Addr().String())
	_, anyPort, _ := net.SplitHostPort(any.Addr().String())
	tests := []struct {
		flag, scheme string
		ln           net.Listener
		want, err    string
	}{
		{"", "http", loop, "http://127.0.0.1:" + loopPort, ""},
		{"", "https", any, "https://" + net.JoinHostPort(host, anyPort), ""},
		{"", "http", nil, "", ""}, // --aws-addr off: no endpoint to reach
		{"http://10.0.0.5:8080/", "http", loop, "http://10.0.0.5:8080", ""},
		{"https://class-1.internal", "http", loop, "https://class-1.internal", ""},
		{"10.0.0.5:8080", "http", loop, "", "is not an address"},
		{"http://10.0.0.5:8080/site", "http", loop, "", "is not an address"},
		{"http://10.0.0.5:8080?x=1", "http", loop, "", "is not an address"},
		{"ftp://10.0.0.5", "http", loop, "", "is not an address"},
	}
	for _, tt := range tests {
		got, err := advertisedURL(tt.flag, tt.scheme, tt.ln)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("advertisedURL(%q) = %q, %v; want an error containing %q", tt.flag, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("advertisedURL(%q, %s, %v) = %q, %v; want %q", tt.flag, tt.scheme, tt.ln, got, err, tt.want)
		}
	}
}

// TestClusterOfThree: when the controller of three stops, one replica
// takes over and the other forwards to the new controller; a controller
// whose advertised address leads to a replica gets a clear refusal, not a
// loop.
func TestClusterOfThree(t *testing.T) {
	pgURL := storetest.PostgresURL(t)
	data := t.TempDir()
	clusterUser(t, pgURL, "three@example.com", "three password 1")
	a := startServe(t, data, "--database", pgURL)
	b := startServe(t, data, "--database", pgURL)
	c := startServe(t, data, "--database", pgURL)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("A:\n%s\nB:\n%s\nC:\n%s", a.Logs, b.Logs, c.Logs)
		}
	})
	u := newHTTPUser(t, c.URL)
	u.post("/login", url.Values{"email": {"three@example.com"}, "password": {"three password 1"}, "next": {"/account"}})
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "one of the replicas to take over", func() bool {
		return clusterRoleOf(t, b.URL) == "controller" || clusterRoleOf(t, c.URL) == "controller"
	})
	next, other := b, c
	if clusterRoleOf(t, c.URL) == "controller" {
		next, other = c, b
	}
	if got := clusterRoleOf(t, other.URL); got != "replica" {
		t.Fatalf("the other serve is %s, want replica", got)
	}
	for _, s := range []*server{b, c} {
		u.base = s.URL
		if page := u.get("/account"); !strings.Contains(page, `data-testid="signed-in-as">three@example.com<`) {
			t.Errorf("the account page through %s does not sign in after the takeover", s.URL)
		}
	}
	before := strings.Count(next.Logs.String(), "path=/account status=200")
	u.base = other.URL
	u.get("/account")
	if after := strings.Count(next.Logs.String(), "path=/account status=200"); after != before+1 {
		t.Errorf("the replica's /account did not reach the new controller (%d answers before, %d after)", before, after)
	}

	// The new controller now claims the replica's address: a forwarded
	// request arrives at a replica, which refuses it instead of going round.
	db, err := store.Open(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cur, err := db.Controller(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cur.WebURL = other.URL
	if err := db.SetController(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the replica's cached row
	resp, err := http.Get(other.URL + "/account")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusLoopDetected || !strings.Contains(string(body), "--advertise-url") {
		t.Errorf("a request the controller's address sends back to a replica = %d %q, want 508 naming --advertise-url", resp.StatusCode, body)
	}
}
