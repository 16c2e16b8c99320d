package protocol_test

import (
	"context"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
)

// TestChangedReadsPullsFeeds: the event stream's "anything new for me?"
// resolves feeds exactly as Pull does: a change in a record the caller is
// served wakes it, one in another team's record does not, and a role that
// does not sync is refused as Pull refuses it.
func TestChangedReadsPullsFeeds(t *testing.T) {
	w := newWorld(t)
	recs := populate(w)
	ctx := context.Background()
	since, err := w.svc.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		p      *access.Principal
		want   bool
		cursor string
	}{
		{name: "same team", p: fwA2, want: true},
		{name: "two teams", p: fwAB, want: true},
		{name: "national supervisor", p: supNat, want: true},
		{name: "other team", p: fwB, want: false},
		{name: "visitor of the other week", p: visitW2, want: false},
	}
	for i := range tests {
		tests[i].cursor = w.pullAll(tests[i].p, "", 1000).cursor
	}
	w.mustApply(fwA, w.set(fwA, recs["A2"], ident, "code", "A-2b"))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, changed, err := w.svc.Changed(ctx, tc.p, since)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.want {
				t.Errorf("changed = %v, want %v", changed, tc.want)
			}
			pulled := w.pullAll(tc.p, tc.cursor, 1000).ops
			if got := len(pulled) > 0; got != changed {
				t.Errorf("Changed says %v but Pull from the same point serves %d ops", changed, len(pulled))
			}
			if changed && next <= since {
				t.Errorf("next = %d, want > %d", next, since)
			}
			if !changed && next != since {
				t.Errorf("next = %d, want %d unchanged", next, since)
			}
		})
	}
	t.Run("auditor refused", func(t *testing.T) {
		_, _, err := w.svc.Changed(ctx, auditor, since)
		if got, want := model.ErrorCode(err), model.CodeForbidden; got != want {
			t.Errorf("code = %v, want %v", got, want)
		}
	})
}
