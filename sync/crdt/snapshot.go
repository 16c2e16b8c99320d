package crdt

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// snapshot is the stored form of a Record's full internal state (not only
// what is served): siblings, superseded ids, per-element adds and removes,
// log entries and redactions. It lets a store update a record
// incrementally without replaying its history.
type snapshot struct {
	ID     string                   `json:"id"`
	Kind   string                   `json:"kind"`
	HLC    hlc.Timestamp            `json:"hlc"`
	Fields map[string]fieldSnapshot `json:"fields"`
}

type fieldSnapshot struct {
	Class      model.Class                `json:"class"`
	Siblings   []Entry                    `json:"siblings,omitempty"`
	Superseded []string                   `json:"superseded,omitempty"`
	Elements   map[string]elementSnapshot `json:"elements,omitempty"`
	Entries    []Entry                    `json:"entries,omitempty"`
	Redactions map[string]redaction       `json:"redactions,omitempty"`
}

// MarshalBinary encodes the record's full state for storage.
func (r *Record) MarshalBinary() ([]byte, error) {
	s := snapshot{ID: r.ID, Kind: r.Kind, HLC: r.HLC, Fields: make(map[string]fieldSnapshot, len(r.fields))}
	for name, f := range r.fields {
		s.Fields[name] = snapshotOf(f)
	}
	return json.Marshal(s)
}

func snapshotOf(f field) fieldSnapshot {
	switch f := f.(type) {
	case *register:
		ids := slices.Collect(maps.Keys(f.superseded))
		sort.Strings(ids)
		return fieldSnapshot{Class: model.ClassRegister, Siblings: f.siblings, Superseded: ids}
	case *setField:
		elems := make(map[string]elementSnapshot, len(f.elems))
		for name, e := range f.elems {
			elems[name] = elementSnapshot{Live: e.live, Removed: e.removed}
		}
		return fieldSnapshot{Class: model.ClassSet, Elements: elems}
	case *logField:
		return fieldSnapshot{Class: model.ClassLog, Entries: f.entries, Redactions: f.redactions}
	}
	panic(fmt.Sprintf("crdt: unknown field type %T", f))
}

// UnmarshalBinary restores a record written by MarshalBinary.
func (r *Record) UnmarshalBinary(data []byte) error {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("decode record snapshot: %w", err)
	}
	r.ID, r.Kind, r.HLC = s.ID, s.Kind, s.HLC
	r.fields = make(map[string]field, len(s.Fields))
	for name, fs := range s.Fields {
		f, err := fs.restore()
		if err != nil {
			return fmt.Errorf("decode record snapshot field %q: %w", name, err)
		}
		r.fields[name] = f
	}
	return nil
}

func (fs fieldSnapshot) restore() (field, error) {
	switch fs.Class {
	case model.ClassRegister:
		reg := &register{siblings: fs.Siblings}
		if len(fs.Superseded) > 0 {
			reg.superseded = make(map[string]struct{}, len(fs.Superseded))
			for _, id := range fs.Superseded {
				reg.superseded[id] = struct{}{}
			}
		}
		return reg, nil
	case model.ClassSet:
		s := &setField{elems: make(map[string]*element, len(fs.Elements))}
		for name, e := range fs.Elements {
			s.elems[name] = &element{live: e.Live, removed: e.Removed}
		}
		return s, nil
	case model.ClassLog:
		return &logField{entries: fs.Entries, redactions: fs.Redactions}, nil
	}
	return nil, fmt.Errorf("unknown class %q", fs.Class)
}
