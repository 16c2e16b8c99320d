package server

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/review"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// A search of GET /v1/records: the console's records view. Any of the
// parameters code, reason, encountered_from, encountered_to, sort, offset,
// or review_status=none makes the list a search: it reads every
// identification the caller may read (as the review queue does), filters
// with the list's filters and these, sorts, and answers one page at
// offset with the total number of matches and, per record, its code,
// encounter date, team name and queue reasons. Invariants: a search lists
// exactly the records a plain list with the same filters lists (same
// visibility rule), only identifications, and never pages with after.

// searchSorts are the sort keys a search accepts ("-key": descending).
var searchSorts = []string{"code", "team", "region", "status", "review_status", "encounter_date", "updated"}

// maxSearchCode bounds the code text searched for, in bytes.
const maxSearchCode = 64

// recordSearch is what a search adds to the list's filter.
type recordSearch struct {
	code     string // lower case; records whose code contains it
	reason   string // a queue reason code
	from, to string // YYYY-MM-DD, inclusive bounds on encounter_date
	sort     string
	desc     bool
	offset   int
	unviewed bool // review_status=none: no review decision written
}

// parseSearch reads a search's parameters; ok reports whether the request
// is a search.
func parseSearch(c *fiber.Ctx, f store.ListFilter) (recordSearch, bool, error) {
	q := recordSearch{code: strings.ToLower(strings.TrimSpace(c.Query("code"))), reason: c.Query("reason"),
		from: c.Query("encountered_from"), to: c.Query("encountered_to"), sort: c.Query("sort"), unviewed: f.ReviewStatus == "none"}
	offset := c.Query("offset")
	if q.code == "" && q.reason == "" && q.from == "" && q.to == "" && q.sort == "" && offset == "" && !q.unviewed {
		return q, false, nil
	}
	switch {
	case f.Kind != "" && f.Kind != model.KindIdentification:
		return q, true, model.Errorf(model.CodeInvalidRequest, "A search (code, reason, encountered_from, encountered_to, sort, offset) lists identifications only.")
	case f.After != "":
		return q, true, model.Errorf(model.CodeInvalidRequest, "A search pages with offset, not after.")
	case len(q.code) > maxSearchCode:
		return q, true, model.Errorf(model.CodeInvalidRequest, "code must be at most %d bytes.", maxSearchCode)
	case q.reason != "" && !review.ValidReason(q.reason):
		return q, true, model.Errorf(model.CodeInvalidRequest, "reason must be one of %s.", strings.Join(review.ReasonCodes, ", "))
	case !isDate(q.from) || !isDate(q.to):
		return q, true, model.Errorf(model.CodeInvalidRequest, "encountered_from and encountered_to must be dates such as 2026-11-01.")
	}
	if key, desc := strings.CutPrefix(q.sort, "-"); q.sort == "" {
		q.sort, q.desc = "updated", true
	} else if !slices.Contains(searchSorts, key) {
		return q, true, model.Errorf(model.CodeInvalidRequest, "sort must be one of %s, with a leading - for descending order.", strings.Join(searchSorts, ", "))
	} else {
		q.sort, q.desc = key, desc
	}
	if offset != "" {
		n, err := strconv.Atoi(offset)
		if err != nil || n < 0 {
			return q, true, model.Errorf(model.CodeInvalidRequest, "offset must be a number of records, 0 or more.")
		}
		q.offset = n
	}
	return q, true, nil
}

// isDate reports whether s is empty or a YYYY-MM-DD date.
func isDate(s string) bool {
	if s == "" {
		return true
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// matches reports whether a summary passes the list's own filters.
func matches(f store.ListFilter, q recordSearch, sm *store.Summary) bool {
	switch {
	case f.Status != "" && sm.Status != f.Status,
		f.Team != "" && sm.Team != f.Team,
		f.Region != "" && sm.Region != f.Region,
		q.unviewed && sm.ReviewStatus != "",
		!q.unviewed && f.ReviewStatus != "" && sm.ReviewStatus != f.ReviewStatus,
		f.HasConflicts != nil && (len(sm.Conflicts) > 0) != *f.HasConflicts,
		!f.UpdatedSince.IsZero() && sm.UpdatedAt.Before(f.UpdatedSince):
		return false
	}
	return true
}

// searchRecords answers a search (see recordSearch).
func (s *Server) searchRecords(c *fiber.Ctx, p *access.Principal, f store.ListFilter, q recordSearch) error {
	ctx := c.UserContext()
	visitor, err := s.visitorsOf(ctx)
	if err != nil {
		return err
	}
	names, err := s.teamNames(ctx)
	if err != nil {
		return err
	}
	found := []api.RecordSummary{}
	err = s.scanReadable(ctx, p, func(sm store.Summary, rec *crdt.Record) error {
		if !matches(f, q, &sm) {
			return nil
		}
		code := crdt.String(rec.Value("code"))
		date := crdt.String(rec.Value("encounter_date"))
		if q.code != "" && !strings.Contains(strings.ToLower(code), q.code) ||
			q.from != "" && (date == "" || date < q.from) || q.to != "" && (date == "" || date > q.to) {
			return nil
		}
		var reasons []string
		for _, r := range review.Reasons(rec, visitor) {
			if !slices.Contains(reasons, r.Code) {
				reasons = append(reasons, r.Code)
			}
		}
		if q.reason != "" && !slices.Contains(reasons, q.reason) {
			return nil
		}
		out := summaryOf(sm)
		out.Code, out.EncounterDate, out.TeamName, out.Reasons = code, date, names[sm.Team], reasons
		found = append(found, out)
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(found, func(a, b api.RecordSummary) int {
		n := cmp.Compare(sortKey(a, q.sort), sortKey(b, q.sort))
		if q.desc {
			n = -n
		}
		return cmp.Or(n, strings.Compare(a.ID, b.ID))
	})
	total := len(found)
	start := min(q.offset, total)
	page := found[start:min(start+f.Limit, total)]
	if p.Role == model.RoleSupervisor && len(page) > 0 {
		if err := s.mustRecord(ctx, event(c, audit.ActionRecordsListed, "", "records search: "+strconv.Itoa(len(page))+" records")); err != nil {
			return err
		}
	}
	return c.JSON(api.RecordList{Records: page, Total: &total})
}

// sortKey is the text a search sorts a record by; empty values sort
// first (last when descending).
func sortKey(r api.RecordSummary, key string) string {
	switch key {
	case "code":
		return strings.ToLower(r.Code)
	case "team":
		return strings.ToLower(r.TeamName)
	case "region":
		return strings.ToLower(r.Region)
	case "status":
		return r.Status
	case "review_status":
		return r.ReviewStatus
	case "encounter_date":
		return r.EncounterDate
	}
	return r.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000000000Z")
}
