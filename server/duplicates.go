package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

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
// kept and the link is supervisor data the server stores beside them
// (store.Link), written in one transaction with its records_linked audit
// entries. Nothing is ever merged. A link is never record state: record
// state reaches every reader of a record (pull, GET), and a link names a
// second record some of them may not read, which would confirm an id
// they cannot otherwise guess. So a link is shown only by the review
// routes, and only to a caller who may read both records.

// duplicateWindowDays is the largest gap between two encounter dates of a
// possible duplicate.
const duplicateWindowDays = 30

// duplicateRule explains the rule to API callers.
const duplicateRule = "Possible duplicates: two identifications of the same region with the same sex, age group and citizenship (none missing or unknown) whose encounter dates are at most 30 days apart. They are flagged, never merged; a supervisor links them (POST /v1/review/links), which is audited."

// Audit actions of links, declared here (server/audit lists the others).
const (
	actionRecordsLinked   audit.Action = "records_linked"
	actionRecordsUnlinked audit.Action = "records_unlinked"
)

// dupCandidate is what the duplicate rule compares of a record.
type dupCandidate struct {
	id, code, date          string
	region, sex, age, citiz string
	day                     int // days since the Unix epoch of date
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

// linkSet holds links as (smaller id, greater id) pairs.
type linkSet map[[2]string]bool

func (l linkSet) has(a, b string) bool {
	if b < a {
		a, b = b, a
	}
	return l[[2]string{a, b}]
}

// links returns every stored link. Callers show a link only between two
// records the caller may read.
func (s *Server) links(ctx context.Context) (linkSet, error) {
	all, err := s.db.Links(ctx)
	if err != nil {
		return nil, err
	}
	out := make(linkSet, len(all))
	for _, l := range all {
		out[l.Records] = true
	}
	return out, nil
}

// duplicatePairs applies the rule to cands: every flagged pair, ordered by
// (first id, second id).
func duplicatePairs(cands []dupCandidate, links linkSet) []dupPair {
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
				out = append(out, dupPair{a: a, b: b, linked: links.has(a.id, b.id)})
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
func unlinkedDuplicates(cands []dupCandidate, links linkSet) map[string][]string {
	out := map[string][]string{}
	for _, p := range duplicatePairs(cands, links) {
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
	links, err := s.links(c.UserContext())
	if err != nil {
		return err
	}
	out := api.DuplicateList{Pairs: []api.DuplicatePair{}, Rule: duplicateRule}
	for _, pr := range duplicatePairs(cands, links) {
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
// unlink) two identifications the caller may read. The link and its two
// audit entries are one transaction (no link without its audit entry, no
// entry for a link not written); a request that changes nothing writes
// nothing and answers changed false.
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
	for _, id := range []string{a, b} {
		if err := s.readableIdentification(ctx, p, id); err != nil {
			return err
		}
	}
	action, verb := actionRecordsLinked, "linked to "
	if req.Unlink {
		action, verb = actionRecordsUnlinked, "unlinked from "
	}
	write := func(ctx context.Context, entries []audit.Entry) error {
		return s.db.SetLink(ctx, a, b, !req.Unlink, p.User, s.now(), entries)
	}
	err := s.audit.RecordWith(ctx, write, event(c, action, a, verb+b), event(c, action, b, verb+a))
	changed := !errors.Is(err, store.ErrLinkUnchanged)
	if err != nil && changed {
		return fmt.Errorf("write link: %w", err)
	}
	return c.JSON(api.LinkResponse{Records: []string{a, b}, Linked: !req.Unlink, Changed: changed, Results: []protocol.Result{}})
}

// readableIdentification returns nil when id is an identification p may
// read, otherwise the not_found error a record that does not exist gets.
func (s *Server) readableIdentification(ctx context.Context, p *access.Principal, id string) error {
	st, err := s.db.Record(ctx, id)
	if err != nil && model.ErrorCode(err) != model.CodeNotFound {
		return err
	}
	if err != nil || !access.CanRead(p, st.Scope) || st.Record.Kind != model.KindIdentification {
		return model.Errorf(model.CodeNotFound, "There is no identification %s you may read.", id)
	}
	return nil
}

// listLinks handles GET /v1/review/links?record=<id> (supervisors): the
// links of an identification the caller may read, to the records it may
// also read; a link to a record outside the caller's reach is left out as
// if it did not exist. Audited like a list of records.
func (s *Server) listLinks(c *fiber.Ctx) error {
	p := principal(c)
	record := c.Query("record")
	if !model.ValidID(record) {
		return model.Errorf(model.CodeInvalidID, "record must be a UUID in canonical lowercase form.")
	}
	ctx := c.UserContext()
	if err := s.readableIdentification(ctx, p, record); err != nil {
		return err
	}
	links, err := s.db.LinksOf(ctx, record)
	if err != nil {
		return err
	}
	out := api.LinkList{Record: record, Links: []api.Link{}}
	for _, l := range links {
		other := l.Records[0]
		if other == record {
			other = l.Records[1]
		}
		if s.readableIdentification(ctx, p, other) != nil {
			continue
		}
		out.Links = append(out.Links, api.Link{Records: []string{l.Records[0], l.Records[1]}, By: l.By, At: l.At})
	}
	if err := s.mustRecord(ctx, event(c, audit.ActionRecordsListed, record, "links: "+strconv.Itoa(len(out.Links)))); err != nil {
		return err
	}
	return c.JSON(out)
}
