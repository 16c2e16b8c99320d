package fieldsync

import (
	"context"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// TestPulledValuesStayCanonical: the server's pull page escapes '<', '>',
// '&', U+2028 and U+2029 inside strings as encoding/json does; the device
// keeps the op's canonical value all the same, so its record is byte for
// byte the server's.
func TestPulledValuesStayCanonical(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	f.inject(otherOp(id, model.KindIdentification, "notes", model.ActionAppend, map[string]any{"text": "<b>Tom & Jerry</b>\u2028next"}))
	f.inject(otherOp(id, model.KindIdentification, "location", model.ActionSet, "bar <north> & co"))
	if _, err := c.pull(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := must[*Record](t)(c.Record(ctx, id)).Canonical(), f.state(t, id); string(got) != string(want) {
		t.Fatalf("device %s\nserver %s", got, want)
	}
}
