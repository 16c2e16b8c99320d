package server

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// Possible duplicates.
//
// Two identifications that are not deleted are flagged as possible
// duplicates when they share the region (compared without case and
// surrounding spaces), the sex, the age group and the citizenship, none of
// them missing or "unknown", and their encounter dates are at most
// duplicateWindowDays apart. Only records the caller may read are compared,
// so a supervisor never learns of a record outside the jurisdiction. The
// flags are computed on each request, never stored.
//
// A supervisor links two records (POST /v1/review/links): both records are
// kept, each gets the other's id in its supervisor-only set linked_records
// (ordinary ops, attributed to the caller's device, which sync back to the
// tablets), and the link is written to the audit log as records_linked.
// Nothing is ever merged.

// duplicateWindowDays is the largest gap between two encounter dates of a
// possible duplicate.
const duplicateWindowDays = 30

// duplicateRule explains the rule to API callers.
const duplicateRule = "Possible duplicates: two identifications of the same region with the same sex, age group and citizenship (none missing or unknown) whose encounter dates are at most 30 days apart. They are flagged, never merged; a supervisor links them (linked_records), which is audited."

// Audit actions of links, declared here (server/audit lists the others).
const (
	actionRecordsLinked   audit.Action = "records_linked"
	actionRecordsUnlinked audit.Action = "records_unlinked"
)

const fieldLinkedRecords = "linked_records"

// dupCandidate is what the duplicate rule compares of a record.
type dupCandidate struct {
	id, code, date          string
	region, sex, age, citiz string
	day                     int // days since the Unix epoch of date
	linked                  []string
}

// candidateOf returns rec's attributes for the duplicate rule; false when
// a record cannot be compared (deleted, or an attribute missing).
func candidateOf(rec *crdt.Record) (dupCandidate, bool) {
	if rec.Kind != model.KindIdentification || rec.Deleted() {
		return dupCandidate{}, false
	}
	c := dupCandidate{
		id: rec.ID, code: jsonString(rec.Value("code")), date: jsonString(rec.Value("encounter_date")),
		region: strings.TrimSpace(jsonString(rec.Value("region"))), sex: jsonString(rec.Value("sex")),
		age: jsonString(rec.Value("age_group")), citiz: jsonString(rec.Value("citizenship")),
		linked: rec.Elements(fieldLinkedRecords),
	}
	d, err := time.Parse(time.DateOnly, c.date)
	known := func(v string) bool { return v != "" && v != "unknown" }
	if err != nil || !known(c.region) || !known(c.sex) || !known(c.age) || !known(c.citiz) {
		return dupCandidate{}, false
	}
	c.day = int(d.Unix() / 86400)
	return c, true
}

func (c *dupCandidate) group() string {
	return strings.ToLower(c.region) + "\x00" + c.sex + "\x00" + c.age + "\x00" + c.citiz
}

// dupPair is a flagged pair, a.id < b.id.
type dupPair struct {
	a, b   dupCandidate
	linked bool
}

// duplicatePairs applies the rule to cands: every flagged pair, ordered by
// (first id, second id).
func duplicatePairs(cands []dupCandidate) []dupPair {
	groups := map[string][]dupCandidate{}
	for _, c := range cands {
		groups[c.group()] = append(groups[c.group()], c)
	}
	var out []dupPair
	for _, g := range groups {
		slices.SortFunc(g, func(x, y dupCandidate) int { return x.day - y.day })
		for i := range g {
			for j := i + 1; j < len(g) && g[j].day-g[i].day <= duplicateWindowDays; j++ {
				a, b := g[i], g[j]
				if b.id < a.id {
					a, b = b, a
				}
				out = append(out, dupPair{a: a, b: b, linked: slices.Contains(a.linked, b.id) || slices.Contains(b.linked, a.id)})
			}
		}
	}
	slices.SortFunc(out, func(x, y dupPair) int {
		if c := strings.Compare(x.a.id, y.a.id); c != 0 {
			return c
		}
		return strings.Compare(x.b.id, y.b.id)
	})
	return out
}

// unlinkedDuplicates returns, per record, its flagged partners not linked
// yet.
func unlinkedDuplicates(cands []dupCandidate) map[string][]string {
	out := map[string][]string{}
	for _, p := range duplicatePairs(cands) {
		if !p.linked {
			out[p.a.id] = append(out[p.a.id], p.b.id)
			out[p.b.id] = append(out[p.b.id], p.a.id)
		}
	}
	return out
}

// listDuplicates handles GET /v1/review/duplicates (supervisors): flagged
// pairs among the records the caller may read; record=<id> keeps the
// pairs of one record, include_linked=true keeps linked pairs too; paged
// with after=<next>.
func (s *Server) listDuplicates(c *fiber.Ctx) error {
	p := principal(c)
	record := c.Query("record")
	if record != "" && !model.ValidID(record) {
		return model.Errorf(model.CodeInvalidID, "record must be a UUID in canonical lowercase form.")
	}
	includeLinked := c.QueryBool("include_linked")
	limit := 100
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return model.Errorf(model.CodeInvalidRequest, "limit must be a positive integer (at most 1000).")
		}
		limit = min(n, 1000)
	}
	after := c.Query("after")
	if after != "" {
		a, b, ok := strings.Cut(after, ".")
		if !ok || !model.ValidID(a) || !model.ValidID(b) {
			return model.Errorf(model.CodeInvalidCursor, "after must be the next value of a previous page.")
		}
	}
	var cands []dupCandidate
	err := s.scanReadable(c.UserContext(), p, func(_ store.Summary, rec *crdt.Record) error {
		if cand, ok := candidateOf(rec); ok {
			cands = append(cands, cand)
		}
		return nil
	})
	if err != nil {
		return err
	}
	out := api.DuplicateList{Pairs: []api.DuplicatePair{}, Rule: duplicateRule}
	for _, pr := range duplicatePairs(cands) {
		if pr.linked && !includeLinked || record != "" && pr.a.id != record && pr.b.id != record {
			continue
		}
		if after != "" && pr.a.id+"."+pr.b.id <= after {
			continue
		}
		if len(out.Pairs) == limit {
			last := out.Pairs[len(out.Pairs)-1]
			out.Next = last.Records[0] + "." + last.Records[1]
			break
		}
		out.Pairs = append(out.Pairs, api.DuplicatePair{
			Records: []string{pr.a.id, pr.b.id}, Codes: []string{pr.a.code, pr.b.code},
			EncounterDates: []string{pr.a.date, pr.b.date}, DaysApart: abs(pr.b.day - pr.a.day),
			Matched: map[string]string{"region": pr.a.region, "sex": pr.a.sex, "age_group": pr.a.age, "citizenship": pr.a.citiz},
			Linked:  pr.linked,
		})
	}
	if len(out.Pairs) > 0 {
		if err := s.mustRecord(c.UserContext(), event(c, audit.ActionRecordsListed, record, "possible duplicates: "+strconv.Itoa(len(out.Pairs))+" pairs")); err != nil {
			return err
		}
	}
	return c.JSON(out)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// linkRecords handles POST /v1/review/links (supervisors): link (or
// unlink) two identifications the caller may read. The link is ordinary
// ops on both records' linked_records, made for the caller's device with
// the server's clock and applied through the same push rules as any op;
// it is audited before it is applied (no link without its audit entry).
func (s *Server) linkRecords(c *fiber.Ctx) error {
	p := principal(c)
	var req api.LinkRequest
	if err := decodeBody(requestBody(c), s.cfg.MaxDepth, &req); err != nil {
		return err
	}
	if len(req.Records) != 2 {
		return model.Errorf(model.CodeInvalidRequest, "records must name exactly two records.")
	}
	a, b := req.Records[0], req.Records[1]
	if !model.ValidID(a) || !model.ValidID(b) {
		return model.Errorf(model.CodeInvalidID, "Both record ids must be UUIDs in canonical lowercase form.")
	}
	if a == b {
		return model.Errorf(model.CodeInvalidRequest, "A record cannot be linked to itself.")
	}
	ctx := c.UserContext()
	var ops []json.RawMessage
	for _, pair := range [][2]string{{a, b}, {b, a}} {
		st, err := s.db.Record(ctx, pair[0])
		if err != nil || !access.CanRead(p, st.Scope) || st.Record.Kind != model.KindIdentification {
			if err != nil && model.ErrorCode(err) != model.CodeNotFound {
				return err
			}
			return model.Errorf(model.CodeNotFound, "There is no identification %s you may read.", pair[0])
		}
		present := slices.Contains(st.Record.Elements(fieldLinkedRecords), pair[1])
		switch {
		case !req.Unlink && !present:
			ops = append(ops, s.serverOp(p.Device, pair[0], fieldLinkedRecords, model.ActionAdd, pair[1], nil))
		case req.Unlink && present:
			live, err := s.liveAdds(c, pair[0], pair[1])
			if err != nil {
				return err
			}
			ops = append(ops, s.serverOp(p.Device, pair[0], fieldLinkedRecords, model.ActionRemove, pair[1], live))
		}
	}
	action, verb := actionRecordsLinked, "linked to "
	if req.Unlink {
		action, verb = actionRecordsUnlinked, "unlinked from "
	}
	out := api.LinkResponse{Records: []string{a, b}, Linked: !req.Unlink, Results: []protocol.Result{}}
	if len(ops) == 0 {
		return c.JSON(out)
	}
	if err := s.mustRecord(ctx, event(c, action, a, verb+b), event(c, action, b, verb+a)); err != nil {
		return err
	}
	res, err := s.sync.Push(ctx, p, ops)
	if err != nil {
		return err
	}
	applied := false
	for _, r := range res.Results {
		if r.Status == protocol.StatusRejected {
			return model.Errorf(model.CodeForbidden, "The link could not be written: %s", r.Message)
		}
		applied = applied || r.Status == protocol.StatusApplied
	}
	if applied {
		s.changes.notify()
	}
	out.Results = res.Results
	return c.JSON(out)
}

// serverOp builds an op written by the server for device (the caller's).
func (s *Server) serverOp(device, record, field string, action model.Action, value any, base []string) json.RawMessage {
	if base == nil {
		base = []string{}
	}
	b, _ := json.Marshal(map[string]any{"id": uuid.Must(uuid.NewV7()).String(), "record": record, "kind": model.KindIdentification,
		"field": field, "action": string(action), "value": value, "base": base, "hlc": s.sync.Clock.Now().String(), "device": device})
	return b
}

// liveAdds returns the ids of the add ops of element in record's
// linked_records that no remove has named yet.
func (s *Server) liveAdds(c *fiber.Ctx, record, element string) ([]string, error) {
	history, err := s.db.History(c.UserContext(), record)
	if err != nil {
		return nil, err
	}
	removed := map[string]bool{}
	var adds []string
	for _, op := range history {
		if op.Field != fieldLinkedRecords || jsonString(op.Value) != element {
			continue
		}
		switch op.Action {
		case model.ActionAdd:
			adds = append(adds, op.ID)
		case model.ActionRemove:
			for _, id := range op.Base {
				removed[id] = true
			}
		}
	}
	return slices.DeleteFunc(adds, func(id string) bool { return removed[id] }), nil
}
