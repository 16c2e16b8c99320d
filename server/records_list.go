package server

import (
	"context"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
)

// recordLister is what GET /v1/records needs from storage.
type recordLister interface {
	ListRecords(ctx context.Context, f store.ListFilter) ([]store.Summary, string, error)
}

const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// listRecords handles GET /v1/records: summaries of the records the caller
// may read, filtered, ordered by id, paged with ?after=<next>.
func (s *Server) listRecords(c *fiber.Ctx) error {
	p := principal(c)
	f, err := listFilter(c)
	if err != nil {
		return err
	}
	if q, ok, err := parseSearch(c, f); err != nil {
		return err
	} else if ok {
		return s.searchRecords(c, p, f, q)
	}
	f.Visible = func(sc access.Scope) bool { return access.CanRead(p, sc) }
	sums, next, err := s.db.ListRecords(c.UserContext(), f)
	if err != nil {
		return err
	}
	if p.Role == model.RoleSupervisor && len(sums) > 0 {
		if err := s.mustRecord(c.UserContext(), event(c, audit.ActionRecordsListed, "", strconv.Itoa(len(sums))+" records")); err != nil {
			return err
		}
	}
	out := api.RecordList{Records: make([]api.RecordSummary, len(sums)), Next: next}
	for i, sm := range sums {
		out.Records[i] = summaryOf(sm)
	}
	return c.JSON(out)
}

// summaryOf returns the served form of a stored summary.
func summaryOf(sm store.Summary) api.RecordSummary {
	conflicts := sm.Conflicts
	if conflicts == nil {
		conflicts = []string{}
	}
	return api.RecordSummary{
		ID: sm.ID, Kind: sm.Kind, Team: sm.Team, ActionWeek: sm.ActionWeek, Status: sm.Status, Region: sm.Region,
		ReviewStatus: sm.ReviewStatus, Conflicts: conflicts, Deleted: sm.Deleted, HLC: sm.HLC, UpdatedAt: sm.UpdatedAt,
	}
}

func listFilter(c *fiber.Ctx) (store.ListFilter, error) {
	f := store.ListFilter{
		Kind: c.Query("kind"), Status: c.Query("status"), Team: c.Query("team"), Region: c.Query("region"),
		ReviewStatus: c.Query("review_status"), After: c.Query("after"), Limit: defaultListLimit,
	}
	if v := c.Query("has_conflicts"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, model.Errorf(model.CodeInvalidRequest, "has_conflicts must be true or false.")
		}
		f.HasConflicts = &b
	}
	if v := c.Query("updated_since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, model.Errorf(model.CodeInvalidRequest, "updated_since must be an RFC 3339 time such as 2026-11-01T00:00:00Z.")
		}
		f.UpdatedSince = t
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, model.Errorf(model.CodeInvalidRequest, "limit must be a positive integer (at most %d).", maxListLimit)
		}
		f.Limit = min(n, maxListLimit)
	}
	if f.Team != "" && !model.ValidID(f.Team) {
		return f, model.Errorf(model.CodeInvalidID, "team must be a UUID in canonical lowercase form.")
	}
	return f, nil
}
