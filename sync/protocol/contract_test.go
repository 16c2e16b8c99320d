package protocol_test

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/fieldsync/fieldsync/sync/protocol"
)

// contractStore is the fake store holding decide to the contracts
// protocol.Store states: decide may be called again for the same op (and
// must then give the same result), and must not modify Tx.Record's
// result.
type contractStore struct {
	*fakeStore
	t *testing.T
}

func (c contractStore) Commit(ctx context.Context, ops []protocol.Pending, decide protocol.Decide) ([]protocol.Result, error) {
	return c.fakeStore.Commit(ctx, ops, func(tx protocol.Tx, p *protocol.Pending) protocol.Decision {
		before := recordBytes(c.t, tx, p.Op.Record)
		again := *p
		first := decide(tx, &again)
		if after := recordBytes(c.t, tx, p.Op.Record); !bytes.Equal(before, after) {
			c.t.Errorf("op %s: decide modified the record Tx.Record returned:\nbefore %s\nafter  %s", p.Op.ID, before, after)
		}
		res := decide(tx, p)
		if !reflect.DeepEqual(first, res) {
			c.t.Errorf("op %s: decide called again gave %+v, first %+v", p.Op.ID, res, first)
		}
		return res
	})
}

// recordBytes is the canonical state of record id as tx shows it (nil
// when absent).
func recordBytes(t *testing.T, tx protocol.Tx, id string) []byte {
	st, ok, err := tx.Record(id)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil
	}
	return st.Record.Canonical()
}

// TestDecideKeepsStoreContracts: pushes of every kind of op, by every
// role, through a store that calls decide twice and checks it left the
// records it read untouched.
func TestDecideKeepsStoreContracts(t *testing.T) {
	w := newWorld(t)
	w.svc.Store = contractStore{fakeStore: w.store, t: t}
	recs := populate(w)
	w.push(fwA, w.set(fwA, recs["A0"], ident, "status", "presumed"))
	w.push(fwB, w.set(fwB, recs["A0"], ident, "code", "not mine"))
}
