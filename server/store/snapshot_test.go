package store

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// TestSnapshotPagesOneBucket: Snapshot pages through exactly the records
// indexed in the given buckets, in id order, each state equal to the
// record's (head plus tail), with the last committed seq; a redacted value
// is in no state.
func TestSnapshotPagesOneBucket(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	a := newAuthor()
	north, south := newID(), newID()
	var want []string
	for i := range 7 {
		id, team := newID(), north
		if i >= 5 {
			team = south
		} else {
			want = append(want, id)
		}
		mustApplied(t, commit(t, db, a.identification(t, id, team)...))
	}
	slices.Sort(want)
	secret := a.op(t, want[0], model.KindIdentification, "notes", model.ActionAppend, `{"text":"secret-snapshot-text"}`)
	mustApplied(t, commit(t, db, secret))
	mustApplied(t, commit(t, db, a.op(t, want[0], model.KindIdentification, "notes", model.ActionRedact, "null", secret.Op.ID)))
	last, err := db.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		page, err := db.Snapshot(ctx, protocol.SnapshotQuery{Buckets: []string{access.TeamBucket(north)}, After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if page.Seq != last || len(page.Records) > 2 || pages > 5 {
			t.Fatalf("page %d: seq %d (want %d), %d records (at most 2)", pages, page.Seq, last, len(page.Records))
		}
		for _, r := range page.Records {
			got = append(got, r.Record.ID)
			st, err := db.Record(ctx, r.Record.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.Record.Canonical(), st.Record.Canonical()) || r.Bucket != access.TeamBucket(north) || r.Scope.Team != north {
				t.Errorf("record %s: state, bucket %q or scope %+v differ from the store's", r.Record.ID, r.Bucket, r.Scope)
			}
			bin, err := r.Record.MarshalBinary()
			if err != nil || bytes.Contains(bin, []byte("secret-snapshot-text")) {
				t.Errorf("record %s: the snapshot holds a redacted value (err %v)", r.Record.ID, err)
			}
		}
		after = page.Last
		if !page.More {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("snapshot records %v, want %v", got, want)
	}
}
