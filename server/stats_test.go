package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/api"
)

func (c *client) stats(q string) api.Stats {
	c.h.t.Helper()
	return getJSON[api.Stats](c, "/v1/stats?"+q)
}

func small(n, threshold int) bool { return n > 0 && n < threshold }

func exact(c api.StatsCount) (int, bool) {
	if c.Count == nil || c.Suppressed || c.Rounded {
		return 0, false
	}
	return *c.Count, true
}

// checkStats checks the suppression rules on one answer: no count under
// the threshold is shown, no table has exactly one suppressed cell, a
// table total is exact only without suppression, and the identifications
// count (public) minus the shown cells of a table never yields a small
// number.
func checkStats(t *testing.T, who string, st api.Stats) {
	t.Helper()
	thr := st.Threshold
	n, nExact := exact(st.Identifications)
	if nExact && small(n, thr) {
		t.Errorf("%s: identifications %d shown", who, n)
	}
	for _, tb := range st.Tables {
		suppressed, visible := 0, 0
		for _, c := range tb.Cells {
			if c.Suppressed {
				if c.Count != nil {
					t.Errorf("%s: %s %v suppressed with a count", who, tb.Name, c.Key)
				}
				suppressed++
				continue
			}
			if c.Count == nil || small(*c.Count, thr) {
				t.Errorf("%s: %s %v shows %v (threshold %d)", who, tb.Name, c.Key, c.Count, thr)
				continue
			}
			visible += *c.Count
		}
		if suppressed == 1 && !tb.Total.Suppressed {
			t.Errorf("%s: %s has exactly one suppressed cell", who, tb.Name)
		}
		total, totalExact := exact(tb.Total)
		if totalExact && small(total, thr) {
			t.Errorf("%s: %s total %d shown", who, tb.Name, total)
		}
		if suppressed > 0 && totalExact {
			t.Errorf("%s: %s has suppressed cells and an exact total", who, tb.Name)
		}
		if tb.Multi {
			continue
		}
		if totalExact && total != visible {
			t.Errorf("%s: %s total %d, cells add up to %d", who, tb.Name, total, visible)
		}
		if nExact && suppressed > 0 && small(n-visible, thr) {
			t.Errorf("%s: %s: identifications %d minus the shown cells %d reveals %d", who, tb.Name, n, visible, n-visible)
		}
		if nExact && suppressed == 0 && visible != n {
			t.Errorf("%s: %s cells add up to %d, identifications %d", who, tb.Name, visible, n)
		}
	}
}

// checkDifference: no shown cell or total of a and b (two answers over
// nested populations) differs by a small number.
func checkDifference(t *testing.T, what string, a, b api.Stats) {
	t.Helper()
	thr := max(a.Threshold, b.Threshold)
	if x, ok := exact(a.Identifications); ok {
		if y, ok := exact(b.Identifications); ok && small(x-y, thr) {
			t.Errorf("%s: identifications differ by %d", what, x-y)
		}
	}
	tables := map[string]api.StatsTable{}
	for _, tb := range b.Tables {
		tables[tb.Name] = tb
	}
	for _, ta := range a.Tables {
		tb := tables[ta.Name]
		if x, ok := exact(ta.Total); ok {
			if y, ok := exact(tb.Total); ok && small(x-y, thr) {
				t.Errorf("%s: %s totals differ by %d", what, ta.Name, x-y)
			}
		}
		cells := map[string]api.StatsCell{}
		for _, c := range tb.Cells {
			cells[strings.Join(c.Key, "/")] = c
		}
		for _, ca := range ta.Cells {
			x, okA := exact(ca.StatsCount)
			cb, in := cells[strings.Join(ca.Key, "/")]
			y, okB := exact(cb.StatsCount)
			if !in {
				y, okB = 0, true // not listed: none there
			}
			if okA && okB && small(x-y, thr) {
				t.Errorf("%s: %s %v differs by %d (%d - %d)", what, ta.Name, ca.Key, x-y, x, y)
			}
		}
	}
}

func table(st api.Stats, name string) api.StatsTable {
	for _, t := range st.Tables {
		if t.Name == name {
			return t
		}
	}
	return api.StatsTable{}
}

func cellOf(tb api.StatsTable, key ...string) api.StatsCell {
	for _, c := range tb.Cells {
		if slices.Equal(c.Key, key) {
			return c
		}
	}
	return api.StatsCell{}
}

// statsWorld writes 23 identifications in north and 20 in east (besides
// the deployment's two without attributes).
func statsWorld(t *testing.T) (*deployment, *client) {
	h := startServer(t)
	d := newDeployment(t, h)
	fw := d.clients["fw"]
	east := d.addUser("fw.e", userSpec{role: "field_worker", teams: []string{"east"}})
	for i := range 23 {
		status := []string{"presumed", "potential"}[i%2]
		if i >= 20 {
			status = "withdrawn"
		}
		sex := "female"
		if i%4 == 1 {
			sex = "male"
		} else if i == 22 || i == 21 {
			sex = "unknown"
		}
		age := "adult"
		if i%4 == 3 {
			age = "child"
		}
		cit, region, month := "AL", "Shkodër", "01"
		if i%8 == 7 {
			cit = "XK"
		}
		if i == 0 || i == 9 {
			cit = "NG"
		}
		if i >= 20 {
			region, month = "Koplik", "03"
		} else if i >= 10 {
			month = "02"
		}
		ex := []string{"sexual", "labour"}[i%2]
		if i == 5 || i == 6 {
			ex = "begging"
		}
		fields := [][3]any{
			{"status", "set", status}, {"sex", "set", sex}, {"age_group", "set", age}, {"citizenship", "set", cit},
			{"region", "set", region}, {"encounter_date", "set", "2026-" + month + "-1" + strconv.Itoa(i%10)},
			{"exploitation_types", "add", ex}, {"identifier_type", "set", "first_responder"},
			{"recruitment_channels", "add", "online_ad"}, {"indicators", "add", "debt_bondage"},
		}
		if i%3 == 0 {
			fields = append(fields, [3]any{"referrals", "append", map[string]any{"service": "shelter", "date": "2026-" + month + "-2" + strconv.Itoa(i%10)}})
		}
		fw.pushApplied(fw.newIdentification(newID(), d.teams["north"], fields...)...)
	}
	for i := range 20 {
		east.pushApplied(east.newIdentification(newID(), d.teams["east"],
			[3]any{"status", "set", "presumed"}, [3]any{"sex", "set", "female"}, [3]any{"age_group", "set", "adult"},
			[3]any{"citizenship", "set", "AL"}, [3]any{"region", "set", "Korçë"},
			[3]any{"encounter_date", "set", fmt.Sprintf("2026-01-%02d", i+1)}, [3]any{"exploitation_types", "add", "labour"},
		)...)
	}
	return d, east
}

// TestStatsSuppression: the figures of a national and a regional
// supervisor, at two thresholds, never show a count under the threshold,
// directly or as the difference of two answers' cells or totals.
func TestStatsSuppression(t *testing.T) {
	t.Parallel()
	d, _ := statsWorld(t)
	sup, supE := d.clients["sup"], d.clients["sup.e"]
	national := sup.stats("")
	regional := supE.stats("")
	strict := sup.stats("threshold=10")
	if national.Threshold != 5 || strict.Threshold != 10 || national.Scope != "national" || regional.Scope != "jurisdiction" {
		t.Fatalf("thresholds %d %d, scopes %s %s", national.Threshold, strict.Threshold, national.Scope, regional.Scope)
	}
	checkStats(t, "national", national)
	checkStats(t, "regional", regional)
	checkStats(t, "national, threshold 10", strict)
	checkDifference(t, "national - regional", national, regional)
	checkDifference(t, "threshold 5 - threshold 10", national, strict)

	// The counts themselves: 45 identifications; 3 withdrawn and 2
	// without a status are suppressed (and nothing else in that table).
	if n, ok := exact(national.Identifications); !ok || n != 45 {
		t.Errorf("identifications %+v, want 45", national.Identifications)
	}
	status := table(national, "status")
	for key, want := range map[string]string{"presumed": "30", "potential": "10", "withdrawn": "-", "unknown": "-", "identified": "0"} {
		c := cellOf(status, key)
		got := "-"
		if !c.Suppressed {
			got = fmt.Sprint(*c.Count)
		}
		if got != want {
			t.Errorf("status %s = %s, want %s", key, got, want)
		}
	}
	if !status.Total.Rounded || *status.Total.Count != 45 {
		t.Errorf("status total %+v, want rounded 45", status.Total)
	}
	// The regional figures: 20 identifications; nothing outside the
	// jurisdiction changes them (withdrawn: 0 here, 3 outside).
	if n, ok := exact(regional.Identifications); !ok || n != 20 {
		t.Errorf("regional identifications %+v, want 20", regional.Identifications)
	}
	if c := cellOf(table(regional, "status"), "withdrawn"); c.Count == nil || *c.Count != 0 {
		t.Errorf("regional withdrawn %+v, want 0", c)
	}
	// Every table is there, and sets count records once per value.
	var names []string
	for _, tb := range national.Tables {
		names = append(names, tb.Name)
	}
	for _, want := range []string{"status", "identifier_type", "exploitation_types", "multiple_exploitation", "sex_age_group", "citizenship",
		"region", "indicators", "indicator_dimensions", "recruitment_channels", "payment_means", "month", "time_to_referral"} {
		if !slices.Contains(names, want) {
			t.Errorf("table %s missing", want)
		}
	}
	if c := cellOf(table(national, "exploitation_types"), "labour"); c.Count == nil || *c.Count != 30 {
		t.Errorf("labour %+v, want 30 (10 north + 20 east)", c)
	}
	if c := cellOf(table(national, "month"), "2026-03"); !c.Suppressed {
		t.Errorf("month 2026-03 (3 records) %+v, want suppressed", c)
	}
	if c := cellOf(table(national, "time_to_referral"), "8_30_days"); c.Count == nil || *c.Count != 8 {
		t.Errorf("time to referral 8-30 days %+v, want 8", c)
	}

	// The threshold can be raised, never lowered.
	for _, q := range []string{"threshold=3", "threshold=x", "threshold=1000"} {
		status, body := sup.do(http.MethodGet, "/v1/stats?"+q, nil)
		if status != http.StatusBadRequest || errorCode(t, body) != "invalid_request" {
			t.Errorf("?%s: %d %s", q, status, body)
		}
	}
}

// TestStatsRegionalIgnoresOutside: a regional supervisor's figures, JSON
// and CSV, at every threshold from the server's to 100, are the same
// before and after records are written outside its jurisdiction (before,
// the complement rule flipped cells as the outside count crossed the
// threshold: an oracle on other regions).
func TestStatsRegionalIgnoresOutside(t *testing.T) {
	t.Parallel()
	d, _ := statsWorld(t)
	supE, fw := d.clients["sup.e"], d.clients["fw"]
	sweep := func() []string {
		var out []string
		for thr := 5; thr <= 100; thr++ {
			st := supE.stats("threshold=" + strconv.Itoa(thr))
			st.GeneratedAt = time.Time{}
			b, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
		csv := supE.mustDo(http.StatusOK, http.MethodGet, "/v1/export/stats?threshold=7", nil)
		return append(out, string(csv))
	}
	before := sweep()
	for i := range 9 {
		status := []string{"withdrawn", "potential", "presumed"}[i%3]
		fw.pushApplied(fw.newIdentification(newID(), d.teams["north"],
			[3]any{"status", "set", status}, [3]any{"sex", "set", "male"}, [3]any{"citizenship", "set", "AL"},
			[3]any{"region", "set", "Korçë"}, [3]any{"encounter_date", "set", "2026-01-05"}, [3]any{"exploitation_types", "add", "labour"})...)
		after := sweep()
		for j := range before {
			if before[j] != after[j] {
				t.Fatalf("after %d records outside the jurisdiction, answer %d changed:\n%s\n%s", i+1, j, before[j], after[j])
			}
		}
	}
}
