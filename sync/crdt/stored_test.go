package crdt

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// TestDecodeStoredIsDecodeOp: for ops in AppendJSON's layout and in any
// other, DecodeStored returns what DecodeOp returns, and keeps nothing of
// the bytes it was given.
func TestDecodeStoredIsDecodeOp(t *testing.T) {
	const (
		a = "0190a3c2-7a1e-7b3c-8d4e-000000000001"
		b = "0190a3c2-7a1e-7b3c-8d4e-000000000002"
		c = "0190a3c2-7a1e-7b3c-8d4e-000000000003"
	)
	mk := func(action model.Action, user string, base []string, value any) []byte {
		t.Helper()
		op, err := NewOp(Op{ID: a, Record: b, Kind: "identification", Field: "notes", Action: action,
			Base: base, HLC: hlc.New(1700000000000, 9), Device: c, User: user}, value)
		if err != nil {
			t.Fatal(err)
		}
		return op.AppendJSON(nil)
	}
	tests := []struct {
		name string
		js   []byte
	}{
		{"string", mk(model.ActionSet, a, nil, "presumed")},
		{"no user", mk(model.ActionSet, "", nil, "x")},
		{"base of two", mk(model.ActionRemove, a, []string{c, b}, "debt_bondage")},
		{"object with escapes", mk(model.ActionAppend, a, nil, map[string]any{"text": "a \"quote\" }, <b> \n", "n": 1.5})},
		{"null value", mk(model.ActionRedact, a, []string{b}, nil)},
		{"other key order", []byte(`{"id":"` + a + `","record":"` + b + `","kind":"identification","field":"notes","action":"set","value":"v","base":[],"hlc":"018bcfe568000009","device":"` + c + `"}`)},
		{"escaped name", []byte(`{"action":"set","base":[],"device":"` + c + `","field":"no\u0074es","hlc":"018bcfe568000009","id":"` + a + `","kind":"identification","record":"` + b + `","user":"","value":1}`)},
		{"escape first in a name", []byte(`{"action":"set","base":[],"device":"` + c + `","field":"\u006eotes","hlc":"018bcfe568000009","id":"` + a + `","kind":"identification","record":"` + b + `","user":"","value":1}`)},
		{"not json", []byte(`{"action":"set","base":[`)},
		{"unknown action", []byte(`{"action":"merge","base":[],"device":"` + c + `","field":"f","hlc":"018bcfe568000009","id":"` + a + `","kind":"k","record":"` + b + `","user":"","value":1}`)},
		{"bad hlc", []byte(`{"action":"set","base":[],"device":"` + c + `","field":"f","hlc":"xyz","id":"` + a + `","kind":"k","record":"` + b + `","user":"","value":1}`)},
		{"no value", []byte(`{"action":"set","base":[],"device":"` + c + `","field":"f","hlc":"018bcfe568000009","id":"` + a + `","kind":"k","record":"` + b + `","user":"","value":}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js := append([]byte(nil), tc.js...)
			got, gotErr := DecodeStored(js)
			want, wantErr := DecodeOp(tc.js)
			if got, want := model.ErrorCode(gotErr), model.ErrorCode(wantErr); got != want || (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("error %v, DecodeOp's %v", gotErr, wantErr)
			}
			for i := range js {
				js[i] = 'x' // the caller reuses its buffer
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("DecodeStored = %+v\nDecodeOp     = %+v", got, want)
			}
		})
	}
}

// TestDecodeStoredReadsAppendJSON: the fast path reads every op AppendJSON
// writes (the fallback is for other layouts only).
func TestDecodeStoredReadsAppendJSON(t *testing.T) {
	op, err := NewOp(Op{ID: "0190a3c2-7a1e-7b3c-8d4e-000000000001", Record: "0190a3c2-7a1e-7b3c-8d4e-000000000002",
		Kind: "identification", Field: "notes", Action: model.ActionAppend, HLC: hlc.New(1, 2),
		Device: "0190a3c2-7a1e-7b3c-8d4e-000000000003"}, json.RawMessage(`{"text":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := readStored(op.AppendJSON(nil))
	if !ok || !reflect.DeepEqual(got, op) {
		t.Errorf("readStored = %+v, %v; want %+v", got, ok, op)
	}
}

// storedOps are ops of every action, with and without user and base, as
// AppendJSON writes them.
func storedOps(t *testing.T) []Op {
	t.Helper()
	const (
		a = "0190a3c2-7a1e-7b3c-8d4e-000000000001"
		b = "0190a3c2-7a1e-7b3c-8d4e-000000000002"
		c = "0190a3c2-7a1e-7b3c-8d4e-000000000003"
	)
	specs := []struct {
		field  string
		action model.Action
		user   string
		base   []string
		value  any
	}{
		{"status", model.ActionSet, a, nil, "presumed"},
		{"status", model.ActionSet, "", []string{b}, "identified"},
		{"indicators", model.ActionRemove, a, []string{c, b}, "debt_bondage"},
		{"notes", model.ActionAppend, a, nil, map[string]any{"text": "x"}},
		{"notes", model.ActionRedact, a, []string{b}, nil},
	}
	ops := make([]Op, len(specs))
	for i, s := range specs {
		op, err := NewOp(Op{ID: a, Record: b, Kind: "identification", Field: s.field, Action: s.action,
			Base: s.base, HLC: hlc.New(1700000000000, 9), Device: c, User: s.user}, s.value)
		if err != nil {
			t.Fatal(err)
		}
		ops[i] = op
	}
	return ops
}

// TestReadStoredEveryAction: the fast path itself (not the fallback)
// reads AppendJSON's output for every action, base length and user.
func TestReadStoredEveryAction(t *testing.T) {
	for _, op := range storedOps(t) {
		t.Run(string(op.Action)+"/"+fmt.Sprint(len(op.Base)), func(t *testing.T) {
			got, ok := readStored(op.AppendJSON(nil))
			if !ok || !reflect.DeepEqual(got, op) {
				t.Errorf("readStored = %+v, %v; want %+v", got, ok, op)
			}
		})
	}
}

// TestDecodeStoredPrefixes: every truncation of a stored op is refused,
// never a panic. (A truncation that ends in '}' inside an object value is
// left out: DecodeStored trusts its bytes, and a store's seal refuses a
// truncated op before it is decoded.)
func TestDecodeStoredPrefixes(t *testing.T) {
	for _, op := range storedOps(t) {
		js := op.AppendJSON(nil)
		for i := range js {
			if i > 0 && js[i-1] == '}' {
				continue
			}
			if got, err := DecodeStored(js[:i]); err == nil {
				t.Fatalf("DecodeStored(%s) = %+v, want an error", js[:i], got)
			}
		}
	}
}
