package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/review"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// Possible duplicates and links (GET /v1/review/duplicates, POST and GET
// /v1/review/links). The duplicate rule and what a link changes are the
// rules of server/review; this file feeds them only the records the
// caller may read, writes links with their audit entries in one
// transaction, and renders the answers.

// Audit actions of links, declared here (server/audit lists the others).
const (
	actionRecordsLinked   audit.Action = "records_linked"
	actionRecordsUnlinked audit.Action = "records_unlinked"
)

// listDuplicates handles GET /v1/review/duplicates (supervisors): flagged
// pairs among the records the caller may read; record=<id> keeps the
// pairs of one record, include_linked=true keeps linked pairs too; paged
// with after=<next>. A page that shows pairs is audited.
func (s *Server) listDuplicates(c *fiber.Ctx) error {
	f, err := review.ParseDuplicateQuery(queryOf(c))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	var cands []review.Candidate
	err = s.scanReadable(ctx, principal(c), func(_ store.Summary, rec *crdt.Record) error {
		if cand, ok := review.CandidateOf(rec); ok {
			cands = append(cands, cand)
		}
		return nil
	})
	if err != nil {
		return err
	}
	links, err := s.links(ctx)
	if err != nil {
		return err
	}
	out := review.ListDuplicates(cands, links, f)
	if len(out.Pairs) > 0 {
		if err := s.mustRecord(ctx, event(c, audit.ActionRecordsListed, f.Record, "possible duplicates: "+strconv.Itoa(len(out.Pairs))+" pairs")); err != nil {
			return err
		}
	}
	return c.JSON(out)
}

// linkRecords handles POST /v1/review/links (supervisors): link (or
// unlink) two identifications the caller may read. The link and its two
// audit entries are one transaction (no link without its audit entry, no
// entry for a link not written); a request that changes nothing writes
// nothing and answers changed false.
func (s *Server) linkRecords(c *fiber.Ctx) error {
	var req api.LinkRequest
	if err := decodeBody(requestBody(c), s.cfg.MaxDepth, &req); err != nil {
		return err
	}
	change, err := review.PlanLink(req)
	if err != nil {
		return err
	}
	p, ctx := principal(c), c.UserContext()
	for _, id := range []string{change.A, change.B} {
		if err := s.readableIdentification(ctx, p, id); err != nil {
			return err
		}
	}
	action := actionRecordsLinked
	if change.Unlink {
		action = actionRecordsUnlinked
	}
	forA, forB := change.Details()
	write := func(ctx context.Context, entries []audit.Entry) error {
		return s.db.SetLink(ctx, change.A, change.B, !change.Unlink, p.User, s.now(), entries)
	}
	err = s.audit.RecordWith(ctx, write, event(c, action, change.A, forA), event(c, action, change.B, forB))
	changed := !errors.Is(err, store.ErrLinkUnchanged)
	if err != nil && changed {
		return fmt.Errorf("write link: %w", err)
	}
	return c.JSON(change.Response(changed))
}

// listLinks handles GET /v1/review/links?record=<id> (supervisors): the
// links of an identification the caller may read, to the records it may
// also read; a link to a record outside the caller's reach is left out as
// if it did not exist. Audited like a list of records.
func (s *Server) listLinks(c *fiber.Ctx) error {
	record := c.Query("record")
	if !model.ValidID(record) {
		return model.Errorf(model.CodeInvalidID, "record must be a UUID in canonical lowercase form.")
	}
	p, ctx := principal(c), c.UserContext()
	if err := s.readableIdentification(ctx, p, record); err != nil {
		return err
	}
	stored, err := s.db.LinksOf(ctx, record)
	if err != nil {
		return err
	}
	links := make([]api.Link, len(stored))
	for i, l := range stored {
		links[i] = api.Link{Records: []string{l.Records[0], l.Records[1]}, By: l.By, At: l.At}
	}
	out := review.VisibleLinks(record, links, func(id string) bool { return s.readableIdentification(ctx, p, id) == nil })
	if err := s.mustRecord(ctx, event(c, audit.ActionRecordsListed, record, "links: "+strconv.Itoa(len(out.Links)))); err != nil {
		return err
	}
	return c.JSON(out)
}
