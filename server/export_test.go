package server_test

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// readCSV reads a CSV export.
func readCSV(t *testing.T, body []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatalf("the export is no CSV: %v", err)
	}
	return rows
}

// TestExports: the figures as CSV match the JSON; the record export holds
// the caller's records only, each audited.
func TestExports(t *testing.T) {
	t.Parallel()
	d, _ := statsWorld(t)
	sup, supE := d.clients["sup"], d.clients["sup.e"]

	t.Run("the figures as CSV are the figures", func(t *testing.T) {
		st := sup.stats("")
		rows := readCSV(t, sup.mustDo(http.StatusOK, http.MethodGet, "/v1/export/stats", nil))
		if !slices.Equal(rows[0], []string{"table", "title", "key", "count", "flag"}) {
			t.Fatalf("header %v", rows[0])
		}
		want := 1
		for _, tb := range st.Tables {
			want += len(tb.Cells) + 1
		}
		if len(rows)-1 != want {
			t.Errorf("%d CSV rows, want %d", len(rows)-1, want)
		}
		for _, r := range rows[1:] {
			if r[3] == "" {
				if r[4] != "suppressed" {
					t.Errorf("row %v: empty count not flagged suppressed", r)
				}
				continue
			}
			n, err := strconv.Atoi(r[3])
			if err != nil || small(n, 5) {
				t.Errorf("row %v shows a small count", r)
			}
		}
		statusRow := slices.IndexFunc(rows, func(r []string) bool { return r[0] == "status" && r[2] == "presumed" })
		if statusRow < 0 || rows[statusRow][3] != "30" {
			t.Errorf("status presumed row %v", rows[statusRow])
		}
	})

	ids := map[string]bool{}
	t.Run("a regional export holds only the jurisdiction's records", func(t *testing.T) {
		body := supE.mustDo(http.StatusOK, http.MethodGet, "/v1/export/records", nil)
		recs := readCSV(t, body)
		if len(recs) != 21 || recs[0][0] != "id" {
			t.Fatalf("regional export has %d rows (header %v), want 20 records", len(recs)-1, recs[0])
		}
		col := slices.Index(recs[0], "team_name")
		for _, r := range recs[1:] {
			if r[col] != "east" {
				t.Errorf("exported a record of %s", r[col])
			}
			ids[r[0]] = true
		}
		if strings.Contains(string(body), "debt_bondage") || strings.Contains(strings.ToLower(string(body)), "shelter") {
			t.Error("the regional export holds content of other teams' records")
		}
	})

	t.Run("every exported record is audited", func(t *testing.T) {
		var audit struct {
			Entries []struct{ Action, Object, Detail, Actor string }
		}
		mustUnmarshal(t, d.clients["auditor"].mustDo(http.StatusOK, http.MethodGet, "/v1/audit?limit=1000", nil), &audit)
		exported := 0
		statsExports := 0
		for _, e := range audit.Entries {
			if e.Action == "export" && e.Actor == supE.user.ID && ids[e.Object] {
				exported++
			}
			if e.Action == "export" && e.Detail == "stats csv" && e.Actor == sup.user.ID {
				statsExports++
			}
		}
		if exported != 20 || statsExports != 1 {
			t.Errorf("audit holds %d record exports (want 20) and %d stats exports (want 1)", exported, statsExports)
		}
	})

	t.Run("a national export holds every record", func(t *testing.T) {
		if recs := readCSV(t, sup.mustDo(http.StatusOK, http.MethodGet, "/v1/export/records", nil)); len(recs) != 46 {
			t.Errorf("national export has %d records, want 45", len(recs)-1)
		}
	})
}
