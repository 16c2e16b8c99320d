package server

import (
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/export"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// Exports (supervisors only). The rows and their CSV encoding are the
// rules of server/export; this file feeds it what the caller may read,
// audits and sends.
//
// GET /v1/export/stats is the monitoring tables of GET /v1/stats as CSV,
// with the same suppression; it is audited as one export event.
//
// GET /v1/export/records is one CSV row per identification of the
// caller's jurisdiction. Every record exported is written to the audit log
// (action export, the record's id) before the first byte is sent; if that
// fails nothing is sent.

// exportAuditBatch bounds the audit events written in one transaction.
const exportAuditBatch = 1000

func sendCSV(c *fiber.Ctx, name string, body []byte) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(body)
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
	return sendCSV(c, "fieldsync-figures-"+st.GeneratedAt.Format("2006-01-02")+".csv", export.CSV(export.StatsRows(st)))
}

// exportRecords handles GET /v1/export/records.
func (s *Server) exportRecords(c *fiber.Ctx) error {
	ctx := c.UserContext()
	names, err := s.teamNames(ctx)
	if err != nil {
		return err
	}
	rows := [][]string{slices.Clone(export.RecordColumns)}
	var events []audit.Event
	err = s.scanReadable(ctx, principal(c), func(sum store.Summary, rec *crdt.Record) error {
		rows = append(rows, export.RecordRow(rec, sum.Team, names[sum.Team]))
		events = append(events, event(c, audit.ActionExport, rec.ID, "records csv"))
		return nil
	})
	if err != nil {
		return err
	}
	links, err := s.linkPairs(ctx)
	if err != nil {
		return err
	}
	export.LinkRows(rows[1:], links)
	for len(events) > 0 {
		n := min(len(events), exportAuditBatch)
		if err := s.mustRecord(ctx, events[:n]...); err != nil {
			return err
		}
		events = events[n:]
	}
	return sendCSV(c, "fieldsync-records-"+s.now().UTC().Format("2006-01-02")+".csv", export.CSV(rows))
}
