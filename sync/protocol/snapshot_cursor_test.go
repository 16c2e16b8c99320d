package protocol

import "testing"

// TestSnapshotCursorRoundTrip: a snapshot cursor opens to its sequence,
// view and last record id; pull and snapshot cursors are never taken for
// each other, and a cursor of another key or altered is refused.
func TestSnapshotCursorRoundTrip(t *testing.T) {
	c, err := newCursorCodec([]byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := newCursorCodec([]byte("other key"))
	if err != nil {
		t.Fatal(err)
	}
	const id = "0190a3c2-7a1e-7b3c-8d4e-100000000001"
	for _, after := range []string{"", id} {
		cur := c.encodeSnapshot(42, 7, after)
		seq, view, got, ok := c.decodeSnapshot(cur)
		if !ok || seq != 42 || view != 7 || got != after {
			t.Errorf("decodeSnapshot(encodeSnapshot(42, 7, %q)) = %d, %d, %q, %v", after, seq, view, got, ok)
		}
		if _, _, ok := c.decode(cur); ok {
			t.Errorf("a snapshot cursor (after %q) opens as a pull cursor", after)
		}
		if _, _, _, ok := other.decodeSnapshot(cur); ok {
			t.Error("a snapshot cursor opens under another key")
		}
		if _, _, _, ok := c.decodeSnapshot(cur[:len(cur)-1] + "A"); ok && cur[len(cur)-1] != 'A' {
			t.Error("an altered snapshot cursor opens")
		}
	}
	if _, _, _, ok := c.decodeSnapshot(c.encode(42, 7)); ok {
		t.Error("a pull cursor opens as a snapshot cursor")
	}
}
