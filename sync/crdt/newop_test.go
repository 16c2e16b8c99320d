package crdt

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// TestNewOpIsDecodeOpWithoutJSON: NewOp returns what DecodeOp returns for
// the same op sent as JSON, or an error with the same code.
func TestNewOpIsDecodeOpWithoutJSON(t *testing.T) {
	const (
		a = "0190a3c2-7a1e-7b3c-8d4e-000000000001"
		b = "0190a3c2-7a1e-7b3c-8d4e-000000000002"
		c = "0190a3c2-7a1e-7b3c-8d4e-000000000003"
	)
	good := Op{ID: a, Record: b, Kind: "identification", Field: "notes", Action: model.ActionSet,
		HLC: hlc.New(1700000000000, 7), Device: c, User: a}
	with := func(f func(*Op)) Op { o := good; f(&o); return o }
	tests := []struct {
		name  string
		op    Op
		value any
	}{
		{"string", good, "plain"},
		{"html and separators", good, "<b> & \u2028 \u2029 caf\u00e9 \U0001F600"},
		{"escapes", good, "quote \" backslash \\ newline \n tab \t nul \u0000"},
		{"integer", good, 42},
		{"negative zero", good, math.Copysign(0, -1)},
		{"float", good, 1.5},
		{"big float", good, 1e21},
		{"large integer", good, int64(1) << 60},
		{"bool", good, true},
		{"nil", good, nil},
		{"object", good, map[string]any{"text": "note", "b": []any{1, "x", nil}, "a": map[string]any{"z": 1, "y": 2}}},
		{"raw message", good, json.RawMessage(`{ "b" : 1.0, "a" : [ 1e2 ] }`)},
		{"raw null", good, json.RawMessage(`null`)},
		{"struct", good, struct {
			Text string `json:"text"`
			N    int    `json:"n"`
		}{"t", 3}},
		{"base unsorted with duplicates", with(func(o *Op) { o.Base = []string{c, a, c, b} }), "v"},
		{"no user", with(func(o *Op) { o.User = "" }), "v"},
		{"nil base", with(func(o *Op) { o.Base = nil }), "v"},
		{"bad id", with(func(o *Op) { o.ID = "X" }), "v"},
		{"upper-case record", with(func(o *Op) { o.Record = strings.ToUpper(b) }), "v"},
		{"no device", with(func(o *Op) { o.Device = "" }), "v"},
		{"bad user", with(func(o *Op) { o.User = "nobody" }), "v"},
		{"empty kind", with(func(o *Op) { o.Kind = "" }), "v"},
		{"empty field", with(func(o *Op) { o.Field = "" }), "v"},
		{"unknown action", with(func(o *Op) { o.Action = "merge" }), "v"},
		{"bad base id", with(func(o *Op) { o.Base = []string{"nope"} }), "v"},
		{"base at the limit", with(func(o *Op) { o.Base = manyIDs(MaxBase) }), "v"},
		{"base too long", with(func(o *Op) { o.Base = manyIDs(MaxBase + 1) }), "v"},
		{"infinite number", good, json.RawMessage(`1e999`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, gotErr := NewOp(tc.op, tc.value)
			want, wantErr := DecodeOp(wireJSON(t, tc.op, tc.value))
			if got, want := model.ErrorCode(gotErr), model.ErrorCode(wantErr); got != want {
				t.Fatalf("code = %q (%v), DecodeOp's = %q (%v)", got, gotErr, want, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("NewOp = %+v\nDecodeOp = %+v", got, want)
			}
		})
	}
}

// wireJSON is op as a device sends it, value marshalled by encoding/json
// (a value that cannot be marshalled is sent as it is, to be refused).
func wireJSON(t *testing.T, op Op, value any) []byte {
	t.Helper()
	v, err := json.Marshal(value)
	if err != nil {
		v = []byte(value.(json.RawMessage))
	}
	m := map[string]any{"id": op.ID, "record": op.Record, "kind": op.Kind, "field": op.Field, "action": op.Action,
		"value": json.RawMessage(v), "hlc": op.HLC.String(), "device": op.Device}
	if op.Base != nil {
		m["base"] = op.Base
	}
	if op.User != "" {
		m["user"] = op.User
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func manyIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("0190a3c2-7a1e-7b3c-8d4e-%012d", i)
	}
	return out
}

// TestLiveAdds: the base a remove needs is the element's adds no remove
// named, sorted; an add the remover had not seen stays live.
func TestLiveAdds(t *testing.T) {
	const (
		rec    = "0190a3c2-7a1e-7b3c-8d4e-000000000010"
		device = "0190a3c2-7a1e-7b3c-8d4e-000000000011"
		add1   = "0190a3c2-7a1e-7b3c-8d4e-0000000000a1"
		add2   = "0190a3c2-7a1e-7b3c-8d4e-0000000000a2"
		add3   = "0190a3c2-7a1e-7b3c-8d4e-0000000000a3"
		rm     = "0190a3c2-7a1e-7b3c-8d4e-0000000000b1"
	)
	schema := model.DefaultSchema()
	r := NewRecord(rec, model.KindIdentification)
	apply := func(id string, action model.Action, value string, base ...string) {
		t.Helper()
		op, err := NewOp(Op{ID: id, Record: rec, Kind: model.KindIdentification, Field: "indicators", Action: action,
			Base: base, HLC: hlc.New(1700000000000, 0), Device: device}, value)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Apply(schema, &op); err != nil {
			t.Fatal(err)
		}
	}
	apply(add2, model.ActionAdd, "debt_bondage")
	apply(add1, model.ActionAdd, "debt_bondage")
	apply(add3, model.ActionAdd, "abduction")
	if got, want := r.LiveAdds("indicators", "debt_bondage"), []string{add1, add2}; !reflect.DeepEqual(got, want) {
		t.Errorf("live adds = %v, want %v", got, want)
	}
	apply(rm, model.ActionRemove, "debt_bondage", add2)
	if got, want := r.LiveAdds("indicators", "debt_bondage"), []string{add1}; !reflect.DeepEqual(got, want) {
		t.Errorf("after a remove of one add: live adds = %v, want %v", got, want)
	}
	for _, tc := range []struct{ name, field, element string }{
		{"never added", "indicators", "forced_labour"},
		{"not a set", "notes", "debt_bondage"},
		{"unknown field", "nope", "x"},
	} {
		if got := r.LiveAdds(tc.field, tc.element); got != nil {
			t.Errorf("%s: live adds = %v, want nil", tc.name, got)
		}
	}
}

// TestString: a JSON string's value, escapes decoded; "" for anything
// else.
func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`"presumed"`, "presumed"},
		{`"caf\u00e9 \"q\" \\"`, "café \"q\" \\"},
		{`""`, ""},
		{`null`, ""},
		{`42`, ""},
		{`{"a":"b"}`, ""},
		{`["a"]`, ""},
		{``, ""},
		{`"`, ""},
		{`"abc`, ""},
	} {
		if got := String(json.RawMessage(tc.in)); got != tc.want {
			t.Errorf("String(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
