package crdt

import (
	"encoding/json"
	"slices"

	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Entry is one op's contribution to a field's state: a register sibling or
// a log entry.
type Entry struct {
	Op     string          `json:"op"`
	Value  json.RawMessage `json:"value"`
	HLC    hlc.Timestamp   `json:"hlc"`
	Device string          `json:"device"`
	User   string          `json:"user"`
	// RedactedBy is the user of the greatest redact naming this log entry.
	RedactedBy string `json:"redacted_by,omitempty"`
	// Redacted is set on a log entry some redact op names.
	Redacted bool `json:"redacted,omitempty"`
}

func entryOf(op *Op) Entry {
	return Entry{Op: op.ID, Value: op.Value, HLC: op.HLC, Device: op.Device, User: op.User}
}

// greater orders entries greatest first by (hlc, device, op). (<= 0 would
// be equivalent: siblings never hold one op twice, so keys never tie.)
func (e *Entry) greater(o *Entry) bool {
	return compareKey(o.HLC, o.Device, o.Op, e.HLC, e.Device, e.Op) < 0
}

// register keeps every set op no other op of the field names in its base.
// siblings is sorted greatest first, so siblings[0] is the shown value.
// superseded holds every op id named in a base of this field, including
// ids of ops not yet received, so that they never become siblings; it is
// a sorted slice, not a map, so a lookup touches one block of memory.
//
// A register usually has one sibling: it lives in one, inside the
// register, so the register and its shown value are one block of memory.
type register struct {
	siblings   []Entry
	superseded keySet
	bytes      int // size (size.go)
	one        [1]Entry
}

// newRegister returns an empty register, its siblings in r.one.
func newRegister() *register {
	r := &register{}
	r.siblings = r.one[:0]
	return r
}

func (r *register) apply(op *Op) bool {
	changed := false
	for _, id := range op.Base {
		if r.supersede(id) {
			changed = true
		}
	}
	if r.superseded.has(keyOf(op.ID)) || r.has(op.ID) {
		return changed
	}
	r.insert(entryOf(op))
	return true
}

// supersede records that id is named in a base and drops it if it is a
// sibling. It reports whether anything changed.
func (r *register) supersede(id string) bool {
	if !r.superseded.add(keyOf(id)) {
		return false
	}
	r.bytes += idCost
	r.siblings = slices.DeleteFunc(r.siblings, func(e Entry) bool {
		if e.Op != id {
			return false
		}
		r.bytes -= costOfEntry(&e)
		return true
	})
	return true
}

func (r *register) has(id string) bool {
	return slices.ContainsFunc(r.siblings, func(e Entry) bool { return e.Op == id })
}

func (r *register) insert(e Entry) {
	i := 0
	for i < len(r.siblings) && r.siblings[i].greater(&e) {
		i++
	}
	r.siblings = slices.Insert(r.siblings, i, e)
	r.bytes += costOfEntry(&e)
}

func (r *register) merge(other field) {
	o := other.(*register)
	for _, k := range o.superseded {
		r.supersede(k.s)
	}
	for _, e := range o.siblings {
		if !r.superseded.has(keyOf(e.Op)) && !r.has(e.Op) {
			r.insert(e)
		}
	}
}

func (r *register) clone() field {
	return &register{siblings: slices.Clone(r.siblings), superseded: slices.Clone(r.superseded), bytes: r.bytes}
}
