package server

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/auth"
	"github.com/fieldsync/fieldsync/server/backup"
	"github.com/fieldsync/fieldsync/server/demo"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// Main runs `fieldsync serve`: ParseFlags, then Run, then Close.
type Main struct {
	Config Config
	// Stdout receives what an operator must read once (the generated admin
	// password, demo logins); logs go to Log.
	Stdout io.Writer
	Log    *slog.Logger
	// Now is the wall clock (tests inject one).
	Now func() time.Time
	// LocalAddrs lists the addresses, besides loopback, a self-signed
	// certificate names (nil: the machine's interfaces' addresses).
	LocalAddrs func() []net.IP

	db     *store.DB
	server *Server
	ln     net.Listener
	done   chan error

	metricsLn  net.Listener
	metricsSrv *http.Server

	// tlsNote is what the operator reads about a self-signed certificate.
	tlsNote string

	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{Config: DefaultConfig(), Stdout: os.Stdout, Now: time.Now}
}

// ParseFlags reads the serve flags and FIELDSYNC_* environment.
func (m *Main) ParseFlags(args []string, getenv func(string) string) error {
	if err := m.Config.ParseFlags(args, getenv); err != nil {
		return err // a sentence naming the flag or variable to fix
	}
	if m.Log == nil {
		m.Log = newLogger(os.Stderr, m.Config.LogLevel, m.Config.LogFormat)
	}
	return nil
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Run binds its listeners, then opens the store, creates keys and the
// first admin when needed, seeds demo data when asked, and starts serving.
// It returns once the server listens; Wait reports when it stops. The
// listeners come first so that a taken port fails before anything is
// written (a one-time admin password printed by a server that then cannot
// start would be lost).
func (m *Main) Run(ctx context.Context) (err error) {
	if m.Log == nil {
		m.Log = newLogger(os.Stderr, m.Config.LogLevel, m.Config.LogFormat)
	}
	var cert *tls.Certificate
	if m.Config.TLSCert != "" {
		c, err := loadCertificate(m.Config.TLSCert, m.Config.TLSKey)
		if err != nil {
			return err
		}
		cert = &c
	}
	if err := m.listen(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			m.closeListeners()
		}
	}()
	if err := backup.CheckComplete(m.Config.DataDir); err != nil {
		return err
	}
	if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if m.Config.TLSSelfSigned {
		if cert, err = m.selfSignedCertificate(); err != nil {
			return err
		}
	}
	if cert != nil {
		m.warnIfExpired(cert)
		m.ln = tls.NewListener(m.ln, tlsServerConfig(*cert))
	}
	key, err := readKeyFile(m.Config.EncryptionKeyFile)
	if err != nil {
		return err
	}
	schema := model.DefaultSchema()
	schema.SetLimits(m.Config.RecordLimits)
	m.db, err = store.Open(filepath.Join(m.Config.DataDir, "db"), store.Options{Schema: schema, Logger: m.Log, EncryptionKey: key, Now: m.Now})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	authSvc, err := m.authService()
	if err != nil {
		return err
	}
	syncSvc := &protocol.Service{Schema: schema, Store: m.db, Clock: hlc.NewClock(m.Now, 0), Now: m.Now, Limits: m.Config.Limits,
		CursorKey: authSvc.Keys.Secret("fieldsync pull cursors")}
	if err := m.bootstrap(ctx, authSvc, syncSvc); err != nil {
		return err
	}
	fmt.Fprint(m.Stdout, m.tlsNote)
	m.server = New(m.Config, m.Log, m.db, authSvc, syncSvc, m.Now)
	m.serve()
	m.Log.Info("fieldsync serving", "addr", m.ln.Addr().String(), "tls", m.Config.TLS(), "metrics", m.MetricsAddr(), "data", m.Config.DataDir, "encrypted", key != nil)
	return nil
}

// selfSignedCertificate loads or makes the self-signed certificate in the
// data directory, and prepares the operator's note about it.
func (m *Main) selfSignedCertificate() (*tls.Certificate, error) {
	addrs := interfaceAddrs
	if m.LocalAddrs != nil {
		addrs = m.LocalAddrs
	}
	dir := filepath.Join(m.Config.DataDir, selfSignedDir)
	cert, created, err := selfSigned(dir, addrs(), m.Now())
	if err != nil {
		return nil, err
	}
	m.tlsNote = tlsBanner(cert, filepath.Join(dir, selfSignedCert), created)
	return &cert, nil
}

// warnIfExpired logs a certificate that is not valid now: clients will
// refuse it, but the operator may be about to replace it.
func (m *Main) warnIfExpired(cert *tls.Certificate) {
	if now := m.Now(); cert.Leaf != nil && (now.After(cert.Leaf.NotAfter) || now.Before(cert.Leaf.NotBefore)) {
		m.Log.Warn("the TLS certificate is not valid now; clients will refuse it", "not_before", cert.Leaf.NotBefore, "not_after", cert.Leaf.NotAfter)
	}
}

// listen binds the API listener and, when configured, the metrics one.
func (m *Main) listen() error {
	var err error
	if m.ln, err = net.Listen("tcp", m.Config.Addr); err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Addr, err)
	}
	if m.Config.MetricsAddr == "" {
		return nil
	}
	if m.metricsLn, err = net.Listen("tcp", m.Config.MetricsAddr); err != nil {
		m.closeListeners()
		return fmt.Errorf("listen for metrics on %s: %w", m.Config.MetricsAddr, err)
	}
	return nil
}

func (m *Main) closeListeners() {
	for _, ln := range []net.Listener{m.ln, m.metricsLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// serve starts serving the API and the metrics on their listeners.
func (m *Main) serve() {
	m.done = make(chan error, 1)
	go func() { m.done <- m.server.app.Listener(m.ln) }()
	go m.server.every(m.Config.BlobSweep, slog.LevelWarn, "sweep blobs", m.server.SweepBlobs)
	if len(m.Config.Retention) > 0 {
		go m.server.every(m.Config.RetentionInterval, slog.LevelError, "retention erasure", func(ctx context.Context) error {
			_, err := m.server.Retain(ctx)
			return err
		})
	}
	if m.metricsLn == nil {
		return
	}
	m.metricsSrv = &http.Server{Handler: m.server.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := m.metricsSrv.Serve(m.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error("metrics listener stopped", "err", err)
		}
	}()
}

func (m *Main) authService() (*auth.Service, error) {
	keys, err := auth.LoadOrCreateKeys(auth.KeysDir(m.Config.DataDir))
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	return &auth.Service{
		Store: m.db, Keys: keys, Issuer: m.Config.Issuer, Audience: m.Config.Audience,
		AccessTTL: m.Config.AccessTTL, RefreshTTL: m.Config.RefreshTTL, RefreshGrace: m.Config.RefreshGrace, Now: m.Now,
	}, nil
}

// bootstrap creates the first admin on an empty store and seeds demo data.
func (m *Main) bootstrap(ctx context.Context, authSvc *auth.Service, syncSvc *protocol.Service) error {
	generated, err := authSvc.EnsureAdmin(ctx, m.Config.AdminPassword)
	if err != nil {
		return fmt.Errorf("create first admin: %w", err)
	}
	if generated != "" {
		fmt.Fprintf(m.Stdout, "Created the user admin with the password %s\nIt is shown only once; set FIELDSYNC_ADMIN_PASSWORD to choose it instead.\n", generated)
	}
	if !m.Config.Demo {
		return nil
	}
	seeded, err := demo.Seed(ctx, m.db, syncSvc, m.Now)
	if err != nil {
		return fmt.Errorf("seed demo data: %w", err)
	}
	if !seeded {
		fmt.Fprintln(m.Stdout, "The store already holds data, so no demo data was added; the demo users (if this store was seeded) keep their logins:")
	}
	banner := demo.Banner(m.Config.Addr)
	if m.Config.TLS() {
		banner = strings.ReplaceAll(banner, "http://", "https://")
	}
	if m.Config.TLSSelfSigned {
		banner = strings.ReplaceAll(banner, "curl -s ", "curl -s --cacert "+filepath.Join(m.Config.DataDir, selfSignedDir, selfSignedCert)+" ")
	}
	fmt.Fprint(m.Stdout, banner)
	return nil
}

// readKeyFile reads the encryption key: 32 bytes, raw or as 64 hex digits.
func readKeyFile(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read encryption key file: %w", err)
	}
	if len(data) == 32 {
		return data, nil
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != 32 {
		return nil, errors.New("the encryption key file must hold 32 raw bytes or 64 hex digits (create one with: openssl rand -hex 32)")
	}
	return key, nil
}

// Addr returns the address the server listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// URL returns the server's base URL: https:// when it serves TLS.
func (m *Main) URL() string {
	if m.Config.TLS() {
		return "https://" + m.Addr()
	}
	return "http://" + m.Addr()
}

// MetricsAddr returns the address GET /metrics is served on, "" when
// disabled.
func (m *Main) MetricsAddr() string {
	if m.metricsLn == nil {
		return ""
	}
	return m.metricsLn.Addr().String()
}

// Wait blocks until the server stops serving.
func (m *Main) Wait() error { return <-m.done }

// Close shuts down gracefully: stop accepting, end event streams, finish
// in-flight requests, then close the store. Calling it again returns the
// first call's result.
func (m *Main) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Main) close() error {
	var errs []error
	if m.metricsSrv != nil {
		errs = append(errs, m.metricsSrv.Close())
	}
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		defer cancel()
		errs = append(errs, m.server.Shutdown(ctx))
	}
	if m.db != nil {
		errs = append(errs, m.db.Close())
	}
	return errors.Join(errs...)
}
