package crdt

import (
	"bytes"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// DecodeStored decodes an op from the canonical JSON AppendJSON wrote, as
// the server's store and the Go SDK keep ops: trusted bytes, read in one
// pass without the checks and the canonicalisation DecodeOp makes for
// input from a device. Bytes in any other layout (a string with escapes in
// a name, keys in another order) are decoded by DecodeOp, so the result is
// DecodeOp's for every op AppendJSON writes. It copies what it keeps:
// data may be reused after it returns.
func DecodeStored(data []byte) (Op, error) {
	if op, ok := readStored(data); ok {
		return op, nil
	}
	return DecodeOp(data)
}

// storedReader reads the fixed layout of AppendJSON; ok turns false at
// the first byte that does not fit it.
type storedReader struct {
	b  []byte
	i  int
	ok bool
}

// readStored reads data in AppendJSON's layout; false when it is not.
func readStored(data []byte) (Op, bool) {
	r := &storedReader{b: data, ok: true}
	var op Op
	r.lit(`{"action":`)
	op.Action = actionOf(r.str())
	r.lit(`,"base":[`)
	op.Base = r.base()
	r.lit(`,"device":`)
	op.Device = r.str()
	r.lit(`,"field":`)
	op.Field = r.str()
	r.lit(`,"hlc":`)
	op.HLC = r.hlc()
	r.lit(`,"id":`)
	op.ID = r.str()
	r.lit(`,"kind":`)
	op.Kind = r.str()
	r.lit(`,"record":`)
	op.Record = r.str()
	r.lit(`,"user":`)
	op.User = r.str()
	r.lit(`,"value":`)
	if !r.ok || op.Action == "" || r.i >= len(data)-1 || data[len(data)-1] != '}' {
		return Op{}, false
	}
	op.Value = bytes.Clone(data[r.i : len(data)-1])
	return op, true
}

// lit consumes s.
func (r *storedReader) lit(s string) {
	if r.ok && bytes.HasPrefix(r.b[r.i:], []byte(s)) {
		r.i += len(s)
		return
	}
	r.ok = false
}

// str consumes a JSON string without escapes and returns it.
func (r *storedReader) str() string {
	if !r.ok || r.i >= len(r.b) || r.b[r.i] != '"' {
		r.ok = false
		return ""
	}
	rest := r.b[r.i+1:]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		r.ok = false
		return ""
	}
	r.i += end + 2
	return string(rest[:end])
}

// base consumes the base's strings and its closing bracket.
func (r *storedReader) base() []string {
	base := []string{}
	for r.ok && r.i < len(r.b) && r.b[r.i] != ']' {
		if len(base) > 0 {
			r.lit(",")
		}
		base = append(base, r.str())
	}
	r.lit("]")
	return base
}

// hlc consumes a quoted timestamp.
func (r *storedReader) hlc() hlc.Timestamp {
	s := r.str()
	if !r.ok {
		return 0
	}
	t, err := hlc.Parse(s)
	if err != nil {
		r.ok = false
	}
	return t
}

// actionOf returns the action named s, "" when s names none.
func actionOf(s string) model.Action {
	switch a := model.Action(s); a {
	case model.ActionSet, model.ActionAdd, model.ActionRemove, model.ActionAppend, model.ActionRedact:
		return a
	}
	return ""
}
