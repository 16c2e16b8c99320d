package fieldsync

import (
	"context"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// TestWritesRefusedOverRecordLimits: the SDK refuses locally, with the
// server's code, a write that would grow a record past the schema's
// limits, queues nothing for it, and still writes redactions and status
// changes on a full record.
func TestWritesRefusedOverRecordLimits(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.user.Role = model.RoleSupervisor
	schema := model.DefaultSchema()
	schema.SetLimits(model.RecordLimits{MaxLogEntries: 3, MaxEntryBytes: 4 << 10, MaxRecordBytes: 15 << 10})
	c := loggedIn(t, t.TempDir(), f, func(o *Options) { o.Schema = schema })
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("notes", []map[string]any{{"text": "one"}, {"text": "two"}})))
	first := must[*Record](t)(c.Record(ctx, id)).Fields["notes"].Entries[0].Op
	must[string](t)(c.Append(ctx, id, "notes", map[string]any{"text": "three"}))
	queued := status(t, c).Outbox

	_, err := c.Append(ctx, id, "notes", map[string]any{"text": "four"})
	if got := model.ErrorCode(err); got != model.CodeRecordTooLarge {
		t.Fatalf("append to a full log: %v, want record_too_large", err)
	}
	_, err = c.Create(ctx, model.KindIdentification, F("team", f.team()), F("notes", []map[string]any{{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "d"}}))
	if got := model.ErrorCode(err); got != model.CodeRecordTooLarge {
		t.Fatalf("create with too many notes: %v, want record_too_large", err)
	}
	big := map[string]any{"text": strings.Repeat("x", 3<<10)}
	other := must[string](t)(c.CreateIdentification(ctx, f.team(), F("referrals", []map[string]any{{"service": "shelter"}})))
	for range 3 {
		must[string](t)(c.Append(ctx, other, "consent", map[string]any{"scope": big["text"]}))
	}
	must[string](t)(c.Append(ctx, other, "notes", big))
	queued += 6
	_, err = c.Append(ctx, other, "notes", big)
	if got := model.ErrorCode(err); got != model.CodeRecordTooLarge {
		t.Fatalf("append past max_record_bytes: %v, want record_too_large", err)
	}
	if got := status(t, c).Outbox; got != queued {
		t.Fatalf("outbox = %d, want %d (refused writes queue nothing)", got, queued)
	}

	// Never refused for size.
	must[string](t)(c.Redact(ctx, id, "notes", first))
	must[string](t)(c.Set(ctx, id, "status", "presumed"))
	must[string](t)(c.Set(ctx, id, "review_status", "needs_info"))
	must[string](t)(c.Set(ctx, other, "deleted", true))
	r := must[*Record](t)(c.Record(ctx, id))
	if e := r.Fields["notes"].Entries; len(e) != 3 || !e[0].Redacted {
		t.Fatalf("notes = %+v, want 3 entries, the first redacted", e)
	}
}

// TestDefaultSchemaCarriesServerLimits: without Options.Schema the SDK
// refuses with the model's default limits, the server's defaults.
func TestDefaultSchemaCarriesServerLimits(t *testing.T) {
	c := open(t, t.TempDir(), nil)
	if got, want := c.schema.Limits, model.DefaultRecordLimits; got != want {
		t.Fatalf("limits = %+v, want the defaults %+v", got, want)
	}
}
