package server_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/api"
)

func (c *client) duplicates(q string) api.DuplicateList {
	c.h.t.Helper()
	return getJSON[api.DuplicateList](c, "/v1/review/duplicates?"+q)
}

func (c *client) links(record string) api.LinkList {
	c.h.t.Helper()
	return getJSON[api.LinkList](c, "/v1/review/links?record="+record)
}

func sortedPair(a, b string) []string {
	if b < a {
		a, b = b, a
	}
	return []string{a, b}
}

func pairKeys(l api.DuplicateList) []string {
	var out []string
	for _, p := range l.Pairs {
		out = append(out, p.Records[0]+"+"+p.Records[1])
	}
	return out
}

func pairOf(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + "+" + b
}

// TestDuplicateFlagsAndLinks: records of one region with the same sex,
// age group and citizenship met within 30 days are flagged, within what
// the supervisor may read; a link keeps both records unchanged, is
// audited, is served by the review routes and never reaches the tablets.
// The steps build on each other; the rule itself is tabled in
// server/review (TestPairs).
func TestDuplicateFlagsAndLinks(t *testing.T) {
	t.Parallel()
	h := startServer(t)
	d := newDeployment(t, h)
	fw, sup, supE := d.clients["fw"], d.clients["sup"], d.clients["sup.e"]
	east := d.addUser("fw.e", userSpec{role: "field_worker", teams: []string{"east"}})
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	person := func(c *client, team, date string, more ...[3]any) string {
		id := newID()
		attrs := append([][3]any{
			{"region", "set", "Shkodër"}, {"sex", "set", "female"}, {"age_group", "set", "adult"},
			{"citizenship", "set", "AL"}, {"encounter_date", "set", date}, {"code", "set", "C-" + date},
		}, more...)
		c.pushApplied(c.newIdentification(id, team, attrs...)...)
		return id
	}
	north := d.teams["north"]
	a := person(fw, north, "2026-01-01")
	b := person(fw, north, "2026-01-11")                                        // 10 days after a: flagged
	far := person(fw, north, "2026-03-01")                                      // 59 and 49 days: not
	otherSex := person(fw, north, "2026-01-02", [3]any{"sex", "set", "male"})   // not
	unknown := person(fw, north, "2026-01-02", [3]any{"sex", "set", "unknown"}) // never compared
	spaced := person(fw, north, "2026-01-20", [3]any{"region", "set", " shkodër "})
	e := person(east, d.teams["east"], "2026-01-05") // another jurisdiction's
	want := []string{pairOf(a, b), pairOf(a, spaced), pairOf(b, spaced), pairOf(a, e), pairOf(b, e), pairOf(spaced, e)}
	slices.Sort(want)

	step("pairs are flagged among what the supervisor reads", func(t *testing.T) {
		all := sup.duplicates("include_linked=true")
		if got := pairKeys(all); !slices.Equal(got, want) {
			t.Fatalf("national pairs %v, want %v", got, want)
		}
		for _, id := range []string{far, otherSex, unknown} {
			if len(sup.duplicates("record="+id).Pairs) != 0 {
				t.Errorf("record %s flagged", id)
			}
		}
		if all.Rule == "" {
			t.Error("no rule in the answer")
		}
	})
	step("another jurisdiction's supervisor never learns of them", func(t *testing.T) {
		if got := supE.duplicates(""); len(got.Pairs) != 0 {
			t.Errorf("east supervisor sees pairs %v", pairKeys(got))
		}
	})
	step("pages cover every pair once", func(t *testing.T) {
		var paged []string
		after := ""
		for {
			q := "include_linked=true&limit=2"
			if after != "" {
				q += "&after=" + after
			}
			l := sup.duplicates(q)
			paged = append(paged, pairKeys(l)...)
			if l.Next == "" {
				break
			}
			after = l.Next
		}
		if !slices.Equal(paged, want) {
			t.Errorf("paged pairs %v, want %v", paged, want)
		}
	})
	step("the queue names the possible duplicates", func(t *testing.T) {
		items, _ := sup.queue("limit=500")
		if !slices.Contains(items[a].Duplicates, b) {
			t.Errorf("queue item of a lists duplicates %v, want b among them", items[a].Duplicates)
		}
	})
	step("a link keeps both records unchanged and never syncs", func(t *testing.T) {
		_, _, cursor := fw.pullAll("", 1000)
		before := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+a+"?history=true", nil)
		var res api.LinkResponse
		mustUnmarshal(t, sup.mustDo(http.StatusOK, http.MethodPost, "/v1/review/links", api.LinkRequest{Records: []string{a, b}}), &res)
		if !res.Linked || !res.Changed || res.Results == nil || len(res.Results) != 0 {
			t.Fatalf("link answer %+v", res)
		}
		if after := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+a+"?history=true", nil); !bytes.Equal(after, before) {
			t.Errorf("linking changed the record:\nbefore %s\nafter  %s", before, after)
		}
		for _, pair := range [][2]string{{a, b}, {b, a}} {
			l := sup.links(pair[0])
			if len(l.Links) != 1 || !slices.Equal(l.Links[0].Records, sortedPair(a, b)) || l.Links[0].By != sup.user.ID || l.Links[0].At.IsZero() {
				t.Errorf("links of %s: %+v, want the link a-b by the supervisor", pair[0], l)
			}
		}
		if slices.Contains(pairKeys(sup.duplicates("")), pairOf(a, b)) {
			t.Error("the linked pair is still listed without include_linked")
		}
		for _, p := range sup.duplicates("include_linked=true&record=" + a).Pairs {
			if (p.Records[0] == b || p.Records[1] == b) != p.Linked {
				t.Errorf("pair %v linked=%v", p.Records, p.Linked)
			}
		}
		items, _ := sup.queue("limit=500")
		if slices.Contains(items[a].Duplicates, b) {
			t.Error("the queue still flags the linked pair")
		}
		if newOps, _, _ := fw.pullAll(cursor, 1000); len(newOps) != 0 {
			t.Errorf("the field worker pulled %d ops after the link, want none", len(newOps))
		}
	})
	step("linking again writes nothing; unlinking twice changes once", func(t *testing.T) {
		var res api.LinkResponse
		mustUnmarshal(t, sup.mustDo(http.StatusOK, http.MethodPost, "/v1/review/links", api.LinkRequest{Records: []string{b, a}}), &res)
		if !res.Linked || res.Changed {
			t.Errorf("linking again: %+v, want linked, not changed", res)
		}
		mustUnmarshal(t, sup.mustDo(http.StatusOK, http.MethodPost, "/v1/review/links", api.LinkRequest{Records: []string{a, b}, Unlink: true}), &res)
		if res.Linked || !res.Changed {
			t.Fatalf("unlink answer %+v", res)
		}
		if l := sup.links(a); len(l.Links) != 0 {
			t.Errorf("after unlink a links %+v", l.Links)
		}
		mustUnmarshal(t, sup.mustDo(http.StatusOK, http.MethodPost, "/v1/review/links", api.LinkRequest{Records: []string{a, b}, Unlink: true}), &res)
		if res.Linked || res.Changed {
			t.Errorf("unlinking again: %+v, want not linked, not changed", res)
		}
	})
	step("the audit log names the link and the unlink, once per record", func(t *testing.T) {
		var audit struct {
			Entries []struct{ Action, Object, Detail, Actor string }
		}
		mustUnmarshal(t, d.clients["auditor"].mustDo(http.StatusOK, http.MethodGet, "/v1/audit?limit=1000", nil), &audit)
		count := map[string]int{}
		for _, e := range audit.Entries {
			if (e.Object == a || e.Object == b) && e.Actor == sup.user.ID {
				count[e.Action]++
			}
		}
		if count["records_linked"] != 2 || count["records_unlinked"] != 2 {
			t.Errorf("audit link entries %v, want 2 records_linked and 2 records_unlinked", count)
		}
	})
	for _, bad := range []struct {
		name   string
		who    *client
		req    any
		status int
	}{
		{"a record outside the jurisdiction", supE, api.LinkRequest{Records: []string{e, a}}, http.StatusNotFound},
		{"a record that does not exist", sup, api.LinkRequest{Records: []string{a, newID()}}, http.StatusNotFound},
		{"a site visit", sup, api.LinkRequest{Records: []string{a, d.weekVisit}}, http.StatusNotFound},
		{"a record to itself", sup, api.LinkRequest{Records: []string{a, a}}, http.StatusBadRequest},
		{"one record", sup, api.LinkRequest{Records: []string{a}}, http.StatusBadRequest},
		{"an id that is no UUID", sup, api.LinkRequest{Records: []string{a, "B"}}, http.StatusBadRequest},
		{"a merge", sup, `{"records":[],"merge":true}`, http.StatusBadRequest},
	} {
		t.Run("refused: "+bad.name, func(t *testing.T) {
			if status, body := bad.who.do(http.MethodPost, "/v1/review/links", bad.req); status != bad.status {
				t.Errorf("link %v: %d %s, want %d", bad.req, status, body, bad.status)
			}
		})
	}
}
