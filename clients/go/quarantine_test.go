package fieldsync

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// TestResendFixesAQuarantinedRecord: a new identification with a mistyped
// team is rejected as a whole; Resend with the right team writes it again
// (same record id, new ops), the next Sync is accepted, and the quarantine
// is empty. Dismiss drops another rejected op for good.
func TestResendFixesAQuarantinedRecord(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	bad := uuid.NewString()
	rejected := map[string]bool{}
	f.decide = func(op *crdt.Op) *protocol.Result {
		if op.Field == model.FieldTeam {
			rejected[op.Record] = string(op.Value) == `"`+bad+`"`
		}
		if rejected[op.Record] || op.Field == "sex" {
			return &protocol.Result{ID: op.ID, Status: protocol.StatusRejected, Code: model.CodeForbidden, Message: "You are not in this team."}
		}
		return nil
	}
	c := loggedIn(t, t.TempDir(), f)
	if got := c.Teams(); len(got) != 1 || got[0].ID != f.team() || got[0].Name != "Mobile team North" {
		t.Fatalf("Teams() = %+v, want the team with its name", got)
	}
	id := must[string](t)(c.CreateIdentification(ctx, bad, F("status", "potential")))
	good := must[string](t)(c.CreateIdentification(ctx, f.team()))
	sex := must[string](t)(c.Set(ctx, good, "sex", "female"))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	st := status(t, c)
	if st.Quarantine != 3 || st.Pushed != 1 || st.Pulled == 0 {
		t.Fatalf("status = %+v, want 3 quarantined, 1 pushed, some pulled", st)
	}
	q := must[[]Rejected](t)(c.Quarantine(ctx))
	var ids []string
	for _, r := range q {
		if r.Op.Record == id {
			ids = append(ids, r.Op.ID)
		}
	}
	if _, err := c.Resend(ctx, ids, F("sex", "male")); err == nil {
		t.Fatal("Resend accepted a fix of a field none of the ops sets")
	}
	if err := c.Dismiss(ctx, sex, uuid.NewString()); !errors.Is(err, ErrNotQuarantined) {
		t.Fatalf("Dismiss of an unknown op: %v, want ErrNotQuarantined", err)
	}
	made := must[[]string](t)(c.Resend(ctx, ids, F(model.FieldTeam, f.team())))
	if len(made) != 2 {
		t.Fatalf("resent %d ops, want 2", len(made))
	}
	if err := c.Dismiss(ctx, sex); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := status(t, c); st.Quarantine != 0 || st.Outbox != 0 {
		t.Fatalf("status = %+v, want nothing quarantined or queued", st)
	}
	r := must[*Record](t)(c.Record(ctx, id))
	if got, want := string(r.Fields[model.FieldTeam].Value), `"`+f.team()+`"`; got != want {
		t.Fatalf("team = %s, want %s", got, want)
	}
	if got, want := r.Canonical(), f.state(t, id); string(got) != string(want) {
		t.Errorf("device and server differ:\ndevice %s\nserver %s", got, want)
	}
}
