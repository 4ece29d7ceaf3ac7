package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeSignupFlags: a bad --signup or --signup-domain stops serve
// before it touches the data folder, and --signup closed admits the first
// user only.
func TestServeSignupFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--signup", "invites"}, `--signup: sign-up mode "invites"`},
		{[]string{"--signup-domain", "not a domain"}, "--signup-domain"},
	} {
		data := filepath.Join(t.TempDir(), "data")
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--aws-addr", "off", "--data", data}, tt.args...)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := run(ctx, args, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("serve %v = %v, want an error containing %q", tt.args, err, tt.want)
		}
		if _, err := os.Stat(data); err == nil {
			t.Errorf("serve %v created the data folder", tt.args)
		}
	}

	s := startServe(t, t.TempDir(), "--signup", "closed")
	newHTTPUser(t, s.URL).post("/signup", url.Values{"email": {"teacher@example.com"}, "password": {"teacher horse battery"}})
	resp, err := http.PostForm(s.URL+"/signup", url.Values{"email": {"late@example.com"}, "password": {"student horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "Sign-up is closed") {
		t.Errorf("second sign-up with --signup closed: %d, want 403 and the closed page", resp.StatusCode)
	}
}
