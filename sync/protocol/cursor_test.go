package protocol

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// TestCursorOpenEverySeal: open returns the plaintext of every seal,
// the empty one included (the shortest sealed cursor is exactly a nonce
// and a tag long, which open's length guard must let through).
func TestCursorOpenEverySeal(t *testing.T) {
	c, err := newCursorCodec([]byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, cursorPlain, 50} {
		t.Run(fmt.Sprintf("%d bytes", n), func(t *testing.T) {
			want := bytes.Repeat([]byte{7}, n)
			got, ok := c.open(c.seal(want))
			if !ok || !bytes.Equal(got, want) {
				t.Errorf("open(seal(%d bytes)) = %x, %v, want %x, true", n, got, ok, want)
			}
		})
	}
}

// TestCursorDecodeRefusesWrongLength: a sealed plaintext with the pull
// cursor's version byte but another length is refused, never read past
// its end.
func TestCursorDecodeRefusesWrongLength(t *testing.T) {
	c, err := newCursorCodec([]byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	full := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64([]byte{cursorVersion}, 42), 7)
	tests := []struct {
		name  string
		plain []byte
		ok    bool
	}{
		{"as encode makes it", full, true},
		{"version only", []byte{cursorVersion}, false},
		{"one byte short", full[:cursorPlain-1], false},
		{"one byte long", append(full[:cursorPlain:cursorPlain], 0), false},
		{"other version", append([]byte{cursorVersion + 1}, full[1:]...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq, view, ok := c.decode(c.seal(tt.plain))
			if ok != tt.ok {
				t.Fatalf("decode ok = %v, want %v", ok, tt.ok)
			}
			if ok && (seq != 42 || view != 7) {
				t.Errorf("decode = %d, %d, want 42, 7", seq, view)
			}
		})
	}
}

// TestSnapshotCursorDecodeRefusesShort: a sealed plaintext with the
// snapshot cursor's version byte but shorter than its fixed part is
// refused, never read past its end.
func TestSnapshotCursorDecodeRefusesShort(t *testing.T) {
	c, err := newCursorCodec([]byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	v3 := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64([]byte{snapshotVersion3}, 42), 7)
	v4 := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64([]byte{snapshotVersion}, 42), 7)
	v4 = binary.BigEndian.AppendUint64(append(v4, phaseRest), 99)
	badPhase := append([]byte(nil), v4...)
	badPhase[13] = phaseRest + 1
	tests := []struct {
		name  string
		plain []byte
		ok    bool
	}{
		{"version 3, fixed part only", v3, true},
		{"version 3, version only", []byte{snapshotVersion3}, false},
		{"version 3, one byte short", v3[:cursorPlain-1], false},
		{"version 4, fixed part only", v4, true},
		{"version 4, version 3's length", v4[:cursorPlain], false},
		{"version 4, one byte short", v4[:snapshotPlain-1], false},
		{"version 4, unknown phase", badPhase, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pos, view, ok := c.decodeSnapshot(c.seal(tt.plain))
			if ok != tt.ok {
				t.Fatalf("decodeSnapshot ok = %v, want %v", ok, tt.ok)
			}
			if ok && (pos.seq != 42 || view != 7 || pos.after != "") {
				t.Errorf("decodeSnapshot = %d, %d, %q, want 42, 7, \"\"", pos.seq, view, pos.after)
			}
		})
	}
}
