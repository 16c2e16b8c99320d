package hlc_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fieldsync/fieldsync/sync/hlc"
)

// TestStringIsZeroPaddedHex checks String against %016x on edge values
// and random ones.
func TestStringIsZeroPaddedHex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []uint64{0, 1, 0xf, 0x10, 0xabcdef, 1<<63 - 1, 1 << 63, ^uint64(0)}
	for range 1000 {
		values = append(values, rng.Uint64()>>rng.IntN(64))
	}
	for _, v := range values {
		if got, want := hlc.Timestamp(v).String(), fmt.Sprintf("%016x", v); got != want {
			t.Errorf("Timestamp(%#x).String() = %q, want %q", v, got, want)
		}
	}
}

// TestStringAllocs checks that String costs one allocation (the string),
// not a formatter's.
func TestStringAllocs(t *testing.T) {
	ts := hlc.Timestamp(rand.Uint64() | 1<<60)
	if got := testing.AllocsPerRun(100, func() { ts++; _ = ts.String() }); got > 1 {
		t.Errorf("String allocates %v times, want at most 1", got)
	}
}
