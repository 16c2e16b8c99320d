package demo_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/demo"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// The store seeding writes to is the server's.
var _ demo.Store = (*store.DB)(nil)

// seeded is a store in t.TempDir() after demo.Seed at a fixed time.
type seeded struct {
	db  *store.DB
	svc *protocol.Service
	now func() time.Time
}

func seed(t *testing.T) seeded {
	t.Helper()
	now := func() time.Time { return time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC) }
	schema := model.DefaultSchema()
	db, err := store.Open(t.TempDir(), store.Options{Schema: schema, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	svc := &protocol.Service{Schema: schema, Store: db, Clock: hlc.NewClock(now, 0), Now: now, Limits: protocol.DefaultLimits,
		CursorKey: []byte("demo test cursor key, 32 bytes!!")}
	ok, err := demo.Seed(context.Background(), db, svc, now)
	if err != nil || !ok {
		t.Fatalf("Seed = %v, %v; want true, nil", ok, err)
	}
	return seeded{db: db, svc: svc, now: now}
}

// records returns the stored records of kind.
func (s seeded) records(t *testing.T, kind string) []*crdt.Record {
	t.Helper()
	var out []*crdt.Record
	err := s.db.ScanRecords(context.Background(), kind, func(access.Scope) bool { return true }, func(_ store.Summary, rec *crdt.Record) error {
		out = append(out, rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSeed documents what `serve --demo` puts into an empty store: the
// users the README, the banner and the browser test log in as, and the
// records the console shows.
func TestSeed(t *testing.T) {
	t.Parallel()
	s := seed(t)
	ctx := context.Background()

	t.Run("two teams", func(t *testing.T) {
		teams, err := s.db.ListTeams(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tm := range teams {
			got = append(got, tm.Name+" ("+tm.Region+")")
		}
		slices.Sort(got)
		if want := []string{"Mobile team North (Shkodër)", "Mobile team South (Vlorë)"}; !slices.Equal(got, want) {
			t.Errorf("teams %v, want %v", got, want)
		}
	})
	t.Run("a user of each role, each with a tablet", func(t *testing.T) {
		users, err := s.db.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]model.Role{}
		for _, u := range users {
			got[u.Username] = u.Role
		}
		want := map[string]model.Role{
			"supervisor": model.RoleSupervisor, "lead.north": model.RoleTeamLead, "worker.north": model.RoleFieldWorker,
			"worker2.north": model.RoleFieldWorker, "lead.south": model.RoleTeamLead, "worker.south": model.RoleFieldWorker,
			"auditor": model.RoleAuditor, "visitor.de": model.RoleVisitor,
		}
		for name, role := range want {
			if got[name] != role {
				t.Errorf("user %s has role %q, want %q", name, got[name], role)
			}
		}
		devices, err := s.db.ListDevices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(devices) != len(want)+1 {
			t.Errorf("%d devices, want one per demo user (%d) and the stale tablet", len(devices), len(want))
		}
	})
	t.Run("a stale tablet", func(t *testing.T) {
		devices, err := s.db.ListDevices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var stale []string
		for _, d := range devices {
			if s.now().Sub(d.LastSeen) >= 7*24*time.Hour {
				stale = append(stale, d.Name)
			}
		}
		if want := []string{demo.StaleDevice}; !slices.Equal(stale, want) {
			t.Errorf("devices not seen for a week: %q, want %q", stale, want)
		}
	})
	t.Run("site visits by the visitor", func(t *testing.T) {
		users, err := s.db.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		visitor := ""
		for _, u := range users {
			if u.Role == model.RoleVisitor {
				visitor = u.ID
			}
		}
		byVisitor := 0
		for _, rec := range s.records(t, model.KindSiteVisit) {
			for _, e := range rec.Siblings("town") {
				if e.User == visitor {
					byVisitor++
				}
			}
		}
		if visitor == "" || byVisitor == 0 {
			t.Errorf("%d site visits written by the visitor %q, want some", byVisitor, visitor)
		}
	})
	t.Run("records of every kind", func(t *testing.T) {
		for kind, want := range map[string]int{model.KindIdentification: 94, model.KindSiteVisit: 4, model.KindActionWeek: 1} {
			if got := len(s.records(t, kind)); got != want {
				t.Errorf("%d records of kind %s, want %d", got, kind, want)
			}
		}
	})
	t.Run("conflicts for the review queue", func(t *testing.T) {
		conflicts := map[string]int{}
		for _, rec := range s.records(t, model.KindIdentification) {
			for _, f := range rec.Conflicts() {
				conflicts[f]++
			}
		}
		if conflicts["status"] == 0 || conflicts["age_group"] == 0 {
			t.Errorf("conflicts per field %v, want status and age_group conflicts", conflicts)
		}
	})
	t.Run("an attachment on a North identification", func(t *testing.T) {
		s.checkAttachment(t)
	})
	t.Run("seeding again writes nothing", func(t *testing.T) {
		ok, err := demo.Seed(ctx, s.db, s.svc, s.now)
		if err != nil || ok {
			t.Errorf("second Seed = %v, %v; want false, nil", ok, err)
		}
		if got := len(s.records(t, model.KindIdentification)); got != 94 {
			t.Errorf("%d identifications after a second Seed, want 94", got)
		}
	})
}

// checkAttachment: the identification demo.AttachmentCode, of Mobile team
// North, has one attachments entry naming demo.IdentityPhoto by digest,
// size and media type, and the blob is complete in the North team's scope
// with those bytes (what GET /v1/records/:id/attachments/:digest serves;
// server's TestServeDemo downloads it as worker.north).
func (s seeded) checkAttachment(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	photo := demo.IdentityPhoto()
	if len(photo) < 100 || len(photo) > 1024 || !bytes.HasPrefix(photo, []byte("\x89PNG")) || !bytes.Equal(photo, demo.IdentityPhoto()) {
		t.Fatalf("IdentityPhoto is %d bytes starting %q; want the same small PNG on every call", len(photo), photo[:min(len(photo), 8)])
	}
	sum := sha256.Sum256(photo)
	digest := hex.EncodeToString(sum[:])
	var with []string
	var rec *crdt.Record
	for _, r := range s.records(t, model.KindIdentification) {
		if len(r.Entries(model.FieldAttachments)) > 0 {
			with = append(with, strings.Trim(string(r.Value("code")), `"`))
			rec = r
		}
	}
	if want := []string{demo.AttachmentCode}; !slices.Equal(with, want) {
		t.Fatalf("identifications with attachments: %q, want %q", with, want)
	}
	var entry struct {
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
		MediaType string `json:"media_type"`
		Name      string `json:"name"`
		Caption   string `json:"caption"`
	}
	entries := rec.Entries(model.FieldAttachments)
	if err := json.Unmarshal(entries[0].Value, &entry); err != nil || len(entries) != 1 {
		t.Fatalf("%d attachments entries, the first %s (%v); want one", len(entries), entries[0].Value, err)
	}
	if entry.Digest != digest || entry.Size != int64(len(photo)) || entry.MediaType != "image/png" || entry.Caption != demo.AttachmentCaption || entry.Name == "" {
		t.Errorf("attachment entry %+v, want digest %s, size %d, image/png, a name and the caption %q", entry, digest, len(photo), demo.AttachmentCaption)
	}
	team := strings.Trim(string(rec.Value("team")), `"`)
	teams, err := s.db.ListTeams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range teams {
		if tm.ID == team && tm.Name != "Mobile team North" {
			t.Errorf("the attachment is on a record of %s, want Mobile team North", tm.Name)
		}
	}
	b, err := s.db.Blob(ctx, access.TeamBucket(team), digest)
	if err != nil {
		t.Fatalf("the attachment's blob in the team's scope: %v", err)
	}
	var got bytes.Buffer
	if err := s.db.ReadBlob(ctx, b, 0, b.Size, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), photo) || b.MediaType != "image/png" {
		t.Errorf("blob %s holds %d bytes of %s, want the %d bytes of IdentityPhoto as image/png", digest, got.Len(), b.MediaType, len(photo))
	}
}

// TestBanner: the banner names every demo login, the password, the
// address and the console screen of each feature the demo seeds.
func TestBanner(t *testing.T) {
	t.Parallel()
	b := demo.Banner("127.0.0.1:8080")
	for _, want := range []string{"supervisor", "lead.north", "worker.north", "worker2.north", "lead.south", "worker.south",
		"visitor.de", "auditor", demo.Password, "http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1/auth/login",
		// Where each feature the demo seeds is shown.
		"Review queue", "Conflicting values", "Possible duplicate", "Records", "Figures", "Accounts", "Audit log",
		"Devices", demo.StaleDevice, "quarantine", "Attachments", demo.AttachmentCode} {
		if !strings.Contains(b, want) {
			t.Errorf("the banner does not name %q:\n%s", want, b)
		}
	}
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// content returns what a seeded store holds, ids aside: one line per
// record (its kind, its greatest hlc and each field's values, sorted) and
// per user.
func (s seeded) content(t *testing.T) []string {
	t.Helper()
	var lines []string
	for _, kind := range []string{model.KindIdentification, model.KindSiteVisit, model.KindActionWeek} {
		for _, rec := range s.records(t, kind) {
			line := kind + " hlc=" + rec.HLC.String()
			for _, f := range rec.FieldNames() {
				var vals []string
				for _, e := range rec.Siblings(f) {
					vals = append(vals, string(e.Value))
				}
				vals = append(vals, rec.Elements(f)...)
				for _, e := range rec.Entries(f) {
					vals = append(vals, string(e.Value))
				}
				slices.Sort(vals)
				line += " " + f + "=" + strings.Join(vals, ",")
			}
			lines = append(lines, uuidPattern.ReplaceAllString(line, "ID"))
		}
	}
	users, err := s.db.ListUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		lines = append(lines, u.Username+" "+string(u.Role)+" "+strings.Repeat("team ", len(u.Teams)))
	}
	slices.Sort(lines)
	return lines
}

// TestSeedSameEveryRun: two seedings at the same time write the same
// data and hlcs, ids aside (the random draws come from a fixed seed; the
// supervisor's clock catches up with the tablets' in a fixed order), so
// the demo the README and the browser test describe is the one served.
func TestSeedSameEveryRun(t *testing.T) {
	t.Parallel()
	a, b := seed(t).content(t), seed(t).content(t)
	if len(a) != 94+4+1+8 {
		t.Errorf("%d records and users, want %d", len(a), 94+4+1+8)
	}
	if !slices.Equal(a, b) {
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("two seedings differ:\n%s\n%s", a[i], b[i])
			}
		}
		t.Fatalf("two seedings differ: %d and %d lines", len(a), len(b))
	}
}
