package crdt

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Op is one write to one field of one record: the only thing replicas
// exchange. Its ID is the idempotency key.
//
// A decoded Op is normalised: Value holds canonical JSON (RFC 8785), "null"
// when absent; Base is sorted, without duplicates, and never nil.
type Op struct {
	ID     string
	Record string
	Kind   string
	Field  string
	Action model.Action
	Value  json.RawMessage
	Base   []string
	HLC    hlc.Timestamp
	Device string
	User   string
}

// null is the canonical JSON null.
var null = json.RawMessage("null")

// String returns the string a JSON value holds, "" when v is absent or
// not a string: the one way to read a string field's value (a status, a
// team, a region) from a record or an op.
func String(v json.RawMessage) string {
	// <= 2 is equivalent (mutant): the only 2-byte string, "", reads as "" either way.
	if len(v) < 2 || v[len(v)-1] != '"' {
		return ""
	}
	s, _ := rawString(jsontext.Value(v))
	return s
}

// IsNull reports whether v is JSON null (or empty, which means absent).
func IsNull(v json.RawMessage) bool {
	return len(v) == 0 || string(v) == "null"
}

// compareOps compares a and b in the total order of ops (-1, 0 or +1):
// (hlc, device, id), each compared as strings. Fixed-width lowercase hex
// makes the numeric hlc order equal to its string order.
func compareOps(a, b *Op) int { return compareKey(a.HLC, a.Device, a.ID, b.HLC, b.Device, b.ID) }

// compareKey compares two (hlc, device, op id) keys: the one order of ops,
// register siblings and log entries.
func compareKey(ah hlc.Timestamp, ad, aid string, bh hlc.Timestamp, bd, bid string) int {
	if ah != bh {
		return cmp.Compare(ah, bh)
	}
	if ad != bd {
		return strings.Compare(ad, bd)
	}
	return strings.Compare(aid, bid)
}

// SortOps sorts ops in the total order (hlc, device, id): the order of a
// record's history.
func SortOps(ops []Op) {
	slices.SortFunc(ops, func(a, b Op) int { return compareOps(&a, &b) })
}

// SameContent reports whether a and b carry the same record, kind, field,
// action, value and base: the test for a re-sent op (DESIGN §4). HLC and
// user are not compared (the server may re-stamp both). When stored was
// redacted (its value erased), the values are not compared either.
func SameContent(stored, sent *Op, storedRedacted bool) bool {
	if stored.Record != sent.Record || stored.Kind != sent.Kind || stored.Field != sent.Field ||
		stored.Action != sent.Action || !slices.Equal(stored.Base, sent.Base) {
		return false
	}
	return storedRedacted || bytes.Equal(valueOrNull(stored.Value), valueOrNull(sent.Value))
}

func valueOrNull(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return null
	}
	return v
}

// Redacted returns a copy of op with its value erased, as a redacted append
// is served in pulls and history.
func (op Op) Redacted() Op {
	op.Value = null
	return op
}

// AppendJSON appends op's canonical JSON (RFC 8785: keys sorted, no
// whitespace) to buf. Value must already be canonical, as it is after
// DecodeOp.
func (op *Op) AppendJSON(buf []byte) []byte {
	buf = append(buf, `{"action":`...)
	buf = appendString(buf, string(op.Action))
	buf = append(buf, `,"base":[`...)
	for i, b := range op.Base {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, b)
	}
	buf = append(buf, `],"device":`...)
	buf = appendString(buf, op.Device)
	buf = append(buf, `,"field":`...)
	buf = appendString(buf, op.Field)
	buf = append(buf, `,"hlc":"`...)
	buf = appendHLC(buf, op.HLC)
	buf = append(buf, `","id":`...)
	buf = appendString(buf, op.ID)
	buf = append(buf, `,"kind":`...)
	buf = appendString(buf, op.Kind)
	buf = append(buf, `,"record":`...)
	buf = appendString(buf, op.Record)
	buf = append(buf, `,"user":`...)
	buf = appendString(buf, op.User)
	buf = append(buf, `,"value":`...)
	buf = append(buf, valueOrNull(op.Value)...)
	return append(buf, '}')
}

// MarshalJSON implements json.Marshaler with the canonical form.
func (op Op) MarshalJSON() ([]byte, error) {
	return op.AppendJSON(nil), nil
}

// UnmarshalJSON implements json.Unmarshaler with DecodeOp's strict rules
// (no schema check).
func (op *Op) UnmarshalJSON(data []byte) error {
	o, err := DecodeOp(data)
	if err != nil {
		return err
	}
	*op = o
	return nil
}

const hexDigits = "0123456789abcdef"

func appendHLC(buf []byte, t hlc.Timestamp) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		buf = append(buf, hexDigits[(uint64(t)>>shift)&0xf])
	}
	return buf
}
