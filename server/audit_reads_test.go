package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// auditEntry is one entry of GET /v1/audit, as these tests read it.
type auditEntry struct {
	Seq    uint64 `json:"seq"`
	Actor  string `json:"actor"`
	Device string `json:"device"`
	Action string `json:"action"`
	Object string `json:"object"`
	Detail string `json:"detail"`
}

// auditAfter returns the audit entries after seq, read by auditor.
func auditAfter(auditor *client, seq uint64) []auditEntry {
	var page struct {
		Entries []auditEntry `json:"entries"`
	}
	mustUnmarshal(auditor.h.t, auditor.mustDo(http.StatusOK, http.MethodGet, fmt.Sprintf("/v1/audit?after=%d&limit=1000", seq), nil), &page)
	return page.Entries
}

// auditHead returns the sequence number of the newest audit entry.
func auditHead(auditor *client) uint64 {
	var head uint64
	for {
		page := auditAfter(auditor, head)
		if len(page) == 0 {
			return head
		}
		head = page[len(page)-1].Seq
	}
}

// readsWorld: two teams, 12 identifications of north (4 ops each) and 3 of
// east, a national and a regional (east) supervisor, an auditor.
func readsWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(startServer(t), []string{"north", "east"}, map[string]userSpec{
		"fw":      {role: model.RoleFieldWorker, teams: []string{"north"}},
		"fw.e":    {role: model.RoleFieldWorker, teams: []string{"east"}},
		"sup":     {role: model.RoleSupervisor},
		"sup.e":   {role: model.RoleSupervisor, teams: []string{"east"}},
		"auditor": {role: model.RoleAuditor},
	})
	for range 12 {
		fw := w.clients["fw"]
		fw.pushApplied(fw.newIdentification(newID(), w.teams["north"],
			[3]any{"status", "set", "presumed"}, [3]any{"sex", "set", "female"}, [3]any{"notes", "append", map[string]any{"text": "private note"}})...)
	}
	for range 3 {
		fe := w.clients["fw.e"]
		fe.pushApplied(fe.newIdentification(newID(), w.teams["east"], [3]any{"status", "set", "potential"})...)
	}
	return w
}

// pageCounts returns the identification ops and distinct records of a page.
func pageCounts(t *testing.T, ops []json.RawMessage) (int, int) {
	t.Helper()
	n, records := 0, map[string]bool{}
	for _, raw := range ops {
		var op struct{ Record, Kind string }
		mustUnmarshal(t, raw, &op)
		if op.Kind == model.KindIdentification {
			n++
			records[op.Record] = true
		}
	}
	return n, len(records)
}

// TestSupervisorPullAuditedPerPage: a supervisor's pull writes exactly one
// records_pulled entry per page, with the page's op and record counts and
// no record id or content; a field worker's pull writes none. (Before,
// a supervisor could pull every record without the audit log moving.)
func TestSupervisorPullAuditedPerPage(t *testing.T) {
	w := readsWorld(t)
	auditor := w.clients["auditor"]
	for _, tc := range []struct {
		who          string
		limit        int
		wantOps      int
		wantAudited  bool
		wantMinPages int
	}{
		{"sup", 7, 12*4 + 3*2, true, 8},
		{"sup.e", 2, 3 * 2, true, 3},
		{"fw", 7, 12 * 4, false, 7},
	} {
		c := w.clients[tc.who]
		head := auditHead(auditor)
		var pages [][2]int // the non-empty pages' counts
		cursor, total := "", 0
		for {
			page := getJSON[api.PullResponse](c, fmt.Sprintf("/v1/sync/pull?cursor=%s&limit=%d", cursor, tc.limit))
			ops, records := pageCounts(t, page.Ops)
			if ops > 0 {
				pages = append(pages, [2]int{ops, records})
			}
			total += ops
			cursor = page.Cursor
			if !page.More {
				break
			}
		}
		if total != tc.wantOps || len(pages) < tc.wantMinPages {
			t.Fatalf("%s pulled %d identification ops in %d pages, want %d in at least %d", tc.who, total, len(pages), tc.wantOps, tc.wantMinPages)
		}
		entries := auditAfter(auditor, head)
		if !tc.wantAudited {
			if len(entries) != 0 {
				t.Errorf("%s's pull wrote %d audit entries: %+v", tc.who, len(entries), entries)
			}
			continue
		}
		if len(entries) != len(pages) {
			t.Fatalf("%s pulled %d pages; the audit log grew by %d entries, want %d: %+v", tc.who, len(pages), len(entries), len(pages), entries)
		}
		for i, e := range entries {
			want := fmt.Sprintf("%d ops of %d records", pages[i][0], pages[i][1])
			if e.Action != "records_pulled" || e.Actor != c.user.ID || e.Device != c.device || e.Detail != want || e.Object != "" {
				t.Errorf("%s page %d: entry %+v, want records_pulled %q by the caller's device, no object", tc.who, i+1, e, want)
			}
		}
	}
	// A pull with nothing new writes nothing.
	sup := w.clients["sup"]
	_, _, cursor := sup.pullAll("", 5000)
	head := auditHead(auditor)
	getJSON[api.PullResponse](sup, "/v1/sync/pull?cursor="+cursor)
	if entries := auditAfter(auditor, head); len(entries) != 0 {
		t.Errorf("an empty pull wrote %+v", entries)
	}
}

// TestStatsRequestsAudited: every figures request is audited, one entry
// each, with its scope and threshold and no figure; exports as export.
func TestStatsRequestsAudited(t *testing.T) {
	w := readsWorld(t)
	auditor, sup, supE := w.clients["auditor"], w.clients["sup"], w.clients["sup.e"]
	head := auditHead(auditor)
	sup.stats("")
	supE.stats("threshold=7")
	supE.mustDo(http.StatusOK, http.MethodGet, "/v1/export/stats", nil)
	got := []string{}
	for _, e := range auditAfter(auditor, head) {
		who := map[string]string{sup.user.ID: "sup", supE.user.ID: "sup.e"}[e.Actor]
		got = append(got, who+" "+e.Action+" "+e.Detail)
	}
	want := []string{"sup figures_read national, threshold 5", "sup.e figures_read jurisdiction, threshold 7", "sup.e export stats csv"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit entries %q, want %q", got, want)
	}
}
