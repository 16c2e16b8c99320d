package crdt

import "github.com/fieldsync/fieldsync/model"

// Canonical returns the record state as served by GET /v1/records/{id}, in
// RFC 8785 canonical form. Two replicas holding the same ops return the
// same bytes.
func (r *Record) Canonical() []byte {
	return r.AppendJSON(nil, nil)
}

// AppendJSON appends the canonical record state to buf; when history is
// not nil it is included as "history" (the record's ops, which the caller
// sorts by (hlc, device, id) and erases where redacted).
func (r *Record) AppendJSON(buf []byte, history []Op) []byte {
	buf = append(buf, `{"deleted":`...)
	if r.Deleted() {
		buf = append(buf, "true"...)
	} else {
		buf = append(buf, "false"...)
	}
	buf = append(buf, `,"fields":{`...)
	first := true
	for _, nf := range r.fields {
		if nf.name == model.FieldDeleted {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendString(buf, nf.name)
		buf = append(buf, ':')
		buf = nf.f.appendJSON(buf)
	}
	buf = append(buf, '}')
	if history != nil {
		buf = append(buf, `,"history":[`...)
		for i := range history {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = history[i].AppendJSON(buf)
		}
		buf = append(buf, ']')
	}
	buf = append(buf, `,"hlc":"`...)
	buf = appendHLC(buf, r.HLC)
	buf = append(buf, `","id":`...)
	buf = appendString(buf, r.ID)
	buf = append(buf, `,"kind":`...)
	buf = appendString(buf, r.Kind)
	return append(buf, '}')
}

// appendJSON writes a register: the greatest sibling's value and author,
// the others under "conflicts" (absent when there is one sibling), or
// {"value":null} when no sibling is left.
func (r *register) appendJSON(buf []byte) []byte {
	if len(r.siblings) == 0 {
		return append(buf, `{"value":null}`...)
	}
	buf = append(buf, '{')
	if len(r.siblings) > 1 {
		buf = append(buf, `"conflicts":[`...)
		for i := range r.siblings[1:] {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '{')
			buf = r.siblings[1+i].appendMembers(buf)
			buf = append(buf, '}')
		}
		buf = append(buf, "],"...)
	}
	buf = r.siblings[0].appendMembers(buf)
	return append(buf, '}')
}

// appendMembers writes device, hlc, op, user, value (sorted keys).
func (e *Entry) appendMembers(buf []byte) []byte {
	buf = append(buf, `"device":`...)
	buf = appendString(buf, e.Device)
	buf = append(buf, `,"hlc":"`...)
	buf = appendHLC(buf, e.HLC)
	buf = append(buf, `","op":`...)
	buf = appendString(buf, e.Op)
	buf = append(buf, `,"user":`...)
	buf = appendString(buf, e.User)
	buf = append(buf, `,"value":`...)
	return append(buf, valueOrNull(e.Value)...)
}

func (s *setField) appendJSON(buf []byte) []byte {
	buf = append(buf, `{"values":[`...)
	for i, v := range s.present() {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, v)
	}
	return append(buf, "]}"...)
}

// appendJSON writes the entries; keys sorted: device, hlc, op, redacted,
// redacted_by (only when redacted), user, value.
func (l *logField) appendJSON(buf []byte) []byte {
	buf = append(buf, `{"entries":[`...)
	for i := range l.entries {
		e := &l.entries[i]
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"device":`...)
		buf = appendString(buf, e.Device)
		buf = append(buf, `,"hlc":"`...)
		buf = appendHLC(buf, e.HLC)
		buf = append(buf, `","op":`...)
		buf = appendString(buf, e.Op)
		if e.Redacted {
			buf = append(buf, `,"redacted":true,"redacted_by":`...)
			buf = appendString(buf, e.RedactedBy)
		} else {
			buf = append(buf, `,"redacted":false`...)
		}
		buf = append(buf, `,"user":`...)
		buf = appendString(buf, e.User)
		buf = append(buf, `,"value":`...)
		buf = append(buf, valueOrNull(e.Value)...)
		buf = append(buf, '}')
	}
	return append(buf, "]}"...)
}
