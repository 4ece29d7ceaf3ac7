package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func runXRayCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	err = run(ctx, append([]string{"xray-layer"}, args...), func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// seedXRayLayerCache copies the pins, .debs and zip that sandbox/docker's
// tests keep in the user cache into dir, so that this test reuses them
// instead of fetching from Debian's archive again. Without them (a fresh
// machine) the command builds the layer itself.
func seedXRayLayerCache(t *testing.T, dir string) {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		return
	}
	src := filepath.Join(cache, "lambdalab-test", "xray-layer")
	files, _ := filepath.Glob(filepath.Join(src, "*.*"))
	debs, _ := filepath.Glob(filepath.Join(src, "debs", "*.deb"))
	for _, f := range append(files, debs...) {
		rel, _ := filepath.Rel(src, f)
		if strings.HasSuffix(rel, ".lock") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, rel), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestXRayLayerCommand(t *testing.T) {
	requireDocker(t)
	data := filepath.Join(t.TempDir(), "data")
	seedXRayLayerCache(t, filepath.Join(data, "cache", "xray-layer"))
	if _, stderr, err := runUserCmd(t, "a long enough password\n", "add", "--email", "ann@example.com", "--password-stdin", "--data", data); err != nil {
		t.Fatalf("user add: %v\n%s", err, stderr)
	}

	out := filepath.Join(t.TempDir(), "layer.zip")
	stdout, stderr, err := runXRayCmd(t, "--out", out, "--data", data, "--publish", "--email", "ann@example.com")
	if err != nil {
		t.Fatalf("xray-layer --publish: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	zipData, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(zipData)
	sum := base64.StdEncoding.EncodeToString(h[:])
	for _, want := range []string{
		"CodeSha256 " + sum,
		":layer:" + xrayLayerName + ":1 (CodeSha256 " + sum + ")",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stdout, "wrote "+out+": "+strconv.Itoa(len(zipData))+" bytes") {
		t.Errorf("output does not give the size %d:\n%s", len(zipData), stdout)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zr.Open("python/aws_xray_sdk/__init__.py"); err != nil {
		t.Errorf("the zip lacks python/aws_xray_sdk/__init__.py: %v", err)
	}
	if d := xrayLayerDescription(zipData); !strings.Contains(d, "0.95-") {
		t.Errorf("description %q does not name the SDK's Debian version", d)
	}

	db := openUserTestDB(t, data)
	u, err := db.UserByEmail(context.Background(), "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	lv, err := db.LayerVersion(context.Background(), u.AccountID, xrayLayerName, 1)
	if err != nil {
		t.Fatalf("no published layer version in %s's account: %v", u.AccountID, err)
	}
	if lv.CodeSha256 != sum || lv.CodeSize != int64(len(zipData)) {
		t.Errorf("published CodeSha256 %s size %d, want %s size %d", lv.CodeSha256, lv.CodeSize, sum, len(zipData))
	}

	// Again, from the cache, to the default file in the working directory:
	// the same bytes.
	t.Chdir(t.TempDir())
	stdout, stderr, err = runXRayCmd(t, "--data", data)
	if err != nil {
		t.Fatalf("xray-layer: %v\n%s%s", err, stdout, stderr)
	}
	again, err := os.ReadFile("aws-xray-sdk-layer.zip")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, zipData) || !strings.Contains(stdout, "is ready") {
		t.Errorf("second run did not reuse the cached layer:\n%s", stdout)
	}
}

func TestXRayLayerCommandRejectsBadInput(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"publish without email", []string{"--publish"}, "--publish needs --email"},
		{"email without publish", []string{"--email", "a@example.com"}, "--email only goes with --publish"},
		{"extra argument", []string{"now"}, `unexpected argument "now"`},
		{"no database", []string{"--data", data, "--publish", "--email", "a@example.com"}, "no database at"},
		{"unknown flag", []string{"--fast"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runXRayCmd(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("xray-layer %v: error %v, want one containing %q", tt.args, err, tt.want)
			}
		})
	}
	if ents, _ := os.ReadDir(data); len(ents) > 0 {
		t.Errorf("rejected commands left %d entries in the data folder", len(ents))
	}
	var out bytes.Buffer
	run(context.Background(), []string{"help"}, func(string) string { return "" }, nil, &out, &out)
	if !strings.Contains(out.String(), "lambdalab xray-layer") {
		t.Errorf("usage does not list xray-layer:\n%s", out.String())
	}
}
