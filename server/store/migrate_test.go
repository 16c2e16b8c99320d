package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
)

// recordValueV1 encodes a keyspace version 1 r/ value.
func recordValueV1(creator string, ops []opSeq, snapshot []byte) []byte {
	b := binary.AppendUvarint(nil, uint64(len(creator)))
	b = append(b, creator...)
	b = binary.AppendUvarint(b, uint64(len(ops)))
	prev := uint64(0)
	for _, o := range ops {
		b = binary.AppendUvarint(b, o.fseq-prev)
		prev = o.fseq
		if o.bseq == o.fseq {
			b = binary.AppendUvarint(b, 0)
		} else {
			b = binary.AppendUvarint(b, o.bseq+1)
		}
	}
	return append(b, snapshot...)
}

// downgrade rewrites db's records in keyspace version 1, as a store
// written before version 2 holds them.
func downgrade(t *testing.T, db *DB, ids []string) {
	t.Helper()
	err := db.bdb.Update(func(txn *badger.Txn) error {
		for _, id := range ids {
			rs, err := loadRecord(txn, db.schema, db.keys, id)
			if err != nil {
				return err
			}
			snap, err := rs.rec.MarshalBinary()
			if err != nil {
				return err
			}
			if err := txn.Set(key(prefixRecord, id), recordValueV1(rs.scope.Creator, rs.ops, snap)); err != nil {
				return err
			}
			for p := 0; p*opPageSize < len(rs.ops); p++ {
				if err := txn.Delete(opListKey(id, p)); err != nil {
					return err
				}
			}
		}
		return txn.Set([]byte(keyLayout), []byte("1"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenMigratesVersion1: a store written in keyspace version 1 opens
// with the same records, histories and feeds, and takes new ops (a move
// among them, which needs the bucket the migration found).
func TestOpenMigratesVersion1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openAt(t, dir, Options{})
	a := newAuthor()
	teamA, teamB := newID(), newID()
	recs := []string{newID(), newID()}
	for _, rec := range recs {
		mustApplied(t, commit(t, db, a.identification(t, rec, teamA)...))
	}
	// The first record moves once, so its op list holds re-indexed entries.
	mustApplied(t, commit(t, db, a.op(t, recs[0], model.KindIdentification, model.FieldTeam, model.ActionSet, quote(teamB))))
	want := map[string][]byte{}
	for _, rec := range recs {
		st, err := db.Record(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		want[rec] = st.Record.Canonical()
	}
	downgrade(t, db, recs)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, dir, Options{})
	for _, rec := range recs {
		st, err := db.Record(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(st.Record.Canonical(), want[rec]) {
			t.Errorf("record %s changed in the migration", rec)
		}
		if hist, err := db.History(ctx, rec); err != nil || len(hist) < 3 {
			t.Errorf("History(%s) = %d ops, %v", rec, len(hist), err)
		}
	}
	// The second record moves from team A to team B: team A's feed gets a
	// drop marker, team B's its ops.
	mustApplied(t, commit(t, db, a.op(t, recs[1], model.KindIdentification, model.FieldTeam, model.ActionSet, quote(teamB))))
	entries := feedAll(t, db, []string{access.TeamBucket(teamA)}, 0, 100)
	if n := len(entries); n == 0 || !entries[n-1].Drop || entries[n-1].Record != recs[1] {
		t.Errorf("team A's feed does not end with the moved record's drop marker: %+v", entries)
	}
	ids, _ := entryIDs(t, feedAll(t, db, []string{access.TeamBucket(teamB)}, 0, 100))
	if len(ids) != 8 {
		t.Errorf("team B's feed has %d ops, want 8", len(ids))
	}
}
