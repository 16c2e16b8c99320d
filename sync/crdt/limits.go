package crdt

import "github.com/fieldsync/fieldsync/model"

// CheckLimits reports whether op may be applied to r under the schema's
// record limits (model.RecordLimits): an append to a log that holds
// MaxLogEntries entries, or an op that would grow r's Size past
// MaxRecordBytes, is refused with model.CodeRecordTooLarge. Ops that take
// content away (redact, remove), writes to a field marked SizeExempt
// (deletion, status, review, scope) and ops that do not grow the record
// are never refused. r is the record's current state (empty for a new
// record); it is not changed. The op must have passed Validate.
//
// The server calls it for every op of a push and the Go client for every
// op it writes, with the same schema limits, so a device refuses locally
// what the server would refuse; the server's state, which may hold ops
// the device has not pulled yet, has the last word.
func CheckLimits(s *model.Schema, r *Record, op *Op) error {
	decl, err := s.Field(op.Kind, op.Field)
	if err != nil {
		return err
	}
	if r.Kind != op.Kind || decl.SizeExempt || op.Action == model.ActionRedact || op.Action == model.ActionRemove {
		return nil
	}
	lim := s.Limits
	f := r.field(op.Field)
	if f == nil {
		f = newField(decl.Class)
	}
	if op.Action == model.ActionAppend && lim.MaxLogEntries > 0 && len(r.Entries(op.Field)) >= lim.MaxLogEntries {
		return model.Errorf(model.CodeRecordTooLarge, "A record's %q holds at most %d entries (max_log_entries) and this one is full; write further entries to a new record.", op.Field, lim.MaxLogEntries)
	}
	if g := f.growth(op); lim.MaxRecordBytes > 0 && g > 0 && r.Size()+g > lim.MaxRecordBytes {
		return model.Errorf(model.CodeRecordTooLarge, "A record holds at most %d bytes (max_record_bytes) and this op would grow this one past that; write further entries to a new record.", lim.MaxRecordBytes)
	}
	return nil
}
