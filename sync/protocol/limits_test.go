package protocol_test

import (
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
)

// TestPushRecordLimits: the ops of a push are checked against their
// record's limits in order, ops applied before them counted; an op over a
// limit is rejected record_too_large while redactions, deletion, status
// and review still apply, other records are unaffected, and a caller who
// may not write the record learns nothing of its size.
func TestPushRecordLimits(t *testing.T) {
	w := newWorld(t)
	w.svc.Schema.SetLimits(model.RecordLimits{MaxLogEntries: 3, MaxEntryBytes: 1 << 10, MaxRecordBytes: 4 << 10})
	note := func(p *access.Principal, rec, text string) op {
		return w.newOp(p, rec, ident, "notes", model.ActionAppend, map[string]string{"text": text})
	}
	rec, _ := w.identification(fwA, teamA)
	other, _ := w.identification(fwA, teamA)

	// Entries per log field, within one push.
	n1, n2, n3, n4 := note(fwA, rec, "one"), note(fwA, rec, "two"), note(fwA, rec, "three"), note(fwA, rec, "four")
	res := w.push(fwA, n1, n2, n3, n4)
	checkResults(t, res.Results, []string{n1.id(), n2.id(), n3.id(), n4.id()}, []want{applied, applied, applied, rejected(model.CodeRecordTooLarge)})
	if got, want := len(res.Applied), 3; got != want {
		t.Errorf("applied ops listed: %d, want %d", got, want)
	}

	// Never refused for size: redaction, status, review, deletion.
	redact := w.newOp(supA, rec, ident, "notes", model.ActionRedact, nil).with("base", []string{n1.id()})
	status := w.set(fwA, rec, ident, model.FieldStatus, "presumed")
	review := w.set(supA, rec, ident, model.FieldReviewStatus, "needs_info")
	deleted := w.set(leadA, rec, ident, model.FieldDeleted, true)
	res = w.push(supA, redact, review)
	checkResults(t, res.Results, []string{redact.id(), review.id()}, []want{applied, applied})
	checkResults(t, w.push(fwA, status).Results, []string{status.id()}, []want{applied})
	checkResults(t, w.push(leadA, deleted).Results, []string{deleted.id()}, []want{applied})
	if r, _, _ := w.store.record(rec); !r.Entries("notes")[0].Redacted {
		t.Error("the redaction on a full log did not erase its entry")
	}
	// A redacted entry keeps its place: the log is still full.
	n5 := note(fwA, rec, "five")
	checkResults(t, w.push(fwA, n5).Results, []string{n5.id()}, []want{rejected(model.CodeRecordTooLarge)})

	// Another record and another log of the same record are unaffected.
	o1 := note(fwA, other, "elsewhere")
	ref := w.newOp(fwA, rec, ident, "referrals", model.ActionAppend, map[string]string{"service": "shelter"})
	checkResults(t, w.push(fwA, o1, ref).Results, []string{o1.id(), ref.id()}, []want{applied, applied})

	// Bytes per record: entries of 900 bytes fill 4 KiB after four.
	big := strings.Repeat("x", 900)
	var ops []any
	var ids []string
	var wants []want
	for i := range 5 {
		o := w.newOp(fwA, other, ident, "consent", model.ActionAppend, map[string]string{"scope": big})
		if i == 1 {
			o = w.newOp(fwA, other, ident, "referrals", model.ActionAppend, map[string]string{"service": big})
		}
		ops, ids = append(ops, o), append(ids, o.id())
		wants = append(wants, applied)
	}
	wants[3] = rejected(model.CodeRecordTooLarge)
	wants[4] = rejected(model.CodeRecordTooLarge)
	checkResults(t, w.push(fwA, ops...).Results, ids, wants)

	// Access first: a caller who may not write the record is refused
	// forbidden, not told that it is full.
	n6 := note(fwB, rec, "from another team")
	checkResults(t, w.push(fwB, n6).Results, []string{n6.id()}, []want{rejected(model.CodeForbidden)})
}
