package e2e

import (
	"context"
	"testing"
	"time"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// TestSkewedClocksConverge: one tablet's clock is a year ahead, another's
// a year behind. Both write offline to the same record as a correct one;
// all converge byte-identical with the server, the ops stamped a year
// ahead are re-stamped by the server (and the device adopts the new
// stamps), and once synced the tablet a year behind writes after what it
// has seen.
func TestSkewedClocksConverge(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, nil)
	s.user("sup", model.RoleSupervisor)
	for _, n := range []string{"now", "ahead", "behind"} {
		s.user(n, model.RoleFieldWorker, "north")
	}
	year := 365 * 24 * time.Hour
	now := device(t, s.URL, "now")
	ahead := device(t, s.URL, "ahead", func(o *fieldsync.Options) { o.Now = offsetClock(year).Now })
	behind := device(t, s.URL, "behind", func(o *fieldsync.Options) { o.Now = offsetClock(-year).Now })
	devices := []*fieldsync.Client{now, ahead, behind}

	id := must[string](t)(now.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	syncOK(t, now)
	for _, c := range devices[1:] {
		syncOK(t, c)
	}
	for i, c := range devices {
		must[string](t)(c.Set(ctx, id, "location", []string{"market", "port", "station"}[i]))
		must[string](t)(c.Append(ctx, id, "notes", map[string]any{"text": "offline note"}))
		must[string](t)(c.Add(ctx, id, "exploitation_types", "labour"))
	}
	for range 2 {
		for _, c := range devices {
			syncOK(t, c)
		}
	}
	sup := s.login("sup", userPassword).AccessToken
	for _, c := range devices {
		sameAsServer(t, s, sup, c, id)
	}
	limit := s.clock.Now().Add(time.Hour) // far below a year: nothing kept is stamped in the future
	for _, op := range must[[]crdt.Op](t)(ahead.History(ctx, id)) {
		if op.HLC.Time().After(limit) {
			t.Errorf("op %s is still stamped %s", op.ID, op.HLC.Time())
		}
	}
	r := must[*fieldsync.Record](t)(now.Record(ctx, id))
	if got := len(r.Fields["location"].Conflicts); got != 2 {
		t.Errorf("location shows %d conflicts, want 2 (three concurrent values)", got)
	}

	// The device a year behind learned the time from the server: its next
	// note sorts after every note it has seen.
	note := must[string](t)(behind.Append(ctx, id, "notes", map[string]any{"text": "written after the sync"}))
	entries := must[*fieldsync.Record](t)(behind.Record(ctx, id)).Fields["notes"].Entries
	if last := entries[len(entries)-1]; last.Op != note {
		t.Errorf("the new note is not the last entry; the last is %s by device %s", last.Op, last.Device)
	}
	syncOK(t, behind)
	for _, c := range devices {
		syncOK(t, c)
		sameAsServer(t, s, sup, c, id)
	}
}
