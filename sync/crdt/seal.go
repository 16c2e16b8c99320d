package crdt

// ValueSealer maps the values of log entries (the values a redaction can
// erase) to their stored form in a snapshot and back, so that a store can
// seal each with a key of its own (crypto-shredding). A stored value
// OpenValue cannot read (its key was destroyed) is an erased value.
type ValueSealer interface {
	// SealValue returns the stored form of the value of entry op.
	SealValue(op string, value []byte) []byte
	// OpenValue returns the value of entry op from its stored form, and
	// false when it cannot be read any more.
	OpenValue(op string, stored []byte) ([]byte, bool)
}

// MarshalSealed is MarshalBinary with the value of every log entry not
// erased mapped through s (nil: MarshalBinary). The record is unchanged
// when it returns; it must not be read concurrently meanwhile.
func (r *Record) MarshalSealed(s ValueSealer) ([]byte, error) {
	if s == nil {
		return r.MarshalBinary()
	}
	type plain struct {
		e *Entry
		v []byte
	}
	var kept []plain
	for _, nf := range r.fields {
		l, ok := nf.f.(*logField)
		if !ok {
			continue
		}
		for i := range l.entries {
			e := &l.entries[i]
			if e.Redacted {
				continue
			}
			kept = append(kept, plain{e, e.Value})
			e.Value = s.SealValue(e.Op, e.Value)
		}
	}
	defer func() {
		for _, p := range kept {
			p.e.Value = p.v
		}
	}()
	return r.MarshalBinary()
}

// UnmarshalSealed restores a record written by MarshalSealed with a
// ValueSealer that reads what s sealed (nil: UnmarshalBinary): a log
// entry whose value s cannot open is restored erased (value null,
// redacted).
func (r *Record) UnmarshalSealed(data []byte, s ValueSealer) error {
	if err := r.UnmarshalBinary(data); err != nil || s == nil {
		return err
	}
	for _, nf := range r.fields {
		l, ok := nf.f.(*logField)
		if !ok {
			continue
		}
		for i := range l.entries {
			e := &l.entries[i]
			if e.Redacted {
				continue
			}
			if v, ok := s.OpenValue(e.Op, e.Value); ok {
				e.Value = v
			} else {
				e.Value, e.Redacted = null, true
			}
		}
		l.recount()
	}
	return nil
}
