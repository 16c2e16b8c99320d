package server_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/server/retention"
	"github.com/fieldsync/fieldsync/server/store"
)

const retentionRules = "identification:not_victim|withdrawn=1m; site_visit=1m"

// retentionWorld is a deployment with retention on: a withdrawn
// identification (expires), a withdrawn one put on legal hold, a presumed
// one (no rule names it), a site visit of a week that ended long ago
// (expires) and the deployment's own records (kept).
type retentionWorld struct {
	*deployment
	h                           *harness
	gone, held, presumed, visit string
	oldWeek                     string
	goneOp                      []byte
	fwCursor                    string
}

func newRetentionWorld(t *testing.T) *retentionWorld {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_RETENTION": retentionRules})
	w := &retentionWorld{deployment: newDeployment(t, h), h: h, gone: newID(), held: newID(), presumed: newID(), visit: newID(), oldWeek: newID()}
	fw, sup := w.clients["fw"], w.clients["sup"]
	north := w.teams["north"]
	first := fw.newIdentification(w.gone, north, [3]any{"status", "set", "withdrawn"}, [3]any{"code", "set", "N-GONE"})
	w.goneOp = first[0]
	fw.pushApplied(first...)
	fw.pushApplied(fw.newIdentification(w.held, north, [3]any{"status", "set", "withdrawn"})...)
	fw.pushApplied(fw.newIdentification(w.presumed, north, [3]any{"status", "set", "presumed"})...)
	sup.pushApplied(
		sup.op(w.oldWeek, model.KindActionWeek, "name", "set", "Old week"),
		sup.op(w.oldWeek, model.KindActionWeek, "host_team", "set", north),
		sup.op(w.oldWeek, model.KindActionWeek, "ends_on", "set", "2020-01-31"),
	)
	fw.pushApplied(fw.op(w.visit, model.KindSiteVisit, "action_week", "set", w.oldWeek), fw.op(w.visit, model.KindSiteVisit, "town", "set", "Shkoder"))
	_, _, w.fwCursor = fw.pullAll("", 1000)
	return w
}

// later moves the clock 40 days on and logs everyone in again (their
// tokens expired meanwhile) on the same devices.
func (w *retentionWorld) later() {
	w.h.advance(40 * 24 * time.Hour)
	w.admin = w.h.login("admin", adminPassword, w.admin.device)
	for name, c := range w.clients {
		if name != "visitor" { // the grant ended meanwhile
			w.clients[name] = w.h.login(name, userPassword, c.device)
		}
	}
}

func planIDs(p api.RetentionPlan) []string {
	var ids []string
	for _, r := range p.Records {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string { slices.Sort(ids); return ids }

// TestRetentionEndToEnd (issue 12 item 3): the dry run lists exactly the
// expired records not on hold and changes nothing; a supervisor's dry
// run shows its jurisdiction only; the legal hold is a supervisor's or an
// admin's (jurisdiction-scoped, audited) and keeps its record; the
// erasure removes the expired records from every answer, tells the
// team's devices (drop), refuses a re-push of an erased op
// (record_erased) without bringing the record back, and audits each
// erasure with the record and the rule, never content.
func TestRetentionEndToEnd(t *testing.T) {
	w := newRetentionWorld(t)
	w.later()
	fw, sup, supE, admin := w.clients["fw"], w.clients["sup"], w.clients["sup.e"], w.admin
	auditor := w.clients["auditor"]
	head := auditHead(auditor)

	// The hold: a field worker may not; a supervisor of another
	// jurisdiction cannot see the record; the national supervisor may.
	fw.mustDo(http.StatusForbidden, http.MethodPut, "/v1/records/"+w.held+"/hold", nil)
	supE.mustDo(http.StatusNotFound, http.MethodPut, "/v1/records/"+w.held+"/hold", nil)
	var hold api.Hold
	mustUnmarshal(t, sup.mustDo(http.StatusOK, http.MethodPut, "/v1/records/"+w.held+"/hold", nil), &hold)
	if !hold.Held || hold.By != sup.user.ID {
		t.Errorf("hold = %+v", hold)
	}

	before := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+w.gone+"?history=true", nil)
	var plan api.RetentionPlan
	mustUnmarshal(t, admin.mustDo(http.StatusOK, http.MethodGet, "/v1/admin/retention", nil), &plan)
	if got, want := planIDs(plan), sorted(w.gone, w.visit); !slices.Equal(got, want) {
		t.Errorf("dry run lists %v, want %v (held, presumed and current records kept)", got, want)
	}
	if plan.Rules != retentionRules {
		t.Errorf("dry run rules %q", plan.Rules)
	}
	mustUnmarshal(t, supE.mustDo(http.StatusOK, http.MethodGet, "/v1/admin/retention", nil), &plan)
	if len(plan.Records) != 0 {
		t.Errorf("east's supervisor's dry run lists %v", plan.Records)
	}
	if after := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+w.gone+"?history=true", nil); !bytes.Equal(after, before) {
		t.Error("the dry run changed the record")
	}
	fw.mustDo(http.StatusForbidden, http.MethodPost, "/v1/admin/retention/run", nil)
	sup.mustDo(http.StatusForbidden, http.MethodPost, "/v1/admin/retention/run", nil)

	var run api.RetentionPlan
	mustUnmarshal(t, admin.mustDo(http.StatusOK, http.MethodPost, "/v1/admin/retention/run", nil), &run)
	if got, want := planIDs(run), sorted(w.gone, w.visit); !slices.Equal(got, want) {
		t.Fatalf("run erased %v, want %v", got, want)
	}
	for _, id := range []string{w.gone, w.visit} {
		sup.mustDo(http.StatusNotFound, http.MethodGet, "/v1/records/"+id, nil)
	}
	for _, id := range []string{w.held, w.presumed, w.northRec, w.weekVisit, w.oldWeek} {
		sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+id, nil)
	}
	if page := getJSON[api.PullResponse](fw, "/v1/sync/pull?limit=1000&cursor="+w.fwCursor); !slices.Equal(sorted(page.Erased...), sorted(w.gone, w.visit)) {
		t.Errorf("the pull's erased list: %v, want %v", page.Erased, sorted(w.gone, w.visit))
	}
	ops, drop, _ := fw.pullAll(w.fwCursor, 1000)
	if got, want := sorted(drop...), sorted(w.gone, w.visit); !slices.Equal(got, want) {
		t.Errorf("the team's device is told to drop %v, want %v", got, want)
	}
	for _, op := range ops {
		if bytes.Contains(op, []byte(w.gone)) {
			t.Errorf("pull serves an op of the erased record: %s", op)
		}
	}
	if _, drop, _ := sup.pullAll("", 1000); !slices.Contains(drop, w.gone) {
		t.Errorf("a national supervisor pulling from the start is not told to drop the erased record: %v", drop)
	}
	res := fw.push(w.goneOp, fw.op(w.gone, model.KindIdentification, "code", "set", "N-BACK"))
	for _, r := range res.Results {
		if r.Status != "rejected" || r.Code != model.CodeRecordErased {
			t.Errorf("re-push of the erased record: %+v, want rejected record_erased", r)
		}
	}
	sup.mustDo(http.StatusNotFound, http.MethodGet, "/v1/records/"+w.gone, nil)

	erasures := map[string]string{}
	holds := 0
	for _, e := range auditAfter(auditor, head) {
		switch e.Action {
		case "retention_erased":
			erasures[e.Object] = e.Detail
		case "legal_hold_set":
			holds++
			if e.Object != w.held || e.Actor != sup.user.ID {
				t.Errorf("hold audited as %+v", e)
			}
		}
	}
	want := map[string]string{w.gone: "identification:not_victim|withdrawn=1m", w.visit: "site_visit=1m"}
	if len(erasures) != 2 || erasures[w.gone] != want[w.gone] || erasures[w.visit] != want[w.visit] {
		t.Errorf("erasures audited as %v, want %v", erasures, want)
	}
	if holds != 1 {
		t.Errorf("%d holds audited, want 1", holds)
	}

	// Cleared, the hold no longer keeps its record.
	mustUnmarshal(t, sup.mustDo(http.StatusOK, http.MethodDelete, "/v1/records/"+w.held+"/hold", nil), &hold)
	if hold.Held {
		t.Errorf("cleared hold = %+v", hold)
	}
	mustUnmarshal(t, admin.mustDo(http.StatusOK, http.MethodPost, "/v1/admin/retention/run", nil), &run)
	if got, want := planIDs(run), []string{w.held}; !slices.Equal(got, want) {
		t.Errorf("run after the hold was cleared erased %v, want %v", got, want)
	}
}

// TestRetentionOffByDefault: without rules the dry run lists nothing and
// the run erases nothing.
func TestRetentionOffByDefault(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	var plan api.RetentionPlan
	mustUnmarshal(t, d.admin.mustDo(http.StatusOK, http.MethodPost, "/v1/admin/retention/run", nil), &plan)
	if plan.Rules != "" || len(plan.Records) != 0 {
		t.Errorf("run without rules = %+v", plan)
	}
}

// TestPurgeWithTheServerStopped: `fieldsync purge`'s dry run (server
// stopped) lists the expired records, ids and rules, and changes
// nothing; the purge erases them, and the restarted server serves them
// no more.
func TestPurgeWithTheServerStopped(t *testing.T) {
	w := newRetentionWorld(t)
	w.h.stop()
	rules, err := retention.Parse(retentionRules)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(40 * 24 * time.Hour)
	ctx := context.Background()
	for _, dry := range []bool{true, true, false} {
		var out bytes.Buffer
		if err := server.Purge(ctx, w.h.dir, "", rules, now, dry, discardLogger(), &out); err != nil {
			t.Fatal(err)
		}
		verb := "erased"
		if dry {
			verb = "would erase"
		}
		for _, id := range []string{w.gone, w.visit, w.held} {
			if !strings.Contains(out.String(), verb+" "+id) {
				t.Errorf("purge (dry run %v) output lacks %s %s:\n%s", dry, verb, id, out.String())
			}
		}
		if strings.Contains(out.String(), "N-GONE") || strings.Contains(out.String(), w.presumed) {
			t.Errorf("purge output names what it must not:\n%s", out.String())
		}
	}
	var out bytes.Buffer
	if err := server.Purge(ctx, w.h.dir, "", rules, now, false, discardLogger(), &out); err != nil || !strings.Contains(out.String(), "0 records erased") {
		t.Errorf("a second purge: %v\n%s", err, out.String())
	}
	w.h.start()
	w.later()
	sup := w.clients["sup"]
	for _, id := range []string{w.gone, w.visit, w.held} {
		sup.mustDo(http.StatusNotFound, http.MethodGet, "/v1/records/"+id, nil)
	}
	sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+w.presumed, nil)
}

// TestRetentionRunsOnSchedule: serve erases what the rules expire every
// --retention-interval, without anyone asking.
func TestRetentionRunsOnSchedule(t *testing.T) {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_RETENTION": retentionRules, "FIELDSYNC_RETENTION_INTERVAL": "1s"})
	d := newDeployment(t, h)
	fw := d.clients["fw"]
	gone := newID()
	fw.pushApplied(fw.newIdentification(gone, d.teams["north"], [3]any{"status", "set", "withdrawn"})...)
	h.advance(40 * 24 * time.Hour)
	admin := h.login("admin", adminPassword, d.admin.device)
	deadline := time.Now().Add(time.Minute) // a hang guard, not a timing assertion
	for {
		var plan api.RetentionPlan
		mustUnmarshal(t, admin.mustDo(http.StatusOK, http.MethodGet, "/v1/admin/retention", nil), &plan)
		if len(plan.Records) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing erased the expired records within a minute: %v", planIDs(plan))
		}
		time.Sleep(200 * time.Millisecond)
	}
	sup := h.login("sup", userPassword, "")
	sup.mustDo(http.StatusNotFound, http.MethodGet, "/v1/records/"+gone, nil)
}

// keyGoneStore is a store whose RetentionRecords returns cands.
type keyGoneStore struct {
	*store.DB
	cands []store.RetentionCandidate
}

func (s keyGoneStore) RetentionRecords(context.Context, []string) ([]store.RetentionCandidate, error) {
	return s.cands, nil
}

// TestPlanRetentionOffersRecordsWhoseKeyIsGone: a record whose data key
// is gone (erased before; the store restored from an older backup) has
// no readable labels, so no rule could judge it: the plan (and so
// `fieldsync purge`) erases it again under store.RuleErasedBefore, while
// a record the rules keep stays.
func TestPlanRetentionOffersRecordsWhoseKeyIsGone(t *testing.T) {
	rules, err := retention.Parse(retentionRules)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	gone := store.RetentionCandidate{Record: retention.Record{ID: "gone", Kind: model.KindIdentification}, KeyGone: true}
	kept := store.RetentionCandidate{Record: retention.Record{ID: "kept", Kind: model.KindIdentification, Status: "presumed", LastChange: now.Add(-1000 * time.Hour)}}
	plan, err := server.PlanRetention(context.Background(), keyGoneStore{cands: []store.RetentionCandidate{gone, kept}}, rules, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []retention.Expired{{ID: "gone", Kind: model.KindIdentification, Rule: store.RuleErasedBefore}}
	if !slices.Equal(plan, want) {
		t.Errorf("plan = %+v, want %+v", plan, want)
	}
}
