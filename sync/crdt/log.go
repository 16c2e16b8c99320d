package crdt

import (
	"slices"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// logField is an append-only list of entries in (hlc, device, op) order.
// redactions holds, for an append op id, the greatest redact op naming it,
// kept even before that append arrives so that it is erased on arrival.
// ids holds the entries' op ids, so that a copy of a known op under another
// stamp is recognised as the same op. Both are sorted slices rather than
// maps: a lookup touches one block of memory.
type logField struct {
	entries    []Entry
	redactions []pending
	ids        keySet
	bytes      int // size (size.go)
}

// pending is the greatest redaction naming target.
type pending struct {
	target key
	r      redaction
}

type redaction struct {
	HLC    hlc.Timestamp `json:"hlc"`
	Device string        `json:"device"`
	Op     string        `json:"op"`
	User   string        `json:"user"`
}

func (l *logField) apply(op *Op) bool {
	if op.Action == model.ActionRedact {
		return l.redact(op.Base[0], redaction{HLC: op.HLC, Device: op.Device, Op: op.ID, User: op.User})
	}
	return l.append(entryOf(op))
}

// position returns the index where e belongs in (hlc, device, op) order.
func (l *logField) position(e *Entry) int {
	// <= 0 would be equivalent: append never inserts a known op, so keys
	// never tie.
	i, _ := slices.BinarySearchFunc(l.entries, e, func(x Entry, t *Entry) int {
		if compareKey(x.HLC, x.Device, x.Op, t.HLC, t.Device, t.Op) < 0 {
			return -1
		}
		return 1
	})
	return i
}

// redaction returns the redaction naming target, if any.
func (l *logField) redaction(target key) (*redaction, bool) {
	i, ok := l.findRedaction(target)
	if !ok {
		return nil, false
	}
	return &l.redactions[i].r, true
}

func (l *logField) findRedaction(target key) (int, bool) {
	return slices.BinarySearchFunc(l.redactions, target, func(p pending, k key) int { return compareKeys(p.target, k) })
}

func (l *logField) append(e Entry) bool {
	if len(l.ids) != len(l.entries) {
		l.ids = make(keySet, len(l.entries))
		for i := range l.entries {
			l.ids[i] = keyOf(l.entries[i].Op)
		}
		slices.SortFunc(l.ids, compareKeys)
	}
	k := keyOf(e.Op)
	at, known := l.ids.index(k)
	if known {
		return false
	}
	l.ids = slices.Insert(l.ids, at, k)
	i := l.position(&e)
	if r, ok := l.redaction(k); ok {
		e.erase(r.User)
	}
	l.entries = slices.Insert(l.entries, i, e)
	l.bytes += costOfEntry(&e)
	return true
}

func (e *Entry) erase(by string) {
	e.Value = null
	e.Redacted = true
	e.RedactedBy = by
}

func (l *logField) redact(target string, r redaction) bool {
	k := keyOf(target)
	at, ok := l.findRedaction(k)
	if ok {
		if old := &l.redactions[at].r; compareKey(old.HLC, old.Device, old.Op, r.HLC, r.Device, r.Op) >= 0 {
			return false
		}
		l.redactions[at].r = r
	} else {
		l.redactions = slices.Insert(l.redactions, at, pending{target: k, r: r})
		l.bytes += redactionCost
	}
	for i := range l.entries {
		if e := &l.entries[i]; e.Op == target {
			l.bytes -= len(e.Value)
			e.erase(r.User)
			l.bytes += len(e.Value)
		}
	}
	return true
}

func (l *logField) merge(other field) {
	o := other.(*logField)
	for _, p := range o.redactions {
		l.redact(p.target.s, p.r)
	}
	for _, e := range o.entries {
		if r, ok := l.redaction(keyOf(e.Op)); ok {
			e.erase(r.User)
		}
		l.append(e)
	}
}

func (l *logField) clone() field {
	return &logField{entries: slices.Clone(l.entries), redactions: slices.Clone(l.redactions), ids: slices.Clone(l.ids), bytes: l.bytes}
}
