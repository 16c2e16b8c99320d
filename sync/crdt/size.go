package crdt

import (
	"slices"

	"github.com/fieldsync/fieldsync/model"
)

// Size accounting. A record's size approximates the bytes of its stored
// state (the snapshot a store rewrites when the record changes): every
// value it keeps, as canonical JSON, plus a fixed cost for what the merge
// keeps beside the values. Each field keeps its own count up to date as it
// changes, so Size costs O(number of fields), never O(history), and the
// count is a function of the field's state alone: replicas holding the
// same ops report the same size, and a decoded snapshot recounts it.
const (
	// entryCost is the cost of a register sibling or log entry besides
	// its value: op id, hlc, device, user and redaction marker.
	entryCost = 128
	// idCost is the cost of an op id kept without its op: a superseded
	// sibling, a set's live or removed add.
	idCost = 40
	// elementCost is the cost of a set element besides its name.
	elementCost = 8
	// redactionCost is the cost of a redaction kept for its target.
	redactionCost = 128
)

// Size returns the size of the record's state in bytes: its values as
// canonical JSON plus a fixed cost per entry, sibling, element, redaction
// and op id the merge keeps. It is what RecordLimits.MaxRecordBytes bounds.
func (r *Record) Size() int {
	n := 0
	for _, nf := range r.fields {
		n += nf.f.size()
	}
	return n
}

func costOfEntry(e *Entry) int { return entryCost + len(e.Value) }

// growth returns how much the field's size would grow if op were applied
// to it (negative when it would shrink). It is exact for set, append and
// add; for remove and redact, which CheckLimits never refuses, it is 0.
func (r *register) growth(op *Op) int {
	g := 0
	for _, id := range op.Base {
		if r.superseded.has(keyOf(id)) {
			continue
		}
		g += idCost
		if i := slices.IndexFunc(r.siblings, func(e Entry) bool { return e.Op == id }); i >= 0 {
			g -= costOfEntry(&r.siblings[i])
		}
	}
	if r.superseded.has(keyOf(op.ID)) || r.has(op.ID) {
		return g
	}
	return g + entryCost + len(op.Value)
}

func (s *setField) growth(op *Op) int {
	if op.Action != model.ActionAdd {
		return 0
	}
	name := elementName(op.Value)
	i, ok := s.find(name)
	if !ok {
		return elementCost + len(name) + idCost
	}
	if slices.Contains(s.elems[i].ids, keyOf(op.ID)) {
		return 0
	}
	return idCost
}

func (l *logField) growth(op *Op) int {
	if op.Action != model.ActionAppend {
		return 0
	}
	if _, ok := l.redaction(keyOf(op.ID)); ok {
		return entryCost + len(null)
	}
	return entryCost + len(op.Value)
}

func (r *register) size() int  { return r.bytes }
func (s *setField) size() int  { return s.bytes }
func (l *logField) size() int  { return l.bytes }
func (e *element) cost() int   { return len(e.ids) * idCost }
func elemCost(name string) int { return elementCost + len(name) }

// recount sets each field's size from its state (after decoding).
func (r *register) recount() {
	r.bytes = len(r.superseded) * idCost
	for i := range r.siblings {
		r.bytes += costOfEntry(&r.siblings[i])
	}
}

func (s *setField) recount() {
	s.bytes = 0
	for i := range s.elems {
		s.bytes += elemCost(s.elems[i].name.s) + s.elems[i].cost()
	}
}

func (l *logField) recount() {
	l.bytes = len(l.redactions) * redactionCost
	for i := range l.entries {
		l.bytes += costOfEntry(&l.entries[i])
	}
}
