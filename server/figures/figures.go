// Package figures computes the monitoring figures (GET /v1/stats, GET
// /v1/export/stats): counts of identifications, small cells suppressed.
// It is pure: no I/O, no clock; the server scans the store and feeds it.
//
// Invariant (the figures are no oracle): a caller's figures are a function
// of the identifications the caller may read, the threshold, and the
// regional jurisdictions nested in the caller's own. Counter.Add drops
// every record the caller may not read before it is counted, so two stores
// that differ only outside the caller's jurisdiction give identical
// figures for every threshold (TestFiguresIgnoreOutside).
//
// Counting: every identification that is not deleted and lies in the
// caller's jurisdiction counts once per table, under its shown values (the
// greatest sibling where a register is in conflict); a missing value
// counts as "unknown". Set tables (exploitation types, indicators,
// indicator dimensions, recruitment channels, payment means) count a
// record in every cell it has a value for, so their cells do not add up to
// their total, which counts the records with at least one value.
//
// Suppression, so that the figures never identify a person:
//
//  1. Primary: a cell whose count is 1 to threshold-1 is shown as null
//     with "suppressed":true. Zero is shown. (The server's threshold,
//     FIELDSYNC_STATS_THRESHOLD, default 5; ?threshold= may raise it,
//     never lower it. Since nothing outside the caller's jurisdiction is
//     counted, sweeping the threshold reveals nothing the caller may not
//     read.)
//  2. Nested jurisdictions: the figures of a jurisdiction (national, or a
//     regional one) that contains the smaller jurisdiction of a regional
//     supervisor are also counted for the records outside that smaller
//     jurisdiction (but inside the caller's); a cell whose count there is
//     1 to threshold-1 is suppressed as well, and a total whose count
//     there is 1 to threshold-1 is suppressed, so that subtracting the
//     smaller jurisdiction's figures never yields a small count. Only
//     records the caller may read enter this count: a regional caller's
//     figures never depend on anything outside its jurisdiction (the
//     former complement rule, computed over the records outside the
//     caller's jurisdiction, was an oracle on them).
//  3. Secondary: a table (and, for the sex x age group table, each row and
//     each column) never has exactly one suppressed cell, and the
//     suppressed cells of a table add up to at least the threshold: the
//     next smallest cell (the smallest non-zero one, else a zero) is
//     suppressed too, repeated until that holds, so that a suppressed cell
//     cannot be recovered from the total minus the other cells.
//  4. Totals: exact only when no cell of the table is suppressed;
//     otherwise rounded to the nearest 5 ("rounded":true). A total (or the
//     count of identifications) of 1 to threshold-1 is itself suppressed.
//
// The figures take no filters (the month table gives the time
// dimension), so two queries differ only when the data, the threshold or
// the jurisdiction differ. Differences between figures taken before and
// after new records arrive cannot be prevented by suppression; publish
// figures of a fixed date.
package figures

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// DefaultThreshold is the smallest count shown unless configured.
const DefaultThreshold = 5

// MaxThreshold is the largest threshold the server or a caller may set.
const MaxThreshold = 100

// rules describes the rules in words for the response.
func rules(threshold int) []string {
	t := strconv.Itoa(threshold)
	return []string{
		"Each identification that is not deleted and lies in your jurisdiction counts once per table, under its shown values; a missing value counts as unknown.",
		"Set tables (exploitation types, indicators, indicator dimensions, recruitment channels, payment means) count a record in every cell it has; their total counts the records with at least one value.",
		"Counts from 1 to " + strconv.Itoa(threshold-1) + " are suppressed (shown empty): no figure below " + t + " is ever shown.",
		"When a table would have exactly one suppressed cell, or suppressed cells adding up to less than " + t + ", the next smallest cells are suppressed too (for the sex by age group table, no row or column has exactly one either), so that no suppressed cell can be worked out from the total.",
		"Totals are exact only when no cell of their table is suppressed; otherwise they are rounded to the nearest 5.",
		"Where a regional supervisor's jurisdiction lies within yours, cells and totals whose count in the rest of yours is below " + t + " are suppressed too, so that your figures minus theirs reveal nothing small.",
		"Nothing outside your jurisdiction is counted or changes these figures.",
	}
}

// statCell is one cell during computation.
type statCell struct {
	key   []string
	count int
	// comp is the count outside each nested jurisdiction (rule 2).
	comp       []int
	suppressed bool
}

// statTable is one table during computation.
type statTable struct {
	name, title string
	dims        []string
	multi       bool
	// rows and cols are the values of a two-dimensional table's
	// dimensions (nil for one dimension).
	rows, cols []string
	// open tables list only the values seen (region, citizenship, month);
	// the others list every value, zeros included.
	open  bool
	cells map[string]*statCell
	order []string
	total int
	comp  []int
	// nested is the number of nested jurisdictions (the length of comp).
	nested int
}

func newStatTable(name, title string, dims []string, multi bool, nested int, values ...string) *statTable {
	t := &statTable{name: name, title: title, dims: dims, multi: multi, cells: map[string]*statCell{}, nested: nested, comp: make([]int, nested)}
	for _, v := range values {
		t.cell(v)
	}
	return t
}

func (t *statTable) cell(key ...string) *statCell {
	k := strings.Join(key, "\x00")
	c, ok := t.cells[k]
	if !ok {
		c = &statCell{key: key, comp: make([]int, t.nested)}
		t.cells[k] = c
		t.order = append(t.order, k)
	}
	return c
}

// add counts one record in the cells of keys (each key one value per
// dimension), and in comp[j] of each nested jurisdiction j it lies
// outside of; a record with no key counts in no cell and not in the total.
func (t *statTable) add(outside []bool, keys ...[]string) {
	if len(keys) == 0 {
		return
	}
	for _, k := range keys {
		c := t.cell(k...)
		c.count++
		addOutside(c.comp, outside)
	}
	t.total++
	addOutside(t.comp, outside)
}

func addOutside(comp []int, outside []bool) {
	for j, o := range outside {
		if o {
			comp[j]++
		}
	}
}

// anySmall reports whether a count outside a nested jurisdiction is small.
func anySmall(comp []int, threshold int) bool {
	return slices.ContainsFunc(comp, func(n int) bool { return small(n, threshold) })
}

func one(v string) [][]string { return [][]string{{v}} }

func many(vs []string) [][]string {
	out := make([][]string, len(vs))
	for i, v := range vs {
		out[i] = []string{v}
	}
	return out
}

// cellsShown returns the cells the table shows, in order: every listed
// value, except that open tables list only the values counted.
func (t *statTable) cellsShown() []*statCell {
	var out []*statCell
	for _, k := range t.order {
		c := t.cells[k]
		if t.open && c.count == 0 {
			continue
		}
		out = append(out, c)
	}
	if t.open {
		slices.SortStableFunc(out, func(a, b *statCell) int {
			ua, ub := a.key[0] == "unknown", b.key[0] == "unknown"
			switch {
			case ua && !ub:
				return 1
			case ub && !ua:
				return -1
			}
			return strings.Compare(a.key[0], b.key[0])
		})
	}
	return out
}

// small reports whether n is a count that must not be shown.
func small(n, threshold int) bool { return n > 0 && n < threshold }

// suppress applies the primary, nested and secondary rules to the shown
// cells of t and reports whether any cell is suppressed, and whether the
// total must be hidden too.
func (t *statTable) suppress(threshold int) (anySup, hideTotal bool) {
	cells := t.cellsShown()
	for _, c := range cells {
		c.suppressed = small(c.count, threshold) || anySmall(c.comp, threshold)
	}
	// Lines: each row and column of a two-dimensional table (whose
	// margins are not published, so a line whose other cells are all zero
	// needs no partner), then the whole table (whose total is published).
	var lines [][]*statCell
	if t.rows != nil {
		for _, r := range t.rows {
			lines = append(lines, slices.DeleteFunc(slices.Clone(cells), func(c *statCell) bool { return c.key[0] != r }))
		}
		for _, col := range t.cols {
			lines = append(lines, slices.DeleteFunc(slices.Clone(cells), func(c *statCell) bool { return c.key[1] != col }))
		}
	}
	whole := len(lines) // the index of the whole table
	lines = append(lines, cells)
	for changed := true; changed; {
		changed = false
		for i := range lines {
			if protectLine(i, lines, i == whole, threshold) {
				changed = true
			}
		}
	}
	n, sum := 0, 0
	for _, c := range cells {
		if c.suppressed {
			n++
			sum += c.count
		}
	}
	// A table whose suppressed cells could still be worked out from its
	// total (too few cells to pair them) hides its total as well.
	return n > 0, n == 1 || n > 1 && sum < threshold
}

// suppressedIn counts the suppressed cells of g.
func suppressedIn(g []*statCell) int {
	n := 0
	for _, c := range g {
		if c.suppressed {
			n++
		}
	}
	return n
}

// protectLine suppresses one more cell of lines[line] when exactly one is
// suppressed or, for the whole table (whose total is published), when the
// suppressed cells add up to less than threshold (their sum, known from
// the total, would pin each of them down); it reports whether it did. It
// picks the smallest non-zero cell, preferring one that also completes
// another line with a single suppressed cell (fewer cells hidden in all);
// when every other cell is zero it picks a zero cell for the whole table,
// and none for a row or column.
func protectLine(line int, lines [][]*statCell, whole bool, threshold int) bool {
	g := lines[line]
	n, sum := suppressedIn(g), 0
	for _, c := range g {
		if c.suppressed {
			sum += c.count
		}
	}
	if n == 0 || n > 1 && (!whole || sum >= threshold) {
		return false
	}
	fixes := func(c *statCell) bool {
		for i, l := range lines {
			if i != line && slices.Contains(l, c) && suppressedIn(l) == 1 {
				return true
			}
		}
		return false
	}
	better := func(c, than *statCell) bool {
		if (c.count > 0) != (than.count > 0) {
			return c.count > 0
		}
		if fc, ft := fixes(c), fixes(than); fc != ft {
			return fc
		}
		return c.count < than.count
	}
	var pick *statCell
	for _, c := range g {
		if !c.suppressed && (pick == nil || better(c, pick)) {
			pick = c
		}
	}
	if pick == nil || pick.count == 0 && (!whole || n > 1) {
		return false
	}
	pick.suppressed = true
	return true
}

// shownCount is the served form of a count.
func shownCount(n int, suppressed bool) api.StatsCount {
	if suppressed {
		return api.StatsCount{Suppressed: true}
	}
	return api.StatsCount{Count: &n}
}

// totalCount is the served form of a total: suppressed when small or when
// its count outside a nested jurisdiction is small, rounded to the nearest
// 5 when a cell is suppressed, exact otherwise.
func totalCount(n int, anySuppressed, compSmall bool, threshold int) api.StatsCount {
	switch {
	case small(n, threshold) || compSmall:
		return api.StatsCount{Suppressed: true}
	case anySuppressed:
		r := (n + 2) / 5 * 5
		return api.StatsCount{Count: &r, Rounded: true}
	}
	return api.StatsCount{Count: &n}
}

// served returns the table as served, suppression applied.
func (t *statTable) served(threshold int) api.StatsTable {
	anySup, hideTotal := t.suppress(threshold)
	out := api.StatsTable{Name: t.name, Title: t.title, Dimensions: t.dims, Multi: t.multi, Cells: []api.StatsCell{}}
	for _, c := range t.cellsShown() {
		out.Cells = append(out.Cells, api.StatsCell{Key: c.key, StatsCount: shownCount(c.count, c.suppressed)})
	}
	out.Total = totalCount(t.total, anySup, anySmall(t.comp, threshold), threshold)
	if hideTotal {
		out.Total = api.StatsCount{Suppressed: true}
	}
	return out
}

// Time-to-referral buckets.
var referralBuckets = []string{"same_day", "1_7_days", "8_30_days", "31_90_days", "over_90_days", "no_referral", "no_encounter_date"}

// Counter accumulates the figures of one caller over the stored
// identifications.
type Counter struct {
	schema *model.Schema
	caller *access.Principal
	// nested are the regional jurisdictions (team lists) strictly within
	// the caller's (rule 2).
	nested [][]string
	tables []*statTable
	byName map[string]*statTable
	total  int
	comp   []int
}

// New returns a Counter of the figures caller (a supervisor) may see.
// jurisdictions are the team lists of the regional supervisors; those
// strictly within the caller's jurisdiction are protected by rule 2, the
// others are ignored.
func New(schema *model.Schema, caller *access.Principal, jurisdictions [][]string) *Counter {
	f := &Counter{schema: schema, caller: caller, byName: map[string]*statTable{}}
	for _, j := range jurisdictions {
		if nestedIn(j, caller) && !slices.ContainsFunc(f.nested, func(k []string) bool { return sameTeams(j, k) }) {
			f.nested = append(f.nested, slices.Clone(j))
		}
	}
	f.comp = make([]int, len(f.nested))
	f.tables = newTables(schema, len(f.nested))
	for _, t := range f.tables {
		f.byName[t.name] = t
	}
	return f
}

// newTables returns the empty tables, each counting outside n nested
// jurisdictions.
func newTables(schema *model.Schema, n int) []*statTable {
	values := func(field string) []string {
		d, err := schema.Field(model.KindIdentification, field)
		if err != nil {
			return nil
		}
		return d.Values
	}
	dims := make([]string, len(model.Dimensions))
	for i, d := range model.Dimensions {
		dims[i] = string(d)
	}
	sexAge := newStatTable("sex_age_group", "Identifications by sex and age group", []string{"sex", "age_group"}, false, n)
	sexAge.rows, sexAge.cols = values("sex"), values("age_group")
	for _, r := range sexAge.rows {
		for _, c := range sexAge.cols {
			sexAge.cell(r, c)
		}
	}
	open := func(t *statTable) *statTable { t.open = true; return t }
	return []*statTable{
		newStatTable("status", "Identifications by status", []string{"status"}, false, n, append(values("status"), "unknown")...),
		newStatTable("identifier_type", "First-responder and formal identifications", []string{"identifier_type"}, false, n, append(values("identifier_type"), "unknown")...),
		newStatTable("exploitation_types", "Identifications by exploitation type", []string{"exploitation_type"}, true, n, values("exploitation_types")...),
		newStatTable("multiple_exploitation", "Single and multiple exploitation", []string{"exploitation"}, false, n, "none", "single", "multiple"),
		sexAge,
		open(newStatTable("citizenship", "Identifications by citizenship", []string{"citizenship"}, false, n)),
		open(newStatTable("region", "Identifications by region", []string{"region"}, false, n)),
		open(newStatTable("indicators", "Identifications by indicator", []string{"indicator"}, true, n)),
		newStatTable("indicator_dimensions", "Identifications by indicator dimension", []string{"indicator_dimension"}, true, n, dims...),
		newStatTable("recruitment_channels", "Identifications by recruitment channel", []string{"recruitment_channel"}, true, n, values("recruitment_channels")...),
		newStatTable("payment_means", "Identifications by payment means", []string{"payment_means"}, true, n, values("payment_means")...),
		open(newStatTable("month", "Identifications by month of encounter", []string{"month"}, false, n)),
		newStatTable("time_to_referral", "Time from encounter to first referral", []string{"time_to_referral"}, false, n, referralBuckets...),
	}
}

// valueOr returns the shown string value of field, or "unknown".
func valueOr(rec *crdt.Record, field string) string {
	if v := crdt.String(rec.Value(field)); v != "" {
		return v
	}
	return "unknown"
}

// nestedIn reports whether the regional jurisdiction j lies strictly
// within caller's (any regional one for a national caller).
func nestedIn(j []string, caller *access.Principal) bool {
	if len(j) == 0 {
		return false
	}
	if caller.National() {
		return true
	}
	for _, team := range j {
		if !slices.Contains(caller.Teams, team) {
			return false
		}
	}
	return !sameTeams(j, caller.Teams)
}

// sameTeams reports whether a and b hold the same teams.
func sameTeams(a, b []string) bool {
	return !slices.ContainsFunc(a, func(t string) bool { return !slices.Contains(b, t) }) &&
		!slices.ContainsFunc(b, func(t string) bool { return !slices.Contains(a, t) })
}

// Add counts one stored record of scope: an identification, not deleted,
// that the caller may read. Anything else is dropped here, before it is
// counted, so that nothing outside the caller's jurisdiction can reach
// the figures.
func (f *Counter) Add(scope access.Scope, rec *crdt.Record) {
	if scope.Kind != model.KindIdentification || rec.Kind != model.KindIdentification || rec.Deleted() || !access.CanRead(f.caller, scope) {
		return
	}
	outside := make([]bool, len(f.nested))
	for j, teams := range f.nested {
		outside[j] = !slices.Contains(teams, scope.Team)
	}
	f.total++
	addOutside(f.comp, outside)
	t := f.byName
	t["status"].add(outside, one(valueOr(rec, "status"))...)
	t["identifier_type"].add(outside, one(valueOr(rec, "identifier_type"))...)
	types := rec.Elements("exploitation_types")
	t["exploitation_types"].add(outside, many(types)...)
	switch len(types) {
	case 0:
		t["multiple_exploitation"].add(outside, one("none")...)
	case 1:
		t["multiple_exploitation"].add(outside, one("single")...)
	default:
		t["multiple_exploitation"].add(outside, one("multiple")...)
	}
	t["sex_age_group"].add(outside, []string{valueOr(rec, "sex"), valueOr(rec, "age_group")})
	t["citizenship"].add(outside, one(valueOr(rec, "citizenship"))...)
	region := strings.TrimSpace(crdt.String(rec.Value("region")))
	if region == "" {
		region = "unknown"
	}
	t["region"].add(outside, one(region)...)
	inds := rec.Elements("indicators")
	t["indicators"].add(outside, many(inds)...)
	var dims []string
	for _, code := range inds {
		if ind, ok := f.schema.Indicators.Lookup(code); ok && !slices.Contains(dims, string(ind.Dimension)) {
			dims = append(dims, string(ind.Dimension))
		}
	}
	t["indicator_dimensions"].add(outside, many(dims)...)
	t["recruitment_channels"].add(outside, many(rec.Elements("recruitment_channels"))...)
	t["payment_means"].add(outside, many(rec.Elements("payment_means"))...)
	month := "unknown"
	encounter, err := time.Parse(time.DateOnly, crdt.String(rec.Value("encounter_date")))
	if err == nil {
		month = encounter.Format("2006-01")
	}
	t["month"].add(outside, one(month)...)
	t["time_to_referral"].add(outside, one(referralBucket(rec, encounter, err == nil))...)
}

// referralBucket is the time from the encounter to the first referral
// (the earliest referrals entry not redacted, dated by its "date" when
// that is a date, else by its hlc).
func referralBucket(rec *crdt.Record, encounter time.Time, known bool) string {
	var first *crdt.Entry
	for _, e := range rec.Entries("referrals") {
		if !e.Redacted {
			first = &e
			break
		}
	}
	if first == nil {
		return "no_referral"
	}
	if !known {
		return "no_encounter_date"
	}
	var v struct {
		Date string `json:"date"`
	}
	at := first.HLC.Time()
	if json.Unmarshal(first.Value, &v) == nil {
		if d, err := time.Parse(time.DateOnly, v.Date); err == nil {
			at = d
		}
	}
	days := int(at.Sub(encounter).Hours() / 24)
	switch {
	case days <= 0:
		return "same_day"
	case days <= 7:
		return "1_7_days"
	case days <= 30:
		return "8_30_days"
	case days <= 90:
		return "31_90_days"
	}
	return "over_90_days"
}

// Figures returns the figures as served at threshold (without
// GeneratedAt, which the caller stamps).
func (f *Counter) Figures(threshold int) api.Stats {
	out := api.Stats{Threshold: threshold, Scope: "national", Tables: make([]api.StatsTable, 0, len(f.tables)), Rules: rules(threshold)}
	if !f.caller.National() {
		out.Scope = "jurisdiction"
	}
	out.Identifications = totalCount(f.total, false, anySmall(f.comp, threshold), threshold)
	for _, t := range f.tables {
		out.Tables = append(out.Tables, t.served(threshold))
	}
	return out
}
