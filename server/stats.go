package server

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/figures"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// Monitoring figures (GET /v1/stats, GET /v1/export/stats): the counting
// and suppression rules live in the pure package server/figures; this file
// scans the store, feeds it only what the caller may read, and audits the
// request.
//
// Design (no oracle): a caller's figures are a function of the records it
// may read, the threshold, and the regional jurisdictions nested in its
// own; nothing outside its jurisdiction is counted, so ?threshold= (which
// may raise the server's threshold, never lower it) sweeps over data the
// caller may read anyway. Protection against differencing (national minus
// regional figures) is applied by the larger jurisdiction's figures, which
// may read the smaller one's complement, never by the smaller one's.
// Every request is audited before its figures are sent (figures_read, or
// export for the CSV); a request that cannot be audited is refused.

// DefaultStatsThreshold is the smallest count shown unless configured.
const DefaultStatsThreshold = figures.DefaultThreshold

const maxStatsThreshold = figures.MaxThreshold

// statsThreshold returns the threshold of the request: the server's, or a
// higher one from ?threshold=.
func (s *Server) statsThreshold(c *fiber.Ctx) (int, error) {
	threshold := s.cfg.StatsThreshold
	if v := c.Query("threshold"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < threshold || n > maxStatsThreshold {
			return 0, model.Errorf(model.CodeInvalidRequest, "threshold may only raise the server's threshold of %d (up to %d).", threshold, maxStatsThreshold)
		}
		threshold = n
	}
	return threshold, nil
}

// jurisdictions returns the team lists of the regional supervisors.
func (s *Server) jurisdictions(ctx context.Context) ([][]string, error) {
	users, err := s.db.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, u := range users {
		if u.Role == model.RoleSupervisor && len(u.Teams) > 0 {
			out = append(out, u.Teams)
		}
	}
	return out, nil
}

// computeStats returns the figures the caller may see.
func (s *Server) computeStats(c *fiber.Ctx) (api.Stats, error) {
	p, ctx := principal(c), c.UserContext()
	threshold, err := s.statsThreshold(c)
	if err != nil {
		return api.Stats{}, err
	}
	nested, err := s.jurisdictions(ctx)
	if err != nil {
		return api.Stats{}, err
	}
	f := figures.New(s.schema, p, nested)
	err = s.scanReadable(ctx, p, func(sum store.Summary, rec *crdt.Record) error {
		f.Add(sum.Scope(), rec)
		return nil
	})
	if err != nil {
		return api.Stats{}, err
	}
	out := f.Figures(threshold)
	out.GeneratedAt = s.now().UTC()
	return out, nil
}

// statsDetail is the audit detail of a figures request: its parameters,
// never a figure.
func statsDetail(st api.Stats) string {
	return st.Scope + ", threshold " + strconv.Itoa(st.Threshold)
}

// getStats handles GET /v1/stats (supervisors): the monitoring tables of
// the caller's jurisdiction, small cells suppressed; audited.
func (s *Server) getStats(c *fiber.Ctx) error {
	out, err := s.computeStats(c)
	if err != nil {
		return err
	}
	if err := s.mustRecord(c.UserContext(), event(c, audit.ActionFiguresRead, "", statsDetail(out))); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}
