package crdt

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

func mustOp(t *testing.T, js string) Op {
	t.Helper()
	op, err := DecodeOp([]byte(js))
	if err != nil {
		t.Fatalf("DecodeOp(%s): %v", js, err)
	}
	if err := Validate(model.DefaultSchema(), &op); err != nil {
		t.Fatalf("Validate(%s): %v", js, err)
	}
	return op
}

func TestSnapshotRoundTrip(t *testing.T) {
	const rec = "00000000-0000-4000-8000-000000000001"
	const dev = "00000000-0000-4000-8000-0000000000d1"
	op := func(n int, field, action, value, base string) string {
		return fmt.Sprintf(`{"id":"00000000-0000-4000-8000-%012d","record":%q,"kind":"identification","field":%q,"action":%q,"value":%s,"base":[%s],"hlc":"%016x","device":%q}`,
			n, rec, field, action, value, base, 0x1000+n, dev)
	}
	ops := []string{
		op(1, "status", "set", `"potential"`, ""),
		op(2, "status", "set", `"presumed"`, ""),
		op(3, "indicators", "add", `"debt_bondage"`, ""),
		op(4, "indicators", "remove", `"debt_bondage"`, `"00000000-0000-4000-8000-000000000003"`),
		op(5, "notes", "append", `{"text":"met at the bus station"}`, ""),
		op(6, "notes", "redact", `null`, `"00000000-0000-4000-8000-000000000005"`),
		op(7, "region", "set", `"north"`, `"00000000-0000-4000-8000-000000000099"`),
	}
	schema := model.DefaultSchema()
	r := NewRecord(rec, "identification")
	for _, js := range ops {
		o := mustOp(t, js)
		if _, err := r.Apply(schema, &o); err != nil {
			t.Fatal(err)
		}
	}
	data, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Record
	if err := got.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Canonical(), r.Canonical()) {
		t.Fatalf("restored state differs:\ngot  %s\nwant %s", got.Canonical(), r.Canonical())
	}
	// The restored state must keep what is not served: the superseded id 99
	// must never become a sibling, and the removed add 3 must stay removed.
	late := []string{
		op(99, "region", "set", `"south"`, ""),
		op(3, "indicators", "add", `"debt_bondage"`, ""),
		op(5, "notes", "append", `{"text":"met at the bus station"}`, ""),
	}
	for _, js := range late {
		o := mustOp(t, js)
		a, _ := r.Apply(schema, &o)
		b, _ := got.Apply(schema, &o)
		if a != b {
			t.Errorf("Apply(%s) changed = %v on the original, %v on the restored copy", js, a, b)
		}
	}
	if !bytes.Equal(got.Canonical(), r.Canonical()) {
		t.Fatalf("states differ after late ops:\ngot  %s\nwant %s", got.Canonical(), r.Canonical())
	}
	if v := string(got.Value("region")); v != `"north"` {
		t.Errorf("region = %s, want \"north\"", v)
	}
}

func TestUnmarshalBinaryRejectsGarbage(t *testing.T) {
	var r Record
	for _, in := range []string{"", "{", `{"fields":{"x":{"class":"nope"}}}`} {
		if err := r.UnmarshalBinary([]byte(in)); err == nil {
			t.Errorf("UnmarshalBinary(%q) = nil error, want one", in)
		}
	}
}

// TestSnapshotIsAFunctionOfTheState: encoding a record twice gives the
// same bytes, and so do two replicas that received the same ops in
// opposite orders (each set element here has one add, whose arrival order
// is the only thing a snapshot keeps). Superseded ids, set elements and
// pending redactions are written in byte order; they used to come out in
// map order, different from one encoding to the next.
func TestSnapshotIsAFunctionOfTheState(t *testing.T) {
	codes := model.DefaultSchema().Kinds[model.KindIdentification].Fields["indicators"].Values
	var ops []string
	for n := 1; n <= 12; n++ {
		ops = append(ops,
			mtOp(n, "region", "set", `"north"`, mtBase(100+n), uint64(n)),
			mtOp(200+n, "indicators", "add", fmt.Sprintf("%q", codes[n]), "", uint64(n)),
			mtOp(300+n, "notes", "redact", `null`, mtBase(400+n), uint64(n)))
	}
	fwd, rev := NewRecord(mtRec, model.KindIdentification), NewRecord(mtRec, model.KindIdentification)
	for i := range ops {
		mtApply(t, fwd, ops[i])
		mtApply(t, rev, ops[len(ops)-1-i])
	}
	want, err := fwd.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		for name, r := range map[string]*Record{"same replica": fwd, "other replica": rev} {
			got, err := r.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding %d of the %s differs:\ngot  %x\nwant %x", i, name, got, want)
			}
		}
	}
}
