package review_test

import (
	"slices"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/review"
)

// TestPlanLink: a link names two distinct record ids; its audit details
// name the other record.
func TestPlanLink(t *testing.T) {
	t.Parallel()
	a, b := uuid(1), uuid(2)
	for _, tc := range []struct {
		name string
		req  api.LinkRequest
		code model.Code
	}{
		{"two records", api.LinkRequest{Records: []string{b, a}}, ""},
		{"one record", api.LinkRequest{Records: []string{a}}, model.CodeInvalidRequest},
		{"three records", api.LinkRequest{Records: []string{a, b, uuid(3)}}, model.CodeInvalidRequest},
		{"an id that is no UUID", api.LinkRequest{Records: []string{a, "B"}}, model.CodeInvalidID},
		{"a record to itself", api.LinkRequest{Records: []string{a, a}}, model.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := review.PlanLink(tc.req); codeOf(err) != tc.code {
				t.Errorf("error %v, want code %q", err, tc.code)
			}
		})
	}
	t.Run("link details and answer", func(t *testing.T) {
		t.Parallel()
		ch, _ := review.PlanLink(api.LinkRequest{Records: []string{b, a}})
		if forB, forA := ch.Details(); forB != "linked to "+a || forA != "linked to "+b {
			t.Errorf("details %q, %q", forB, forA)
		}
		res := ch.Response(false)
		if !slices.Equal(res.Records, []string{b, a}) || !res.Linked || res.Changed || res.Results == nil {
			t.Errorf("answer %+v", res)
		}
	})
	t.Run("unlink details and answer", func(t *testing.T) {
		t.Parallel()
		ch, _ := review.PlanLink(api.LinkRequest{Records: []string{a, b}, Unlink: true})
		if forA, forB := ch.Details(); forA != "unlinked from "+b || forB != "unlinked from "+a {
			t.Errorf("details %q, %q", forA, forB)
		}
		if res := ch.Response(true); res.Linked || !res.Changed {
			t.Errorf("answer %+v", res)
		}
	})
}

// TestVisibleLinks: a link to a record the caller may not read is left
// out as if it did not exist.
func TestVisibleLinks(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	links := []api.Link{
		{Records: []string{uuid(1), uuid(2)}, By: "sup", At: at},
		{Records: []string{uuid(0), uuid(1)}, By: "sup", At: at},
		{Records: []string{uuid(1), uuid(9)}, By: "sup", At: at},
	}
	got := review.VisibleLinks(uuid(1), links, func(id string) bool { return id != uuid(9) })
	if got.Record != uuid(1) || len(got.Links) != 2 || got.Links[0].Records[1] != uuid(2) || got.Links[1].Records[0] != uuid(0) {
		t.Errorf("visible links %+v, want the links to 2 and 0", got)
	}
	if none := review.VisibleLinks(uuid(1), nil, nil); none.Links == nil {
		t.Error("no links is null, want []")
	}
}
