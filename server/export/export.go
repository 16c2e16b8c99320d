// Package export builds the supervisors' CSV exports (GET
// /v1/export/stats, GET /v1/export/records): the rows and their encoding.
// It is pure: no I/O, no clock; the server scans the records the caller
// may read, feeds them in, audits every exported record and sends the
// bytes.
//
// Invariants: a record row holds the coded fields of the record, never the
// text of notes, consent or referral entries (only their counts), and its
// linked_records cell names only records exported in the same file (so a
// link to a record the caller may not read is left out); the figures rows
// are the figures as computed, suppression included; no cell starts with a
// character a spreadsheet would read as a formula.
package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// StatsColumns are the columns of the figures export.
var StatsColumns = []string{"table", "title", "key", "count", "flag"}

// StatsRows returns the figures as CSV rows, header first: table, title,
// key (the dimensions' values joined by " / "), count, flag (suppressed or
// rounded). The count of identifications comes first, then each table's
// cells and its total.
func StatsRows(st api.Stats) [][]string {
	rows := [][]string{slices.Clone(StatsColumns)}
	row := func(table, title, key string, n api.StatsCount) {
		count, flag := "", ""
		if n.Count != nil {
			count = strconv.Itoa(*n.Count)
		}
		if n.Suppressed {
			flag = "suppressed"
		} else if n.Rounded {
			flag = "rounded"
		}
		rows = append(rows, []string{table, title, key, count, flag})
	}
	row("identifications", "Identifications counted (threshold "+strconv.Itoa(st.Threshold)+", "+st.Scope+")", "total", st.Identifications)
	for _, t := range st.Tables {
		for _, cell := range t.Cells {
			row(t.Name, t.Title, strings.Join(cell.Key, " / "), cell.StatsCount)
		}
		row(t.Name, t.Title, "total", t.Total)
	}
	return rows
}

// RecordColumns are the columns of the record export.
var RecordColumns = []string{"id", "code", "team", "team_name", "deleted", "status", "review_status", "identifier_type",
	"encounter_date", "region", "sex", "age_group", "age_estimate", "citizenship", "child_presumed", "exploitation_types",
	"indicators", "recruitment_channels", "payment_means", "action_week", "linked_records", "referrals", "notes",
	"consent_events", "conflicts", "hlc"}

// linkedColumn is the index of linked_records in RecordColumns.
var linkedColumn = slices.Index(RecordColumns, "linked_records")

// RecordRow is one identification as an export row (RecordColumns) of
// team team named teamName, its linked_records cell left empty (LinkRows
// fills it). Registers show their shown value (a string's text, a number
// or boolean as JSON, "" when unset); sets their elements joined by ";";
// logs only their number of entries.
func RecordRow(rec *crdt.Record, team, teamName string) []string {
	reg := func(f string) string { return cell(rec.Value(f)) }
	set := func(f string) string { return strings.Join(rec.Elements(f), ";") }
	count := func(f string) string { return strconv.Itoa(len(rec.Entries(f))) }
	return []string{rec.ID, reg("code"), team, teamName, strconv.FormatBool(rec.Deleted()), reg("status"), reg("review_status"),
		reg("identifier_type"), reg("encounter_date"), reg("region"), reg("sex"), reg("age_group"), reg("age_estimate"),
		reg("citizenship"), reg("child_presumed"), set("exploitation_types"), set("indicators"), set("recruitment_channels"),
		set("payment_means"), reg("action_week"), "", count("referrals"), count("notes"), count("consent"),
		strings.Join(rec.Conflicts(), ";"), rec.HLC.String()}
}

// cell returns a register value as a cell: a non-empty string's text, ""
// for null or unset, otherwise the JSON text (numbers, booleans, "").
func cell(v json.RawMessage) string {
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil && s != "" {
		return s
	}
	if crdt.IsNull(v) {
		return ""
	}
	return string(v)
}

// LinkRows writes into each record row's linked_records cell the records
// it is linked to among rows, sorted and joined by ";". links are the
// stored links' record pairs; a link to a record not among rows is left
// out.
func LinkRows(rows [][]string, links [][2]string) {
	row := make(map[string][]string, len(rows))
	for _, r := range rows {
		row[r[0]] = r
	}
	linked := map[string][]string{}
	for _, l := range links {
		a, b := l[0], l[1]
		if row[a] != nil && row[b] != nil {
			linked[a] = append(linked[a], b)
			linked[b] = append(linked[b], a)
		}
	}
	for id, others := range linked {
		slices.Sort(others)
		row[id][linkedColumn] = strings.Join(others, ";")
	}
}

// Safe defuses a cell a spreadsheet would read as a formula (one starting
// with =, +, -, @, a tab or a carriage return) by prefixing a quote.
func Safe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// CSV encodes rows, every cell made Safe (rows are modified in place).
func CSV(rows [][]string) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for _, r := range rows {
		for i := range r {
			r[i] = Safe(r[i])
		}
		_ = w.Write(r) // a bytes.Buffer does not fail
	}
	w.Flush()
	return buf.Bytes()
}
