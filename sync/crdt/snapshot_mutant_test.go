package crdt

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// snapRecord is a record using every part of the snapshot encoding:
// register siblings and superseded ids, set elements with live and removed
// adds, log entries, a redacted entry and a pending redaction.
func snapRecord(t *testing.T) *Record {
	t.Helper()
	r := NewRecord(mtRec, model.KindIdentification)
	for _, js := range []string{
		mtOp(1, "status", "set", `"potential"`, "", 10),
		mtOp(2, "status", "set", `"presumed"`, "", 11),
		mtOp(3, "region", "set", `"north"`, mtBase(99), 12),
		mtOp(4, "indicators", "add", `"debt_bondage"`, "", 13),
		mtOp(5, "indicators", "remove", `"debt_bondage"`, mtBase(4), 14),
		mtOp(6, "indicators", "add", `"abduction"`, "", 15),
		mtOp(7, "notes", "append", `{"text":"kept"}`, "", 16),
		mtOp(8, "notes", "append", `{"text":"secret"}`, "", 17),
		mtOp(9, "notes", "redact", `null`, mtBase(8), 18),
		mtOp(10, "notes", "redact", `null`, mtBase(98), 19),
	} {
		mtApply(t, r, js)
	}
	return r
}

// oneFieldSnapshot is the version 1 snapshot of a record with one register
// holding one sibling, and the offset of that field's class byte.
func oneFieldSnapshot(t *testing.T) ([]byte, int) {
	t.Helper()
	r := NewRecord(mtRec, model.KindIdentification)
	mtApply(t, r, mtOp(1, "status", "set", `"potential"`, "", 10))
	data, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	v1 := toV1(data)
	class := 1 + 1 + len(mtRec) + 1 + len(model.KindIdentification) + 8 + 1 + 1 + len("status")
	if v1[class] != classRegister {
		t.Fatalf("byte %d is %d, not the register class", class, v1[class])
	}
	return v1, class
}

// toV1 turns a version 2 snapshot into the version 1 one (no checksum).
func toV1(v2 []byte) []byte {
	return append([]byte{snapshotV1}, v2[1:len(v2)-crc32.Size]...)
}

// reseal turns a version 1 snapshot, however damaged, into a version 2
// one with a valid checksum, so the checks behind the checksum are tested.
func reseal(v1 []byte) []byte {
	b := append([]byte{snapshotVersion}, v1[1:]...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// TestSnapshotRefusesEveryTruncationAndFlip: a snapshot round-trips, and
// every proper prefix of it and every one-byte change of it is refused,
// never decoded into a different record.
func TestSnapshotRefusesEveryTruncationAndFlip(t *testing.T) {
	r := snapRecord(t)
	data, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Record
	if err := back.UnmarshalBinary(data); err != nil {
		t.Fatalf("UnmarshalBinary of a fresh snapshot: %v", err)
	}
	if !bytes.Equal(back.Canonical(), r.Canonical()) {
		t.Fatalf("round trip changed the state:\ngot  %s\nwant %s", back.Canonical(), r.Canonical())
	}
	for n := range len(data) {
		var got Record
		if err := got.UnmarshalBinary(data[:n]); err == nil {
			t.Fatalf("a snapshot truncated to %d of %d bytes decoded", n, len(data))
		}
	}
	damaged := bytes.Clone(data)
	for i := range data {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			damaged[i] ^= mask
			var got Record
			if err := got.UnmarshalBinary(damaged); err == nil {
				t.Fatalf("a snapshot with byte %d xor %#x decoded", i, mask)
			}
			damaged[i] = data[i]
		}
	}
}

// TestSnapshotV1TruncationsRefused: snapshots written before the checksum
// still decode, to the same state, and every truncation of one is refused
// by the structure alone (snapshot.go: count and take refuse a short
// buffer).
func TestSnapshotV1TruncationsRefused(t *testing.T) {
	r := snapRecord(t)
	data, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	v1 := toV1(data)
	var back Record
	if err := back.UnmarshalBinary(v1); err != nil {
		t.Fatalf("UnmarshalBinary of a version 1 snapshot: %v", err)
	}
	if !bytes.Equal(back.Canonical(), r.Canonical()) {
		t.Fatalf("version 1 round trip changed the state:\ngot  %s\nwant %s", back.Canonical(), r.Canonical())
	}
	for n := range len(v1) {
		var got Record
		if err := got.UnmarshalBinary(v1[:n]); err == nil {
			t.Fatalf("a version 1 snapshot truncated to %d of %d bytes decoded", n, len(v1))
		}
		if n == 0 {
			continue
		}
		if err := got.UnmarshalBinary(reseal(v1[:n])); err == nil {
			t.Fatalf("a resealed snapshot truncated to %d of %d bytes decoded", n, len(v1))
		}
	}
	if err := back.UnmarshalBinary(append(bytes.Clone(v1), 0)); err == nil {
		t.Fatal("a version 1 snapshot with a trailing byte decoded")
	}
}

// TestSnapshotUnknownClassRefused: a field class byte other than register,
// set or log is refused, checksum or not.
func TestSnapshotUnknownClassRefused(t *testing.T) {
	v1, class := oneFieldSnapshot(t)
	for _, c := range []byte{0, classLog + 1, 0x80, 0xff} {
		bad := bytes.Clone(v1)
		bad[class] = c
		var r Record
		if err := r.UnmarshalBinary(bad); err == nil {
			t.Errorf("class byte %d accepted", c)
		}
		if err := r.UnmarshalBinary(reseal(bad)); err == nil {
			t.Errorf("class byte %d accepted behind a valid checksum", c)
		}
		// The unknown class as the snapshot's last byte: nothing else
		// (trailing or missing bytes) can refuse it.
		if err := r.UnmarshalBinary(reseal(bad[:class+1])); err == nil {
			t.Errorf("class byte %d ending the snapshot accepted", c)
		}
	}
}

// TestSnapshotFlagRefused: a log entry's redacted flag is 0 or 1; another
// byte is damage, not "not redacted".
func TestSnapshotFlagRefused(t *testing.T) {
	r := NewRecord(mtRec, model.KindIdentification)
	mtApply(t, r, mtOp(1, "notes", "append", `{"text":"a"}`, "", 10))
	data, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	v1 := toV1(data)
	// The flag is the entry's last byte, before the redactions count (0).
	flag := len(v1) - 2
	if v1[flag] != 0 || v1[flag+1] != 0 {
		t.Fatalf("unexpected layout: % x", v1[flag:])
	}
	v1[flag] = 2
	if err := r.UnmarshalBinary(reseal(v1)); err == nil {
		t.Fatal("redacted flag 2 accepted")
	}
}

// goldenSnapshotV2 is the snapshot of oneFieldSnapshot's record as version
// 2 writes it. It pins the format: a change to it must bump the version
// (and keep reading the old ones).
const goldenSnapshotV2 = "022430303030303030302d303030302d343030302d383030302d3030303030303030303030310e6964656e74696669636174696f6e000000000000000a010673746174757301012430303030303030302d303030302d343030302d383030302d3030303030303030303030310b22706f74656e7469616c22000000000000000a2430303030303030302d303030302d343030302d383030302d30303030303030303030643100000000"

// TestSnapshotFormatPinned: the encoding of a known record is the golden
// one, starting with version 2, and its version 1 form still decodes.
func TestSnapshotFormatPinned(t *testing.T) {
	v1, _ := oneFieldSnapshot(t)
	r := NewRecord(mtRec, model.KindIdentification)
	mtApply(t, r, mtOp(1, "status", "set", `"potential"`, "", 10))
	data, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != 2 {
		t.Fatalf("version byte = %d, want 2", data[0])
	}
	want, err := hex.DecodeString(goldenSnapshotV2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data[:len(data)-crc32.Size], want) {
		t.Fatalf("snapshot changed:\ngot  %x\nwant %x", data[:len(data)-crc32.Size], want)
	}
	var back Record
	if err := back.UnmarshalBinary(v1); err != nil || !bytes.Equal(back.Canonical(), r.Canonical()) {
		t.Fatalf("version 1 snapshot: %v\ngot  %s\nwant %s", err, back.Canonical(), r.Canonical())
	}
}
