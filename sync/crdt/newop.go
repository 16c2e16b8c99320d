package crdt

import (
	"encoding/json"
	"slices"

	"github.com/fieldsync/fieldsync/model"
)

// NewOp returns the op that trusted code (the server, its tools, the Go
// SDK) writes: op's ids, names, action, base, hlc, device and user, with
// value (any Go value, a json.RawMessage included; nil is null) as its
// canonical JSON. It is what DecodeOp returns for the op's JSON, without
// the round trip through JSON: the same checks with the same codes, Value
// canonical, Base a sorted copy without duplicates, never nil. op.Value is
// ignored. Like DecodeOp it does not consult the schema; Validate does.
func NewOp(op Op, value any) (Op, error) {
	if err := checkIDs(&op); err != nil {
		return Op{}, err
	}
	if err := checkNames(&op); err != nil {
		return Op{}, err
	}
	base, err := normalBase(op.Base)
	if err != nil {
		return Op{}, err
	}
	op.Base = base
	if op.Value, err = canonicalValue(value); err != nil {
		return Op{}, err
	}
	return op, nil
}

// checkIDs makes decodeIDs' checks on Go strings.
func checkIDs(op *Op) error {
	for _, f := range []struct {
		key, id  string
		optional bool
	}{{"id", op.ID, false}, {"record", op.Record, false}, {"device", op.Device, false}, {"user", op.User, true}} {
		if !model.ValidID(f.id) && !(f.optional && f.id == "") {
			return model.Errorf(model.CodeInvalidID, "The op's %q must be a UUID in canonical lowercase form.", f.key)
		}
	}
	return nil
}

// checkNames makes decodeNames' checks on Go strings.
func checkNames(op *Op) error {
	for _, f := range []struct{ key, s string }{{"kind", op.Kind}, {"field", op.Field}, {"action", string(op.Action)}} {
		if f.s == "" || !validString(f.s) {
			return model.Errorf(model.CodeInvalidOp, "The op's %q must be a non-empty string.", f.key)
		}
	}
	switch op.Action {
	case model.ActionSet, model.ActionAdd, model.ActionRemove, model.ActionAppend, model.ActionRedact:
		return nil
	}
	return model.Errorf(model.CodeInvalidOp, "The op's action %q is not one of set, add, remove, append, redact.", op.Action)
}

// normalBase makes decodeBase's checks and returns a sorted copy of base
// without duplicates, never nil.
func normalBase(base []string) ([]string, error) {
	if len(base) > MaxBase {
		return nil, model.Errorf(model.CodeInvalidOp, "The op's \"base\" names %d ops; at most %d are allowed.", len(base), MaxBase)
	}
	for _, id := range base {
		if !model.ValidID(id) {
			return nil, model.Errorf(model.CodeInvalidOp, "The op's \"base\" holds %q, which is not a canonical lowercase UUID.", id)
		}
	}
	out := append(make([]string, 0, len(base)), base...)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// canonicalValue returns v's canonical JSON (RFC 8785), null for nil.
func canonicalValue(v any) (json.RawMessage, error) {
	if v == nil {
		return null, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &model.Error{Code: model.CodeInvalidValue, Message: "The op's \"value\" cannot be written as JSON.", Err: err}
	}
	if isCanonicalScalar(b) {
		return b, nil
	}
	c, err := canonical(b)
	if err != nil {
		return nil, &model.Error{Code: model.CodeInvalidValue, Message: "The op's \"value\" cannot be represented in canonical JSON (numbers must be finite doubles, strings valid UTF-8).", Err: err}
	}
	return c, nil
}
