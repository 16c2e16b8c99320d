package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

const ident = model.KindIdentification

// servedRecord is GET /v1/records/{id} as far as these tests look.
type servedRecord struct {
	ID      string `json:"id"`
	HLC     string `json:"hlc"`
	Deleted bool   `json:"deleted"`
	Fields  map[string]struct {
		Value     json.RawMessage `json:"value"`
		Op        string          `json:"op"`
		Conflicts []struct {
			Value json.RawMessage `json:"value"`
			Op    string          `json:"op"`
		} `json:"conflicts"`
		Values []string `json:"values"`
	} `json:"fields"`
}

// record reads a record and moves c's clock past it, as a device does
// when it receives the record's ops: a decision is then stamped after
// everything its writer saw.
func (c *client) record(id string) servedRecord {
	c.h.t.Helper()
	r := getJSON[servedRecord](c, "/v1/records/"+id)
	if t, err := hlc.Parse(r.HLC); err == nil {
		if _, err := c.clock.Update(t); err != nil {
			c.h.t.Fatal(err)
		}
	}
	return r
}

// siblings returns the op ids of a register's siblings.
func (r servedRecord) siblings(field string) []string {
	f, ok := r.Fields[field]
	if !ok || f.Op == "" {
		return []string{}
	}
	out := []string{f.Op}
	for _, c := range f.Conflicts {
		out = append(out, c.Op)
	}
	return out
}

// review writes review_status over its current siblings.
func (c *client) review(id, value string) {
	c.h.t.Helper()
	r := c.record(id)
	c.pushApplied(c.op(id, ident, "review_status", "set", value, r.siblings("review_status")...))
}

// queue reads every page of the review queue with the query q.
func (c *client) queue(q string) (map[string]api.QueueItem, api.QueuePage) {
	c.h.t.Helper()
	items := map[string]api.QueueItem{}
	var first api.QueuePage
	after := ""
	for page := 0; ; page++ {
		path := "/v1/review/queue?" + q
		if after != "" {
			path += "&after=" + after
		}
		p := getJSON[api.QueuePage](c, path)
		if page == 0 {
			first = p
		}
		for _, it := range p.Items {
			if _, dup := items[it.ID]; dup {
				c.h.t.Fatalf("queue page %d repeats %s", page, it.ID)
			}
			items[it.ID] = it
		}
		if p.Next == "" {
			return items, first
		}
		after = p.Next
	}
}

// reasons returns an item's reason codes, sorted, with the field of a
// conflict ("conflict:status").
func reasons(it api.QueueItem) []string {
	var out []string
	for _, r := range it.Reasons {
		code := r.Code
		if r.Code == "conflict" {
			code += ":" + r.Field
		}
		out = append(out, code)
	}
	sort.Strings(out)
	return out
}

func wantReasons(t *testing.T, sup *client, id string, want ...string) {
	t.Helper()
	items, _ := sup.queue("limit=500")
	it, in := items[id]
	if len(want) == 0 {
		if in {
			t.Fatalf("record %s is in the queue with %v; want it out", id, reasons(it))
		}
		return
	}
	if !in {
		t.Fatalf("record %s is not in the queue; want %v", id, want)
	}
	sort.Strings(want)
	if got := reasons(it); !slices.Equal(got, want) {
		t.Fatalf("record %s reasons %v, want %v", id, got, want)
	}
}

// TestReviewQueueRules walks one record through every trigger: it enters
// the queue with each, leaves when a supervisor decides, and comes back
// with a newer trigger; conflicts stay until resolved.
func TestReviewQueueRules(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	fw, tl, sup := d.clients["fw"], d.clients["tl"], d.clients["sup"]
	north := d.teams["north"]

	rec := newID()
	fw.pushApplied(fw.newIdentification(rec, north, [3]any{"status", "set", "presumed"}, [3]any{"citizenship", "set", "AL"}, [3]any{"code", "set", "Q-1"})...)
	wantReasons(t, sup, rec, "new", "formal_status")

	// The supervisor decides: out.
	sup.review(rec, "reviewed")
	wantReasons(t, sup, rec)

	// A newer trigger brings it back, with only that reason.
	fw.record(rec)
	fw.pushApplied(fw.op(rec, ident, "child_presumed", "set", true))
	wantReasons(t, sup, rec, "child_presumed")
	sup.review(rec, "needs_info")
	wantReasons(t, sup, rec)

	// Referrals: within the country nothing; abroad (by flag or by a
	// destination other than the citizenship) a reason.
	fw.record(rec)
	fw.pushApplied(fw.op(rec, ident, "referrals", "append", map[string]any{"service": "shelter", "destination_country": "AL"}))
	wantReasons(t, sup, rec)
	fw.pushApplied(fw.op(rec, ident, "referrals", "append", map[string]any{"service": "return", "destination_country": "DE"}))
	wantReasons(t, sup, rec, "cross_border_referral")
	sup.review(rec, "reviewed")
	fw.record(rec)
	fw.pushApplied(fw.op(rec, ident, "referrals", "append", map[string]any{"service": "legal", "cross_border": true}))
	wantReasons(t, sup, rec, "cross_border_referral")
	sup.review(rec, "reviewed")

	// A field worker's note is no trigger; a status a supervisor need not
	// formalise (withdrawn) neither.
	fw.record(rec)
	fw.pushApplied(fw.op(rec, ident, "notes", "append", map[string]any{"text": "called back"}))
	wantReasons(t, sup, rec)
	r := fw.record(rec)
	fw.pushApplied(fw.op(rec, ident, "status", "set", "withdrawn", r.siblings("status")...))
	wantReasons(t, sup, rec)
	// Back to potential: a formal decision is awaited again.
	r = fw.record(rec)
	fw.pushApplied(fw.op(rec, ident, "status", "set", "potential", r.siblings("status")...))
	wantReasons(t, sup, rec, "formal_status")
	// A formal status by the supervisor settles it.
	r = sup.record(rec)
	sup.pushApplied(sup.op(rec, ident, "status", "set", "identified", r.siblings("status")...))
	wantReasons(t, sup, rec)

	// A conflict: in the queue whatever the decisions, until a value
	// whose base covers both siblings.
	r = fw.record(rec)
	tl.record(rec)
	base := r.siblings("age_group")
	fw.pushApplied(fw.op(rec, ident, "age_group", "set", "adult", base...))
	tl.pushApplied(tl.op(rec, ident, "age_group", "set", "child", base...))
	wantReasons(t, sup, rec, "conflict:age_group")
	sup.review(rec, "reviewed")
	wantReasons(t, sup, rec, "conflict:age_group")
	r = sup.record(rec)
	if got := r.siblings("age_group"); len(got) != 2 {
		t.Fatalf("age_group siblings %v, want 2", got)
	}
	sup.pushApplied(sup.op(rec, ident, "age_group", "set", "child", r.siblings("age_group")...))
	wantReasons(t, sup, rec)

	// A visitor's note (action-week delegation) is a trigger.
	visitor := d.clients["visitor"]
	vrec := newID()
	visitor.pushApplied(visitor.newIdentification(vrec, north, [3]any{"notes", "append", map[string]any{"text": "met in Munich"}})...)
	wantReasons(t, sup, vrec, "new", "visitor_note")
	sup.review(vrec, "reviewed")
	wantReasons(t, sup, vrec)

	// A deleted record leaves the queue.
	del := newID()
	fw.pushApplied(fw.newIdentification(del, north)...)
	wantReasons(t, sup, del, "new")
	tl.pushApplied(tl.op(del, ident, "deleted", "set", true))
	wantReasons(t, sup, del)

	// Jurisdiction: the east supervisor sees none of north's records.
	items, _ := d.clients["sup.e"].queue("")
	if len(items) != 0 {
		t.Errorf("the east supervisor's queue holds %d records of other teams", len(items))
	}
}

// TestReviewQueueFiltersAndPages: filters combine, pages cover the queue
// exactly once, counts per reason, bad parameters are refused.
func TestReviewQueueFiltersAndPages(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	fw, tl, sup := d.clients["fw"], d.clients["tl"], d.clients["sup"]
	north := d.teams["north"]
	var conflicted []string
	for i := range 12 {
		rec := newID()
		ops := fw.newIdentification(rec, north, [3]any{"status", "set", "potential"}, [3]any{"region", "set", fmt.Sprint("r", i%2)})
		fw.pushApplied(ops...)
		if i%4 == 0 {
			conflicted = append(conflicted, rec)
			base := json.RawMessage(ops[1])
			var o struct{ ID string }
			mustUnmarshal(t, base, &o)
			fw.pushApplied(fw.op(rec, ident, "status", "set", "presumed", o.ID))
			tl.pushApplied(tl.op(rec, ident, "status", "set", "withdrawn", o.ID))
		}
	}
	all, first := sup.queue("limit=500")
	// 12 new records plus the deployment's two.
	if len(all) != 14 || first.Total != 14 {
		t.Fatalf("queue holds %d (total %d), want 14", len(all), first.Total)
	}
	if first.ByReason["conflict"] != 3 || first.ByReason["new"] != 14 {
		t.Errorf("by_reason %v", first.ByReason)
	}
	paged, _ := sup.queue("limit=5")
	if len(paged) != len(all) {
		t.Errorf("pages of 5 cover %d items, want %d", len(paged), len(all))
	}
	onlyConflicts, p := sup.queue("reason=conflict")
	if len(onlyConflicts) != 3 || p.Total != 3 {
		t.Errorf("reason=conflict: %d items", len(onlyConflicts))
	}
	for _, id := range conflicted {
		if _, ok := onlyConflicts[id]; !ok {
			t.Errorf("conflicted record %s missing from reason=conflict", id)
		}
	}
	byRegion, _ := sup.queue("region=r1&team=" + north)
	if len(byRegion) != 6 {
		t.Errorf("region=r1: %d items, want 6", len(byRegion))
	}
	south, _ := sup.queue("team=" + d.teams["south"])
	if len(south) != 1 {
		t.Errorf("team=south: %d items, want 1", len(south))
	}
	// Ordered oldest reason first.
	var p1 api.QueuePage
	mustUnmarshal(t, sup.mustDo(http.StatusOK, http.MethodGet, "/v1/review/queue", nil), &p1)
	for i := 1; i < len(p1.Items); i++ {
		if p1.Items[i-1].Since > p1.Items[i].Since {
			t.Errorf("queue not ordered by since at %d", i)
		}
	}
	for _, bad := range []struct{ q, code string }{
		{"reason=bogus", "invalid_request"}, {"team=NOT-AN-ID", "invalid_id"}, {"limit=0", "invalid_request"}, {"after=zzz", "invalid_cursor"},
	} {
		status, body := sup.do(http.MethodGet, "/v1/review/queue?"+bad.q, nil)
		if status != http.StatusBadRequest || errorCode(t, body) != bad.code {
			t.Errorf("?%s: %d %s, want 400 %s", bad.q, status, body, bad.code)
		}
	}
}

// TestConflictResolutionSyncsBack: two tablets disagree; the supervisor
// keeps one value with a set whose base covers both siblings; the tablets
// pull the decision and converge on the server's state, byte for byte.
func TestConflictResolutionSyncsBack(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	fw, tl, sup := d.clients["fw"], d.clients["tl"], d.clients["sup"]
	rec := newID()
	ops := fw.newIdentification(rec, d.teams["north"], [3]any{"status", "set", "potential"})
	fw.pushApplied(ops...)
	var first struct{ ID string }
	mustUnmarshal(t, ops[1], &first)
	fw.pushApplied(fw.op(rec, ident, "status", "set", "presumed", first.ID))
	tl.pushApplied(tl.op(rec, ident, "status", "set", "withdrawn", first.ID))

	// Both tablets sync and hold the conflict.
	_, _, fwCursor := fw.pullAll("", 1000)
	_, _, tlCursor := tl.pullAll("", 1000)
	r := sup.record(rec)
	sibs := r.siblings("status")
	if len(sibs) != 2 {
		t.Fatalf("status siblings %v, want a conflict of 2", sibs)
	}
	var listed api.RecordList
	mustUnmarshal(t, sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records?has_conflicts=true", nil), &listed)
	if !slices.ContainsFunc(listed.Records, func(s api.RecordSummary) bool { return s.ID == rec }) {
		t.Fatal("the conflicted record is not listed with has_conflicts=true")
	}

	// One click: keep the field worker's value, and mark reviewed.
	keep := r.Fields["status"].Value
	if string(keep) != `"presumed"` {
		for _, c := range r.Fields["status"].Conflicts {
			keep = c.Value
		}
	}
	sup.pushApplied(
		sup.op(rec, ident, "status", "set", json.RawMessage(keep), sibs...),
		sup.op(rec, ident, "review_status", "set", "reviewed"),
	)
	after := sup.record(rec)
	if got := after.siblings("status"); len(got) != 1 || string(after.Fields["status"].Value) != `"presumed"` {
		t.Fatalf("after the decision status is %s with siblings %v", after.Fields["status"].Value, got)
	}
	wantReasons(t, sup, rec)

	// The tablets pull the decision and converge on the server's state.
	server := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+rec, nil)
	schema := model.DefaultSchema()
	for name, c := range map[string]*client{"fw": fw, "tl": tl} {
		cursor := map[string]string{"fw": fwCursor, "tl": tlCursor}[name]
		newOps, _, _ := c.pullAll(cursor, 1000)
		gotDecision := false
		for _, raw := range newOps {
			op, err := crdt.DecodeOp(raw)
			if err != nil {
				t.Fatal(err)
			}
			gotDecision = gotDecision || op.Record == rec && op.Field == "status" && op.Device == sup.device
		}
		if !gotDecision {
			t.Errorf("%s did not pull the supervisor's decision", name)
		}
		all, _, _ := c.pullAll("", 1000)
		local := crdt.NewRecord(rec, ident)
		for _, raw := range all {
			op, err := crdt.DecodeOp(raw)
			if err != nil {
				t.Fatal(err)
			}
			if op.Record != rec {
				continue
			}
			if _, err := local.Apply(schema, &op); err != nil {
				t.Fatal(err)
			}
		}
		if len(local.Conflicts()) != 0 {
			t.Errorf("%s still holds conflicts %v", name, local.Conflicts())
		}
		if got := local.Canonical(); string(got) != string(server) {
			t.Errorf("%s's replica differs from the server:\n%s\n%s", name, got, server)
		}
	}
	mustUnmarshal(t, sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records?has_conflicts=true", nil), &listed)
	if slices.ContainsFunc(listed.Records, func(s api.RecordSummary) bool { return s.ID == rec }) {
		t.Error("the resolved record is still listed with has_conflicts=true")
	}
}

// TestReviewRoutesRoles: only supervisors use the review, figures and
// export routes; the console's files are public.
func TestReviewRoutesRoles(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	link := func() any { return api.LinkRequest{Records: []string{d.northRec, d.southRec}} }
	routes := []struct {
		method, path string
		body         func() any
	}{
		{http.MethodGet, "/v1/review/queue", nil},
		{http.MethodGet, "/v1/review/duplicates", nil},
		{http.MethodPost, "/v1/review/links", link},
		{http.MethodGet, "/v1/review/links?record=" + d.northRec, nil},
		{http.MethodGet, "/v1/stats", nil},
		{http.MethodGet, "/v1/export/stats", nil},
		{http.MethodGet, "/v1/export/records", nil},
	}
	for _, r := range routes {
		for _, who := range []string{"fw", "tl", "visitor", "sup", "auditor", "admin"} {
			c := d.admin
			if who != "admin" {
				c = d.clients[who]
			}
			var body any
			if r.body != nil {
				body = r.body()
			}
			status, data := c.do(r.method, r.path, body)
			want := http.StatusForbidden
			if who == "sup" {
				want = http.StatusOK
			}
			if status != want {
				t.Errorf("%s %s as %s: %d %s, want %d", r.method, r.path, who, status, data, want)
			}
			if status == http.StatusForbidden && errorCode(t, data) != "forbidden" {
				t.Errorf("%s %s as %s: code %s", r.method, r.path, who, errorCode(t, data))
			}
		}
		status, _ := h.do(r.method, r.path, "", nil)
		if status != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d, want 401", r.method, r.path, status)
		}
	}
}

// TestConsoleServed: the console is public static files with a strict
// policy, and never touches browser storage.
func TestConsoleServed(t *testing.T) {
	h := startServer(t)
	req, _ := http.NewRequest(http.MethodGet, h.base+"/", nil)
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for hdr, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self'", "Clear-Site-Data": `"cache"`, "Cache-Control": "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if !strings.Contains(resp.Header.Get(hdr), want) {
			t.Errorf("GET / %s = %q, want it to contain %q", hdr, resp.Header.Get(hdr), want)
		}
	}
	// The page logging out lands on clears the browser's storage too.
	req, _ = http.NewRequest(http.MethodGet, h.base+"/?out=logout", nil)
	if resp, err = h.http.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Clear-Site-Data"); !strings.Contains(got, `"storage"`) {
		t.Errorf("GET /?out=logout Clear-Site-Data = %q, want it to clear storage", got)
	}
	// Only device.js may use localStorage (for the device id, never a token).
	for _, f := range []string{"app.js", "api.js", "dom.js", "queue.js", "record.js", "records.js", "history.js", "figures.js", "devices.js", "chart.js", "device.js", "style.css"} {
		status, body := h.do(http.MethodGet, "/console/"+f, "", nil)
		if status != 200 {
			t.Errorf("GET /console/%s: %d", f, status)
			continue
		}
		for _, banned := range []string{"localStorage", "sessionStorage", "indexedDB", "document.cookie", "innerHTML", "eval("} {
			if strings.Contains(string(body), banned) && !(f == "device.js" && banned == "localStorage") {
				t.Errorf("console/%s uses %s", f, banned)
			}
		}
	}
	for _, bad := range []string{"/console/..%2fserver.go", "/console/nope.js", "/console/.hidden.js", "/console/index"} {
		if status, _ := h.do(http.MethodGet, bad, "", nil); status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, status)
		}
	}
}
