package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// snapshotAll reads c's whole snapshot in pages of limit records and
// returns its record ids (sorted), its pages' identification counts and
// the pull cursor.
func snapshotAll(c *client, limit int) (ids []string, pages []int, pull string) {
	cursor := ""
	for {
		page := getJSON[api.SnapshotResponse](c, fmt.Sprintf("/v1/sync/snapshot?cursor=%s&limit=%d", url.QueryEscape(cursor), limit))
		n := 0
		for _, r := range page.Records {
			var rec crdt.Record
			if err := rec.UnmarshalBinary(r.State); err != nil || rec.ID != r.ID || rec.Kind != r.Kind {
				c.h.t.Fatalf("snapshot record %s does not decode: %v", r.ID, err)
			}
			ids = append(ids, r.ID)
			if r.Kind == model.KindIdentification {
				n++
			}
		}
		if n > 0 {
			pages = append(pages, n)
		}
		if pull != "" && page.PullCursor != pull {
			c.h.t.Fatalf("the pull cursor changed between snapshot pages")
		}
		pull, cursor = page.PullCursor, page.Cursor
		if !page.More {
			slices.Sort(ids)
			return ids, pages, pull
		}
	}
}

// pulledRecords returns the sorted ids of the records c's full pull
// serves ops of.
func pulledRecords(t *testing.T, c *client) []string {
	ops, _, _ := c.pullAll("", 5000)
	seen := map[string]bool{}
	for _, raw := range ops {
		var op struct{ Record string }
		mustUnmarshal(t, raw, &op)
		seen[op.Record] = true
	}
	var ids []string
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// TestSnapshotAccessIsThePulls: each caller's snapshot holds exactly the
// records its pull serves ops of (a record it may not read is never in a
// page), a supervisor's snapshot page with identifications is audited as
// records_pulled with its counts, a field worker's is not, and the pull
// cursor a snapshot hands out serves nothing already in it.
func TestSnapshotAccessIsThePulls(t *testing.T) {
	w := readsWorld(t)
	auditor := w.clients["auditor"]
	for _, tc := range []struct {
		who     string
		audited bool
		records int
	}{{"fw", false, 12}, {"fw.e", false, 3}, {"sup.e", true, 3}, {"sup", true, 15}} {
		c := w.clients[tc.who]
		head := auditHead(auditor)
		ids, pages, pull := snapshotAll(c, 2)
		entries := auditAfter(auditor, head)
		if want := pulledRecords(t, c); !slices.Equal(ids, want) || len(ids) != tc.records {
			t.Fatalf("%s: snapshot holds %d records %v, its pull serves %d %v (want %d)", tc.who, len(ids), ids, len(want), want, tc.records)
		}
		if !tc.audited {
			if len(entries) != 0 {
				t.Errorf("%s's snapshot wrote audit entries %+v", tc.who, entries)
			}
		} else if len(entries) != len(pages) {
			t.Errorf("%s read %d snapshot pages; the audit log grew by %d: %+v", tc.who, len(pages), len(entries), entries)
		} else {
			for i, e := range entries {
				if want := fmt.Sprintf("%d records (snapshot)", pages[i]); e.Action != "records_pulled" || e.Detail != want || e.Actor != c.user.ID || e.Object != "" {
					t.Errorf("%s page %d: entry %+v, want records_pulled %q", tc.who, i+1, e, want)
				}
			}
		}
		if page := getJSON[api.PullResponse](c, "/v1/sync/pull?cursor="+url.QueryEscape(pull)); len(page.Ops) != 0 || page.More {
			t.Errorf("%s: the pull after the snapshot served %d ops", tc.who, len(page.Ops))
		}
	}
}

// TestSnapshotCursorChecks: a snapshot cursor the server did not issue is
// invalid_cursor; a pull cursor is not a snapshot cursor nor the reverse;
// another view's snapshot cursor is resync_required.
func TestSnapshotCursorChecks(t *testing.T) {
	w := readsWorld(t)
	fw, fe := w.clients["fw"], w.clients["fw.e"]
	page := getJSON[api.SnapshotResponse](fw, "/v1/sync/snapshot?limit=1")
	if !page.More {
		t.Fatal("a one-record page of 12 records says no more")
	}
	_, _, pull := fw.pullAll("", 5000)
	for _, tc := range []struct {
		c      *client
		path   string
		status int
		code   string
	}{
		{fw, "/v1/sync/snapshot?cursor=" + url.QueryEscape(page.Cursor+"x"), http.StatusBadRequest, "invalid_cursor"},
		{fw, "/v1/sync/snapshot?cursor=" + url.QueryEscape(pull), http.StatusBadRequest, "invalid_cursor"},
		{fw, "/v1/sync/pull?cursor=" + url.QueryEscape(page.Cursor), http.StatusBadRequest, "invalid_cursor"},
		{fe, "/v1/sync/snapshot?cursor=" + url.QueryEscape(page.Cursor), http.StatusGone, "resync_required"},
		{fw, "/v1/sync/snapshot?limit=x", http.StatusBadRequest, "invalid_request"},
	} {
		body := tc.c.mustDo(tc.status, http.MethodGet, tc.path, nil)
		if !bytes.Contains(body, []byte(`"`+tc.code+`"`)) {
			t.Errorf("%s: %s, want %s", tc.path, body, tc.code)
		}
	}
}

// TestSnapshotThenPullIsTheState: writes that land between snapshot pages
// (to a record already served, and a new record) reach the device through
// the pull from pull_cursor: the states of the snapshot with the pulled
// ops merged equal every record as the server serves it.
func TestSnapshotThenPullIsTheState(t *testing.T) {
	w := readsWorld(t)
	fw := w.clients["fw"]
	schema := model.DefaultSchema()
	states := map[string]*crdt.Record{}
	take := func(page api.SnapshotResponse) {
		for _, r := range page.Records {
			rec := &crdt.Record{}
			if err := rec.UnmarshalBinary(r.State); err != nil {
				t.Fatal(err)
			}
			states[r.ID] = rec
		}
	}
	first := getJSON[api.SnapshotResponse](fw, "/v1/sync/snapshot?limit=3")
	take(first)
	served := first.Records[0].ID
	fw.pushApplied(fw.op(served, model.KindIdentification, "status", "set", "withdrawn"))
	fresh := newID()
	fw.pushApplied(fw.newIdentification(fresh, w.teams["north"], [3]any{"status", "set", "potential"})...)
	for page := first; page.More; {
		page = getJSON[api.SnapshotResponse](fw, "/v1/sync/snapshot?limit=3&cursor="+url.QueryEscape(page.Cursor))
		take(page)
		if page.PullCursor != first.PullCursor {
			t.Fatal("the pull cursor changed between pages")
		}
	}
	ops, _, _ := fw.pullAll(first.PullCursor, 5000)
	if len(ops) == 0 {
		t.Fatal("the pull after the snapshot served nothing; the writes between pages are lost")
	}
	for _, raw := range ops {
		op, err := crdt.DecodeOp(raw)
		if err != nil {
			t.Fatal(err)
		}
		if states[op.Record] == nil {
			states[op.Record] = crdt.NewRecord(op.Record, op.Kind)
		}
		if _, err := states[op.Record].Apply(schema, &op); err != nil {
			t.Fatal(err)
		}
	}
	if len(states) != 13 {
		t.Fatalf("the device holds %d records, want 13", len(states))
	}
	for id, rec := range states {
		if want := fw.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+id, nil); !bytes.Equal(rec.Canonical(), want) {
			t.Errorf("record %s: snapshot + pull\n%s\nserver\n%s", id, rec.Canonical(), want)
		}
	}
}

// TestSnapshotOpenCasesFirst: the snapshot serves the open cases
// (identifications potential or presumed, not deleted, updated within
// --open-cases) before every other record, says on the page that
// completes them that they are in (open_cases_done, and on every page
// after), and then serves the rest without serving an unchanged open case
// twice. A record that becomes an open case after its place in the
// open-cases pages is served with the rest, never lost, and a case served
// and then changed is served again: the device ends with every record the
// pull serves, each state equal to the server's.
func TestSnapshotOpenCasesFirst(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north"}, map[string]userSpec{
		"fw": {role: model.RoleFieldWorker, teams: []string{"north"}},
		"tl": {role: model.RoleTeamLead, teams: []string{"north"}},
	})
	fw, tl, north := w.clients["fw"], w.clients["tl"], w.teams["north"]
	create := func(status string) string {
		id := newID()
		fw.pushApplied(fw.newIdentification(id, north, [3]any{"status", "set", status}, [3]any{"sex", "set", "female"})...)
		return id
	}
	stale := create("presumed")
	h.advance(100 * 24 * time.Hour)
	fw, tl = h.login("fw", userPassword, ""), h.login("tl", userPassword, "")
	open := map[string]bool{}
	var closed []string
	for i, status := range []string{"potential", "withdrawn", "presumed", "withdrawn", "potential", "withdrawn", "presumed", "withdrawn"} {
		id := create(status)
		if status == "potential" || status == "presumed" {
			open[id] = true
		} else {
			closed = append(closed, id)
		}
		if i == 2 {
			deleted := create("potential")
			tl.pushApplied(tl.op(deleted, model.KindIdentification, model.FieldDeleted, "set", true))
			closed = append(closed, deleted)
		}
	}
	closed = append(closed, stale)
	slices.Sort(closed)

	schema := model.DefaultSchema()
	states := map[string]*crdt.Record{}
	var order []string
	served := map[string]int{}
	doneAt := -1
	cursor, changed := "", ""
	var first api.SnapshotResponse
	for pages := 0; ; pages++ {
		if pages > 30 {
			t.Fatal("the snapshot does not end")
		}
		page := getJSON[api.SnapshotResponse](fw, fmt.Sprintf("/v1/sync/snapshot?cursor=%s&limit=2", url.QueryEscape(cursor)))
		if pages == 0 {
			first = page
		}
		for _, r := range page.Records {
			rec := &crdt.Record{}
			if err := rec.UnmarshalBinary(r.State); err != nil {
				t.Fatal(err)
			}
			states[r.ID] = rec
			order = append(order, r.ID)
			served[r.ID]++
		}
		if doneAt < 0 && page.OpenCasesDone {
			doneAt = len(order)
		} else if doneAt >= 0 && !page.OpenCasesDone {
			t.Fatalf("page %d says the open cases are not in after an earlier page said they were", pages+1)
		}
		if pages == 0 {
			// Between pages: an open case already served closes, and a
			// closed record the open-cases pages already passed opens.
			// Both must reach the device with their new state.
			if len(page.Records) == 0 || !open[page.Records[0].ID] || closed[1] > page.Records[len(page.Records)-1].ID {
				t.Fatalf("the first page %+v is not the first open cases", page.Records)
			}
			changed = page.Records[0].ID
			fw.pushApplied(fw.op(changed, model.KindIdentification, "status", "set", "withdrawn"))
			fw.pushApplied(fw.op(closed[1], model.KindIdentification, "status", "set", "potential"))
		}
		cursor = page.Cursor
		if !page.More {
			if !page.OpenCasesDone {
				t.Fatal("the last page does not say the open cases are in")
			}
			break
		}
	}
	reopened := closed[1]
	if doneAt != len(open) {
		t.Fatalf("open_cases_done came after %d records; the open cases are %d", doneAt, len(open))
	}
	for i, id := range order {
		if i < doneAt && !open[id] {
			t.Errorf("record %d (%s) of the open-cases pages is not an open case", i, id)
		}
		if i >= doneAt && open[id] && id != changed {
			t.Errorf("the unchanged open case %s was served again with the rest", id)
		}
	}
	if served[reopened] != 1 || served[changed] != 2 {
		t.Fatalf("the record that became an open case behind the open-cases pages was served %d times (want 1), the open case changed after it was served %d times (want 2)",
			served[reopened], served[changed])
	}
	ops, _, _ := fw.pullAll(first.PullCursor, 5000)
	for _, raw := range ops {
		op, err := crdt.DecodeOp(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := states[op.Record].Apply(schema, &op); err != nil {
			t.Fatal(err)
		}
	}
	if want := pulledRecords(t, fw); len(states) != len(want) {
		t.Fatalf("the snapshot served %d records, the pull serves %d", len(states), len(want))
	}
	for id, rec := range states {
		if want := fw.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+id, nil); !bytes.Equal(rec.Canonical(), want) {
			t.Errorf("record %s: snapshot + pull\n%s\nserver\n%s", id, rec.Canonical(), want)
		}
	}
}

// TestSnapshotOpenCasesOff: with --open-cases 0s the snapshot is in
// record id order, and open_cases_done comes with the last page only.
func TestSnapshotOpenCasesOff(t *testing.T) {
	env := testEnv()
	env["FIELDSYNC_OPEN_CASES"] = "0s"
	h := startServerEnv(t, env)
	w := newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	fw := w.clients["fw"]
	for _, status := range []string{"withdrawn", "potential", "withdrawn", "presumed"} {
		fw.pushApplied(fw.newIdentification(newID(), w.teams["north"], [3]any{"status", "set", status})...)
	}
	var order []string
	cursor := ""
	for {
		page := getJSON[api.SnapshotResponse](fw, fmt.Sprintf("/v1/sync/snapshot?cursor=%s&limit=3", url.QueryEscape(cursor)))
		for _, r := range page.Records {
			order = append(order, r.ID)
		}
		if page.OpenCasesDone != !page.More {
			t.Fatalf("open_cases_done %v on a page with more %v", page.OpenCasesDone, page.More)
		}
		if cursor = page.Cursor; !page.More {
			break
		}
	}
	if len(order) != 4 || !slices.IsSorted(order) {
		t.Fatalf("snapshot order %v, want the 4 records in id order", order)
	}
}
