package protocol_test

import (
	"fmt"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// TestPushRedactBeforeAppend: an append whose redaction arrived first is
// stored erased, as decide's effects say, and pulled with a null value.
func TestPushRedactBeforeAppend(t *testing.T) {
	w := newWorld(t)
	rec, _ := w.identification(fwA, teamA)
	note := w.newOp(fwA, rec, ident, "notes", model.ActionAppend, map[string]string{"text": "Name: Jane Doe"})
	w.mustApply(supA, w.newOp(supA, rec, ident, "notes", model.ActionRedact, nil).with("base", []string{note.id()}))
	w.mustApply(fwA, note)
	if st, _ := w.store.stored(note.id()); !st.redacted {
		t.Error("an append whose redaction arrived first was stored with its value")
	}
	for _, o := range w.pullAll(fwA, "", 0).ops {
		if o.ID == note.id() && string(o.Value) != "null" {
			t.Errorf("pulled the append with value %s", o.Value)
		}
	}
}

// TestPlanDecidesEveryEffect: the effects of storing an op (bucket, scope,
// host team, erasure) are decided by protocol, for every kind of op that
// has one.
func TestPlanDecidesEveryEffect(t *testing.T) {
	w := newWorld(t)
	rec, _ := w.identification(fwA, teamA)
	note := w.newOp(fwA, rec, ident, "notes", model.ActionAppend, map[string]string{"text": "x"})
	w.mustApply(fwA, note)
	pending := w.id()
	w.mustApply(supA, w.newOp(supA, rec, ident, "notes", model.ActionRedact, nil).with("base", []string{pending}))
	week := w.id()
	w.actionWeek(week, teamA)

	decode := func(o op) *crdt.Op {
		t.Helper()
		d, err := crdt.DecodeOp(o.raw())
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	tests := []struct {
		name               string
		op                 op
		bucket, week, host string
		erase              string
		erased, hostSet    bool
	}{
		{name: "a note stays in its team", op: w.newOp(fwA, rec, ident, "notes", model.ActionAppend, map[string]string{"text": "y"}), bucket: access.TeamBucket(teamA)},
		{name: "a team change moves the record", op: w.set(supA, rec, ident, model.FieldTeam, teamB), bucket: access.TeamBucket(teamB)},
		{name: "a redaction erases the stored append", op: w.newOp(supA, rec, ident, "notes", model.ActionRedact, nil).with("base", []string{note.id()}), bucket: access.TeamBucket(teamA), erase: note.id()},
		{name: "an append redacted before it arrived", op: w.newOp(fwA, rec, ident, "notes", model.ActionAppend, map[string]string{"text": "z"}).with("id", pending), bucket: access.TeamBucket(teamA), erased: true},
		{name: "a host change moves the week's host", op: w.set(supNat, week, model.KindActionWeek, model.FieldHostTeam, teamB), bucket: access.WeekBucket(week), hostSet: true, week: week, host: teamB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := w.svc.Plan(fakeTx{w.store}, decode(tt.op))
			if err != nil {
				t.Fatal(err)
			}
			if e.Bucket != tt.bucket || e.Erase != tt.erase || e.Erased != tt.erased || (e.HostWeek != "") != tt.hostSet || e.HostWeek != tt.week || e.HostTeam != tt.host {
				t.Errorf("effects %+v", e)
			}
		})
	}
}

// TestSummaryFieldsLabels: a record's labels are the string values of its
// status, region and review status, and every effect names the rule.
func TestSummaryFieldsLabels(t *testing.T) {
	t.Parallel()
	rec := crdt.NewRecord("0190a000-0000-7000-8000-000000000001", model.KindIdentification)
	n := 0
	set := func(field, value string) {
		t.Helper()
		n++
		op, err := crdt.NewOp(crdt.Op{ID: fmt.Sprintf("0190a000-0000-7000-8000-0000000000%02d", n+10), Record: rec.ID, Kind: rec.Kind,
			Field: field, Action: model.ActionSet, Device: "0190a000-0000-7000-8000-000000000099", HLC: hlc.New(1000, uint16(n))}, value)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rec.Apply(model.DefaultSchema(), &op); err != nil {
			t.Fatal(err)
		}
	}
	set(model.FieldStatus, "presumed")
	set(model.FieldRegion, "north")
	set(model.FieldReviewStatus, "open")
	got, want := protocol.SummaryFields.Of(rec), protocol.Labels{Status: "presumed", Region: "north", ReviewStatus: "open"}
	if got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
}

// TestPlanRedactionErasesOnlyItsEntry: a redaction erases the stored op
// its base names only when that op is a not yet erased append to the same
// record's same log; a base naming another record's entry, another log's
// entry, a redaction or an entry already erased erases nothing (the base
// of a redaction is not checked against the record: it may arrive before
// its append).
func TestPlanRedactionErasesOnlyItsEntry(t *testing.T) {
	w := newWorld(t)
	rec, _ := w.identification(fwA, teamA)
	other, _ := w.identification(fwA, teamA)
	note := w.newOp(fwA, rec, ident, "notes", model.ActionAppend, map[string]string{"text": "x"})
	otherNote := w.newOp(fwA, other, ident, "notes", model.ActionAppend, map[string]string{"text": "y"})
	referral := w.newOp(fwA, rec, ident, "referrals", model.ActionAppend, map[string]string{"service": "shelter"})
	erased := w.newOp(fwA, rec, ident, "notes", model.ActionAppend, map[string]string{"text": "z"})
	w.mustApply(fwA, note, otherNote, referral, erased)
	redaction := w.newOp(supA, rec, ident, "notes", model.ActionRedact, nil).with("base", []string{erased.id()})
	w.mustApply(supA, redaction)

	tests := []struct {
		name, base, want string
	}{
		{"an entry of the same log", note.id(), note.id()},
		{"an entry of another record's log", otherNote.id(), ""},
		{"an entry of another log of the record", referral.id(), ""},
		{"a redaction of the same log", redaction.id(), ""},
		{"an entry already erased", erased.id(), ""},
		{"an op not stored", w.id(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := crdt.DecodeOp(w.newOp(supA, rec, ident, "notes", model.ActionRedact, nil).with("base", []string{tt.base}).raw())
			if err != nil {
				t.Fatal(err)
			}
			e, err := w.svc.Plan(fakeTx{w.store}, &o)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Erase; got != tt.want {
				t.Errorf("Erase = %q, want %q", got, tt.want)
			}
		})
	}
}
