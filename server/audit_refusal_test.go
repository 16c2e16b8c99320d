package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// brokenAudit is an audit store whose writes fail.
type brokenAudit struct{}

var _ audit.Store = brokenAudit{}

func (brokenAudit) AppendAudit(context.Context, []audit.Entry) error {
	return errors.New("disk full")
}
func (brokenAudit) LastAudit(context.Context) (audit.Entry, bool, error) {
	return audit.Entry{}, false, nil
}
func (brokenAudit) ScanAudit(context.Context, uint64, int) ([]audit.Entry, error) { return nil, nil }

// TestSupervisorReadsRefusedUnaudited: when the audit log cannot be
// written, a supervisor's pull page of identifications and its figures are
// refused (500, nothing served); a field worker's pull is served.
func TestSupervisorReadsRefusedUnaudited(t *testing.T) {
	schema := model.DefaultSchema()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(t.TempDir(), store.Options{Schema: schema, Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	cfg := DefaultConfig()
	syncSvc := &protocol.Service{Schema: schema, Store: db, Clock: hlc.NewClock(time.Now, 0), Now: time.Now, Limits: cfg.Limits}
	s := New(cfg, log, db, nil, syncSvc, time.Now)
	s.audit = audit.NewLog(brokenAudit{}, time.Now)

	team := "0190a3c2-7a1e-7b3c-8d4e-5f6a7b8c9d0e"
	fw := &access.Principal{User: "0190a3c2-7a1e-7b3c-8d4e-a00000000001", Device: "0190a3c2-7a1e-7b3c-8d4e-d00000000001", Role: model.RoleFieldWorker, Teams: []string{team}}
	sup := &access.Principal{User: "sup", Device: "0190a3c2-7a1e-7b3c-8d4e-d00000000002", Role: model.RoleSupervisor}
	rec := "0190a3c2-7a1e-7b3c-8d4e-000000000001"
	op := func(id, field string, value any) json.RawMessage {
		v, _ := json.Marshal(value)
		return json.RawMessage(fmt.Sprintf(`{"id":%q,"record":%q,"kind":"identification","field":%q,"action":"set","value":%s,"base":[],"hlc":%q,"device":"0190a3c2-7a1e-7b3c-8d4e-d00000000001","user":"0190a3c2-7a1e-7b3c-8d4e-a00000000001"}`,
			id, rec, field, v, hlc.New(time.Now().UnixMilli(), 0).String()))
	}
	res, err := syncSvc.Push(context.Background(), fw, []json.RawMessage{
		op("0190a3c2-7a1e-7b3c-8d4e-100000000001", "team", team),
		op("0190a3c2-7a1e-7b3c-8d4e-100000000002", "status", "presumed"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		if r.Status != protocol.StatusApplied {
			t.Fatalf("push: %+v", r)
		}
	}

	for _, tc := range []struct {
		who    *access.Principal
		path   string
		status int
	}{
		{sup, "/v1/sync/pull", 500},
		{sup, "/v1/stats", 500},
		{sup, "/v1/export/stats", 500},
		{fw, "/v1/sync/pull", 200},
		{sup, "/v1/sync/snapshot", 500},
		{fw, "/v1/sync/snapshot", 200},
	} {
		app := fiber.New(fiber.Config{ErrorHandler: s.handleError})
		as := func(c *fiber.Ctx) error { c.Locals(principalKey, tc.who); return c.Next() }
		app.Get("/v1/sync/pull", as, s.pull)
		app.Get("/v1/sync/snapshot", as, s.snapshot)
		app.Get("/v1/stats", as, s.getStats)
		app.Get("/v1/export/stats", as, s.exportStats)
		resp, err := app.Test(httptest.NewRequest("GET", tc.path, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d %s, want %d", tc.who.Role, tc.path, resp.StatusCode, body, tc.status)
		}
		if tc.status != 200 && (strings.Contains(string(body), "presumed") || strings.Contains(string(body), rec)) {
			t.Errorf("%s %s: refused answer holds content: %s", tc.who.Role, tc.path, body)
		}
	}
}
