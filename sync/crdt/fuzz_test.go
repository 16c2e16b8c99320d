package crdt_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// fuzzOpSeeds are op texts for FuzzDecodeOp's seed corpus: valid ops of
// every action and many near misses.
var fuzzOpSeeds = []string{
	`{"id":"0193f2a1-b2c3-7000-8000-000000000001","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"status","action":"set","value":"presumed","base":["0193f2a1-b2c3-7000-8000-000000000002"],"hlc":"0193f2a1b2c30001","device":"0193f2a1-b2c3-7000-8000-0000000000d1","user":"0193f2a1-b2c3-7000-8000-0000000000e1"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000003","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"indicators","action":"add","value":"abduction","hlc":"0193f2a1b2c30002","device":"0193f2a1-b2c3-7000-8000-0000000000d1"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000004","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"indicators","action":"remove","value":"abduction","base":["0193f2a1-b2c3-7000-8000-000000000003","0193f2a1-b2c3-7000-8000-000000000003","0193f2a1-b2c3-7000-8000-000000000001"],"hlc":"0193f2a1b2c30003","device":"0193f2a1-b2c3-7000-8000-0000000000d1","user":""}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000005","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"notes","action":"append","value":{"text":"met at the bus station","z":[1.0,-0,1e21,1E-7],"a":"\u00e9\ud83d\ude00"},"base":[],"hlc":"0193f2a1b2c30004","device":"0193f2a1-b2c3-7000-8000-0000000000d1","user":"0193f2a1-b2c3-7000-8000-0000000000e1"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000006","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"notes","action":"redact","base":["0193f2a1-b2c3-7000-8000-000000000005"],"hlc":"0193f2a1b2c30005","device":"0193f2a1-b2c3-7000-8000-0000000000d2","user":"0193f2a1-b2c3-7000-8000-0000000000e2"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000007","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"deleted","action":"set","value":true,"base":null,"hlc":"ffffffffffffffff","device":"0193f2a1-b2c3-7000-8000-0000000000d2"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000008","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"region","action":"set","value":null,"hlc":"0000000000000000","device":"0193f2a1-b2c3-7000-8000-0000000000d2"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000009","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"age_estimate","action":"set","value":17.50,"hlc":"0193f2a1b2c30006","device":"0193f2a1-b2c3-7000-8000-0000000000d2"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-00000000000a","record":"0193f2a1-b2c3-7000-8000-0000000000bb","kind":"site_visit","field":"participants","action":"add","value":"a\"b\\c\u0001\u2028<&>","hlc":"0193f2a1b2c30007","device":"0193f2a1-b2c3-7000-8000-0000000000d3"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-00000000000b","record":"0193f2a1-b2c3-7000-8000-0000000000cc","kind":"action_week","field":"origin_country","action":"set","value":"AL","hlc":"0193f2a1b2c30008","device":"0193f2a1-b2c3-7000-8000-0000000000d3"}`,
	"  {\"id\":\"0193f2a1-b2c3-7000-8000-00000000000c\",\n\"record\":\"0193f2a1-b2c3-7000-8000-0000000000aa\",\"kind\":\"identification\",\"field\":\"status\",\"action\":\"set\",\"value\":\"potential\",\"hlc\":\"0193f2a1b2c30009\",\"device\":\"0193f2a1-b2c3-7000-8000-0000000000d1\"}\n\t",
	// Near misses.
	`{"\u0069d":"0193f2a1-b2c3-7000-8000-000000000001","id":"0193f2a1-b2c3-7000-8000-000000000001"}`,
	`{"id":"0193F2A1-B2C3-7000-8000-000000000001"}`,
	`{"id":"{0193f2a1-b2c3-7000-8000-000000000001}"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000001","record":"0193f2a1-b2c3-7000-8000-0000000000aa","device":"0193f2a1-b2c3-7000-8000-0000000000d1","hlc":"0193F2A1B2C30001"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000001","record":"0193f2a1-b2c3-7000-8000-0000000000aa","device":"0193f2a1-b2c3-7000-8000-0000000000d1","hlc":123}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000001","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"notes","action":"append","value":"\ud800","hlc":"0193f2a1b2c30001","device":"0193f2a1-b2c3-7000-8000-0000000000d1"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000001","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"age_estimate","action":"set","value":1e400,"hlc":"0193f2a1b2c30001","device":"0193f2a1-b2c3-7000-8000-0000000000d1"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000001","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"status","action":"set","base":"x","hlc":"0193f2a1b2c30001","device":"0193f2a1-b2c3-7000-8000-0000000000d1"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000001","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"status","action":"set","base":[null],"hlc":"0193f2a1b2c30001","device":"0193f2a1-b2c3-7000-8000-0000000000d1"}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000001","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"status","action":"set","hlc":"0193f2a1b2c30001","device":"0193f2a1-b2c3-7000-8000-0000000000d1","user":null}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000001","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"ident\u0000","field":"\ud83d\ude00","action":"set","hlc":"0193f2a1b2c30001","device":"0193f2a1-b2c3-7000-8000-0000000000d1"}`,
	"{\"id\":\"0193f2a1-b2c3-7000-8000-000000000001\",\"record\":\"0193f2a1-b2c3-7000-8000-0000000000aa\",\"kind\":\"\xff\xfe\",\"field\":\"x\",\"action\":\"set\",\"value\":\"\xc3\",\"hlc\":\"0193f2a1b2c30001\",\"device\":\"0193f2a1-b2c3-7000-8000-0000000000d1\"}",
	`{"id":"0193f2a1-b2c3-7000-8000-000000000001",}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000001"} {}`,
	`{"id":"0193f2a1-b2c3-7000-8000-000000000001"}]`,
	`{"value":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
	`{"value":{"a":1,"a":2}}`,
	`{]`, `{`, `}`, `[]`, `null`, `""`, `1`, ``, `{}`, `{"id"}`, `{"id":}`, `{1:2}`,
}

// FuzzDecodeOp: DecodeOp never panics and refuses with an op-level code;
// a decoded op is normalised, its canonical JSON decodes to the same op
// and is a fixed point, and Validate (and, for a valid op, Apply and
// Canonical) never panic.
func FuzzDecodeOp(f *testing.F) {
	for _, s := range fuzzOpSeeds {
		f.Add([]byte(s))
	}
	schema := model.DefaultSchema()
	decodeCodes := []model.Code{model.CodeInvalidOp, model.CodeInvalidID, model.CodeInvalidHLC, model.CodeInvalidValue}
	validateCodes := []model.Code{model.CodeUnknownKind, model.CodeUnknownField, model.CodeInvalidOp, model.CodeInvalidValue}
	f.Fuzz(func(t *testing.T, data []byte) {
		op, err := crdt.DecodeOp(data)
		if err != nil {
			if code := model.ErrorCode(err); !slices.Contains(decodeCodes, code) {
				t.Fatalf("DecodeOp(%q) failed with code %q (%v)", data, code, err)
			}
			return
		}
		if op.Base == nil || !slices.IsSorted(op.Base) || len(slices.Compact(slices.Clone(op.Base))) != len(op.Base) {
			t.Fatalf("base not normalised: %q", op.Base)
		}
		if c, err := jcs.Transform(op.Value); err != nil || !bytes.Equal(c, op.Value) {
			t.Fatalf("value not canonical: %s (%v)", op.Value, err)
		}
		out := op.AppendJSON(nil)
		again, err := crdt.DecodeOp(out)
		if err != nil {
			t.Fatalf("DecodeOp(AppendJSON(op)) = %v\nin:  %q\nout: %s", err, data, out)
		}
		if !reflect.DeepEqual(op, again) {
			t.Fatalf("round trip changed the op:\n%#v\n%#v", op, again)
		}
		if out2 := again.AppendJSON(nil); !bytes.Equal(out, out2) {
			t.Fatalf("AppendJSON is not a fixed point:\n%s\n%s", out, out2)
		}
		if c, err := jcs.Transform(out); err != nil || !bytes.Equal(c, out) {
			t.Fatalf("AppendJSON is not canonical: %s (jcs %s, %v)", out, c, err)
		}
		var viaJSON crdt.Op
		if err := json.Unmarshal(data, &viaJSON); err != nil || !reflect.DeepEqual(op, viaJSON) {
			t.Fatalf("json.Unmarshal disagrees with DecodeOp: %v", err)
		}
		if !crdt.SameContent(&op, &again, false) {
			t.Fatalf("SameContent(op, decoded copy) = false")
		}
		if err := crdt.Validate(schema, &op); err != nil {
			if code := model.ErrorCode(err); !slices.Contains(validateCodes, code) {
				t.Fatalf("Validate failed with code %q (%v)", code, err)
			}
			return
		}
		r := crdt.NewRecord(op.Record, op.Kind)
		if changed, err := r.Apply(schema, &op); err != nil || !changed {
			t.Fatalf("Apply of a valid op to a fresh record = %v, %v", changed, err)
		}
		propCheckCanonical(t, "after one valid op", r.Canonical())
		if changed, err := r.Apply(schema, &again); err != nil || changed {
			t.Fatalf("re-Apply = %v, %v", changed, err)
		}
	})
}

// FuzzApplySequence reads the fuzz data as the choices of propBuild (ops
// from several devices on 2 records, realistic and adversarial bases),
// then as two delivery orders with duplicates, and a split into two
// replicas. Nothing panics, both orders, the merge of the split and the §4
// state agree byte for byte.
func FuzzApplySequence(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{47, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Add(bytes.Repeat([]byte{3, 1, 4, 1, 5, 9, 2, 6}, 40))
	rng := rand.New(rand.NewPCG(2026, 4))
	for range 12 {
		seed := make([]byte, 64+rng.IntN(512))
		for i := range seed {
			seed[i] = byte(rng.UintN(256))
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ch := &propBytes{data: data}
		nOps := 1 + ch.choose(48, "ops")
		nDev := 2 + ch.choose(3, "devices")
		records, ops := propBuild(t, ch, 2, nDev, nOps)

		first := propDeliver(t, ops, propIdentity(len(ops)))
		// The second order: a shuffle driven by the data, each op delivered
		// one to three times.
		var order []int
		for i := range ops {
			for range 1 + ch.choose(3, "copies") {
				order = append(order, i)
			}
		}
		for i := len(order) - 1; i > 0; i-- {
			j := ch.choose(i+1, "shuffle")
			order[i], order[j] = order[j], order[i]
		}
		second := propDeliver(t, ops, order)
		reversed := propIdentity(len(ops))
		slices.Reverse(reversed)
		third := propDeliver(t, ops, reversed)

		for _, id := range records {
			rops := propOpsOf(ops, id)
			if len(rops) == 0 {
				if first[id] != nil || second[id] != nil {
					t.Fatalf("record %s has a state but no ops", id)
				}
				continue
			}
			want := first[id].Canonical()
			propCheckCanonical(t, "in order", want)
			if got := second[id].Canonical(); !bytes.Equal(got, want) {
				t.Fatalf("record %s: two delivery orders differ:\n%s\n%s", id, want, got)
			}
			if got := third[id].Canonical(); !bytes.Equal(got, want) {
				t.Fatalf("record %s: reversed delivery differs:\n%s\n%s", id, want, got)
			}
			if spec := propSpecState(t, propSchema, id, propKind, rops); !bytes.Equal(want, spec) {
				t.Fatalf("record %s: engine state differs from the §4 rules:\nengine %s\nspec   %s", id, want, spec)
			}
			var a, b []crdt.Op
			for _, op := range rops {
				switch ch.choose(3, "split") {
				case 0:
					a = append(a, op)
				case 1:
					b = append(b, op)
				default:
					a = append(a, op)
					b = append(b, op)
				}
			}
			merged := propMerged(t, propApplyAll(t, id, a), propApplyAll(t, id, b))
			if got := merged.Canonical(); !bytes.Equal(got, want) {
				t.Fatalf("record %s: merge of a split differs:\n%s\n%s", id, want, got)
			}
		}
	})
}
