package crdt

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// xorSealer "seals" by prefixing a zero byte and flipping bits; it cannot
// open the ops in gone.
type xorSealer struct{ gone map[string]bool }

func (s xorSealer) SealValue(op string, v []byte) []byte {
	out := []byte{0}
	for _, b := range v {
		out = append(out, b^0x55)
	}
	return out
}

func (s xorSealer) OpenValue(op string, v []byte) ([]byte, bool) {
	if s.gone[op] || len(v) == 0 || v[0] != 0 {
		return nil, false
	}
	out := make([]byte, 0, len(v)-1)
	for _, b := range v[1:] {
		out = append(out, b^0x55)
	}
	return out, true
}

// TestSealedSnapshot: a sealed snapshot holds no log value in clear,
// leaves the record unchanged, reads back to the same state, and an
// entry whose value cannot be opened reads as erased.
func TestSealedSnapshot(t *testing.T) {
	const rec = "00000000-0000-4000-8000-000000000001"
	const dev = "00000000-0000-4000-8000-0000000000d1"
	op := func(n int, field, action, value string) Op {
		return mustOp(t, fmt.Sprintf(`{"id":"00000000-0000-4000-8000-%012d","record":%q,"kind":"identification","field":%q,"action":%q,"value":%s,"hlc":"%016x","device":%q}`,
			n, rec, field, action, value, 0x1000+n, dev))
	}
	r := NewRecord(rec, "identification")
	for _, o := range []Op{op(1, "status", "set", `"potential"`), op(2, "notes", "append", `{"text":"secret one"}`), op(3, "notes", "append", `{"text":"secret two"}`)} {
		if _, err := r.Apply(model.DefaultSchema(), &o); err != nil {
			t.Fatal(err)
		}
	}
	before := r.Canonical()
	data, err := r.MarshalSealed(xorSealer{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("secret")) {
		t.Error("the sealed snapshot holds a note in clear")
	}
	if !bytes.Equal(r.Canonical(), before) {
		t.Error("MarshalSealed changed the record")
	}
	var got Record
	if err := got.UnmarshalSealed(data, xorSealer{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Canonical(), before) || got.Size() != r.Size() {
		t.Errorf("restored state differs:\ngot  %s\nwant %s", got.Canonical(), before)
	}
	var erased Record
	if err := erased.UnmarshalSealed(data, xorSealer{gone: map[string]bool{"00000000-0000-4000-8000-000000000002": true}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range erased.Entries("notes") {
		one := e.Op == "00000000-0000-4000-8000-000000000002"
		if one != (e.Redacted && string(e.Value) == "null") {
			t.Errorf("entry %s: redacted %v, value %s", e.Op, e.Redacted, e.Value)
		}
	}
}

// TestUnmarshalSealedRefusesDamage: a damaged or truncated sealed
// snapshot is an error with a sealer as without one, never a record; and
// without a sealer the stored bytes are read as UnmarshalBinary reads them.
func TestUnmarshalSealedRefusesDamage(t *testing.T) {
	const rec = "00000000-0000-4000-8000-000000000001"
	r := NewRecord(rec, "identification")
	mtApply(t, r, mtOp(1, "notes", "append", `{"text":"secret"}`, "", 10))
	data, err := r.MarshalSealed(xorSealer{})
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(data)
	damaged[len(damaged)/2] ^= 0xff
	tests := []struct {
		name string
		data []byte
	}{
		{"a flipped byte", damaged},
		{"truncated", data[:len(data)-1]},
		{"empty", nil},
	}
	for _, tt := range tests {
		for _, s := range []ValueSealer{xorSealer{}, nil} {
			t.Run(fmt.Sprintf("%s/sealer %v", tt.name, s != nil), func(t *testing.T) {
				var got Record
				if err := got.UnmarshalSealed(tt.data, s); err == nil {
					t.Fatalf("UnmarshalSealed = nil error, record %s", got.Canonical())
				}
			})
		}
	}
	var plain, want Record
	if err := plain.UnmarshalSealed(data, nil); err != nil {
		t.Fatal(err)
	}
	if err := want.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain.Canonical(), want.Canonical()) {
		t.Errorf("without a sealer: %s, UnmarshalBinary's %s", plain.Canonical(), want.Canonical())
	}
}
