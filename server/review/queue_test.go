package review_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/review"
)

// uuid returns a canonical record id numbered n (ids sort by n).
func uuid(n int) string { return fmt.Sprintf("00000000-0000-7000-8000-%012d", n) }

// query returns a query lookup of the parameters kv (key, value, ...).
func query(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// TestParseQueueQuery: defaults, each parameter, and the refusals with
// their codes.
func TestParseQueueQuery(t *testing.T) {
	t.Parallel()
	team := uuid(1)
	for _, tc := range []struct {
		name  string
		query func(string) string
		want  review.QueueFilter
		code  model.Code
	}{
		{"defaults", query(), review.QueueFilter{Limit: review.DefaultQueueLimit}, ""},
		{"every filter", query("reason", "conflict", "team", team, "region", "Shkodër", "status", "presumed", "limit", "7"),
			review.QueueFilter{Reason: "conflict", Team: team, Region: "Shkodër", Status: "presumed", Limit: 7}, ""},
		{"a limit above the largest is lowered", query("limit", "501"), review.QueueFilter{Limit: review.MaxQueueLimit}, ""},
		{"after", query("after", day(3)+"."+team), review.QueueFilter{AfterSince: day(3), AfterID: team, Limit: review.DefaultQueueLimit}, ""},
		{"an unknown reason", query("reason", "urgent"), review.QueueFilter{}, model.CodeInvalidRequest},
		{"a team that is no id", query("team", "North"), review.QueueFilter{}, model.CodeInvalidID},
		{"a zero limit", query("limit", "0"), review.QueueFilter{}, model.CodeInvalidRequest},
		{"a limit that is no number", query("limit", "ten"), review.QueueFilter{}, model.CodeInvalidRequest},
		{"after without a dot", query("after", day(3)), review.QueueFilter{}, model.CodeInvalidCursor},
		{"after with a bad hlc", query("after", "x."+team), review.QueueFilter{}, model.CodeInvalidCursor},
		{"after with a bad id", query("after", day(3)+".x"), review.QueueFilter{}, model.CodeInvalidCursor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := review.ParseQueueQuery(tc.query)
			if code := codeOf(err); code != tc.code {
				t.Fatalf("error %v (code %q), want code %q", err, code, tc.code)
			}
			if tc.code == "" && got != tc.want {
				t.Errorf("filter %+v, want %+v", got, tc.want)
			}
		})
	}
}

// queueOf returns a queue of filter f over records 1..n: record i is new
// since day 10-i (so the last is oldest), in region r<i%2>; records
// divisible by 3 also have a conflict.
func queueOf(t *testing.T, f review.QueueFilter, n int) *review.Queue {
	q := review.NewQueue(f, func(string) bool { return false }, map[string]string{"t0": "North"})
	for i := 1; i <= n; i++ {
		b := build(t, uuid(i), model.KindIdentification)
		b.set(10-i, "team", "t0")
		if i%3 == 0 {
			b.at(20, "a", "region", model.ActionSet, "x")
			b.at(20, "b", "region", model.ActionSet, "y")
		}
		q.Add(b.rec, review.Summary{Team: "t0", Region: fmt.Sprint("r", i%2), Status: "potential"})
	}
	return q
}

func ids(page []api.QueueItem) []string {
	out := []string{}
	for _, it := range page {
		out = append(out, it.ID)
	}
	return out
}

// TestQueuePages: oldest reason first, pages cover the queue exactly
// once, filters combine, counts per reason ignore the reason filter.
func TestQueuePages(t *testing.T) {
	t.Parallel()
	t.Run("oldest first, pages cover the queue once", func(t *testing.T) {
		t.Parallel()
		var got []string
		f := review.QueueFilter{Limit: 2}
		for pages := 0; ; pages++ {
			page := queueOf(t, f, 5).Page()
			if page.Total != 5 {
				t.Fatalf("total %d, want 5", page.Total)
			}
			got = append(got, ids(page.Items)...)
			if page.Next == "" {
				break
			}
			if pages > 5 {
				t.Fatal("the pages never end")
			}
			var err error
			if f, err = review.ParseQueueQuery(query("limit", "2", "after", page.Next)); err != nil {
				t.Fatalf("next %q does not parse: %v", page.Next, err)
			}
		}
		if want := []string{uuid(5), uuid(4), uuid(3), uuid(2), uuid(1)}; !slices.Equal(got, want) {
			t.Errorf("pages %v, want %v", got, want)
		}
	})
	t.Run("an item shows its record", func(t *testing.T) {
		t.Parallel()
		page := queueOf(t, review.QueueFilter{Limit: 50}, 3).Page()
		it := page.Items[0]
		if it.ID != uuid(3) || it.TeamName != "North" || it.Status != "potential" || !slices.Equal(it.Conflicts, []string{"region"}) ||
			it.Since != day(7) || it.Duplicates == nil || len(it.Duplicates) != 0 {
			t.Errorf("first item %+v", it)
		}
		if got := page.Items[1].Conflicts; got == nil || len(got) != 0 {
			t.Errorf("conflicts of a record without any: %#v, want []", got)
		}
	})
	t.Run("filters combine and counts ignore the reason filter", func(t *testing.T) {
		t.Parallel()
		page := queueOf(t, review.QueueFilter{Reason: review.ReasonConflict, Region: "r0", Limit: 50}, 12).Page()
		if want := []string{uuid(12), uuid(6)}; !slices.Equal(ids(page.Items), want) {
			t.Errorf("items %v, want %v", ids(page.Items), want)
		}
		if page.Total != 2 || page.ByReason[review.ReasonNew] != 6 || page.ByReason[review.ReasonConflict] != 2 {
			t.Errorf("total %d by reason %v, want 2 and new 6, conflict 2", page.Total, page.ByReason)
		}
	})
}

// TestQueueFlagsDuplicates: an item lists its possible duplicates among
// every record offered (filtered out or not), not the linked ones.
func TestQueueFlagsDuplicates(t *testing.T) {
	t.Parallel()
	q := review.NewQueue(review.QueueFilter{Region: "shown", Limit: 50}, func(string) bool { return false }, nil)
	for i, region := range []string{"shown", "other", "shown"} {
		b := person(t, uuid(i+1), "2026-01-0"+fmt.Sprint(i+1))
		q.Add(b.rec, review.Summary{Team: "t0", Region: region})
	}
	page := q.Page()
	q.FlagDuplicates(page.Items, review.NewLinks([][2]string{{uuid(3), uuid(1)}}))
	got := map[string][]string{}
	for _, it := range page.Items {
		got[it.ID] = it.Duplicates
	}
	if !slices.Equal(got[uuid(1)], []string{uuid(2)}) || !slices.Equal(got[uuid(3)], []string{uuid(2)}) || len(got) != 2 {
		t.Errorf("duplicates %v, want 1 and 3 each flagged with 2 (1-3 linked, 2 filtered out)", got)
	}
}
