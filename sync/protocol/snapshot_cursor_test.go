package protocol

import "testing"

// TestSnapshotCursorRoundTrip: a snapshot cursor opens to its sequence,
// view, phase, open-cases cut-off and last record id (a version-3 cursor,
// issued before open cases first, to the whole snapshot in id order); pull and snapshot cursors are never taken for
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
		want := snapshotPos{seq: 42, phase: phaseRest, since: 1_700_000_000, after: after}
		cur := c.encodeSnapshot(want, 7)
		got, view, ok := c.decodeSnapshot(cur)
		if !ok || got != want || view != 7 {
			t.Errorf("decodeSnapshot(encodeSnapshot(%+v, 7)) = %+v, %d, %v", want, got, view, ok)
		}
		if _, _, ok := c.decode(cur); ok {
			t.Errorf("a snapshot cursor (after %q) opens as a pull cursor", after)
		}
		if _, _, ok := other.decodeSnapshot(cur); ok {
			t.Error("a snapshot cursor opens under another key")
		}
		if _, _, ok := c.decodeSnapshot(cur[:len(cur)-1] + "A"); ok && cur[len(cur)-1] != 'A' {
			t.Error("an altered snapshot cursor opens")
		}
	}
	if _, _, ok := c.decodeSnapshot(c.encode(42, 7)); ok {
		t.Error("a pull cursor opens as a snapshot cursor")
	}
	v3 := c.seal(append([]byte{snapshotVersion3, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 7}, id...))
	if got, view, ok := c.decodeSnapshot(v3); !ok || got != (snapshotPos{seq: 42, phase: phaseAll, after: id}) || view != 7 {
		t.Errorf("a version-3 snapshot cursor opens to %+v, %d, %v", got, view, ok)
	}
	bad := c.seal(append([]byte{snapshotVersion, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 7, phaseRest + 1}, make([]byte, 8)...))
	if _, _, ok := c.decodeSnapshot(bad); ok {
		t.Error("a snapshot cursor with an unknown phase opens")
	}
}
