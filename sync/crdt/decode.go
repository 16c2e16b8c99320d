package crdt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// MaxBase bounds the number of op ids one op may supersede.
const MaxBase = 1024

// wireOp is an op's members as they arrive, each still raw JSON, so that
// each problem gets its own code.
type wireOp struct {
	ID     jsontext.Value `json:"id"`
	Record jsontext.Value `json:"record"`
	Kind   jsontext.Value `json:"kind"`
	Field  jsontext.Value `json:"field"`
	Action jsontext.Value `json:"action"`
	Value  jsontext.Value `json:"value"`
	Base   jsontext.Value `json:"base"`
	HLC    jsontext.Value `json:"hlc"`
	Device jsontext.Value `json:"device"`
	User   jsontext.Value `json:"user"`
}

// DecodeOp parses one op from its JSON object, strictly: keys are matched
// exactly, unknown or repeated keys are refused, every id must be a
// canonical UUID and hlc a 16-digit timestamp. It does not consult the
// schema; Validate does. Errors are *model.Error with the op-level codes
// of DESIGN §5.
func DecodeOp(data []byte) (Op, error) {
	w, err := readMembers(data)
	if err != nil {
		return Op{}, err
	}
	var op Op
	for _, step := range []func(*Op, *wireOp) error{decodeIDs, decodeHLC, decodeNames, decodeBase, decodeValue} {
		if err := step(&op, w); err != nil {
			return Op{}, err
		}
	}
	return op, nil
}

// readMembers reads one JSON object in a single pass (jsontext refuses
// invalid UTF-8, lone surrogates and repeated names at every depth) and
// keeps each known member raw.
func readMembers(data []byte) (*wireOp, error) {
	r := readers.Get().(*reader)
	defer readers.Put(r)
	r.src.Reset(data)
	r.dec.Reset(&r.src)
	dec := r.dec
	// && would be equivalent: a failed ReadToken's zero token is no '{'.
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, model.Errorf(model.CodeInvalidOp, "An op must be a JSON object.")
	}
	w := &wireOp{}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, &model.Error{Code: model.CodeInvalidOp, Message: "A key appears twice in the op, or the op is not valid JSON.", Err: err}
		}
		name := tok.String()
		dst := w.member(name)
		if dst == nil {
			return nil, model.Errorf(model.CodeInvalidOp, "An op has no key %q; the keys are id, record, kind, field, action, value, base, hlc, device and user.", name)
		}
		v, err := dec.ReadValue()
		if err != nil {
			return nil, memberError(name, err)
		}
		*dst = bytes.Clone(v)
	}
	// && would be equivalent: a failed ReadToken's zero token is no '}'.
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '}' {
		return nil, model.Errorf(model.CodeInvalidOp, "The op is not a valid JSON object.")
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, model.Errorf(model.CodeInvalidOp, "Unexpected data after the op.")
	}
	return w, nil
}

// reader is a reusable decoder: most of a decode's allocations are the
// decoder's own buffers.
type reader struct {
	src bytes.Reader
	dec *jsontext.Decoder
}

var readers = sync.Pool{New: func() any {
	r := &reader{}
	r.dec = jsontext.NewDecoder(&r.src)
	return r
}}

// member returns where the raw value of key goes, nil for an unknown key.
func (w *wireOp) member(key string) *jsontext.Value {
	switch key {
	case "id":
		return &w.ID
	case "record":
		return &w.Record
	case "kind":
		return &w.Kind
	case "field":
		return &w.Field
	case "action":
		return &w.Action
	case "value":
		return &w.Value
	case "base":
		return &w.Base
	case "hlc":
		return &w.HLC
	case "device":
		return &w.Device
	case "user":
		return &w.User
	}
	return nil
}

// memberError classifies a member that failed to read: a value that is
// JSON but cannot be canonical (invalid UTF-8, a lone surrogate, a repeated
// key inside it) is invalid_value; anything else is not JSON: invalid_op.
func memberError(name string, err error) error {
	msg := err.Error()
	unrepresentable := errors.Is(err, jsontext.ErrDuplicateName) || strings.Contains(msg, "UTF-8") || strings.Contains(msg, "surrogate")
	if name == "value" && unrepresentable {
		return &model.Error{Code: model.CodeInvalidValue, Message: "The op's \"value\" cannot be represented in canonical JSON (invalid UTF-8, a lone surrogate or a repeated key).", Err: err}
	}
	return &model.Error{Code: model.CodeInvalidOp, Message: fmt.Sprintf("The op's %q is not valid JSON.", name), Err: err}
}

// rawString returns the string a raw JSON value holds; ok is false when it
// is absent or not a string.
func rawString(v jsontext.Value) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	if inner := v[1 : len(v)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true // no escapes: the bytes are the string
	}
	var s string
	if jsonv2.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

func decodeIDs(op *Op, w *wireOp) error {
	for _, f := range []struct {
		key      string
		raw      jsontext.Value
		dst      *string
		optional bool
	}{{"id", w.ID, &op.ID, false}, {"record", w.Record, &op.Record, false}, {"device", w.Device, &op.Device, false}, {"user", w.User, &op.User, true}} {
		if f.raw == nil && f.optional {
			continue
		}
		s, ok := rawString(f.raw)
		if !ok || !model.ValidID(s) && !(f.optional && s == "") {
			return model.Errorf(model.CodeInvalidID, "The op's %q must be a UUID in canonical lowercase form.", f.key)
		}
		*f.dst = s
	}
	return nil
}

func decodeHLC(op *Op, w *wireOp) error {
	s, ok := rawString(w.HLC)
	if !ok {
		return model.Errorf(model.CodeInvalidHLC, "The op's \"hlc\" must be a string of 16 lowercase hex digits.")
	}
	t, err := hlc.Parse(s)
	if err != nil {
		return &model.Error{Code: model.CodeInvalidHLC, Message: "The op's \"hlc\" must be a string of 16 lowercase hex digits.", Err: err}
	}
	op.HLC = t
	return nil
}

func decodeNames(op *Op, w *wireOp) error {
	var action string
	for _, f := range []struct {
		key string
		raw jsontext.Value
		dst *string
	}{{"kind", w.Kind, &op.Kind}, {"field", w.Field, &op.Field}, {"action", w.Action, &action}} {
		s, ok := rawString(f.raw)
		if !ok || s == "" || !validString(s) {
			return model.Errorf(model.CodeInvalidOp, "The op's %q must be a non-empty string.", f.key)
		}
		*f.dst = s
	}
	switch a := model.Action(action); a {
	case model.ActionSet, model.ActionAdd, model.ActionRemove, model.ActionAppend, model.ActionRedact:
		op.Action = a
	default:
		return model.Errorf(model.CodeInvalidOp, "The op's action %q is not one of set, add, remove, append, redact.", action)
	}
	return nil
}

func decodeBase(op *Op, w *wireOp) error {
	op.Base = []string{}
	if w.Base == nil || string(w.Base) == "null" {
		return nil
	}
	if err := jsonv2.Unmarshal(w.Base, &op.Base); err != nil || op.Base == nil {
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

func decodeValue(op *Op, w *wireOp) error {
	if w.Value == nil {
		op.Value = null
		return nil
	}
	if isCanonicalScalar(w.Value) {
		op.Value = bytes.Clone(w.Value)
		return nil
	}
	c, err := canonical([]byte(w.Value))
	if err != nil {
		return &model.Error{Code: model.CodeInvalidValue, Message: "The op's \"value\" cannot be represented in canonical JSON (numbers must be finite doubles, strings valid UTF-8).", Err: err}
	}
	op.Value = c
	return nil
}

// isCanonicalScalar reports whether v, already known to be valid JSON, is
// in RFC 8785 form as it stands: null, a boolean, a string without escape
// sequences or raw control characters (the decoder refused those), or an
// integer without sign oddities, leading zeros, fraction or exponent and
// small enough to be exact as a double. Everything else goes through the
// canonicaliser.
func isCanonicalScalar(v []byte) bool {
	switch v[0] {
	case 'n', 't', 'f':
		return true
	case '"':
		return bytes.IndexByte(v[1:len(v)-1], '\\') < 0
	}
	digits := v
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 15 || digits[0] == '0' && (len(digits) > 1 || len(v) > 1) {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
