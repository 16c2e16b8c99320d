package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// HTTPS (README "HTTPS"): with --tls-cert and --tls-key the API listener
// serves TLS with that certificate, read and checked (readable, key
// matching) before anything is bound or written; with --tls-self-signed it
// serves TLS with a self-signed certificate kept in the data directory
// (tls/cert.pem and tls/key.pem, 0600), created on first start and kept
// across restarts so that a device that trusts it (or a browser exception
// for it) keeps working. Either way the listener serves HTTPS only: a LAN
// never sees plain HTTP from it. The metrics listener stays plain HTTP
// (loopback by default).

// Files of the self-signed certificate under the data directory.
const (
	selfSignedDir  = "tls"
	selfSignedCert = "cert.pem"
	selfSignedKey  = "key.pem"
)

// Lifetime of a self-signed certificate, and how long before its end a
// new one is made at start.
const (
	selfSignedLife    = 365 * 24 * time.Hour
	selfSignedRenewal = 30 * 24 * time.Hour
)

// loadCertificate reads a PEM certificate (chain) and its key, checking
// that the key matches the certificate.
func loadCertificate(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read --tls-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read --tls-key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load the TLS certificate and key (does --tls-key belong to --tls-cert?): %w", err)
	}
	return cert, nil
}

// Fingerprint returns the SHA-256 of a certificate's DER bytes as colon
// separated hex pairs, as browsers show it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// selfSigned returns the self-signed certificate kept in dir, making a new
// one (ECDSA P-256, for localhost, 127.0.0.1, ::1 and addrs) when there is
// none, it ends within selfSignedRenewal, or it does not name every one
// of addrs (a new one names the old one's addresses too). created reports
// a new certificate (its fingerprint changed).
func selfSigned(dir string, addrs []net.IP, now time.Time) (cert tls.Certificate, created bool, err error) {
	certFile, keyFile := filepath.Join(dir, selfSignedCert), filepath.Join(dir, selfSignedKey)
	var keep []net.IP
	if old, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && old.Leaf != nil {
		if now.Add(selfSignedRenewal).Before(old.Leaf.NotAfter) && namesAll(old.Leaf, addrs) {
			return old, false, nil
		}
		keep = old.Leaf.IPAddresses
	} else if !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, false, fmt.Errorf("load the self-signed certificate in %s (remove the directory to make a new one): %w", dir, err)
	}
	certPEM, keyPEM, err := newSelfSigned(append(keep, addrs...), now)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := writeFileAtomic(keyFile, keyPEM); err != nil {
		return tls.Certificate{}, false, err
	}
	if err := writeFileAtomic(certFile, certPEM); err != nil {
		return tls.Certificate{}, false, err
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("load the new self-signed certificate: %w", err)
	}
	return cert, true, nil
}

// namesAll reports whether leaf names every address of addrs.
func namesAll(leaf *x509.Certificate, addrs []net.IP) bool {
	for _, a := range addrs {
		if !slices.ContainsFunc(leaf.IPAddresses, a.Equal) {
			return false
		}
	}
	return true
}

// newSelfSigned makes a self-signed server certificate and its key, PEM
// encoded.
func newSelfSigned(addrs []net.IP, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate a TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("draw a serial number: %w", err)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	for _, a := range addrs {
		if !slices.ContainsFunc(ips, a.Equal) {
			ips = append(ips, a)
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "fieldsync self-signed", Organization: []string{"fieldsync"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedLife),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create a self-signed certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode the TLS key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// writeFileAtomic writes data to path, 0600, through a temporary file
// renamed over it, so that a crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// interfaceAddrs returns the machine's addresses a device on the LAN may
// reach it by: its interfaces' unicast addresses, neither loopback nor
// link-local.
func interfaceAddrs() []net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []net.IP
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || n.IP.IsMulticast() || n.IP.IsUnspecified() {
			continue
		}
		ip := n.IP
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		out = append(out, ip)
	}
	return out
}

// tlsServerConfig is the TLS configuration of the API listener.
func tlsServerConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

// tlsBanner tells the operator how devices reach an HTTPS server whose
// certificate is self-signed: its fingerprint to compare, the addresses
// it names, and the file to trust.
func tlsBanner(cert tls.Certificate, certFile string, created bool) string {
	var b bytes.Buffer
	state := "kept from an earlier start"
	if created {
		state = "made now; devices that trusted an earlier one must trust this one"
	}
	fmt.Fprintf(&b, "\nHTTPS with a self-signed certificate (%s):\n", state)
	fmt.Fprintf(&b, "  SHA-256 fingerprint %s\n", Fingerprint(cert.Leaf.Raw))
	var names []string
	names = append(names, cert.Leaf.DNSNames...)
	for _, ip := range cert.Leaf.IPAddresses {
		names = append(names, ip.String())
	}
	fmt.Fprintf(&b, "  valid for %s until %s\n", strings.Join(names, ", "), cert.Leaf.NotAfter.UTC().Format(time.DateOnly))
	fmt.Fprintf(&b, "  a browser asks to accept it once: compare the fingerprint it shows with this one.\n")
	fmt.Fprintf(&b, "  curl and the Go SDK trust it with: curl --cacert %s ...\n", certFile)
	return b.String()
}
