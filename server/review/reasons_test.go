package review_test

import (
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/review"
)

// TestReasons is the review queue's rule, one case per trigger: a record
// enters with a reason, leaves when a supervisor decides after it, and
// comes back with a newer trigger; a conflict stays whatever the
// decisions.
func TestReasons(t *testing.T) {
	t.Parallel()
	visitor := func(user string) bool { return user == "visitor" }
	for _, tc := range []struct {
		name  string
		build func(t *testing.T) *builder
		want  []string
	}{
		{"a new record waits", func(t *testing.T) *builder { return ident(t, "r") }, []string{"new"}},
		{"a decided record leaves", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(2, model.FieldReviewStatus, "reviewed")
			return b
		}, nil},
		{"a site visit never waits", func(t *testing.T) *builder {
			b := build(t, "r", model.KindSiteVisit)
			b.set(1, "town", "Koplik")
			return b
		}, nil},
		{"a deleted record leaves", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(2, "deleted", true)
			return b
		}, nil},
		{"presumed awaits a formal identification", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(2, model.FieldReviewStatus, "reviewed")
			b.set(3, model.FieldStatus, "presumed")
			return b
		}, []string{"formal_status"}},
		{"potential awaits a formal identification", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(2, model.FieldStatus, "potential")
			return b
		}, []string{"formal_status", "new"}},
		{"withdrawn awaits nothing", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(2, model.FieldReviewStatus, "reviewed")
			b.set(3, model.FieldStatus, "withdrawn")
			return b
		}, nil},
		{"a trigger older than the decision is settled", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(2, model.FieldStatus, "presumed")
			b.set(3, model.FieldReviewStatus, "needs_info")
			return b
		}, nil},
		{"a child presumed", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(2, model.FieldReviewStatus, "reviewed")
			b.set(3, "child_presumed", true)
			return b
		}, []string{"child_presumed"}},
		{"no child presumed", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(2, model.FieldReviewStatus, "reviewed")
			b.set(3, "child_presumed", false)
			return b
		}, nil},
		{"a referral within the country (case aside)", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(2, "citizenship", "AL")
			b.set(3, model.FieldReviewStatus, "reviewed")
			b.at(4, "u", "referrals", model.ActionAppend, map[string]any{"service": "shelter", "destination_country": "al"})
			return b
		}, nil},
		{"a referral abroad by destination", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(2, "citizenship", "AL")
			b.set(3, model.FieldReviewStatus, "reviewed")
			b.at(4, "u", "referrals", model.ActionAppend, map[string]any{"service": "return", "destination_country": "DE"})
			return b
		}, []string{"cross_border_referral"}},
		{"a referral abroad by flag", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(3, model.FieldReviewStatus, "reviewed")
			b.at(4, "u", "referrals", model.ActionAppend, map[string]any{"service": "legal", "cross_border": true})
			return b
		}, []string{"cross_border_referral"}},
		{"a redacted referral is no trigger", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(3, model.FieldReviewStatus, "reviewed")
			ref := b.at(4, "u", "referrals", model.ActionAppend, map[string]any{"service": "legal", "cross_border": true})
			b.at(5, "sup", "referrals", model.ActionRedact, nil, ref)
			return b
		}, nil},
		{"a visitor's note", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(2, model.FieldReviewStatus, "reviewed")
			b.at(3, "visitor", "notes", model.ActionAppend, map[string]any{"text": "met in Munich"})
			return b
		}, []string{"visitor_note"}},
		{"a field worker's note is no trigger", func(t *testing.T) *builder {
			b := ident(t, "r")
			b.set(2, model.FieldReviewStatus, "reviewed")
			b.at(3, "u", "notes", model.ActionAppend, map[string]any{"text": "called back"})
			return b
		}, nil},
		{"a conflict stays whatever the decisions", func(t *testing.T) *builder {
			b := ident(t, "r")
			base := b.set(2, "age_group", "adult")
			b.at(3, "fw", "age_group", model.ActionSet, "adult", base)
			b.at(3, "tl", "age_group", model.ActionSet, "child", base)
			b.set(4, model.FieldReviewStatus, "reviewed")
			return b
		}, []string{"conflict:age_group"}},
		{"a value over every sibling resolves a conflict", func(t *testing.T) *builder {
			b := ident(t, "r")
			x := b.at(3, "fw", "age_group", model.ActionSet, "adult")
			y := b.at(3, "tl", "age_group", model.ActionSet, "child")
			b.at(4, "sup", "age_group", model.ActionSet, "child", x, y)
			b.set(5, model.FieldReviewStatus, "reviewed")
			return b
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := reasonCodes(review.Reasons(tc.build(t).rec, visitor))
			want := tc.want
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("reasons %v, want %v", got, want)
			}
		})
	}
}

// TestReasonNewSince: a new record has waited since its team was first
// written.
func TestReasonNewSince(t *testing.T) {
	t.Parallel()
	b := ident(t, "r")
	b.set(5, "region", "Shkodër")
	got := review.Reasons(b.rec, func(string) bool { return false })
	if len(got) != 1 || got[0].Code != review.ReasonNew || got[0].HLC != day(1) {
		t.Errorf("reasons %+v, want new since day 1 (%s)", got, day(1))
	}
}
