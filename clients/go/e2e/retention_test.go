package e2e

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// TestRetentionPurgeReachesTwoDevices (issue 12 item 3): a withdrawn
// identification expires under the retention rules; the dry run lists it
// and changes nothing; the erasure reaches two devices of the team, one
// of them offline with a change to the record still in its outbox: its
// re-push is refused record_erased and does not bring the record back,
// both devices delete it (and nothing of it lands in a quarantine), and
// both acknowledge the purge, which the admin's list of pending devices
// then no longer shows. The other record stays everywhere.
func TestRetentionPurgeReachesTwoDevices(t *testing.T) {
	ctx := context.Background()
	clk := &clock{}
	s := startServerEnv(t, clk, map[string]string{"FIELDSYNC_RETENTION": "identification:withdrawn|not_victim=10d"})
	s.user("ana", model.RoleFieldWorker, "north")
	s.user("ben", model.RoleFieldWorker, "north")
	a, b := device(t, s.URL, "ana"), device(t, s.URL, "ben")
	gone := must[string](t)(a.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "withdrawn"), fieldsync.F("code", "N-GONE")))
	must[string](t)(a.Append(ctx, gone, "notes", map[string]any{"text": "met at the bus station"}))
	kept := must[string](t)(a.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "presumed")))
	syncOK(t, a)
	syncOK(t, b)
	must[*fieldsync.Record](t)(b.Record(ctx, gone))

	clk.Advance(11 * 24 * time.Hour)
	s.admin = s.login("admin", adminPassword).AccessToken // the old token expired
	var plan api.RetentionPlan
	mustUnmarshal(t, s.mustDo(http.StatusOK, http.MethodGet, "/v1/admin/retention", s.admin, nil), &plan)
	if len(plan.Records) != 1 || plan.Records[0].ID != gone || plan.Records[0].Rule != "identification:not_victim|withdrawn=10d" {
		t.Fatalf("dry run = %+v, want only %s", plan, gone)
	}
	must[string](t)(b.Set(ctx, gone, "region", "written offline")) // ben's tablet, offline
	var run api.RetentionPlan
	mustUnmarshal(t, s.mustDo(http.StatusOK, http.MethodPost, "/v1/admin/retention/run", s.admin, nil), &run)
	if len(run.Records) != 1 || run.Records[0].ID != gone {
		t.Fatalf("run = %+v, want %s erased", run, gone)
	}
	if got := pendingDevices(t, s, gone); !slices.Contains(got, a.DeviceID()) || !slices.Contains(got, b.DeviceID()) {
		t.Errorf("pending before the devices synced: %v, want both devices", got)
	}

	syncOK(t, a)
	syncOK(t, b)
	for name, c := range map[string]*fieldsync.Client{"ana": a, "ben": b} {
		if _, err := c.Record(ctx, gone); !errors.Is(err, fieldsync.ErrNotFound) {
			t.Errorf("%s still holds the erased record: %v", name, err)
		}
		must[*fieldsync.Record](t)(c.Record(ctx, kept))
		if q := must[[]fieldsync.Rejected](t)(c.Quarantine(ctx)); len(q) != 0 {
			t.Errorf("%s's quarantine holds %+v", name, q)
		}
	}
	if got := pendingDevices(t, s, gone); slices.Contains(got, a.DeviceID()) || slices.Contains(got, b.DeviceID()) {
		t.Errorf("pending after both devices synced: %v, want neither", got)
	}
	s.user("sup", model.RoleSupervisor)
	tok := s.login("sup", userPassword).AccessToken
	if status, body := s.do(http.MethodGet, "/v1/records/"+gone, tok, nil); status != http.StatusNotFound {
		t.Errorf("the erased record after the re-push: %d %s, want 404", status, body)
	}
}

// pendingDevices returns the devices GET /v1/admin/purges lists as not
// yet acknowledging the erasure of record.
func pendingDevices(t *testing.T, s *testServer, record string) []string {
	t.Helper()
	var list api.PurgeList
	mustUnmarshal(t, s.mustDo(http.StatusOK, http.MethodGet, "/v1/admin/purges", s.admin, nil), &list)
	var out []string
	for _, p := range list.Purges {
		if p.Record != record {
			continue
		}
		for _, d := range p.Pending {
			out = append(out, d.Device)
		}
		return out
	}
	t.Fatalf("no purge of %s listed: %+v", record, list)
	return nil
}
