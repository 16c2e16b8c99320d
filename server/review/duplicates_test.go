package review_test

import (
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/review"
)

// person is an identification with every attribute the duplicate rule
// compares: Shkodër, female, adult, AL, met on date; more overwrites
// fields (field, value, ...).
func person(t *testing.T, id, date string, more ...any) *builder {
	b := ident(t, id)
	fields := []any{"code", "C-" + id[len(id)-2:], "region", "Shkodër", "sex", "female", "age_group", "adult", "citizenship", "AL", "encounter_date", date}
	fields = append(fields, more...)
	last := map[string]string{}
	for i := 0; i+1 < len(fields); i += 2 {
		f := fields[i].(string)
		var base []string
		if op, ok := last[f]; ok {
			base = []string{op}
		}
		last[f] = b.set(2+i, f, fields[i+1], base...)
	}
	return b
}

// TestCandidateOf: which records the duplicate rule can compare.
func TestCandidateOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		more []any
		ok   bool
	}{
		{"every attribute known", nil, true},
		{"region with spaces and capitals", []any{"region", "  SHKODËR "}, true},
		{"region missing", []any{"region", ""}, false},
		{"sex unknown", []any{"sex", "unknown"}, false},
		{"age group unknown", []any{"age_group", "unknown"}, false},
		{"citizenship unknown", []any{"citizenship", "unknown"}, false},
		{"no valid encounter date", []any{"encounter_date", "2026-02-30"}, false},
		{"deleted", []any{"deleted", true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, ok := review.CandidateOf(person(t, uuid(1), "2026-01-01", tc.more...).rec)
			if ok != tc.ok {
				t.Fatalf("CandidateOf = %+v, %v; want ok %v", c, ok, tc.ok)
			}
			if ok && (c.ID != uuid(1) || c.Code != "C-01" || c.Region != "SHKODËR" && c.Region != "Shkodër" || c.Day != 20454) {
				t.Errorf("candidate %+v", c)
			}
		})
	}
	t.Run("a site visit", func(t *testing.T) {
		t.Parallel()
		b := build(t, uuid(1), model.KindSiteVisit)
		b.set(1, "town", "Koplik")
		if c, ok := review.CandidateOf(b.rec); ok {
			t.Errorf("CandidateOf(site visit) = %+v, true", c)
		}
	})
}

// candidates returns the candidates of records numbered from 1 met on
// dates (each a person; more[i] overwrites fields of the i-th).
func candidates(t *testing.T, dates []string, more map[int][]any) []review.Candidate {
	var out []review.Candidate
	for i, d := range dates {
		c, ok := review.CandidateOf(person(t, uuid(i+1), d, more[i]...).rec)
		if !ok {
			t.Fatalf("record %d is no candidate", i+1)
		}
		out = append(out, c)
	}
	return out
}

func pairIDs(ps []review.Pair) [][2]string {
	out := [][2]string{}
	for _, p := range ps {
		out = append(out, [2]string{p.A.ID, p.B.ID})
	}
	return out
}

// TestPairs is the duplicate rule: same region (case and spaces aside),
// sex, age group and citizenship, encounter dates at most 30 days apart.
func TestPairs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		dates []string
		more  map[int][]any
		want  [][2]string
	}{
		{"30 days apart", []string{"2026-01-01", "2026-01-31"}, nil, [][2]string{{uuid(1), uuid(2)}}},
		{"31 days apart", []string{"2026-01-01", "2026-02-01"}, nil, [][2]string{}},
		{"the window counts from each record", []string{"2026-01-01", "2026-01-25", "2026-02-20"}, nil,
			[][2]string{{uuid(1), uuid(2)}, {uuid(2), uuid(3)}}},
		{"region case and spaces aside", []string{"2026-01-01", "2026-01-02"}, map[int][]any{1: {"region", " shkodër "}}, [][2]string{{uuid(1), uuid(2)}}},
		{"another region", []string{"2026-01-01", "2026-01-02"}, map[int][]any{1: {"region", "Lezhë"}}, [][2]string{}},
		{"another sex", []string{"2026-01-01", "2026-01-02"}, map[int][]any{1: {"sex", "male"}}, [][2]string{}},
		{"another age group", []string{"2026-01-01", "2026-01-02"}, map[int][]any{1: {"age_group", "child"}}, [][2]string{}},
		{"another citizenship", []string{"2026-01-01", "2026-01-02"}, map[int][]any{1: {"citizenship", "XK"}}, [][2]string{}},
		{"ordered by ids whatever the dates", []string{"2026-01-09", "2026-01-01"}, nil, [][2]string{{uuid(1), uuid(2)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := pairIDs(review.Pairs(candidates(t, tc.dates, tc.more), nil)); !slices.Equal(got, tc.want) {
				t.Errorf("pairs %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLinkedPairs: a linked pair (in either order) is marked linked and
// no longer flagged as a possible duplicate.
func TestLinkedPairs(t *testing.T) {
	t.Parallel()
	cands := candidates(t, []string{"2026-01-01", "2026-01-02", "2026-01-03"}, nil)
	links := review.NewLinks([][2]string{{uuid(2), uuid(1)}})
	for _, p := range review.Pairs(cands, links) {
		if want := p.A.ID == uuid(1) && p.B.ID == uuid(2); p.Linked != want {
			t.Errorf("pair %s-%s linked %v, want %v", p.A.ID, p.B.ID, p.Linked, want)
		}
	}
	got := review.Unlinked(cands, links)
	want := map[string][]string{uuid(1): {uuid(3)}, uuid(2): {uuid(3)}, uuid(3): {uuid(1), uuid(2)}}
	if len(got) != len(want) {
		t.Fatalf("unlinked %v, want %v", got, want)
	}
	for id, w := range want {
		if !slices.Equal(got[id], w) {
			t.Errorf("unlinked partners of %s: %v, want %v", id, got[id], w)
		}
	}
}

// TestListDuplicates: the filter's record, linked pairs, pages; the
// rule is always named.
func TestListDuplicates(t *testing.T) {
	t.Parallel()
	cands := candidates(t, []string{"2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"}, nil)
	links := review.NewLinks([][2]string{{uuid(1), uuid(2)}})
	for _, tc := range []struct {
		name     string
		query    func(string) string
		want     []string
		wantNext string
	}{
		{"unlinked pairs", query(), []string{"1-3", "1-4", "2-3", "2-4", "3-4"}, ""},
		{"with linked pairs", query("include_linked", "true"), []string{"1-2", "1-3", "1-4", "2-3", "2-4", "3-4"}, ""},
		{"include_linked that is no boolean", query("include_linked", "yes"), []string{"1-3", "1-4", "2-3", "2-4", "3-4"}, ""},
		{"one record's", query("record", uuid(3)), []string{"1-3", "2-3", "3-4"}, ""},
		{"a first page", query("limit", "2"), []string{"1-3", "1-4"}, uuid(1) + "." + uuid(4)},
		{"the next page", query("limit", "2", "after", uuid(1)+"."+uuid(4)), []string{"2-3", "2-4"}, uuid(2) + "." + uuid(4)},
		{"the last page", query("limit", "2", "after", uuid(2)+"."+uuid(4)), []string{"3-4"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := review.ParseDuplicateQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			l := review.ListDuplicates(cands, links, f)
			var got []string
			for _, p := range l.Pairs {
				got = append(got, p.Records[0][len(p.Records[0])-1:]+"-"+p.Records[1][len(p.Records[1])-1:])
				if p.DaysApart < 1 || p.Matched["region"] != "Shkodër" || len(p.Codes) != 2 || p.Linked != (got[len(got)-1] == "1-2") {
					t.Errorf("pair %+v", p)
				}
			}
			if !slices.Equal(got, tc.want) || l.Next != tc.wantNext || l.Rule != review.Rule {
				t.Errorf("pairs %v next %q, want %v next %q", got, l.Next, tc.want, tc.wantNext)
			}
		})
	}
}

// TestParseDuplicateQuery: the refusals and their codes.
func TestParseDuplicateQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		query func(string) string
		code  model.Code
	}{
		{"a record that is no id", query("record", "R-1"), model.CodeInvalidID},
		{"a zero limit", query("limit", "0"), model.CodeInvalidRequest},
		{"after with one id", query("after", uuid(1)), model.CodeInvalidCursor},
		{"after with a bad id", query("after", uuid(1)+".x"), model.CodeInvalidCursor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := review.ParseDuplicateQuery(tc.query); codeOf(err) != tc.code {
				t.Errorf("error %v, want code %q", err, tc.code)
			}
		})
	}
	t.Run("a limit above the largest is lowered", func(t *testing.T) {
		t.Parallel()
		if f, err := review.ParseDuplicateQuery(query("limit", "5000")); err != nil || f.Limit != review.MaxDuplicateLimit {
			t.Errorf("filter %+v, %v; want limit %d", f, err, review.MaxDuplicateLimit)
		}
	})
}
