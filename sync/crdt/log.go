package crdt

import (
	"slices"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// logField is an append-only list of entries in (hlc, device, op) order.
// redactions maps an append op id to the greatest redact op naming it,
// kept even before that append arrives so that it is erased on arrival.
// ids indexes the entries by op id (built on first use), so that a copy of
// a known op under another stamp is recognised as the same op.
type logField struct {
	entries    []Entry
	redactions map[string]redaction
	ids        map[string]struct{}
	bytes      int // size (size.go)
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

func (l *logField) append(e Entry) bool {
	if l.ids == nil {
		// +1 is a size hint only: -1 is an equivalent mutant (a negative hint is none).
		l.ids = make(map[string]struct{}, len(l.entries)+1)
		for _, x := range l.entries {
			l.ids[x.Op] = struct{}{}
		}
	}
	if _, known := l.ids[e.Op]; known {
		return false
	}
	l.ids[e.Op] = struct{}{}
	i := l.position(&e)
	if r, ok := l.redactions[e.Op]; ok {
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
	if old, ok := l.redactions[target]; ok && compareKey(old.HLC, old.Device, old.Op, r.HLC, r.Device, r.Op) >= 0 {
		return false
	}
	if l.redactions == nil {
		l.redactions = map[string]redaction{}
	}
	if _, ok := l.redactions[target]; !ok {
		l.bytes += redactionCost
	}
	l.redactions[target] = r
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
	for target, r := range o.redactions {
		l.redact(target, r)
	}
	for _, e := range o.entries {
		if r, ok := l.redactions[e.Op]; ok {
			e.erase(r.User)
		}
		l.append(e)
	}
}

func (l *logField) clone() field {
	c := &logField{entries: slices.Clone(l.entries), bytes: l.bytes}
	if l.redactions != nil {
		c.redactions = make(map[string]redaction, len(l.redactions))
		for k, v := range l.redactions {
			c.redactions[k] = v
		}
	}
	return c
}
