package crdt

import (
	"slices"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// logField is an append-only list of entries in (hlc, device, op) order.
// redactions maps an append op id to the greatest redact op naming it,
// kept even before that append arrives so that it is erased on arrival.
type logField struct {
	entries    []Entry
	redactions map[string]redaction
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

// search returns the index where an entry with e's key is or would be.
func (l *logField) search(e *Entry) (int, bool) {
	return slices.BinarySearchFunc(l.entries, e, func(x Entry, t *Entry) int {
		switch {
		case x.Op == t.Op:
			return 0
		case lessKey(x.HLC, x.Device, x.Op, t.HLC, t.Device, t.Op):
			return -1
		}
		return 1
	})
}

func (l *logField) append(e Entry) bool {
	i, found := l.search(&e)
	if found {
		return false
	}
	if r, ok := l.redactions[e.Op]; ok {
		e.erase(r.User)
	}
	l.entries = slices.Insert(l.entries, i, e)
	return true
}

func (e *Entry) erase(by string) {
	e.Value = null
	e.Redacted = true
	e.RedactedBy = by
}

func (l *logField) redact(target string, r redaction) bool {
	if old, ok := l.redactions[target]; ok && !lessKey(old.HLC, old.Device, old.Op, r.HLC, r.Device, r.Op) {
		return false
	}
	if l.redactions == nil {
		l.redactions = map[string]redaction{}
	}
	l.redactions[target] = r
	for i := range l.entries {
		if l.entries[i].Op == target {
			l.entries[i].erase(r.User)
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
	c := &logField{entries: slices.Clone(l.entries)}
	if l.redactions != nil {
		c.redactions = make(map[string]redaction, len(l.redactions))
		for k, v := range l.redactions {
			c.redactions[k] = v
		}
	}
	return c
}
