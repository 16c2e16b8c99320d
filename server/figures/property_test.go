package figures_test

// Property tests of the monitoring figures over random stores: records
// inside and outside a regional jurisdiction, random thresholds, random
// regional jurisdictions of other supervisors.

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/figures"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

var schema = model.DefaultSchema()

var teams = []string{"t0", "t1", "t2", "t3"}

// stored is one stored identification.
type stored struct {
	scope access.Scope
	rec   *crdt.Record
}

// fieldValues are the register values the generator writes (few, so that
// cells meet; "" leaves the field unset).
var fieldValues = map[string][]string{
	"status":          {"", "potential", "presumed", "identified", "withdrawn"},
	"sex":             {"", "female", "male", "unknown"},
	"age_group":       {"", "child", "adult"},
	"identifier_type": {"", "first_responder", "formal"},
	"citizenship":     {"", "AL", "XK", "NG"},
	"region":          {"", "Shkodër", "Korçë", "Koplik"},
	"encounter_date":  {"", "2026-01-03", "2026-01-20", "2026-02-11", "bad date"},
}

var setValues = map[string][]string{
	"exploitation_types":   {"sexual", "labour", "begging"},
	"indicators":           {"debt_bondage", "deceived_nature_of_job", "documents_withheld"},
	"recruitment_channels": {"online_ad", "family"},
	"payment_means":        {"cash", "crypto"},
}

// genStored draws one identification of one of teams (or of no team when
// teams holds ""), named id.
func genStored(id string, teams []string) *rapid.Generator[stored] {
	return rapid.Custom(func(t *rapid.T) stored {
		rec := crdt.NewRecord(id, model.KindIdentification)
		n := 0
		apply := func(field string, action model.Action, value string) {
			n++
			op := &crdt.Op{ID: fmt.Sprintf("%s-%d", id, n), Record: id, Kind: model.KindIdentification, Field: field,
				Action: action, Value: json.RawMessage(value), Base: []string{}, HLC: hlc.New(1_767_225_600_000+int64(n)*86_400_000, 0),
				Device: "d" + fmt.Sprint(n%2), User: "u"}
			if _, err := rec.Apply(schema, op); err != nil {
				t.Fatalf("apply %s: %v", field, err)
			}
		}
		str := func(s string) string { b, _ := json.Marshal(s); return string(b) }
		for _, field := range []string{"status", "sex", "age_group", "identifier_type", "citizenship", "region", "encounter_date"} {
			// One value, sometimes two concurrent ones (a conflict).
			for range rapid.IntRange(0, 2).Draw(t, field+" writes") {
				if v := rapid.SampledFrom(fieldValues[field]).Draw(t, field); v != "" {
					apply(field, model.ActionSet, str(v))
				}
			}
		}
		for field, values := range setValues {
			for _, v := range rapid.SliceOfNDistinct(rapid.SampledFrom(values), 0, len(values), rapid.ID[string]).Draw(t, field) {
				apply(field, model.ActionAdd, str(v))
			}
		}
		for range rapid.IntRange(0, 2).Draw(t, "referrals") {
			apply("referrals", model.ActionAppend, `{"service":"shelter","date":`+str(rapid.SampledFrom([]string{"2026-01-03", "2026-01-09", "2026-03-30", "x"}).Draw(t, "referral date"))+`}`)
		}
		if rapid.IntRange(0, 9).Draw(t, "deleted") == 0 {
			apply(model.FieldDeleted, model.ActionSet, "true")
		}
		team := rapid.SampledFrom(teams).Draw(t, "team")
		return stored{scope: access.Scope{Kind: model.KindIdentification, Team: team, Creator: "u"}, rec: rec}
	})
}

// genRecords draws up to max identifications of teams, ids prefixed.
func genRecords(t *rapid.T, label string, teams []string, max int) []stored {
	n := rapid.IntRange(0, max).Draw(t, label+" count")
	out := make([]stored, n)
	for i := range out {
		out[i] = genStored(fmt.Sprintf("%s-%d", label, i), teams).Draw(t, label)
	}
	return out
}

// interleave puts the outside records between the inside ones at drawn
// places, keeping the inside ones in order.
func interleave(t *rapid.T, label string, inside, outside []stored) []stored {
	out := make([]stored, 0, len(inside)+len(outside))
	i, o := 0, 0
	for i < len(inside) || o < len(outside) {
		if o < len(outside) && (i == len(inside) || rapid.Bool().Draw(t, label)) {
			out = append(out, outside[o])
			o++
			continue
		}
		out = append(out, inside[i])
		i++
	}
	return out
}

func compute(caller *access.Principal, jurisdictions [][]string, threshold int, store []stored) api.Stats {
	f := figures.New(schema, caller, jurisdictions)
	for _, s := range store {
		f.Add(s.scope, s.rec)
	}
	return f.Figures(threshold)
}

// drawThreshold draws a threshold: mostly small (so that cells cross it),
// up to the largest allowed.
func drawThreshold(t *rapid.T) int {
	return rapid.OneOf(rapid.IntRange(2, 8), rapid.IntRange(2, figures.MaxThreshold)).Draw(t, "threshold")
}

// TestFiguresIgnoreOutside: for a regional supervisor, two stores that
// differ only in records outside its jurisdiction give identical figures,
// for every threshold and whatever other supervisors' jurisdictions exist.
// (The former complement rule computed counts outside the jurisdiction and
// suppressed cells by them: sweeping ?threshold= read those counts.)
func TestFiguresIgnoreOutside(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		mine := rapid.SliceOfNDistinct(rapid.SampledFrom(teams), 1, len(teams)-1, rapid.ID[string]).Draw(t, "jurisdiction")
		var others []string
		for _, team := range teams {
			if !slices.Contains(mine, team) {
				others = append(others, team)
			}
		}
		others = append(others, "") // records of no team are outside too
		caller := &access.Principal{User: "sup", Role: model.RoleSupervisor, Teams: mine}
		jurisdictions := rapid.SliceOfN(rapid.SliceOfNDistinct(rapid.SampledFrom(teams), 1, len(teams), rapid.ID[string]), 0, 3).Draw(t, "jurisdictions")
		threshold := drawThreshold(t)
		inside := genRecords(t, "in", mine, 30)
		a := compute(caller, jurisdictions, threshold, interleave(t, "a", inside, genRecords(t, "outA", others, 30)))
		b := compute(caller, jurisdictions, threshold, interleave(t, "b", inside, genRecords(t, "outB", others, 30)))
		if !reflect.DeepEqual(a, b) {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			t.Fatalf("the figures depend on records outside the jurisdiction:\n%s\n%s", ja, jb)
		}
	})
}

// exact returns a count shown exactly.
func exact(c api.StatsCount) (int, bool) {
	if c.Count == nil || c.Suppressed || c.Rounded {
		return 0, false
	}
	return *c.Count, true
}

func small(n, threshold int) bool { return n > 0 && n < threshold }

// TestFiguresNestedDifference: the figures of a jurisdiction minus those
// of a regional jurisdiction within it never yield a small count (rule 2,
// applied by the larger jurisdiction over records it may read).
func TestFiguresNestedDifference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		inner := rapid.SliceOfNDistinct(rapid.SampledFrom(teams), 1, 2, rapid.ID[string]).Draw(t, "inner")
		outer := &access.Principal{User: "nat", Role: model.RoleSupervisor}
		if rapid.Bool().Draw(t, "regional outer") {
			outer.Teams = append(append([]string{}, inner...), "t2", "t3")
		}
		innerP := &access.Principal{User: "reg", Role: model.RoleSupervisor, Teams: inner}
		jurisdictions := [][]string{inner}
		threshold := drawThreshold(t)
		store := genRecords(t, "rec", append(slices.Clone(teams), ""), 60)
		big := compute(outer, jurisdictions, threshold, store)
		sub := compute(innerP, jurisdictions, threshold, store)
		if x, ok := exact(big.Identifications); ok {
			if y, ok := exact(sub.Identifications); ok && small(x-y, threshold) {
				t.Fatalf("identifications differ by %d", x-y)
			}
		}
		for i, tb := range big.Tables {
			ts := sub.Tables[i]
			if x, ok := exact(tb.Total); ok {
				if y, ok := exact(ts.Total); ok && small(x-y, threshold) {
					t.Fatalf("%s totals differ by %d", tb.Name, x-y)
				}
			}
			cells := map[string]api.StatsCell{}
			for _, c := range ts.Cells {
				cells[strings.Join(c.Key, "/")] = c
			}
			for _, cb := range tb.Cells {
				x, okB := exact(cb.StatsCount)
				cs, listed := cells[strings.Join(cb.Key, "/")]
				y, okS := exact(cs.StatsCount)
				if !listed {
					y, okS = 0, true
				}
				if okB && okS && small(x-y, threshold) {
					t.Fatalf("%s %v differs by %d (%d - %d)", tb.Name, cb.Key, x-y, x, y)
				}
			}
		}
	})
}
