package protocol_test

import (
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
)

// TestPushErasedRecord: an op on a record retention erased is rejected
// record_erased (never applied: it would bring the record back), whether
// it names the record's scope or not; a caller who could not write the
// record gets forbidden, as for a record that exists.
func TestPushErasedRecord(t *testing.T) {
	w := newWorld(t)
	rec := w.id()
	w.store.erased[rec] = access.Scope{Kind: ident, Team: teamA}
	first := w.set(fwA, rec, ident, "team", teamA)
	later := w.set(fwA, rec, ident, "code", "X-1")
	res := w.push(fwA, first, later)
	checkResults(t, res.Results, []string{first.id(), later.id()}, []want{rejected(model.CodeRecordErased), rejected(model.CodeRecordErased)})
	if _, _, ok := w.store.record(rec); ok {
		t.Errorf("record %s exists after ops on its tombstone", rec)
	}
	other := w.set(fwB, rec, ident, "team", teamB)
	res = w.push(fwB, other)
	checkResults(t, res.Results, []string{other.id()}, []want{rejected(model.CodeForbidden)})
}
