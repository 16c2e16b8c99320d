package model

// RecordLimits bound how large one record may grow, so that one record
// cannot make every write to it (and, through the store's single writer,
// everyone's writes) slow. They are part of the schema, served at
// GET /v1/schema, so that a device refuses an op locally with the same
// code the server would (record_too_large) instead of finding out after a
// week offline. A zero limit is no limit (schemas built by hand in tests);
// the server's configuration requires every limit to be positive.
//
// What counts is decided by sync/crdt (Record.Size, CheckLimits): ops that
// take content away (redact, remove) and writes to fields marked
// SizeExempt (deletion, status, review, scope) are never refused for size.
type RecordLimits struct {
	// MaxLogEntries is the most entries one log field of a record may
	// hold, redacted entries included (they keep their place).
	MaxLogEntries int `json:"max_log_entries"`
	// MaxEntryBytes is the largest log entry in bytes of canonical JSON:
	// the max_bytes of every log field (an entry over it is
	// invalid_value, like any value over its field's max_bytes).
	MaxEntryBytes int `json:"max_entry_bytes"`
	// MaxRecordBytes is the most bytes a record's merged state may hold:
	// every value it keeps as canonical JSON plus a fixed cost per entry,
	// sibling and op id the merge keeps (sync/crdt Record.Size).
	MaxRecordBytes int `json:"max_record_bytes"`
}

// DefaultRecordLimits are the limits fieldsync ships with. A real case file
// holds tens of notes of a few kilobytes at most; 1,000 entries per log and
// 4 MiB per record leave one to two orders of magnitude of room for that,
// while bounding the state a store rewrites per op to a tenth of the 48 MB
// record that once slowed every team's pushes. 64 KiB per entry is the
// bound log entries always had.
var DefaultRecordLimits = RecordLimits{MaxLogEntries: 1000, MaxEntryBytes: maxEntry, MaxRecordBytes: 4 << 20}

// SetLimits makes l the schema's record limits: it serves them and makes
// l.MaxEntryBytes (when positive) the max_bytes of every log field.
func (s *Schema) SetLimits(l RecordLimits) {
	s.Limits = l
	if l.MaxEntryBytes <= 0 {
		return
	}
	for _, k := range s.Kinds {
		for _, f := range k.Fields {
			if f.Class == ClassLog {
				f.MaxBytes = l.MaxEntryBytes
			}
		}
	}
}
