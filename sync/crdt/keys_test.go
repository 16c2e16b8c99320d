package crdt

import (
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestCompareKeysIsByteOrder: the order of keys, read mostly from their
// inline prefix, is strings.Compare of their strings, also for strings
// shorter than the prefix, with zero bytes, or sharing it.
func TestCompareKeysIsByteOrder(t *testing.T) {
	alphabet := rapid.SampledFrom([]byte{0, 1, 'a', 'b', 0xff})
	str := rapid.Custom(func(t *rapid.T) string {
		return string(rapid.SliceOfN(alphabet, 0, 12).Draw(t, "bytes"))
	})
	rapid.Check(t, func(t *rapid.T) {
		a, b := str.Draw(t, "a"), str.Draw(t, "b")
		switch rapid.IntRange(0, 2).Draw(t, "relation") {
		case 1: // b is a prefix of a
			b = a[:rapid.IntRange(0, len(a)).Draw(t, "cut")]
		case 2: // b is a, zero bytes, then anything
			b = a + strings.Repeat("\x00", rapid.IntRange(0, 9).Draw(t, "zeros")) + b
		}
		if got, want := compareKeys(keyOf(a), keyOf(b)), strings.Compare(a, b); got != want {
			t.Fatalf("compareKeys(%q, %q) = %d, want %d", a, b, got, want)
		}
		var s setField
		s.elems = []element{{name: keyOf(a)}}
		if i, found := s.find([]byte(b)); found != (a == b) || (i == 0) != (b <= a) {
			t.Fatalf("find(%q) in {%q} = %d, %v", b, a, i, found)
		}
	})
}
