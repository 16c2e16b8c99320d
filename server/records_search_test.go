package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/api"
)

// TestRecordsSearch: the console's records view searches by code, filters
// by reason, review status "none" (never reviewed) and encounter dates,
// sorts, pages with offset and counts every match, and never lists a
// record the caller may not read.
func TestRecordsSearch(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	fw, sup, supE := d.clients["fw"], d.clients["sup"], d.clients["sup.e"]
	north := d.teams["north"]
	ids := map[string]string{}
	for _, x := range []struct{ code, date string }{{"AB-3", "2026-10-03"}, {"ab-1", "2026-10-01"}, {"XY-2", "2026-10-02"}, {"AB-4", ""}} {
		id := newID()
		more := [][3]any{{"code", "set", x.code}}
		if x.date != "" {
			more = append(more, [3]any{"encounter_date", "set", x.date})
		}
		fw.pushApplied(fw.newIdentification(id, north, more...)...)
		ids[x.code] = id
	}
	sup.review(ids["XY-2"], "reviewed")
	codes := func(l api.RecordList) []string {
		var out []string
		for _, r := range l.Records {
			out = append(out, r.Code)
		}
		return out
	}
	search := func(c *client, q string) api.RecordList {
		t.Helper()
		l := getJSON[api.RecordList](c, "/v1/records?"+q)
		if l.Total == nil {
			t.Fatalf("search %s: no total", q)
		}
		return l
	}
	for _, tc := range []struct {
		q     string
		want  []string
		total int
	}{
		{"code=ab&sort=code", []string{"ab-1", "AB-3", "AB-4"}, 3},
		{"code=AB&sort=-code&limit=2", []string{"AB-4", "AB-3"}, 3},
		{"code=ab&sort=code&limit=2&offset=2", []string{"AB-4"}, 3},
		{"sort=encounter_date&encountered_from=2026-10-02&encountered_to=2026-10-03", []string{"XY-2", "AB-3"}, 2},
		{"sort=code&review_status=none&team=" + north, []string{"ab-1", "AB-3", "AB-4", "N-1"}, 4},
		{"sort=code&review_status=reviewed", []string{"XY-2"}, 1},
		{"sort=code&reason=new&code=ab", []string{"ab-1", "AB-3", "AB-4"}, 3},
		{"sort=code&reason=new&code=-", []string{"ab-1", "AB-3", "AB-4", "N-1", "S-1"}, 5},
		{"sort=code&code=S-", []string{"S-1"}, 1},
		{"sort=code&code=nothing", nil, 0},
	} {
		l := search(sup, tc.q)
		if got := codes(l); !slices.Equal(got, tc.want) || *l.Total != tc.total {
			t.Errorf("search %s: %v (total %d), want %v (total %d)", tc.q, got, *l.Total, tc.want, tc.total)
		}
	}
	first := search(sup, "code=XY-2")
	if len(first.Records) != 1 || first.Records[0].TeamName != "north" || first.Records[0].EncounterDate != "2026-10-02" || first.Records[0].ID != ids["XY-2"] {
		t.Errorf("search code=XY-2: %+v", first.Records)
	}
	if r := search(sup, "code=AB-3").Records; len(r) != 1 || !slices.Contains(r[0].Reasons, "new") {
		t.Errorf("search code=AB-3: reasons %+v, want new", r)
	}
	// Jurisdiction: east's supervisor and the south field worker find none of north's records.
	if l := search(supE, "code=AB"); len(l.Records) != 0 || *l.Total != 0 {
		t.Errorf("east's supervisor found %v", codes(l))
	}
	if l := search(d.clients["fw.s"], "sort=code"); !slices.Equal(codes(l), []string{"S-1"}) {
		t.Errorf("the south field worker found %v", codes(l))
	}
	// Bad parameters are named.
	for _, q := range []string{"sort=hlc", "sort=code&after=" + ids["AB-3"], "encountered_from=01/10/2026", "reason=old", "offset=-1", "kind=action_week&sort=code", "code=" + strings.Repeat("a", 65)} {
		if status, body := sup.do(http.MethodGet, "/v1/records?"+q, nil); status != http.StatusBadRequest || errorCode(t, body) != "invalid_request" {
			t.Errorf("search %.40s: %d %s, want 400 invalid_request", q, status, body)
		}
	}
	// A plain list is unchanged: no total.
	if l := getJSON[api.RecordList](sup, "/v1/records?limit=2"); l.Total != nil {
		t.Errorf("a plain list has a total %d", *l.Total)
	}
}
