package fieldsync

import (
	"encoding/json"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Record is the merged state of one record on this device: what the
// server serves at GET /v1/records/{id}, plus the device's unsent writes.
type Record struct {
	// ID and Kind identify the record.
	ID   string
	Kind string
	// Deleted is the shown value of the deleted register.
	Deleted bool
	// HLC is the greatest stamp of the record's ops.
	HLC hlc.Timestamp
	// Fields holds every field an op was received for, the deleted
	// register included.
	Fields map[string]Field
	// Conflicts names the registers holding concurrent values, sorted.
	Conflicts []string

	canonical []byte
}

// Canonical returns the record state in RFC 8785 form, byte-identical to
// the server's GET /v1/records/{id} once both hold the same ops.
func (r *Record) Canonical() []byte { return r.canonical }

// Field is the state of one field under its merge class.
type Field struct {
	// Class is the field's merge class; it says which members are set.
	Class model.Class
	// Value is a register's shown value (JSON; null when cleared), and
	// Version who wrote it; Conflicts are the other concurrent values,
	// greatest first, until someone writes a value that resolves them.
	Value json.RawMessage
	// Version is the op that wrote Value (nil when no sibling is left).
	Version *Version
	// Conflicts are the concurrent values, greatest first.
	Conflicts []Version
	// Values are a set's present elements, sorted.
	Values []string
	// Entries are a log's entries in (hlc, device, op) order.
	Entries []Entry
}

// Version is one value of a register or one log entry: the op that wrote
// it, by whom, on which device, when.
type Version struct {
	// Op is the id of the op that wrote the value.
	Op string
	// Value is the value as JSON (null for a redacted entry).
	Value json.RawMessage
	// HLC is the op's stamp: when, in the order of ops.
	HLC hlc.Timestamp
	// Device and User are where and by whom it was written.
	Device string
	User   string
}

// Time is when the version was written (its stamp's wall time).
func (v Version) Time() time.Time { return v.HLC.Time() }

// Entry is one log entry; a redacted entry keeps its place, its value is
// null and RedactedBy names who redacted it.
type Entry struct {
	Version
	// Redacted is set once a supervisor erased the entry, and RedactedBy
	// names that supervisor.
	Redacted   bool
	RedactedBy string
}

func versionOf(e crdt.Entry) Version {
	return Version{Op: e.Op, Value: e.Value, HLC: e.HLC, Device: e.Device, User: e.User}
}

// recordOf builds the served view of a merged record.
func recordOf(s *model.Schema, r *crdt.Record) *Record {
	out := &Record{ID: r.ID, Kind: r.Kind, Deleted: r.Deleted(), HLC: r.HLC, Fields: map[string]Field{},
		Conflicts: r.Conflicts(), canonical: r.Canonical()}
	for _, name := range r.FieldNames() {
		decl, err := s.Field(r.Kind, name)
		if err != nil {
			continue
		}
		f := Field{Class: decl.Class}
		switch decl.Class {
		case model.ClassRegister:
			sibs := r.Siblings(name)
			f.Value = json.RawMessage("null")
			if len(sibs) > 0 {
				v := versionOf(sibs[0])
				f.Value, f.Version = v.Value, &v
			}
			for _, e := range sibs[min(1, len(sibs)):] {
				f.Conflicts = append(f.Conflicts, versionOf(e))
			}
		case model.ClassSet:
			f.Values = r.Elements(name)
		case model.ClassLog:
			for _, e := range r.Entries(name) {
				f.Entries = append(f.Entries, Entry{Version: versionOf(e), Redacted: e.Redacted, RedactedBy: e.RedactedBy})
			}
		}
		out.Fields[name] = f
	}
	return out
}
