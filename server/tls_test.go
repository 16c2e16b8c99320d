package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/server"
)

// writeCertificate writes a self-signed certificate for 127.0.0.1 and its
// key as PEM files in dir, and returns their paths and the certificate.
func writeCertificate(t *testing.T, dir, name string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// startMain starts a server with args (beside --addr and --metrics-addr
// and the test environment) over dir, printing to out.
func startMain(t *testing.T, dir string, out *bytes.Buffer, addrs []net.IP, args ...string) (*server.Main, error) {
	t.Helper()
	m := server.NewMain()
	m.Stdout = out
	m.Log = discardLogger()
	m.LocalAddrs = func() []net.IP { return addrs }
	env := testEnv()
	args = append([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "", "--data", dir}, args...)
	if err := m.ParseFlags(args, func(k string) string { return env[k] }); err != nil {
		return nil, err
	}
	if err := m.Run(context.Background()); err != nil {
		return nil, err
	}
	once := &sync.Once{}
	closers.Store(m, once)
	t.Cleanup(func() { once.Do(func() { _ = m.Close() }) })
	return m, nil
}

// closers holds each started Main's sync.Once, so that closeMain and the
// test's cleanup close it once.
var closers sync.Map

// closeMain closes m (once).
func closeMain(t *testing.T, m *server.Main) {
	t.Helper()
	once, _ := closers.Load(m)
	var err error
	once.(*sync.Once).Do(func() { err = m.Close() })
	if err != nil {
		t.Fatal(err)
	}
}

// tlsClient trusts exactly cert.
func tlsClient(cert *x509.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// TestServeTLSWithCertificate: with --tls-cert and --tls-key the API
// listener serves HTTPS with that certificate, and never plain HTTP.
func TestServeTLSWithCertificate(t *testing.T) {
	certFile, keyFile, cert := writeCertificate(t, t.TempDir(), "server")
	m, err := startMain(t, t.TempDir(), &bytes.Buffer{}, nil, "--tls-cert", certFile, "--tls-key", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.URL(), "https://") {
		t.Fatalf("URL = %s, want https://", m.URL())
	}
	resp, err := tlsClient(cert).Get(m.URL() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || !resp.TLS.PeerCertificates[0].Equal(cert) {
		t.Fatalf("GET /healthz over TLS = %d, TLS %v, want 200 with the configured certificate", resp.StatusCode, resp.TLS != nil)
	}
	plain := &http.Client{Timeout: 10 * time.Second}
	if resp, err := plain.Get("http://" + m.Addr() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP was served on the TLS listener")
		}
	}
}

// TestTLSKeyMismatchRefused: a key that does not belong to the
// certificate, or a file that cannot be read, stops the server at start,
// before it binds or writes anything.
func TestTLSKeyMismatchRefused(t *testing.T) {
	files := t.TempDir()
	certFile, _, _ := writeCertificate(t, files, "a")
	_, otherKey, _ := writeCertificate(t, files, "b")
	cases := []struct {
		name, cert, key, want string
	}{
		{"key of another certificate", certFile, otherKey, "private key does not match"},
		{"missing certificate", filepath.Join(files, "none.crt"), otherKey, "read --tls-cert"},
		{"missing key", certFile, filepath.Join(files, "none.key"), "read --tls-key"},
	}
	for _, tc := range cases {
		dir := filepath.Join(t.TempDir(), "data")
		_, err := startMain(t, dir, &bytes.Buffer{}, nil, "--tls-cert", tc.cert, "--tls-key", tc.key)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: start = %v, want an error saying %q", tc.name, err, tc.want)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: the data directory was created (%v) by a server that refused to start", tc.name, err)
		}
	}
	for _, args := range [][]string{{"--tls-cert", certFile}, {"--tls-self-signed", "--tls-cert", certFile, "--tls-key", otherKey}} {
		if _, err := startMain(t, t.TempDir(), &bytes.Buffer{}, nil, args...); err == nil {
			t.Errorf("flags %q were accepted", args)
		}
	}
}

// TestSelfSignedCertificate: --demo --tls-self-signed serves HTTPS with
// an ECDSA P-256 certificate naming localhost, the loopback addresses and
// the machine's addresses, kept 0600 in the data directory and served
// again after a restart; the banner prints its SHA-256 fingerprint and
// https:// addresses. A new address gets a new certificate naming the old
// ones too.
func TestSelfSignedCertificate(t *testing.T) {
	dir := t.TempDir()
	lan := net.ParseIP("192.0.2.7").To4()
	var out bytes.Buffer
	m, err := startMain(t, dir, &out, []net.IP{lan}, "--demo", "--tls-self-signed")
	if err != nil {
		t.Fatal(err)
	}
	cert := servedCertificate(t, m.Addr())
	fp := server.Fingerprint(cert.Raw)
	banner := out.String()
	if !strings.Contains(banner, fp) || !strings.Contains(banner, "https://") || strings.Contains(banner, "http://") {
		t.Fatalf("banner does not show the fingerprint %s and only https:// addresses:\n%s", fp, banner)
	}
	if key, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || key.Curve != elliptic.P256() {
		t.Fatalf("certificate key is %T, want ECDSA P-256", cert.PublicKey)
	}
	if !slices.Contains(cert.DNSNames, "localhost") {
		t.Errorf("DNS names = %q, want localhost", cert.DNSNames)
	}
	for _, ip := range []string{"127.0.0.1", "::1", "192.0.2.7"} {
		if !slices.ContainsFunc(cert.IPAddresses, net.ParseIP(ip).Equal) {
			t.Errorf("IP addresses = %v, want %s among them", cert.IPAddresses, ip)
		}
	}
	for _, f := range []string{"tls/cert.pem", "tls/key.pem"} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v, want 0600", f, err, info.Mode().Perm())
		}
	}
	resp, err := tlsClient(cert).Get(m.URL() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz trusting the self-signed certificate: %v", err)
	}
	resp.Body.Close()
	closeMain(t, m)

	out.Reset()
	m, err = startMain(t, dir, &out, []net.IP{lan}, "--tls-self-signed")
	if err != nil {
		t.Fatal(err)
	}
	if again := servedCertificate(t, m.Addr()); !again.Equal(cert) || !strings.Contains(out.String(), "kept") {
		t.Fatalf("after a restart the server serves another certificate, or says so:\n%s", out.String())
	}
	closeMain(t, m)

	moved := net.ParseIP("198.51.100.9").To4()
	m, err = startMain(t, dir, &bytes.Buffer{}, []net.IP{moved}, "--tls-self-signed")
	if err != nil {
		t.Fatal(err)
	}
	renewed := servedCertificate(t, m.Addr())
	for _, ip := range []net.IP{lan, moved} {
		if !slices.ContainsFunc(renewed.IPAddresses, ip.Equal) {
			t.Errorf("certificate after an address change names %v, want %s among them", renewed.IPAddresses, ip)
		}
	}
}

// servedCertificate returns the certificate the server at addr presents.
func servedCertificate(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // only to read the certificate
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}
