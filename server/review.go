package server

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// The supervisors' review queue (GET /v1/review/queue).
//
// The decision on a record is the supervisor-only register review_status
// (pending | reviewed | needs_info), written as an ordinary pushed op. A
// record that is not deleted is in the queue while it has a reason:
//
//   - conflict: a register holds more than one sibling. It stays in the
//     queue while the conflict lasts, whatever the decisions; writing a
//     value whose base covers every sibling resolves it.
//   - new: no review_status decision was ever written.
//
// and the following triggers count only when newer (by hlc) than the
// latest review_status decision (its greatest sibling):
//
//   - formal_status: the shown status is potential or presumed (a formal
//     identification is awaited);
//   - child_presumed: child_presumed is true;
//   - cross_border_referral: a referrals entry with "cross_border":true,
//     or with a "destination_country" other than the record's citizenship;
//   - visitor_note: a notes entry written by a visitor (action-week
//     delegation).
//
// A record leaves the queue when a supervisor writes review_status after
// its triggers (and no conflict remains).

// Queue reason codes.
const (
	reasonNew           = "new"
	reasonConflict      = "conflict"
	reasonFormalStatus  = "formal_status"
	reasonChildPresumed = "child_presumed"
	reasonCrossBorder   = "cross_border_referral"
	reasonVisitorNote   = "visitor_note"
)

var queueReasons = []string{reasonNew, reasonConflict, reasonFormalStatus, reasonChildPresumed, reasonCrossBorder, reasonVisitorNote}

const (
	defaultQueueLimit = 50
	maxQueueLimit     = 500
)

// reviewReasons returns why rec is in the review queue (none: it is not).
// visitor reports whether a user id is a visitor's.
func reviewReasons(rec *crdt.Record, visitor func(user string) bool) []api.QueueReason {
	if rec.Kind != model.KindIdentification || rec.Deleted() {
		return nil
	}
	var out []api.QueueReason
	for _, name := range rec.Conflicts() {
		sib := rec.Siblings(name)
		out = append(out, api.QueueReason{Code: reasonConflict, Field: name, Op: sib[0].Op, HLC: sib[0].HLC.String()})
	}
	decision := hlc.Timestamp(0)
	decisions := rec.Siblings(model.FieldReviewStatus)
	for _, s := range decisions {
		decision = max(decision, s.HLC)
	}
	if len(decisions) == 0 {
		at := rec.HLC
		for _, s := range rec.Siblings(model.FieldTeam) {
			at = min(at, s.HLC)
		}
		out = append(out, api.QueueReason{Code: reasonNew, HLC: at.String()})
	}
	newer := func(t hlc.Timestamp) bool { return t > decision }
	if sib := rec.Siblings(model.FieldStatus); len(sib) > 0 && newer(sib[0].HLC) {
		if v := jsonString(sib[0].Value); v == "potential" || v == "presumed" {
			out = append(out, api.QueueReason{Code: reasonFormalStatus, Field: model.FieldStatus, Op: sib[0].Op, HLC: sib[0].HLC.String()})
		}
	}
	if sib := rec.Siblings("child_presumed"); len(sib) > 0 && newer(sib[0].HLC) && string(sib[0].Value) == "true" {
		out = append(out, api.QueueReason{Code: reasonChildPresumed, Field: "child_presumed", Op: sib[0].Op, HLC: sib[0].HLC.String()})
	}
	citizenship := jsonString(rec.Value("citizenship"))
	for _, e := range rec.Entries("referrals") {
		if e.Redacted || !newer(e.HLC) || !crossBorder(e.Value, citizenship) {
			continue
		}
		out = append(out, api.QueueReason{Code: reasonCrossBorder, Field: "referrals", Op: e.Op, HLC: e.HLC.String()})
	}
	for _, e := range rec.Entries("notes") {
		if newer(e.HLC) && visitor(e.User) {
			out = append(out, api.QueueReason{Code: reasonVisitorNote, Field: "notes", Op: e.Op, HLC: e.HLC.String()})
		}
	}
	return out
}

// crossBorder reports whether a referrals entry sends the person abroad:
// "cross_border":true, or a destination_country other than citizenship.
func crossBorder(entry json.RawMessage, citizenship string) bool {
	var v struct {
		CrossBorder        any `json:"cross_border"`
		DestinationCountry any `json:"destination_country"`
	}
	if json.Unmarshal(entry, &v) != nil {
		return false
	}
	if b, ok := v.CrossBorder.(bool); ok && b {
		return true
	}
	dest, _ := v.DestinationCountry.(string)
	return dest != "" && !strings.EqualFold(dest, citizenship)
}

// jsonString returns a JSON string's value ("" for anything else).
func jsonString(v json.RawMessage) string {
	var s string
	if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// visitorsOf returns a lookup of the users who are visitors.
func (s *Server) visitorsOf(ctx context.Context) (func(string) bool, error) {
	users, err := s.db.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	visitors := map[string]bool{}
	for _, u := range users {
		if u.Role == model.RoleVisitor {
			visitors[u.ID] = true
		}
	}
	return func(id string) bool { return visitors[id] }, nil
}

// teamNames returns team id -> name.
func (s *Server) teamNames(ctx context.Context) (map[string]string, error) {
	teams, err := s.db.ListTeams(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(teams))
	for _, t := range teams {
		out[t.ID] = t.Name
	}
	return out, nil
}

// scanReadable calls fn for every identification p may read.
func (s *Server) scanReadable(ctx context.Context, p *access.Principal, fn func(sum store.Summary, rec *crdt.Record) error) error {
	return s.db.ScanRecords(ctx, model.KindIdentification, func(sc access.Scope) bool { return access.CanRead(p, sc) }, fn)
}

// queueFilter is what GET /v1/review/queue selects.
type queueFilter struct {
	reason, team, region, status string
	afterSince, afterID          string
	limit                        int
}

func parseQueueFilter(c *fiber.Ctx) (queueFilter, error) {
	f := queueFilter{reason: c.Query("reason"), team: c.Query("team"), region: c.Query("region"), status: c.Query("status"), limit: defaultQueueLimit}
	if f.reason != "" && !slices.Contains(queueReasons, f.reason) {
		return f, model.Errorf(model.CodeInvalidRequest, "reason must be one of %s.", strings.Join(queueReasons, ", "))
	}
	if f.team != "" && !model.ValidID(f.team) {
		return f, model.Errorf(model.CodeInvalidID, "team must be a UUID in canonical lowercase form.")
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, model.Errorf(model.CodeInvalidRequest, "limit must be a positive integer (at most %d).", maxQueueLimit)
		}
		f.limit = min(n, maxQueueLimit)
	}
	if v := c.Query("after"); v != "" {
		since, id, ok := strings.Cut(v, ".")
		if _, err := hlc.Parse(since); !ok || err != nil || !model.ValidID(id) {
			return f, model.Errorf(model.CodeInvalidCursor, "after must be the next value of a previous page.")
		}
		f.afterSince, f.afterID = since, id
	}
	return f, nil
}

// reviewQueue handles GET /v1/review/queue (supervisors): the records of
// the caller's jurisdiction waiting for a decision, oldest reason first,
// each with its reasons; filters reason, team, region, status; paged with
// after=<next>.
func (s *Server) reviewQueue(c *fiber.Ctx) error {
	p := principal(c)
	f, err := parseQueueFilter(c)
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
	var items []api.QueueItem
	var all []dupCandidate
	byReason := map[string]int{}
	err = s.scanReadable(ctx, p, func(sum store.Summary, rec *crdt.Record) error {
		if cand, ok := candidateOf(rec); ok {
			all = append(all, cand)
		}
		if f.team != "" && sum.Team != f.team || f.region != "" && sum.Region != f.region || f.status != "" && sum.Status != f.status {
			return nil
		}
		reasons := reviewReasons(rec, visitor)
		if len(reasons) == 0 {
			return nil
		}
		seen := map[string]bool{}
		has := false
		for _, r := range reasons {
			if !seen[r.Code] {
				seen[r.Code] = true
				byReason[r.Code]++
			}
			has = has || r.Code == f.reason
		}
		if f.reason != "" && !has {
			return nil
		}
		since := reasons[0].HLC
		for _, r := range reasons {
			since = min(since, r.HLC)
		}
		conflicts := rec.Conflicts()
		if conflicts == nil {
			conflicts = []string{}
		}
		items = append(items, api.QueueItem{
			ID: rec.ID, Code: jsonString(rec.Value("code")), Team: sum.Team, TeamName: names[sum.Team], Region: sum.Region,
			Status: sum.Status, ReviewStatus: sum.ReviewStatus, Reasons: reasons, Conflicts: conflicts, Duplicates: []string{},
			Since: since, HLC: rec.HLC.String(),
		})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(items, func(a, b api.QueueItem) int {
		if c := strings.Compare(a.Since, b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	out := api.QueuePage{Items: []api.QueueItem{}, Total: len(items), ByReason: byReason}
	start := 0
	if f.afterID != "" {
		start, _ = slices.BinarySearchFunc(items, [2]string{f.afterSince, f.afterID}, func(it api.QueueItem, k [2]string) int {
			if c := strings.Compare(it.Since, k[0]); c != 0 {
				return c
			}
			return strings.Compare(it.ID, k[1])
		})
		if start < len(items) && items[start].Since == f.afterSince && items[start].ID == f.afterID {
			start++
		}
	}
	end := min(start+f.limit, len(items))
	out.Items = append(out.Items, items[start:end]...)
	if end < len(items) {
		last := items[end-1]
		out.Next = last.Since + "." + last.ID
	}
	if len(out.Items) > 0 {
		links, err := s.links(ctx)
		if err != nil {
			return err
		}
		dups := unlinkedDuplicates(all, links)
		for i := range out.Items {
			if d := dups[out.Items[i].ID]; d != nil {
				out.Items[i].Duplicates = d
			}
		}
		if err := s.mustRecord(ctx, event(c, audit.ActionRecordsListed, "", "review queue: "+strconv.Itoa(len(out.Items))+" records")); err != nil {
			return err
		}
	}
	return c.JSON(out)
}
