package crdt

import (
	"bytes"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// FuzzUnmarshalBinary: a stored snapshot, however damaged, never panics the
// engine: it is refused, or it restores to a record that encodes, applies
// ops and re-encodes to the same state.
func FuzzUnmarshalBinary(f *testing.F) {
	r := NewRecord("00000000-0000-4000-8000-000000000001", model.KindIdentification)
	op, _ := DecodeOp([]byte(`{"id":"00000000-0000-4000-8000-000000000002","record":"00000000-0000-4000-8000-000000000001","kind":"identification","field":"notes","action":"append","value":{"text":"x"},"hlc":"0000000000000001","device":"00000000-0000-4000-8000-000000000003"}`))
	_, _ = r.Apply(model.DefaultSchema(), &op)
	seed, _ := r.MarshalBinary()
	f.Add(seed)
	f.Add([]byte(`{"fields":{"status":{"class":"register","siblings":[{}],"superseded":["x"]}}}`))
	f.Add([]byte(`{"fields":{"indicators":{"class":"set","elements":{"a":{"live":["1"],"removed":["1"]}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec Record
		if rec.UnmarshalBinary(data) != nil {
			return
		}
		first := rec.Canonical()
		again, err := rec.MarshalBinary()
		if err != nil {
			t.Fatalf("a restored record does not encode: %v", err)
		}
		var back Record
		if err := back.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded snapshot refused: %v", err)
		}
		if !bytes.Equal(back.Canonical(), first) {
			t.Fatalf("snapshot round trip changed the state:\n%s\n%s", first, back.Canonical())
		}
	})
}
