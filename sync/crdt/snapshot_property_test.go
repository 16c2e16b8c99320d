package crdt_test

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"

	"github.com/fieldsync/fieldsync/sync/crdt"
)

// TestPropertySnapshotRoundTrip: the snapshot of any record state restores
// to a record that serves the same state and takes every later op exactly
// as the original does (what is not served, superseded ids, removed adds,
// pending redactions, survives too); every proper prefix and every
// one-byte change of the snapshot is refused.
func TestPropertySnapshotRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := propGen(30).Draw(t, "scenario")
		propLogOps(t, sc.Ops)
		for _, id := range sc.Records {
			ops := propOpsOf(sc.Ops, id)
			k := rapid.IntRange(0, len(ops)).Draw(t, "prefix")
			orig := propApplyAll(t, id, ops[:k])
			data, err := orig.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			var back crdt.Record
			if err := back.UnmarshalBinary(data); err != nil {
				t.Fatalf("UnmarshalBinary of a fresh snapshot: %v", err)
			}
			if got, want := back.Canonical(), orig.Canonical(); !bytes.Equal(got, want) {
				t.Fatalf("restored state differs:\ngot  %s\nwant %s", got, want)
			}
			for i := range ops {
				op := ops[i]
				a, errA := orig.Apply(propSchema, &op)
				b, errB := back.Apply(propSchema, &op)
				if a != b || (errA == nil) != (errB == nil) {
					t.Fatalf("op %d: Apply = %v, %v on the original, %v, %v on the restored copy", i, a, errA, b, errB)
				}
			}
			if got, want := back.Canonical(), orig.Canonical(); !bytes.Equal(got, want) {
				t.Fatalf("states differ after the later ops:\ngot  %s\nwant %s", got, want)
			}
			for n := range len(data) {
				var r crdt.Record
				if r.UnmarshalBinary(data[:n]) == nil {
					t.Fatalf("a snapshot truncated to %d of %d bytes decoded", n, len(data))
				}
			}
			damaged := bytes.Clone(data)
			for i := range damaged {
				for _, mask := range []byte{0x01, 0xff} {
					damaged[i] ^= mask
					var r crdt.Record
					if r.UnmarshalBinary(damaged) == nil {
						t.Fatalf("a snapshot with byte %d xor %#x decoded", i, mask)
					}
					damaged[i] = data[i]
				}
			}
		}
	})
}
