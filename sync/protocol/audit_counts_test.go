package protocol_test

import (
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// TestPullCountsIdentifications: a pull page counts the identification
// ops it serves and the distinct records they belong to (what the read
// audit of a supervisor's page records); ops of other kinds and ops not
// served count for nothing.
func TestPullCountsIdentifications(t *testing.T) {
	w := newWorld(t)
	recA, _ := w.identification(fwA, teamA)
	w.mustApply(fwA, w.set(fwA, recA, ident, "code", "X-1"), w.set(fwA, recA, ident, model.FieldStatus, "presumed"))
	w.identification(fwA, teamA)
	w.identification(fwB, teamB) // not readable by supA
	w.actionWeek(week1, teamA)
	w.siteVisit(fwA, week1)

	tests := []struct {
		name             string
		limit            int
		wantOps, wantRec int
	}{
		{"whole feed", 0, 4, 2}, // recA: team, code, status; recA2: team
		{"first op only", 1, 1, 1},
		{"first two ops", 2, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := w.pull(supA, "", tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res.IdentificationOps, tt.wantOps; got != want {
				t.Errorf("IdentificationOps = %d, want %d", got, want)
			}
			if got, want := res.IdentificationRecords, tt.wantRec; got != want {
				t.Errorf("IdentificationRecords = %d, want %d", got, want)
			}
		})
	}
}
