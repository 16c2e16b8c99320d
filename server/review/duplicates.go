package review

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// WindowDays is the largest gap between two encounter dates of a possible
// duplicate.
const WindowDays = 30

// Rule explains the duplicate rule to API callers.
const Rule = "Possible duplicates: two identifications of the same region with the same sex, age group and citizenship (none missing or unknown) whose encounter dates are at most 30 days apart. They are flagged, never merged; a supervisor links them (POST /v1/review/links), which is audited."

// Page sizes of the duplicate list.
const (
	DefaultDuplicateLimit = 100
	MaxDuplicateLimit     = 1000
)

// Candidate is what the duplicate rule compares of a record.
type Candidate struct {
	ID, Code, Date                     string
	Region, Sex, AgeGroup, Citizenship string
	// Day is Date as days since the Unix epoch.
	Day int
}

// CandidateOf returns rec's attributes for the duplicate rule; false when
// a record cannot be compared (not an identification, deleted, an
// attribute missing or "unknown", or no valid encounter date).
func CandidateOf(rec *crdt.Record) (Candidate, bool) {
	if rec.Kind != model.KindIdentification || rec.Deleted() {
		return Candidate{}, false
	}
	c := Candidate{
		ID: rec.ID, Code: crdt.String(rec.Value("code")), Date: crdt.String(rec.Value("encounter_date")),
		Region: strings.TrimSpace(crdt.String(rec.Value("region"))), Sex: crdt.String(rec.Value("sex")),
		AgeGroup: crdt.String(rec.Value("age_group")), Citizenship: crdt.String(rec.Value("citizenship")),
	}
	d, err := time.Parse(time.DateOnly, c.Date)
	known := func(v string) bool { return v != "" && v != "unknown" }
	if err != nil || !known(c.Region) || !known(c.Sex) || !known(c.AgeGroup) || !known(c.Citizenship) {
		return Candidate{}, false
	}
	c.Day = int(d.Unix() / 86400)
	return c, true
}

// group is the key two candidates must share.
func (c *Candidate) group() string {
	return strings.ToLower(c.Region) + "\x00" + c.Sex + "\x00" + c.AgeGroup + "\x00" + c.Citizenship
}

// Pair is a flagged pair, A.ID < B.ID.
type Pair struct {
	A, B   Candidate
	Linked bool
}

// Links holds the stored links as (smaller id, greater id) pairs.
type Links map[[2]string]bool

// NewLinks returns the set of the record pairs given, in either order.
func NewLinks(pairs [][2]string) Links {
	out := make(Links, len(pairs))
	for _, p := range pairs {
		out[ordered(p[0], p[1])] = true
	}
	return out
}

// Has reports whether a and b are linked.
func (l Links) Has(a, b string) bool { return l[ordered(a, b)] }

func ordered(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

// Pairs applies the rule to cands: every flagged pair, ordered by (first
// id, second id), marked linked when links holds it.
func Pairs(cands []Candidate, links Links) []Pair {
	groups := map[string][]Candidate{}
	for _, c := range cands {
		groups[c.group()] = append(groups[c.group()], c)
	}
	var out []Pair
	for _, g := range groups {
		slices.SortFunc(g, func(x, y Candidate) int { return x.Day - y.Day })
		for i := range g {
			for j := i + 1; j < len(g) && g[j].Day-g[i].Day <= WindowDays; j++ {
				a, b := g[i], g[j]
				if b.ID < a.ID {
					a, b = b, a
				}
				out = append(out, Pair{A: a, B: b, Linked: links.Has(a.ID, b.ID)})
			}
		}
	}
	slices.SortFunc(out, func(x, y Pair) int {
		if c := strings.Compare(x.A.ID, y.A.ID); c != 0 {
			return c
		}
		return strings.Compare(x.B.ID, y.B.ID)
	})
	return out
}

// Unlinked returns, per record, its flagged partners not linked yet.
func Unlinked(cands []Candidate, links Links) map[string][]string {
	out := map[string][]string{}
	for _, p := range Pairs(cands, links) {
		if !p.Linked {
			out[p.A.ID] = append(out[p.A.ID], p.B.ID)
			out[p.B.ID] = append(out[p.B.ID], p.A.ID)
		}
	}
	return out
}

// DuplicateFilter is what one GET /v1/review/duplicates selects.
type DuplicateFilter struct {
	// Record keeps the pairs of one record ("" keeps all).
	Record string
	// IncludeLinked keeps linked pairs too.
	IncludeLinked bool
	// After is the "first id.second id" of the last pair of the previous
	// page ("" for the first page).
	After string
	// Limit is the page size, 1 to MaxDuplicateLimit.
	Limit int
}

// ParseDuplicateQuery reads a DuplicateFilter from the query parameters
// record, include_linked (strconv.ParseBool; anything else is false),
// limit and after; query returns a parameter's value ("" when absent).
func ParseDuplicateQuery(query func(key string) string) (DuplicateFilter, error) {
	f := DuplicateFilter{Record: query("record"), Limit: DefaultDuplicateLimit}
	if f.Record != "" && !model.ValidID(f.Record) {
		return f, model.Errorf(model.CodeInvalidID, "record must be a UUID in canonical lowercase form.")
	}
	f.IncludeLinked, _ = strconv.ParseBool(query("include_linked"))
	if v := query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, model.Errorf(model.CodeInvalidRequest, "limit must be a positive integer (at most %d).", MaxDuplicateLimit)
		}
		f.Limit = min(n, MaxDuplicateLimit)
	}
	if f.After = query("after"); f.After != "" {
		a, b, ok := strings.Cut(f.After, ".")
		if !ok || !model.ValidID(a) || !model.ValidID(b) {
			return f, model.Errorf(model.CodeInvalidCursor, "after must be the next value of a previous page.")
		}
	}
	return f, nil
}

// ListDuplicates returns the page of flagged pairs among cands that f
// selects, with the rule.
func ListDuplicates(cands []Candidate, links Links, f DuplicateFilter) api.DuplicateList {
	out := api.DuplicateList{Pairs: []api.DuplicatePair{}, Rule: Rule}
	for _, pr := range Pairs(cands, links) {
		if pr.Linked && !f.IncludeLinked || f.Record != "" && pr.A.ID != f.Record && pr.B.ID != f.Record {
			continue
		}
		if f.After != "" && pr.A.ID+"."+pr.B.ID <= f.After {
			continue
		}
		if len(out.Pairs) == f.Limit {
			last := out.Pairs[len(out.Pairs)-1]
			out.Next = last.Records[0] + "." + last.Records[1]
			break
		}
		out.Pairs = append(out.Pairs, pr.wire())
	}
	return out
}

// wire returns the pair as the API shows it.
func (p Pair) wire() api.DuplicatePair {
	return api.DuplicatePair{
		Records: []string{p.A.ID, p.B.ID}, Codes: []string{p.A.Code, p.B.Code},
		EncounterDates: []string{p.A.Date, p.B.Date}, DaysApart: abs(p.B.Day - p.A.Day),
		Matched: map[string]string{"region": p.A.Region, "sex": p.A.Sex, "age_group": p.A.AgeGroup, "citizenship": p.A.Citizenship},
		Linked:  p.Linked,
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
