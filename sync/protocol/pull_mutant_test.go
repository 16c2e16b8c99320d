package protocol_test

import (
	"fmt"
	"slices"
	"testing"
)

// TestPullMovedOpAtCursorNotServedAgain: a reader of both teams whose
// cursor stands exactly on the last op of a record that then moves
// between its teams is not served that op again from the new team's feed
// (pull.go servedBefore: e.PrevSeq <= after).
func TestPullMovedOpAtCursorNotServedAgain(t *testing.T) {
	for _, limit := range []int{0, 1} {
		w := newWorld(t)
		rec, teamOp := w.identification(fwA, teamA)
		code := w.set(fwA, rec, ident, "code", "X-1")
		w.mustApply(fwA, code)
		before := w.pullAll(fwAB, "", limit)
		if got, want := before.ids(), []string{teamOp, code.id()}; !slices.Equal(got, want) {
			t.Fatalf("limit %d: first pull %v, want %v", limit, got, want)
		}
		move := w.set(supAB, rec, ident, "team", teamB).with("base", []string{teamOp})
		w.mustApply(supAB, move)
		after := w.pullAll(fwAB, before.cursor, limit)
		if got, want := after.ids(), []string{move.id()}; !slices.Equal(got, want) {
			t.Errorf("limit %d: after the move pulled %v, want %v", limit, got, want)
		}
		checkOnce(t, fmt.Sprintf("limit %d", limit), append(before.ids(), after.ids()...), []string{teamOp, code.id(), move.id()})
	}
}
