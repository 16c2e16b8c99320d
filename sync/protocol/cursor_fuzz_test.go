package protocol

import "testing"

// FuzzDecodeCursor: any string either is refused or round-trips to the
// cursor that encodes the same position; never a panic.
func FuzzDecodeCursor(f *testing.F) {
	c, err := newCursorCodec([]byte("fuzz key"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.encode(0, 0))
	f.Add(c.encode(1<<40, 0xdeadbeef))
	f.Add("")
	f.Add("not a cursor")
	f.Fuzz(func(t *testing.T, s string) {
		seq, view, ok := c.decode(s)
		if !ok {
			return
		}
		again, v2, ok2 := c.decode(c.encode(seq, view))
		if !ok2 || again != seq || v2 != view {
			t.Fatalf("%q decoded to (%d,%d), which does not round-trip", s, seq, view)
		}
	})
}
