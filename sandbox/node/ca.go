package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Lifetimes of what the CA signs. A node certificate is handed to an
// operator once, so it lasts; the server's is reissued in memory before it
// runs out (ServerTLS).
const (
	caLifetime     = 20 * 365 * 24 * time.Hour
	nodeLifetime   = 5 * 365 * 24 * time.Hour
	serverLifetime = 90 * 24 * time.Hour
	serverRenew    = 30 * 24 * time.Hour // reissue when less than this is left
	// clockSkew backdates every certificate, so that a node whose clock is
	// a little behind the server's does not refuse a fresh one.
	clockSkew = time.Hour
)

// CA is the lambdalab node CA: it signs the node agents' client
// certificates and the server's certificate of the node listener, and both
// ends trust only it. A node's name is the CommonName it signed.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey

	mu     sync.Mutex
	server map[string]*tls.Certificate // by the sorted host list
}

// LoadOrCreateCA reads the CA from dir (ca.pem, and ca-key.pem, which only
// its owner may read), or makes one there, with the folder, when neither
// file exists. One file without the other is an error: a CA made afresh
// would silently disown every node certificate issued so far.
func LoadOrCreateCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		ca, err := parseCA(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("node ca in %s: %w", dir, err)
		}
		return ca, nil
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return createCA(dir, certPath, keyPath)
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return nil, fmt.Errorf("node ca: %w", certErr)
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return nil, fmt.Errorf("node ca: %w", keyErr)
	}
	return nil, fmt.Errorf("node ca in %s: ca.pem and ca-key.pem must both be there or both be missing", dir)
}

func createCA(dir, certPath, keyPath string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("node ca: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "lambdalab node CA", Organization: []string{"lambdalab"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it signs leaves only
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("node ca: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("node ca: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("node ca: %w", err)
	}
	// The key first: a crash between the two leaves a key without a
	// certificate, which LoadOrCreateCA refuses, rather than the reverse.
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("node ca: %w", err)
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("node ca: %w", err)
	}
	return parseCA(certPEM, keyPEM)
}

func parseCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, errors.New("ca.pem is not a CA certificate")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("ca-key.pem holds no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca-key.pem: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("ca-key.pem is not the key of ca.pem")
	}
	return &CA{cert: cert, certPEM: certPEM, key: key, server: make(map[string]*tls.Certificate)}, nil
}

func parseCert(certPEM []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

// CertPEM is the CA's certificate, which every node agent is given.
func (ca *CA) CertPEM() []byte { return slices.Clone(ca.certPEM) }

func (ca *CA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// IssueNode signs a client certificate for the node called name, which must
// be a valid Kubernetes node name (a DNS subdomain): it is the node's
// identity on the link, and the name its Pods are placed by. The
// certificate can only authenticate a client, so a node cannot pose as the
// server to another node.
func (ca *CA) IssueNode(name string) (certPEM, keyPEM []byte, err error) {
	if err := validNodeName(name); err != nil {
		return nil, nil, err
	}
	return ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: name, Organization: []string{"lambdalab nodes"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, nodeLifetime)
}

func (ca *CA) issue(tmpl *x509.Certificate, life time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate: %w", err)
	}
	now := time.Now()
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = now.Add(-clockSkew)
	tmpl.NotAfter = now.Add(life)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate for %s: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// ServerTLS is the configuration of the server's node listener: TLS 1.3
// only, a certificate for hosts (DNS names or IP addresses, as the agents
// dial them) signed by the CA and reissued in memory before it expires, and
// a client certificate from the CA required of every agent.
func (ca *CA) ServerTLS(hosts []string) (*tls.Config, error) {
	if len(hosts) == 0 {
		return nil, errors.New("server tls: no host names for the certificate")
	}
	hosts = slices.Clone(hosts)
	slices.Sort(hosts)
	if _, err := ca.serverCert(hosts); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  ca.pool(),
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return ca.serverCert(hosts)
		},
	}, nil
}

// serverCert returns the cached certificate for hosts, or a new one when
// there is none or it is near its end.
func (ca *CA) serverCert(hosts []string) (*tls.Certificate, error) {
	k := strings.Join(hosts, ",")
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c := ca.server[k]; c != nil && time.Until(c.Leaf.NotAfter) > serverRenew {
		return c, nil
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0], Organization: []string{"lambdalab"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	certPEM, keyPEM, err := ca.issue(tmpl, serverLifetime)
	if err != nil {
		return nil, fmt.Errorf("server tls: %w", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("server tls: %w", err)
	}
	ca.server[k] = &c
	return &c, nil
}

// AgentTLS is a node agent's side of the link: its certificate and key
// (from IssueNode), and the CA as the only authority it trusts for the
// server. TLS 1.3 only.
func AgentTLS(caPEM, certPEM, keyPEM []byte) (*tls.Config, error) {
	ca, err := parseCert(caPEM)
	if err != nil {
		return nil, fmt.Errorf("agent tls: ca: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("agent tls: %w", err)
	}
	if err := validNodeName(pair.Leaf.Subject.CommonName); err != nil {
		return nil, fmt.Errorf("agent tls: the certificate's common name: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		RootCAs:      pool,
		Certificates: []tls.Certificate{pair},
	}, nil
}

// validNodeName accepts a DNS subdomain as RFC 1123 and Kubernetes define
// it for node names: at most 253 characters, dot-separated labels of at
// most 63 lower-case letters, digits and hyphens, each starting and ending
// with a letter or digit.
func validNodeName(name string) error {
	bad := func(why string) error { return fmt.Errorf("node name %q is not a DNS subdomain: %s", name, why) }
	if name == "" || len(name) > 253 {
		return bad("it must have 1 to 253 characters")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return bad("each dot-separated label must have 1 to 63 characters")
		}
		for i, r := range label {
			alnum := 'a' <= r && r <= 'z' || '0' <= r && r <= '9'
			if !alnum && (r != '-' || i == 0 || i == len(label)-1) {
				return bad("use lower-case letters, digits and inner hyphens only")
			}
		}
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder, so a reader never sees half of it.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
