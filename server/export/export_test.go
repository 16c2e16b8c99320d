package export_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/export"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

var schema = model.DefaultSchema()

// record returns identification id with the ops writes (field, action,
// value, ...), one per day, by one device; a fifth element of a write
// names its base.
func record(t *testing.T, id string, writes ...[]any) *crdt.Record {
	t.Helper()
	rec := crdt.NewRecord(id, model.KindIdentification)
	for i, w := range writes {
		raw, err := json.Marshal(w[2])
		if err != nil {
			t.Fatal(err)
		}
		op := &crdt.Op{ID: fmt.Sprintf("%s-%d", id, i), Record: id, Kind: model.KindIdentification, Field: w[0].(string),
			Action: model.Action(w[1].(string)), Value: raw, Base: []string{}, HLC: hlc.New(1_767_225_600_000+int64(i)*86_400_000, 0),
			Device: fmt.Sprint("d", w[3]), User: "u"}
		if len(w) > 4 {
			op.Base = w[4].([]string)
		}
		if _, err := rec.Apply(schema, op); err != nil {
			t.Fatalf("apply %v: %v", w, err)
		}
	}
	return rec
}

// cells returns a record row as column -> cell.
func cells(row []string) map[string]string {
	out := map[string]string{}
	for i, c := range export.RecordColumns {
		out[c] = row[i]
	}
	return out
}

// TestRecordRow documents each kind of cell of the record export.
func TestRecordRow(t *testing.T) {
	t.Parallel()
	rec := record(t, "r1",
		[]any{"team", "set", "t0", 0},
		[]any{"code", "set", "N-2026-001", 0},
		[]any{"age_estimate", "set", 17, 0},
		[]any{"child_presumed", "set", true, 0},
		[]any{"region", "set", "", 0},
		[]any{"location", "set", nil, 0},
		[]any{"indicators", "add", "debt_bondage", 0},
		[]any{"indicators", "add", "deceived_nature_of_job", 0},
		[]any{"notes", "append", map[string]string{"text": "met at the bus station"}, 0},
		[]any{"notes", "append", map[string]string{"text": "called back"}, 0},
		[]any{"referrals", "append", map[string]string{"service": "shelter"}, 0},
		[]any{"status", "set", "presumed", 1},
		[]any{"status", "set", "potential", 2},
	)
	row := export.RecordRow(rec, "t0", "North")
	if len(row) != len(export.RecordColumns) {
		t.Fatalf("%d cells, want %d", len(row), len(export.RecordColumns))
	}
	got := cells(row)
	for _, tc := range []struct{ name, column, want string }{
		{"the record id", "id", "r1"},
		{"the team and its name", "team_name", "North"},
		{"a string register shows its text", "code", "N-2026-001"},
		{"a number shows as JSON", "age_estimate", "17"},
		{"a boolean shows as JSON", "child_presumed", "true"},
		{"an unset register is empty", "sex", ""},
		{"an empty string shows as JSON", "region", `""`},
		{"a register in conflict shows its greatest sibling", "status", "potential"},
		{"a set joins its elements", "indicators", "debt_bondage;deceived_nature_of_job"},
		{"a log shows only its number of entries", "notes", "2"},
		{"referrals are counted", "referrals", "1"},
		{"consent events are counted", "consent_events", "0"},
		{"conflicts are named", "conflicts", "status"},
		{"links are left to LinkRows", "linked_records", ""},
		{"deleted", "deleted", "false"},
		{"the record's hlc", "hlc", rec.HLC.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got[tc.column] != tc.want {
				t.Errorf("%s = %q, want %q", tc.column, got[tc.column], tc.want)
			}
		})
	}
	t.Run("no entry text", func(t *testing.T) {
		for _, c := range row {
			if strings.Contains(c, "bus station") || strings.Contains(c, "shelter") {
				t.Errorf("a cell holds entry text: %q", c)
			}
		}
	})
}

// TestLinkRows: a row names the records it is linked to among the rows,
// sorted; a link to a record not exported is left out.
func TestLinkRows(t *testing.T) {
	t.Parallel()
	rows := [][]string{}
	for _, id := range []string{"a", "b", "c"} {
		rows = append(rows, export.RecordRow(record(t, id, []any{"team", "set", "t0", 0}), "t0", "North"))
	}
	export.LinkRows(rows, [][2]string{{"a", "c"}, {"a", "b"}, {"b", "hidden"}})
	got := map[string]string{}
	for _, r := range rows {
		got[r[0]] = cells(r)["linked_records"]
	}
	if want := map[string]string{"a": "b;c", "b": "a", "c": "a"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("linked_records %v, want %v", got, want)
	}
}

// TestStatsRows: the count of identifications first, then each table's
// cells and total, with the suppressed and rounded flags.
func TestStatsRows(t *testing.T) {
	t.Parallel()
	n := func(v int) *int { return &v }
	st := api.Stats{Threshold: 5, Scope: "national", Identifications: api.StatsCount{Count: n(45)},
		Tables: []api.StatsTable{{Name: "sex_age", Title: "Sex by age group", Cells: []api.StatsCell{
			{Key: []string{"female", "adult"}, StatsCount: api.StatsCount{Count: n(40)}},
			{Key: []string{"male", "child"}, StatsCount: api.StatsCount{Suppressed: true}},
		}, Total: api.StatsCount{Count: n(45), Rounded: true}}}}
	got := export.StatsRows(st)
	want := [][]string{
		{"table", "title", "key", "count", "flag"},
		{"identifications", "Identifications counted (threshold 5, national)", "total", "45", ""},
		{"sex_age", "Sex by age group", "female / adult", "40", ""},
		{"sex_age", "Sex by age group", "male / child", "", "suppressed"},
		{"sex_age", "Sex by age group", "total", "45", "rounded"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rows\n%q\nwant\n%q", got, want)
	}
}

// TestCSV: no cell reaches a spreadsheet as a formula; the rest is plain
// CSV.
func TestCSV(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, cell, want string }{
		{"a formula", "=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"},
		{"a plus", "+1", "'+1"},
		{"a minus", "-1", "'-1"},
		{"an at", "@SUM(A1)", "'@SUM(A1)"},
		{"a tab", "\tx", "'\tx"},
		{"a carriage return", "\rx", "'\rx"},
		{"an equals sign inside", "a=b", "a=b"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := export.Safe(tc.cell); got != tc.want {
				t.Errorf("Safe(%q) = %q, want %q", tc.cell, got, tc.want)
			}
			back, err := csv.NewReader(strings.NewReader(string(export.CSV([][]string{{tc.cell, "x,y"}})))).ReadAll()
			if err != nil || len(back) != 1 || back[0][0] != tc.want || back[0][1] != "x,y" {
				t.Errorf("CSV round trip %q, %v; want [%q x,y]", back, err, tc.want)
			}
		})
	}
}
