package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server"
)

// startTLSServer starts a server serving HTTPS with its self-signed
// certificate, and returns it with that certificate.
func startTLSServer(t *testing.T) (*testServer, *x509.Certificate) {
	t.Helper()
	s := &testServer{t: t, dir: t.TempDir(), clock: &clock{}, teams: map[string]string{}}
	m := server.NewMain()
	m.Stdout = io.Discard
	env := map[string]string{"FIELDSYNC_ADMIN_PASSWORD": adminPassword, "FIELDSYNC_LOG_LEVEL": "error",
		"FIELDSYNC_USER_RATE": "10000", "FIELDSYNC_USER_BURST": "10000", "FIELDSYNC_TLS_SELF_SIGNED": "true"}
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "", "--data", s.dir}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	m.Log = logger()
	m.Now = s.clock.Now
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	data, err := os.ReadFile(filepath.Join(s.dir, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("tls/cert.pem holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	s.m, s.URL, s.http = m, m.URL(), trusting(cert)
	s.admin = s.login("admin", adminPassword).AccessToken
	return s, cert
}

// trusting returns a client that trusts cert as a root.
func trusting(cert *x509.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// TestSyncOverTLS: over the server's self-signed HTTPS, a device that
// pins the certificate's fingerprint (as the banner prints it) and one
// that trusts the certificate as a root sync to byte-identical records; a
// device pinning another fingerprint, or trusting only the system's CAs,
// cannot even log in: it refuses the certificate.
func TestSyncOverTLS(t *testing.T) {
	ctx := context.Background()
	s, cert := startTLSServer(t)
	if !strings.HasPrefix(s.URL, "https://") {
		t.Fatalf("server URL %s, want https://", s.URL)
	}
	s.user("fw", model.RoleFieldWorker, "north")
	pinned := device(t, s.URL, "fw", func(o *fieldsync.Options) { o.ServerCertSHA256 = server.Fingerprint(cert.Raw) })
	id := must[string](t)(pinned.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential"),
		fieldsync.F("notes", map[string]any{"text": "met at the border crossing"})))
	syncOK(t, pinned)
	rooted := device(t, s.URL, "fw", func(o *fieldsync.Options) { o.HTTPClient = trusting(cert) })
	syncOK(t, rooted)
	token := s.login("fw", userPassword).AccessToken
	sameAsServer(t, s, token, pinned, id)
	sameAsServer(t, s, token, rooted, id)

	wrongPin := strings.Repeat("00:", 31) + "00"
	for name, mod := range map[string]func(*fieldsync.Options){
		"wrong pin":  func(o *fieldsync.Options) { o.ServerCertSHA256 = wrongPin },
		"system CAs": func(o *fieldsync.Options) {},
	} {
		c := openDevice(t, t.TempDir(), s.URL, mod, func(o *fieldsync.Options) { o.MaxAttempts = 1 })
		_, err := c.Login(ctx, "fw", userPassword)
		var cerr *tls.CertificateVerificationError
		if err == nil || !(errors.As(err, &cerr) || strings.Contains(err.Error(), "pinned")) {
			t.Errorf("%s: login = %v, want a certificate error", name, err)
		}
	}
}
