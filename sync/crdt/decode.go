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

	// strs holds the op's ids, kind and field: one allocation for all
	// of them (see str).
	strs strings.Builder
}

// str returns the string raw JSON value v holds, like rawString; a string
// without escape sequences is copied into w.strs, which was grown to hold
// all of them.
func (w *wireOp) str(v jsontext.Value) (string, bool) {
	if len(v) < 2 || v[0] != '"' || bytes.IndexByte(v, '\\') >= 0 {
		return rawString(v)
	}
	start := w.strs.Len()
	w.strs.Write(v[1 : len(v)-1])
	return w.strs.String()[start:], true
}

// DecodeOp parses one op from its JSON object, strictly: keys are matched
// exactly, unknown or repeated keys are refused, every id must be a
// canonical UUID and hlc a 16-digit timestamp. It does not consult the
// schema; Validate does. Errors are *model.Error with the op-level codes
// of DESIGN §5.
func DecodeOp(data []byte) (Op, error) {
	var w wireOp
	if err := readMembers(data, &w); err != nil {
		return Op{}, err
	}
	w.strs.Grow(len(w.ID) + len(w.Record) + len(w.Device) + len(w.User) + len(w.Kind) + len(w.Field))
	var op Op
	// Called one by one, not through a table, so that op and w stay on
	// the stack.
	err := decodeIDs(&op, &w)
	if err == nil {
		err = decodeHLC(&op, &w)
	}
	if err == nil {
		err = decodeNames(&op, &w)
	}
	if err == nil {
		err = decodeBase(&op, &w)
	}
	if err == nil {
		err = decodeValue(&op, &w)
	}
	if err != nil {
		return Op{}, err
	}
	return op, nil
}

// readMembers reads one JSON object in a single pass (jsontext refuses
// invalid UTF-8, lone surrogates and repeated names at every depth) into
// w, keeping each known member raw. The members alias data: DecodeOp's
// steps copy what the op keeps.
func readMembers(data []byte, w *wireOp) error {
	r := readers.Get().(*reader)
	defer r.release()
	// A bytes.Buffer is parsed in place: no copy of data into the
	// decoder's buffer.
	r.src = *bytes.NewBuffer(data)
	r.dec.Reset(&r.src)
	dec := r.dec
	// && would be equivalent: a failed ReadToken's zero token is no '{'.
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return model.Errorf(model.CodeInvalidOp, "An op must be a JSON object.")
	}
	for dec.PeekKind() == '"' {
		// The name read raw, as a value (jsontext still checks it and
		// refuses a repeated one), so that a known name costs no string.
		raw, err := dec.ReadValue()
		if err != nil {
			return &model.Error{Code: model.CodeInvalidOp, Message: "A key appears twice in the op, or the op is not valid JSON.", Err: err}
		}
		dst := w.member(string(raw[1 : len(raw)-1]))
		if bytes.IndexByte(raw, '\\') >= 0 {
			dst = w.member(nameOf(raw))
		}
		if dst == nil {
			return model.Errorf(model.CodeInvalidOp, "An op has no key %q; the keys are id, record, kind, field, action, value, base, hlc, device and user.", nameOf(raw))
		}
		v, err := dec.ReadValue()
		if err != nil {
			return memberError(nameOf(raw), err)
		}
		*dst = v
	}
	// && would be equivalent: a failed ReadToken's zero token is no '}'.
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '}' {
		return model.Errorf(model.CodeInvalidOp, "The op is not a valid JSON object.")
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return model.Errorf(model.CodeInvalidOp, "Unexpected data after the op.")
	}
	return nil
}

// nameOf returns the name a raw JSON object name (a string jsontext read
// and checked) holds, its escape sequences decoded.
func nameOf(raw jsontext.Value) string {
	name, _ := jsontext.AppendUnquote(nil, raw)
	return string(name)
}

// reader is a reusable decoder: most of a decode's allocations are the
// decoder's own buffers.
type reader struct {
	src bytes.Buffer
	dec *jsontext.Decoder
}

// release returns r to the pool holding no reference to the data it read
// (a request body the caller may reuse).
func (r *reader) release() {
	r.src = bytes.Buffer{}
	r.dec.Reset(&r.src)
	readers.Put(r)
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

func decodeIDs(op *Op, w *wireOp) (err error) {
	if op.ID, err = w.id("id", w.ID, false); err != nil {
		return err
	}
	if op.Record, err = w.id("record", w.Record, false); err != nil {
		return err
	}
	if op.Device, err = w.id("device", w.Device, false); err != nil {
		return err
	}
	op.User, err = w.id("user", w.User, true)
	return err
}

// id returns the id member key holds (raw); an optional one may be
// absent or empty.
func (w *wireOp) id(key string, raw jsontext.Value, optional bool) (string, error) {
	if raw == nil && optional {
		return "", nil
	}
	s, ok := w.str(raw)
	if !ok || !model.ValidID(s) && !(optional && s == "") {
		return "", model.Errorf(model.CodeInvalidID, "The op's %q must be a UUID in canonical lowercase form.", key)
	}
	return s, nil
}

func decodeHLC(op *Op, w *wireOp) error {
	if len(w.HLC) == 18 && w.HLC[0] == '"' {
		// The common case without a copy: hlc.Parse refuses a backslash.
		if t, err := hlc.Parse(string(w.HLC[1:17])); err == nil {
			op.HLC = t
			return nil
		}
	}
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

func decodeNames(op *Op, w *wireOp) (err error) {
	if op.Kind, err = w.name("kind", w.Kind); err != nil {
		return err
	}
	if op.Field, err = w.name("field", w.Field); err != nil {
		return err
	}
	if a, ok := knownAction(w.Action); ok {
		op.Action = a
		return nil
	}
	action, err := w.name("action", w.Action)
	if err != nil {
		return err
	}
	switch a := model.Action(action); a {
	case model.ActionSet, model.ActionAdd, model.ActionRemove, model.ActionAppend, model.ActionRedact:
		op.Action = a
	default:
		return model.Errorf(model.CodeInvalidOp, "The op's action %q is not one of set, add, remove, append, redact.", action)
	}
	return nil
}

// name returns the non-empty string member key holds (raw).
func (w *wireOp) name(key string, raw jsontext.Value) (string, error) {
	s, ok := w.str(raw)
	if !ok || s == "" || !validString(s) {
		return "", model.Errorf(model.CodeInvalidOp, "The op's %q must be a non-empty string.", key)
	}
	return s, nil
}

// knownAction returns the action raw holds when it is one of the
// actions, spelt without escape sequences: a constant, no copy.
func knownAction(raw jsontext.Value) (model.Action, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	switch a := raw[1 : len(raw)-1]; string(a) {
	case string(model.ActionSet):
		return model.ActionSet, true
	case string(model.ActionAdd):
		return model.ActionAdd, true
	case string(model.ActionRemove):
		return model.ActionRemove, true
	case string(model.ActionAppend):
		return model.ActionAppend, true
	case string(model.ActionRedact):
		return model.ActionRedact, true
	}
	return "", false
}

func decodeBase(op *Op, w *wireOp) error {
	op.Base = []string{}
	if w.Base == nil || string(w.Base) == "null" || string(w.Base) == "[]" {
		return nil
	}
	base := op.Base // &op.Base would move op to the heap
	err := jsonv2.Unmarshal(w.Base, &base)
	op.Base = base
	if err != nil || op.Base == nil {
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
