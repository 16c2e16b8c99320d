// Package retention decides which records have outlived their retention
// (issue 12 item 3; DESIGN §3: retention erasure is the one physical
// removal). It is pure: rules are parsed from text, and a record is judged
// from the few facts the store hands in (its kind, status, last change,
// its action week's end, its legal hold) and a time the caller supplies,
// so every decision is a function of its inputs.
//
// Invariants: retention is off unless rules are configured (the empty
// text parses to no rules); a record under legal hold is never expired;
// a record no rule names is never expired; a record whose clock start is
// unknown (a site visit whose week has no ends_on) is never expired.
package retention

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// Rule expires records of one kind: identifications whose status is one
// of Statuses and whose last change is older than the period; site visits
// whose action week ended more than the period ago.
type Rule struct {
	Kind string
	// Statuses are the statuses of identifications the rule expires
	// (sorted; required for identifications, none for site visits).
	Statuses []string
	// Months and Days make the period (one of them is set).
	Months, Days int
}

// Name is the rule in the syntax Parse reads, canonical: what listings
// and the audit log name.
func (r Rule) Name() string {
	var b strings.Builder
	b.WriteString(r.Kind)
	if len(r.Statuses) > 0 {
		b.WriteByte(':')
		b.WriteString(strings.Join(r.Statuses, "|"))
	}
	b.WriteByte('=')
	if r.Months > 0 {
		b.WriteString(strconv.Itoa(r.Months) + "m")
	} else {
		b.WriteString(strconv.Itoa(r.Days) + "d")
	}
	return b.String()
}

// cutoff returns the time before which a clock start is expired at now.
func (r Rule) cutoff(now time.Time) time.Time {
	return now.AddDate(0, -r.Months, -r.Days)
}

// Rules are the configured rules; nil (the default) expires nothing.
type Rules []Rule

// Syntax describes the rule syntax, for flag help and error messages.
const Syntax = `rules separated by ";", each KIND[:STATUS|STATUS...]=PERIOD with PERIOD a number of months ("24m") or days ("90d"), e.g. "identification:withdrawn|not_victim=24m; site_visit=12m"`

// statuses are the identification statuses a rule may name.
var statuses = []string{"potential", "presumed", "identified", "not_victim", "withdrawn"}

// Parse reads rules from text (see Syntax). The empty text is no rules.
// Every problem is reported, each naming the rule by its position.
func Parse(text string) (Rules, error) {
	var rules Rules
	var errs []string
	seen := map[string]bool{}
	for i, part := range strings.Split(text, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		r, err := parseRule(part)
		if err != nil {
			errs = append(errs, fmt.Sprintf("retention rule %d: %v", i+1, err))
			continue
		}
		for _, k := range r.keys() {
			if seen[k] {
				errs = append(errs, fmt.Sprintf("retention rule %d: another rule already covers %s", i+1, strings.ReplaceAll(k, "\x00", " with status ")))
			}
			seen[k] = true
		}
		rules = append(rules, r)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s; the syntax is %s", strings.Join(errs, "; "), Syntax)
	}
	return rules, nil
}

// keys names what r covers, so that two rules never cover the same
// records.
func (r Rule) keys() []string {
	if len(r.Statuses) == 0 {
		return []string{r.Kind}
	}
	ks := make([]string, len(r.Statuses))
	for i, s := range r.Statuses {
		ks[i] = r.Kind + "\x00" + s
	}
	return ks
}

func parseRule(text string) (Rule, error) {
	head, period, ok := strings.Cut(text, "=")
	if !ok {
		return Rule{}, fmt.Errorf("%q has no \"=PERIOD\"", text)
	}
	kind, list, hasStatuses := strings.Cut(strings.TrimSpace(head), ":")
	r := Rule{Kind: strings.TrimSpace(kind)}
	switch r.Kind {
	case model.KindIdentification:
		if !hasStatuses {
			return Rule{}, fmt.Errorf("a rule for identifications names the statuses it expires (e.g. identification:withdrawn=24m)")
		}
		for _, s := range strings.Split(list, "|") {
			s = strings.TrimSpace(s)
			if !slices.Contains(statuses, s) {
				return Rule{}, fmt.Errorf("%q is not an identification status (%s)", s, strings.Join(statuses, ", "))
			}
			r.Statuses = append(r.Statuses, s)
		}
		slices.Sort(r.Statuses)
		r.Statuses = slices.Compact(r.Statuses)
	case model.KindSiteVisit:
		if hasStatuses {
			return Rule{}, fmt.Errorf("site visits have no status; write site_visit=PERIOD")
		}
	default:
		return Rule{}, fmt.Errorf("kind %q has no retention (identification, site_visit)", r.Kind)
	}
	p := strings.TrimSpace(period)
	n, err := strconv.Atoi(strings.TrimRight(p, "md"))
	switch {
	case err != nil || n <= 0 || n > 1200 || len(p) < 2:
		return Rule{}, fmt.Errorf("period %q is not a positive number of months or days (\"24m\", \"90d\")", p)
	case strings.HasSuffix(p, "m"):
		r.Months = n
	case strings.HasSuffix(p, "d"):
		r.Days = n
	default:
		return Rule{}, fmt.Errorf("period %q has no unit (m for months, d for days)", p)
	}
	return r, nil
}

// String is the rules in the syntax Parse reads ("" when none).
func (rs Rules) String() string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name()
	}
	return strings.Join(names, "; ")
}

// Record is what a rule needs to know of one record.
type Record struct {
	ID   string
	Kind string
	// Status is an identification's shown status ("" when unset).
	Status string
	// LastChange is when the server last applied an op to the record.
	LastChange time.Time
	// WeekEnds is the ends_on day of a site visit's action week (zero
	// when unknown).
	WeekEnds time.Time
	// Held is set while the record is under legal hold.
	Held bool
}

// Expired is a record a rule expires.
type Expired struct {
	ID, Kind, Rule string
}

// Judge returns the rule that expires rec at now, and whether one does.
// A held record is never expired.
func (rs Rules) Judge(rec Record, now time.Time) (Rule, bool) {
	if rec.Held {
		return Rule{}, false
	}
	for _, r := range rs {
		if r.Kind != rec.Kind {
			continue
		}
		var start time.Time
		switch rec.Kind {
		case model.KindIdentification:
			if !slices.Contains(r.Statuses, rec.Status) {
				continue
			}
			start = rec.LastChange
		case model.KindSiteVisit:
			// ends_on is a day: the week ends when that day does.
			if !rec.WeekEnds.IsZero() {
				start = rec.WeekEnds.AddDate(0, 0, 1)
			}
		}
		if !start.IsZero() && start.Before(r.cutoff(now)) {
			return r, true
		}
	}
	return Rule{}, false
}

// Plan returns the records of recs that rules expire at now, in the
// order given.
func (rs Rules) Plan(recs []Record, now time.Time) []Expired {
	var out []Expired
	for _, rec := range recs {
		if r, ok := rs.Judge(rec, now); ok {
			out = append(out, Expired{ID: rec.ID, Kind: rec.Kind, Rule: r.Name()})
		}
	}
	return out
}

// Kinds returns the kinds rs has rules for, sorted.
func (rs Rules) Kinds() []string {
	var ks []string
	for _, r := range rs {
		ks = append(ks, r.Kind)
	}
	slices.Sort(ks)
	return slices.Compact(ks)
}
