package crdt

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// MaxBase bounds the number of op ids one op may supersede.
const MaxBase = 1024

// DecodeOp parses one op from its JSON object, strictly: keys are matched
// exactly, unknown or repeated keys are refused, every id must be a
// canonical UUID and hlc a 16-digit timestamp. It does not consult the
// schema; Validate does. Errors are *model.Error with the op-level codes
// of DESIGN §5.
func DecodeOp(data []byte) (Op, error) {
	raw, err := splitObject(data)
	if err != nil {
		return Op{}, err
	}
	var op Op
	for _, step := range []func(*Op, map[string]json.RawMessage) error{
		decodeIDs, decodeHLC, decodeNames, decodeBase, decodeValue,
	} {
		if err := step(&op, raw); err != nil {
			return Op{}, err
		}
	}
	return op, nil
}

var opKeys = []string{"id", "record", "kind", "field", "action", "value", "base", "hlc", "device", "user"}

// splitObject reads one JSON object into its members, refusing unknown and
// repeated keys and trailing data.
func splitObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, model.Errorf(model.CodeInvalidOp, "An op must be a JSON object.")
	}
	raw := make(map[string]json.RawMessage, len(opKeys))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, model.Errorf(model.CodeInvalidOp, "The op is not valid JSON.")
		}
		key := tok.(string)
		if !slices.Contains(opKeys, key) {
			return nil, model.Errorf(model.CodeInvalidOp, "An op has no key %q; the keys are %v.", key, opKeys)
		}
		if _, dup := raw[key]; dup {
			return nil, model.Errorf(model.CodeInvalidOp, "The key %q appears twice in the op.", key)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, model.Errorf(model.CodeInvalidOp, "The value of %q is not valid JSON.", key)
		}
		raw[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, model.Errorf(model.CodeInvalidOp, "The op is not valid JSON.")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, model.Errorf(model.CodeInvalidOp, "Unexpected data after the op.")
	}
	return raw, nil
}

func decodeIDs(op *Op, raw map[string]json.RawMessage) error {
	for _, f := range []struct {
		key      string
		dst      *string
		optional bool
	}{{"id", &op.ID, false}, {"record", &op.Record, false}, {"device", &op.Device, false}, {"user", &op.User, true}} {
		v, ok := raw[f.key]
		if !ok && f.optional {
			continue
		}
		if !ok || json.Unmarshal(v, f.dst) != nil || !model.ValidID(*f.dst) && !(f.optional && *f.dst == "") {
			return model.Errorf(model.CodeInvalidID, "The op's %q must be a UUID in canonical lowercase form.", f.key)
		}
	}
	return nil
}

func decodeHLC(op *Op, raw map[string]json.RawMessage) error {
	var s string
	v, ok := raw["hlc"]
	if !ok || json.Unmarshal(v, &s) != nil {
		return model.Errorf(model.CodeInvalidHLC, "The op's \"hlc\" must be a string of 16 lowercase hex digits.")
	}
	t, err := hlc.Parse(s)
	if err != nil {
		return &model.Error{Code: model.CodeInvalidHLC, Message: "The op's \"hlc\" must be a string of 16 lowercase hex digits.", Err: err}
	}
	op.HLC = t
	return nil
}

func decodeNames(op *Op, raw map[string]json.RawMessage) error {
	var action string
	for _, f := range []struct {
		key string
		dst *string
	}{{"kind", &op.Kind}, {"field", &op.Field}, {"action", &action}} {
		v, ok := raw[f.key]
		if !ok || json.Unmarshal(v, f.dst) != nil || *f.dst == "" || !validString(*f.dst) {
			return model.Errorf(model.CodeInvalidOp, "The op's %q must be a non-empty string.", f.key)
		}
	}
	switch a := model.Action(action); a {
	case model.ActionSet, model.ActionAdd, model.ActionRemove, model.ActionAppend, model.ActionRedact:
		op.Action = a
	default:
		return model.Errorf(model.CodeInvalidOp, "The op's action %q is not one of set, add, remove, append, redact.", action)
	}
	return nil
}

func decodeBase(op *Op, raw map[string]json.RawMessage) error {
	op.Base = []string{}
	v, ok := raw["base"]
	if !ok || string(v) == "null" {
		return nil
	}
	if err := json.Unmarshal(v, &op.Base); err != nil || op.Base == nil {
		return model.Errorf(model.CodeInvalidOp, "The op's \"base\" must be an array of op ids.")
	}
	if len(op.Base) > MaxBase {
		return model.Errorf(model.CodeInvalidOp, "The op's \"base\" names %d ops; at most %d are allowed.", len(op.Base), MaxBase)
	}
	for _, id := range op.Base {
		if !model.ValidID(id) {
			return model.Errorf(model.CodeInvalidOp, "The op's \"base\" holds %q, which is not a canonical lowercase UUID.", id)
		}
	}
	slices.Sort(op.Base)
	op.Base = slices.Compact(op.Base)
	return nil
}

func decodeValue(op *Op, raw map[string]json.RawMessage) error {
	v, ok := raw["value"]
	if !ok {
		op.Value = null
		return nil
	}
	c, err := canonical(v)
	if err != nil {
		return &model.Error{Code: model.CodeInvalidValue, Message: "The op's \"value\" cannot be represented in canonical JSON (numbers must be finite doubles, strings valid UTF-8).", Err: err}
	}
	op.Value = c
	return nil
}
