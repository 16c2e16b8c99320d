package server

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/review"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// The supervisors' review queue (GET /v1/review/queue). Why a record waits
// in it, its order and its pages are the rules of server/review; this file
// scans what the caller may read, audits the read and renders the page.

// reviewQueue handles GET /v1/review/queue (supervisors): the records of
// the caller's jurisdiction waiting for a decision, oldest reason first,
// each with its reasons; filters reason, team, region, status; paged with
// after=<next>. A page that shows records is audited as a records list.
func (s *Server) reviewQueue(c *fiber.Ctx) error {
	f, err := review.ParseQueueQuery(queryOf(c))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	visitor, err := s.visitorsOf(ctx)
	if err != nil {
		return err
	}
	names, err := s.teamNames(ctx)
	if err != nil {
		return err
	}
	q := review.NewQueue(f, visitor, names)
	err = s.scanReadable(ctx, principal(c), func(sum store.Summary, rec *crdt.Record) error {
		q.Add(rec, review.Summary{Team: sum.Team, Region: sum.Region, Status: sum.Status, ReviewStatus: sum.ReviewStatus})
		return nil
	})
	if err != nil {
		return err
	}
	page := q.Page()
	if len(page.Items) > 0 {
		links, err := s.links(ctx)
		if err != nil {
			return err
		}
		q.FlagDuplicates(page.Items, links)
		if err := s.mustRecord(ctx, event(c, audit.ActionRecordsListed, "", "review queue: "+strconv.Itoa(len(page.Items))+" records")); err != nil {
			return err
		}
	}
	return c.JSON(page)
}
