// Package server is fieldsync's HTTP service: the fiber app, its routes and
// their access policy, authentication, request limits, logging and metrics,
// over the protocol service and the store. Main (main.go) wires it
// together for `fieldsync serve` over server/store's badger DB; the handlers
// see storage only through the small interfaces each endpoint file declares
// (their union is storage), and every sync read (pull, the event stream)
// goes through sync/protocol. The casework rules its endpoints apply live
// in pure packages (server/figures, server/review, server/export); demo
// seeding in server/demo.
//
// Invariants: every route declares the roles that may call it (deny by
// default; a test fails for a route without a policy or missing from
// api/openapi.yaml); every error leaves through handleError, the one place
// where codes become HTTP statuses; nothing in a response reveals a record
// the caller may not read; nothing about who may act is cached: every
// request reads its token's family, device and user.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/auth"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// storage is what the handlers need from the store: the union of the small
// interfaces the endpoint files declare where they use them. server/store
// implements it; no handler depends on the rest of *store.DB.
type storage interface {
	authStore
	accountStore
	deviceStore
	teamStore
	userStore
	recordReader
	recordLister
	healthStore
	caseworkStore
	blobStore
	retentionStore
	audit.Store
}

var _ storage = (*store.DB)(nil)

// caseworkStore is what the review, duplicate, export and figures endpoints
// (review.go, duplicates.go, export.go, stats.go) and the audit reader
// need from storage.
type caseworkStore interface {
	ListTeams(ctx context.Context) ([]model.Team, error)
	ListUsers(ctx context.Context) ([]model.User, error)
	// Record returns a record's state; the caller must not modify it.
	Record(ctx context.Context, id string) (*protocol.RecordState, error)
	// ScanRecords calls fn with each record of kind ("" for every kind)
	// whose scope visible accepts (nil: every record); fn must not modify
	// rec, nor keep it after the call unless it clones it.
	ScanRecords(ctx context.Context, kind string, visible func(access.Scope) bool, fn func(sum store.Summary, rec *crdt.Record) error) error
	Links(ctx context.Context) ([]store.Link, error)
	LinksOf(ctx context.Context, record string) ([]store.Link, error)
	SetLink(ctx context.Context, a, b string, linked bool, by string, at time.Time, entries []audit.Entry) error
}

// Server is the HTTP service.
type Server struct {
	cfg      Config
	log      *slog.Logger
	db       storage
	auth     *auth.Service
	sync     *protocol.Service
	schema   *model.Schema
	now      func() time.Time
	app      *fiber.App
	changes  *notifier
	streams  *streamHub
	metrics  *metrics
	shutdown chan struct{}

	audit *audit.Log
	// active counts requests being handled, for Shutdown.
	active atomic.Int64

	userRate      *limiter
	loginThrottle *loginThrottle
	touches       *touchThrottle
	// blobMu orders the binding, release and sweep of blobs
	// (attachments_erasure.go).
	blobMu sync.Mutex
}

// New builds the server over an open store (a *store.DB).
func New(cfg Config, log *slog.Logger, db storage, authSvc *auth.Service, syncSvc *protocol.Service, now func() time.Time) *Server {
	s := &Server{
		cfg: cfg, log: log, db: db, auth: authSvc, sync: syncSvc, schema: syncSvc.Schema, now: now,
		audit:   audit.NewLog(db, now),
		changes: newNotifier(), streams: newStreamHub(cfg.StreamsPerUser), metrics: newMetrics(), shutdown: make(chan struct{}),
		userRate:      newLimiter(cfg.UserRate, cfg.UserBurst, now),
		loginThrottle: newLoginThrottle(cfg.LoginFailures, cfg.LoginLockout, cfg.LoginIPFailures, cfg.LoginIPWindow, now),
		touches:       newTouchThrottle(touchInterval),
	}
	s.app = fiber.New(fiber.Config{
		AppName: "fieldsync",
		// fasthttp cuts the connection past its limit, before the client
		// can read a reply; read up to 4x the limit so moderately oversize
		// bodies get a clear 413 body_too_large from limitBody instead.
		BodyLimit:             4 * cfg.BodyLimit,
		ReadBufferSize:        16 << 10,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		Immutable:             true,
		// Fiber believes X-Forwarded-Proto/-Host only from trusted
		// proxies; ProxyHeader stays unset because fiber would take the
		// header's leftmost, client-chosen address (see clientAddr).
		EnableTrustedProxyCheck: true,
		TrustedProxies:          prefixStrings(cfg.TrustedProxies),
	})
	s.app.Server().HeaderReceived = s.requestConfig
	s.app.Use(s.resolveClient, s.requestLog, s.recoverPanics, s.limitBody)
	for _, r := range s.routes() {
		s.app.Add(r.method, r.path, s.policy(r), s.compressAnswer(r), r.handler)
	}
	return s
}

// prefixStrings returns ps as text, for fiber's TrustedProxies.
func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// Shutdown stops accepting connections, ends event streams, and waits for
// in-flight requests (pushes included) until ctx ends. Connections with no
// request in flight (idle, or opened and never used) are not waited for.
func (s *Server) Shutdown(ctx context.Context) error {
	close(s.shutdown)
	quiet, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quiet.Done():
				return
			case <-tick.C:
				if s.active.Load() == 0 {
					cancel()
					return
				}
			}
		}
	}()
	err := s.app.ShutdownWithContext(quiet)
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		return nil // only connections without a request were left
	}
	return err
}

// every runs run every interval until Shutdown; a failed run is logged
// at level as what and tried again at the next tick.
func (s *Server) every(interval time.Duration, level slog.Level, what string, run func(context.Context) error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.shutdown:
			return
		case <-tick.C:
			if err := run(context.Background()); err != nil {
				s.log.Log(context.Background(), level, what, "err", err)
			}
		}
	}
}
