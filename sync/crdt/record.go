package crdt

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Record is the merged state of one record: a function of the set of ops
// received for it, whatever their order and however often each arrived.
// The zero value is not usable; call NewRecord.
type Record struct {
	ID   string
	Kind string
	// HLC is the greatest hlc of any op received.
	HLC hlc.Timestamp
	// fields holds the record's fields sorted by name. A slice rather
	// than a map: finding an op's field costs a scan of one small array
	// instead of a walk through a map's header, directory, table and
	// group, which matters when ops hop between records whose state is
	// not in the cache.
	fields []namedField
	// inline holds the first fields inside the Record itself, so finding
	// an op's field costs no second pointer chase: fields starts as
	// inline[:0] and moves to the heap only past len(inline) fields.
	// A Record is used through its pointer and never copied.
	inline [16]namedField
}

// setFields makes fs the record's fields, inline when they fit.
func (r *Record) setFields(fs []namedField) {
	if len(fs) <= len(r.inline) {
		r.fields = append(r.inline[:0], fs...)
		clear(r.inline[len(fs):])
		return
	}
	r.fields = fs
}

// namedField is one field of a record.
type namedField struct {
	name string
	f    field
}

// field returns the field name, nil when the record has none.
func (r *Record) field(name string) field {
	for i := range r.fields {
		if r.fields[i].name == name {
			return r.fields[i].f
		}
	}
	return nil
}

// putField sets field name to f, adding it in name order when the
// record does not have it.
func (r *Record) putField(name string, f field) {
	i, found := slices.BinarySearchFunc(r.fields, name, func(nf namedField, name string) int { return strings.Compare(nf.name, name) })
	if found {
		r.fields[i].f = f
		return
	}
	r.fields = slices.Insert(r.fields, i, namedField{name: name, f: f})
}

// field is the state of one field under its merge class. apply reports
// whether the state changed; applying the same op again never changes it.
type field interface {
	apply(op *Op) bool
	merge(other field)
	clone() field
	appendJSON(buf []byte) []byte
	// size and growth account the field's size (size.go).
	size() int
	growth(op *Op) int
}

// NewRecord returns the empty state of record id of kind.
func NewRecord(id, kind string) *Record {
	r := &Record{ID: id, Kind: kind}
	r.fields = r.inline[:0]
	return r
}

// Apply merges op into the record. The op must have been decoded and
// validated (DecodeOp, Validate) and must belong to this record; an op of
// another record or kind is refused with an *model.Error and changes
// nothing. Apply costs O(size of the op's field state), never O(history).
// It reports whether the state changed.
func (r *Record) Apply(s *model.Schema, op *Op) (bool, error) {
	if op.Record != r.ID {
		return false, model.Errorf(model.CodeInvalidOp, "The op belongs to record %s, not %s.", op.Record, r.ID)
	}
	if op.Kind != r.Kind {
		return false, model.Errorf(model.CodeKindMismatch, "Record %s is a %s; an op cannot write to it as a %s.", r.ID, r.Kind, op.Kind)
	}
	f := r.field(op.Field)
	ok := f != nil
	if !ok {
		decl, err := s.Field(op.Kind, op.Field)
		if err != nil {
			return false, err
		}
		f = newField(decl.Class)
		r.putField(op.Field, f)
	}
	changed := f.apply(op)
	if op.HLC > r.HLC {
		r.HLC = op.HLC
		changed = true
	}
	return changed || !ok, nil
}

func newField(c model.Class) field {
	switch c {
	case model.ClassSet:
		return newSet()
	case model.ClassLog:
		return &logField{}
	}
	return &register{}
}

// Deleted reports the shown value of the deleted register.
func (r *Record) Deleted() bool {
	reg, ok := r.field(model.FieldDeleted).(*register)
	return ok && len(reg.siblings) > 0 && string(reg.siblings[0].Value) == "true"
}

// Value returns the shown value of register name (nil when the field is
// absent, not a register, or has no sibling).
func (r *Record) Value(name string) json.RawMessage {
	reg, ok := r.field(name).(*register)
	if !ok || len(reg.siblings) == 0 {
		return nil
	}
	return reg.siblings[0].Value
}

// Siblings returns the siblings of register name, shown value first.
// The caller must not modify them.
func (r *Record) Siblings(name string) []Entry {
	reg, ok := r.field(name).(*register)
	if !ok {
		return nil
	}
	return reg.siblings
}

// Elements returns the present elements of set name, sorted by byte order.
func (r *Record) Elements(name string) []string {
	s, ok := r.field(name).(*setField)
	if !ok {
		return nil
	}
	return s.present()
}

// LiveAdds returns the add ops of element in set name that no remove has
// named, sorted: what a remove of element must name in its base to take
// it out (an add the writer has not seen survives: add wins). Nil when
// name is not a set or element was never added.
func (r *Record) LiveAdds(name, element string) []string {
	s, ok := r.field(name).(*setField)
	if !ok {
		return nil
	}
	i, ok := s.find([]byte(element))
	if !ok || s.elems[i].nLive == 0 {
		return nil
	}
	out := make([]string, 0, s.elems[i].nLive)
	for _, k := range s.elems[i].live() {
		out = append(out, k.s)
	}
	slices.Sort(out)
	return out
}

// Entries returns the entries of log name in (hlc, device, op) order.
// The caller must not modify them.
func (r *Record) Entries(name string) []Entry {
	l, ok := r.field(name).(*logField)
	if !ok {
		return nil
	}
	return l.entries
}

// RedactionPending reports whether log name holds a redaction naming op
// id: an append with that id is erased on arrival.
func (r *Record) RedactionPending(name, id string) bool {
	l, ok := r.field(name).(*logField)
	if !ok {
		return false
	}
	_, ok = l.redaction(keyOf(id))
	return ok
}

// Conflicts returns the names of the registers (deleted included) that
// hold more than one sibling, sorted.
func (r *Record) Conflicts() []string {
	var names []string
	for _, nf := range r.fields {
		if reg, ok := nf.f.(*register); ok && len(reg.siblings) > 1 {
			names = append(names, nf.name)
		}
	}
	return names
}

// FieldNames returns the names of the fields received so far, sorted.
func (r *Record) FieldNames() []string {
	names := make([]string, 0, len(r.fields))
	for _, nf := range r.fields {
		names = append(names, nf.name)
	}
	return names
}

// Clone returns a deep copy of r.
func (r *Record) Clone() *Record {
	fs := make([]namedField, len(r.fields))
	for i, nf := range r.fields {
		fs[i] = namedField{name: nf.name, f: nf.f.clone()}
	}
	c := &Record{ID: r.ID, Kind: r.Kind, HLC: r.HLC}
	c.setFields(fs)
	return c
}

// Merge joins other's state into r, as if r had received every op other
// received: the state-based form of the merge, commutative, associative
// and idempotent. Both must be the same record.
func (r *Record) Merge(other *Record) error {
	if other.ID != r.ID || other.Kind != r.Kind {
		return model.Errorf(model.CodeKindMismatch, "Cannot merge record %s (%s) into %s (%s).", other.ID, other.Kind, r.ID, r.Kind)
	}
	if other.HLC > r.HLC { // >= is equivalent: it assigns the same value
		r.HLC = other.HLC
	}
	for _, of := range other.fields {
		if f := r.field(of.name); f != nil {
			f.merge(of.f)
		} else {
			r.putField(of.name, of.f.clone())
		}
	}
	return nil
}
