package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadOrCreateCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nodes")
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "ca-key.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("ca-key.pem: %v, %v; want mode 0600", st.Mode(), err)
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.CertPEM()) != string(ca.CertPEM()) {
		t.Error("a second LoadOrCreateCA made another CA instead of loading the first")
	}
	// A certificate issued by the first load verifies under the second.
	cert, _, err := ca.IssueNode("node-a")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := parseCert(cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: again.pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("node certificate does not verify against the reloaded CA: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: again.pool()}); err == nil {
		t.Error("a node certificate verifies as a server certificate: a node could pose as the server")
	}
	// Half a CA is refused rather than silently replaced.
	os.Remove(filepath.Join(dir, "ca.pem"))
	if _, err := LoadOrCreateCA(dir); err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("LoadOrCreateCA with the key alone = %v, want a refusal", err)
	}
}

func TestNodeNames(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ok   bool
	}{
		{"node-a", true},
		{"ip-10-0-1-17.eu-west-1.compute.internal", true},
		{"a", true},
		{strings.Repeat("a", 63), true},
		{"", false},
		{"Node-A", false},
		{"-node", false},
		{"node-", false},
		{"a..b", false},
		{"a_b", false},
		{"../evil", false},
		{strings.Repeat("a", 64), false},
		{strings.Repeat("a.", 127) + "a", false}, // 255 characters
	}
	for _, tt := range tests {
		_, _, err := ca.IssueNode(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("IssueNode(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// TestLinkAuthentication dials the Hub with wrong certificates and checks
// each is refused by the TLS handshake (an alert from the server, or the
// agent's own verification), not by a timeout; then with the right one.
func TestLinkAuthentication(t *testing.T) {
	r := newRig(t)
	other, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hi := hello{Version: protocolVersion}
	dial := func(conf *tls.Config, addr string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		conn, _, err := dialLink(ctx, addr, conf, hi)
		if err == nil {
			conn.Close()
		}
		if ctx.Err() != nil {
			t.Errorf("dial timed out (%v): want a refusal", err)
		}
		return err
	}
	// remoteAlert is the server's refusal: a TLS alert read from it.
	remoteAlert := func(err error, want string) {
		t.Helper()
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "remote error" || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want the server's TLS alert %q", err, want)
		}
	}

	t.Run("client certificate of another CA", func(t *testing.T) {
		cert, key, err := other.IssueNode("node-x")
		if err != nil {
			t.Fatal(err)
		}
		conf, err := AgentTLS(r.ca.CertPEM(), cert, key)
		if err != nil {
			t.Fatal(err)
		}
		remoteAlert(dial(conf, r.addr), "unknown certificate authority")
	})
	t.Run("no client certificate", func(t *testing.T) {
		conf := r.agentTLS(t, "node-x")
		conf.Certificates = nil
		remoteAlert(dial(conf, r.addr), "certificate required")
	})
	t.Run("server certificate of another CA", func(t *testing.T) {
		conf, err := other.ServerTLS([]string{"127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		addr := serveTLS(t, conf)
		err = dial(r.agentTLS(t, "node-x"), addr)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Errorf("got %v, want the agent to refuse a server certificate of an unknown authority", err)
		}
	})
	t.Run("a client certificate posing as the server", func(t *testing.T) {
		// Signed by the right CA and naming the right address, but made
		// for clients only, as IssueNode makes them: a node that holds one
		// cannot pose as the server to other nodes.
		cert, key, err := r.ca.issue(&x509.Certificate{
			Subject:     pkix.Name{CommonName: "node-evil"},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		addr := serveTLS(t, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair}})
		err = dial(r.agentTLS(t, "node-x"), addr)
		var invalid x509.CertificateInvalidError
		if !errors.As(err, &invalid) || invalid.Reason != x509.IncompatibleUsage {
			t.Errorf("got %v, want the agent to refuse a certificate not made for a server", err)
		}
	})
	t.Run("a common name that is not a node name", func(t *testing.T) {
		// IssueNode refuses such names; a CA key holder could still sign
		// one, and the Hub must not take it as a node's identity.
		cert, key, err := r.ca.issue(&x509.Certificate{
			Subject:     pkix.Name{CommonName: "../../evil"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		conf := r.agentTLS(t, "node-x")
		conf.Certificates = []tls.Certificate{pair}
		if err := dial(conf, r.addr); err == nil || !strings.Contains(err.Error(), "not a DNS subdomain") {
			t.Errorf("got %v, want the Hub to refuse the name", err)
		}
	})
	if n := r.hub.Nodes(); len(n) != 0 {
		t.Fatalf("after refusals the Hub has nodes %v", n)
	}

	t.Run("the right certificate", func(t *testing.T) {
		conn, ans, err := dialLink(context.Background(), r.addr, r.agentTLS(t, "node-a"), hello{Version: protocolVersion, InitBinary: "/srv/init"})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if ans.Node != "node-a" {
			t.Errorf("hello answer names %q, want node-a", ans.Node)
		}
		n := r.node(t, "node-a")
		if n.InitBinary() != "/srv/init" {
			t.Errorf("InitBinary = %q, want /srv/init from the hello", n.InitBinary())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.hub.WaitNodes(ctx, 1); err != nil {
			t.Error(err)
		}
	})
	t.Run("another protocol version", func(t *testing.T) {
		_, _, err := dialLink(context.Background(), r.addr, r.agentTLS(t, "node-b"), hello{Version: protocolVersion + 1})
		if err == nil || !strings.Contains(err.Error(), "protocol") {
			t.Errorf("got %v, want a refusal naming the protocol version", err)
		}
	})
}

// serveTLS answers TLS on a loopback port with conf and returns the port's
// address.
func serveTLS(t *testing.T, conf *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}
