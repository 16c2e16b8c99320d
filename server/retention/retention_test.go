package retention

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	rs, err := Parse(" identification:withdrawn|not_victim=24m ; site_visit=90d;")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rs.String(), "identification:not_victim|withdrawn=24m; site_visit=90d"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if rs, err := Parse(""); err != nil || rs != nil {
		t.Errorf("empty text: got %v, %v; want no rules (off by default)", rs, err)
	}
}

func TestParseRefuses(t *testing.T) {
	for text, want := range map[string]string{
		"identification=24m":          "names the statuses",
		"identification:lost=24m":     `"lost" is not an identification status`,
		"site_visit:done=1m":          "site visits have no status",
		"action_week=1m":              `kind "action_week" has no retention`,
		"site_visit=12":               "has no unit",
		"site_visit=0m":               "not a positive number",
		"site_visit=-3m":              "not a positive number",
		"site_visit":                  `has no "=PERIOD"`,
		"site_visit=1m;site_visit=2m": "retention rule 2: another rule already covers site_visit",
		"identification:withdrawn=1m;identification:withdrawn|presumed=2m": "covers identification with status withdrawn",
	} {
		_, err := Parse(text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): got %v, want an error with %q", text, err, want)
		}
	}
}

func TestJudge(t *testing.T) {
	rs, err := Parse("identification:withdrawn|not_victim=24m; site_visit=12m")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2028, 6, 15, 12, 0, 0, 0, time.UTC)
	old := now.AddDate(-2, 0, -1)
	recent := now.AddDate(-2, 0, 1)
	ends := now.AddDate(-1, 0, -2)
	for _, tc := range []struct {
		name string
		rec  Record
		want string
	}{
		{"withdrawn, old", Record{Kind: "identification", Status: "withdrawn", LastChange: old}, "identification:not_victim|withdrawn=24m"},
		{"withdrawn, recent", Record{Kind: "identification", Status: "withdrawn", LastChange: recent}, ""},
		{"presumed, old", Record{Kind: "identification", Status: "presumed", LastChange: old}, ""},
		{"held", Record{Kind: "identification", Status: "not_victim", LastChange: old, Held: true}, ""},
		{"visit, week ended", Record{Kind: "site_visit", WeekEnds: ends}, "site_visit=12m"},
		{"visit, week ended recently", Record{Kind: "site_visit", WeekEnds: now.AddDate(0, -11, 0)}, ""},
		{"visit, week end unknown", Record{Kind: "site_visit", LastChange: old}, ""},
		{"visit held", Record{Kind: "site_visit", WeekEnds: ends, Held: true}, ""},
		{"action week", Record{Kind: "action_week", LastChange: old}, ""},
	} {
		r, ok := rs.Judge(tc.rec, now)
		got := ""
		if ok {
			got = r.Name()
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := Rules(nil).Plan([]Record{{Kind: "identification", Status: "withdrawn", LastChange: old}}, now); len(got) != 0 {
		t.Errorf("no rules expired %v", got)
	}
}
