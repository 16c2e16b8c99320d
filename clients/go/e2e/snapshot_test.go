package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// rawPusher pushes hand-made ops over HTTP as one logged-in device, to
// leave the server with what the engine keeps for ops not yet received.
type rawPusher struct {
	s   *testServer
	tok api.TokenResponse
}

func (p *rawPusher) push(t *testing.T, op crdt.Op, value any) {
	t.Helper()
	op.Device, op.User, op.HLC = p.tok.DeviceID, p.tok.User.ID, hlc.Timestamp(time.Now().UnixMilli())<<16
	made, err := crdt.NewOp(op, value)
	if err != nil {
		t.Fatal(err)
	}
	var res api.PushResponse
	mustUnmarshal(t, p.s.mustDo(http.StatusOK, http.MethodPost, "/v1/sync/push", p.tok.AccessToken,
		api.PushRequest{Ops: []json.RawMessage{made.AppendJSON(nil)}}), &res)
	if len(res.Results) != 1 || res.Results[0].Status != "applied" {
		t.Fatalf("raw push of %s: %+v", op.Action, res.Results)
	}
}

// TestSnapshotBootstrapBehavesAsFullPull is the differential test of
// compacted bootstrap: on a history with conflicts, set removes, a
// redaction, a base naming an op not yet received and a redaction of an
// append not yet received, one device pulls every op and another
// bootstraps from a snapshot, open cases first (it reports them in, and
// they are readable, before the rest arrives); they hold byte-identical records (equal to
// the server's), then make the same random writes in turn, receive the
// missing ops, and still agree with each other and with the server, with
// every write applied.
func TestSnapshotBootstrapBehavesAsFullPull(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, nil)
	s.user("sup", model.RoleSupervisor)
	s.user("ana", model.RoleTeamLead, "north")
	for _, n := range []string{"ben", "pia", "sam"} {
		s.user(n, model.RoleFieldWorker, "north")
	}
	ana := device(t, s.URL, "ana")
	ben := device(t, s.URL, "ben")
	var records []string
	for i := range 5 {
		records = append(records, must[string](t)(ana.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential"),
			fieldsync.F("code", fmt.Sprintf("N-%02d", i)))))
	}
	syncOK(t, ana)
	syncOK(t, ben)
	ea := &editor{c: ana, name: "ana", rng: rand.New(rand.NewPCG(1, 2))}
	eb := &editor{c: ben, name: "ben", rng: rand.New(rand.NewPCG(3, 4))}
	for range 60 {
		ea.edit(t, pick(ea.rng, records))
		eb.edit(t, pick(eb.rng, records))
	}
	// Open cases first: three records are open cases, two are not.
	for i, status := range []string{"potential", "presumed", "potential", "withdrawn", "withdrawn"} {
		must[string](t)(ana.Set(ctx, records[i], "status", status))
	}
	open := records[:3]
	secret := "secret-note-" + uuid.NewString()
	entry := must[string](t)(ana.Append(ctx, records[0], "notes", map[string]any{"text": secret}))
	syncOK(t, ana)
	supDev := device(t, s.URL, "sup")
	syncOK(t, supDev)
	must[string](t)(supDev.Redact(ctx, records[0], "notes", entry))
	syncOK(t, supDev)
	syncOK(t, ben)
	syncOK(t, ana)

	// What the engine keeps for ops not yet received.
	raw := &rawPusher{s: s, tok: s.login("ana", userPassword)}
	rawSup := &rawPusher{s: s, tok: s.login("sup", userPassword)}
	lateAppend, lateSet := uuid.NewString(), uuid.NewString()
	rawSup.push(t, crdt.Op{ID: uuid.NewString(), Record: records[1], Kind: model.KindIdentification, Field: "notes", Action: model.ActionRedact, Base: []string{lateAppend}}, nil)
	raw.push(t, crdt.Op{ID: uuid.NewString(), Record: records[1], Kind: model.KindIdentification, Field: "location", Action: model.ActionSet, Base: []string{lateSet}}, "family home")

	// Access: the snapshot never carries the erased value.
	pia := s.login("pia", userPassword)
	body := s.mustDo(http.StatusOK, http.MethodGet, "/v1/sync/snapshot?limit=2", pia.AccessToken, nil)
	if bytes.Contains(body, []byte(secret)) {
		t.Fatal("a snapshot page holds a redacted value")
	}

	pull := device(t, s.URL, "pia")
	// The bootstrap runs through a proxy that cuts connections, in pages
	// of one record: it resumes from the stored snapshot cursor.
	// The device reports when the open cases are in, and they are then
	// readable while the rest is still on its way.
	proxy := startChaosProxy(t, s.m.Addr(), 7, 4<<10, time.Millisecond)
	var snap *fieldsync.Client
	var phases []fieldsync.BootstrapPhase
	unreadable := -1
	snap = device(t, proxy.URL, "sam", func(o *fieldsync.Options) {
		o.Bootstrap, o.SnapshotLimit, o.PageTime, o.MaxAttempts = true, 1, -1, 200
		o.OnBootstrap = func(p fieldsync.BootstrapProgress) {
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
			if p.Phase == fieldsync.BootstrapRest && unreadable < 0 {
				unreadable = 0
				for _, id := range open {
					if _, err := snap.Record(ctx, id); err != nil {
						unreadable++
					}
				}
				if st := must[fieldsync.Status](t)(snap.Status(ctx)); st.Bootstrap != fieldsync.BootstrapRest || st.Records != len(open) {
					t.Errorf("once the open cases are in, status says bootstrap %q with %d records, want %q with %d", st.Bootstrap, st.Records, fieldsync.BootstrapRest, len(open))
				}
			}
		}
	})
	syncOK(t, pull)
	syncOK(t, snap)
	if want := []fieldsync.BootstrapPhase{fieldsync.BootstrapOpenCases, fieldsync.BootstrapRest, fieldsync.BootstrapComplete}; !slices.Equal(phases, want) || unreadable != 0 {
		t.Fatalf("bootstrap phases %v (want %v); %d open cases unreadable once reported in", phases, want, unreadable)
	}
	if st := must[fieldsync.Status](t)(snap.Status(ctx)); st.Bootstrap != "" {
		t.Fatalf("after the bootstrap, status says bootstrap %q", st.Bootstrap)
	}
	sup := s.login("sup", userPassword).AccessToken
	same := func(stage string) {
		t.Helper()
		for _, id := range records {
			a := must[[]byte](t)(pull.RecordJSON(ctx, id, false))
			b := must[[]byte](t)(snap.RecordJSON(ctx, id, false))
			if !bytes.Equal(a, b) || !bytes.Equal(a, s.record(sup, id, false)) {
				t.Fatalf("%s: record %s differs:\npull     %s\nsnapshot %s", stage, id, a, b)
			}
			ra := must[*fieldsync.Record](t)(pull.Record(ctx, id))
			rb := must[*fieldsync.Record](t)(snap.Record(ctx, id))
			if !reflect.DeepEqual(ra, rb) {
				t.Fatalf("%s: record %s differs:\npull     %+v\nsnapshot %+v", stage, id, ra, rb)
			}
		}
	}
	same("after bootstrap")
	if proxy.CutResponses.Load() == 0 {
		t.Fatal("the proxy cut no response; the bootstrap was never interrupted")
	}
	t.Logf("proxy: %d connections, %d cut mid-request, %d cut mid-response", proxy.Conns.Load(), proxy.CutRequests.Load(), proxy.CutResponses.Load())

	// The same random writes, each way, then the ops not yet received.
	ep := &editor{c: pull, name: "pia", rng: rand.New(rand.NewPCG(9, 9))}
	es := &editor{c: snap, name: "sam", rng: rand.New(rand.NewPCG(9, 9))}
	for round := range 4 {
		first, second := ep, es
		if round%2 == 1 {
			first, second = es, ep
		}
		for range 25 {
			first.edit(t, pick(first.rng, records))
		}
		syncOK(t, first.c)
		syncOK(t, second.c)
		for range 25 {
			second.edit(t, pick(second.rng, records))
		}
		syncOK(t, second.c)
		syncOK(t, first.c)
		same(fmt.Sprintf("round %d", round))
	}
	raw.push(t, crdt.Op{ID: lateAppend, Record: records[1], Kind: model.KindIdentification, Field: "notes", Action: model.ActionAppend}, map[string]any{"text": "late " + secret})
	raw.push(t, crdt.Op{ID: lateSet, Record: records[1], Kind: model.KindIdentification, Field: "location", Action: model.ActionSet}, "bus station")
	syncOK(t, pull)
	syncOK(t, snap)
	same("after the late ops")
	if b := must[[]byte](t)(snap.RecordJSON(ctx, records[1], false)); bytes.Contains(b, []byte("late "+secret)) || bytes.Contains(b, []byte("bus station")) {
		t.Fatalf("the late append was not erased or the late set not superseded: %s", b)
	}
	for _, c := range []*fieldsync.Client{pull, snap} {
		st := must[fieldsync.Status](t)(c.Status(ctx))
		if st.Outbox != 0 || st.Quarantine != 0 {
			t.Errorf("outbox %d, quarantine %d; every write must be applied", st.Outbox, st.Quarantine)
		}
	}
}

// TestSnapshotBaseSurvivesRebuild: a bootstrapped device whose clock runs
// ahead writes; the server re-stamps its op, so the device replaces its
// copy and rebuilds the record from its ops. The rebuild starts from the
// snapshot's state (the device holds no earlier op), so the record still
// equals the server's. (Rebuilt from its own ops alone, the record lost
// every field the snapshot brought.)
func TestSnapshotBaseSurvivesRebuild(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, nil)
	s.user("ana", model.RoleFieldWorker, "north")
	s.user("sam", model.RoleFieldWorker, "north")
	sup := func() string { s.user("sup", model.RoleSupervisor); return s.login("sup", userPassword).AccessToken }()
	ana := device(t, s.URL, "ana")
	id := must[string](t)(ana.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential"), fieldsync.F("code", "N-01"),
		fieldsync.F("location", "bus station")))
	syncOK(t, ana)
	ahead := offsetClock(time.Hour)
	sam := device(t, s.URL, "sam", func(o *fieldsync.Options) { o.Bootstrap, o.Now = true, ahead.Now })
	syncOK(t, sam)
	must[string](t)(sam.Set(ctx, id, "sex", "female"))
	syncOK(t, sam)
	syncOK(t, sam)
	got := must[[]byte](t)(sam.RecordJSON(ctx, id, false))
	if want := s.record(sup, id, false); !bytes.Equal(got, want) {
		t.Fatalf("after a re-stamped write the device holds\n%s\nthe server\n%s", got, want)
	}
}
