package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// selfSignedCert writes a certificate for 127.0.0.1 and its key as PEM
// files in dir, and returns their paths and the certificate.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "lambdalab test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

var httpsURLLine = regexp.MustCompile(`msg="lambdalab serving" url=(https://\S+)`)

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := selfSignedCert(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	logs := newLogSink()
	done := make(chan error, 1)
	env := map[string]string{"LAMBDALAB_SANDBOX": "off"}
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--aws-addr", "off", "--data", filepath.Join(dir, "data"),
			"--tls-cert", certFile, "--tls-key", keyFile}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	var base string
	deadline := time.After(20 * time.Second)
	for base == "" {
		if m := httpsURLLine.FindStringSubmatch(logs.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve exited before listening: %v\n%s", err, logs)
		case <-deadline:
			t.Fatalf("serve logged no https URL within 20s:\n%s", logs)
		case <-logs.wake:
		case <-time.After(50 * time.Millisecond):
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	resp, err := hc.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET %s/healthz over TLS: %v", base, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" || resp.TLS == nil {
		t.Errorf("GET /healthz over TLS: %d %q (TLS %v), want 200 ok", resp.StatusCode, body, resp.TLS != nil)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("a response over TLS carries no Strict-Transport-Security")
	}
	// Plain HTTP to the TLS port is refused, not served.
	plain, err := http.Get(strings.Replace(base, "https://", "http://", 1) + "/healthz")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Error("plain HTTP to the TLS listener was served")
		}
	}
}

func TestServeFlagErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSignedCert(t, dir)
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"cert without key", []string{"--tls-cert", certFile}, nil, "--tls-cert and --tls-key go together"},
		{"key without cert", []string{"--tls-key", keyFile}, nil, "--tls-cert and --tls-key go together"},
		{"missing cert", []string{"--tls-cert", missing, "--tls-key", keyFile}, nil, "--tls-cert: stat " + missing},
		{"missing key", []string{"--tls-cert", certFile, "--tls-key", missing}, nil, "--tls-key: stat " + missing},
		{"junk cert", []string{"--tls-cert", junk, "--tls-key", keyFile}, nil, "are not a PEM certificate and its private key"},
		{"key and cert swapped", []string{"--tls-cert", keyFile, "--tls-key", certFile}, nil, "are not a PEM certificate"},
		{"bad proxy flag", []string{"--trusted-proxies", "10.0.0.0/8,proxy.local"}, nil, `--trusted-proxies: trusted proxy "proxy.local"`},
		{"bad proxy env", nil, map[string]string{"LAMBDALAB_TRUSTED_PROXIES": "10.0.0.300"}, `"10.0.0.300"`},
		{"base URL without scheme", []string{"--base-url", "class.example.org"}, nil, "--base-url"},
		{"base URL with a path", []string{"--base-url", "https://example.org/class"}, nil, "root of its host"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--aws-addr", "off", "--data", data}, tt.args...)
			env := tt.env
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("serve %v = %v, want an error containing %q", tt.args, err, tt.want)
			}
			if _, err := os.Stat(data); err == nil {
				t.Error("a refused flag still created the data folder")
			}
		})
	}
}
