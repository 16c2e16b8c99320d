package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// Exports (supervisors only).
//
// GET /v1/export/stats is the monitoring tables of GET /v1/stats as CSV,
// with the same suppression; it is audited as one export event.
//
// GET /v1/export/records is one CSV row per identification of the
// caller's jurisdiction: the coded fields of the record (never the text
// of notes, consent or referral entries, only their counts), and the
// records it is linked to among those exported (a link to a record the
// caller may not read is left out). Every record
// exported is written to the audit log (action export, the record's id)
// before the first byte is sent; if that fails nothing is sent.

// exportAuditBatch bounds the audit events written in one transaction.
const exportAuditBatch = 1000

// csvSafe defuses a cell a spreadsheet would read as a formula.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func writeCSV(rows [][]string) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for _, r := range rows {
		for i := range r {
			r[i] = csvSafe(r[i])
		}
		_ = w.Write(r) // a bytes.Buffer does not fail
	}
	w.Flush()
	return buf.Bytes()
}

func sendCSV(c *fiber.Ctx, name string, body []byte) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(body)
}

// statsCSV returns the figures as CSV rows: table, title, key (the
// dimensions' values joined by " / "), count, flag (suppressed or rounded).
func statsCSV(st api.Stats) [][]string {
	rows := [][]string{{"table", "title", "key", "count", "flag"}}
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

// exportStats handles GET /v1/export/stats.
func (s *Server) exportStats(c *fiber.Ctx) error {
	st, err := s.computeStats(c)
	if err != nil {
		return err
	}
	if err := s.mustRecord(c.UserContext(), event(c, audit.ActionExport, "", "stats csv")); err != nil {
		return err
	}
	return sendCSV(c, "fieldsync-figures-"+st.GeneratedAt.Format("2006-01-02")+".csv", writeCSV(statsCSV(st)))
}

// recordColumns are the columns of the record export.
var recordColumns = []string{"id", "code", "team", "team_name", "deleted", "status", "review_status", "identifier_type",
	"encounter_date", "region", "sex", "age_group", "age_estimate", "citizenship", "child_presumed", "exploitation_types",
	"indicators", "recruitment_channels", "payment_means", "action_week", "linked_records", "referrals", "notes",
	"consent_events", "conflicts", "hlc"}

// linkedColumn is the index of linked_records in recordColumns.
var linkedColumn = slices.Index(recordColumns, "linked_records")

// recordRow is one identification as an export row, its linked_records
// cell left empty (exportRecords fills it).
func recordRow(rec *crdt.Record, sum store.Summary, teamName string) []string {
	reg := func(f string) string {
		v := rec.Value(f)
		if s := jsonString(v); s != "" || crdt.IsNull(v) {
			return s
		}
		return string(v) // numbers and booleans
	}
	set := func(f string) string { return strings.Join(rec.Elements(f), ";") }
	count := func(f string) string { return strconv.Itoa(len(rec.Entries(f))) }
	return []string{rec.ID, reg("code"), sum.Team, teamName, strconv.FormatBool(rec.Deleted()), reg("status"), reg("review_status"),
		reg("identifier_type"), reg("encounter_date"), reg("region"), reg("sex"), reg("age_group"), reg("age_estimate"),
		reg("citizenship"), reg("child_presumed"), set("exploitation_types"), set("indicators"), set("recruitment_channels"),
		set("payment_means"), reg("action_week"), "", count("referrals"), count("notes"), count("consent"),
		strings.Join(rec.Conflicts(), ";"), rec.HLC.String()}
}

// fillLinks writes into each row's linked_records cell the records it is
// linked to among rows (the records the caller may read), sorted.
func (s *Server) fillLinks(ctx context.Context, rows [][]string) error {
	links, err := s.db.Links(ctx)
	if err != nil {
		return err
	}
	row := make(map[string][]string, len(rows))
	for _, r := range rows {
		row[r[0]] = r
	}
	linked := map[string][]string{}
	for _, l := range links {
		a, b := l.Records[0], l.Records[1]
		if row[a] != nil && row[b] != nil {
			linked[a] = append(linked[a], b)
			linked[b] = append(linked[b], a)
		}
	}
	for id, others := range linked {
		slices.Sort(others)
		row[id][linkedColumn] = strings.Join(others, ";")
	}
	return nil
}

// exportRecords handles GET /v1/export/records.
func (s *Server) exportRecords(c *fiber.Ctx) error {
	p := principal(c)
	ctx := c.UserContext()
	names, err := s.teamNames(ctx)
	if err != nil {
		return err
	}
	rows := [][]string{recordColumns}
	var events []audit.Event
	err = s.scanReadable(ctx, p, func(sum store.Summary, rec *crdt.Record) error {
		rows = append(rows, recordRow(rec, sum, names[sum.Team]))
		events = append(events, event(c, audit.ActionExport, rec.ID, "records csv"))
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.fillLinks(ctx, rows[1:]); err != nil {
		return err
	}
	for len(events) > 0 {
		n := min(len(events), exportAuditBatch)
		if err := s.mustRecord(ctx, events[:n]...); err != nil {
			return err
		}
		events = events[n:]
	}
	return sendCSV(c, "fieldsync-records-"+s.now().UTC().Format("2006-01-02")+".csv", writeCSV(rows))
}
