package store

import (
	"bytes"
	"slices"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// Work that does not depend on the writer's state is done by Commit's
// caller, concurrently, before the request is queued: each op's f/ value
// (record id and served JSON) or, with a key store, all of its sealed f/
// value but the sealed bytes (sealedHead), so that the single writer
// only has to seal and store.

// preparedOp is what Commit's caller made ahead of one op.
type preparedOp struct {
	// feed is the op's f/ value without a key store; with one, the
	// sealed value's head (sealedHead), mid the bytes to seal.
	feed, mid []byte
	// n is the length of the op's served JSON.
	n int
}

// prepare fills req.prep.
func (db *DB) prepare(req *request) {
	req.prep = make([]preparedOp, len(req.ops))
	for i := range req.ops {
		op := &req.ops[i].Op
		full := op.AppendJSON(append(make([]byte, 0, idLen+320+len(op.Value)), op.Record...))
		req.prep[i].n = len(full) - idLen
		if db.keys == nil {
			req.prep[i].feed = full
			continue
		}
		mark := byte(recordSealMark)
		if op.Action == model.ActionAppend {
			mark = sealMark
		}
		r := op.Redacted()
		red := r.AppendJSON(make([]byte, 0, 320))
		req.prep[i].feed, req.prep[i].mid = sealedHead(mark, op.Record, op.ID, full[idLen:], red)
	}
}

// prepared makes what was prepared for the op about to be applied
// available to the group; nothing when decide changed the op.
func (g *group) prepared(it *item, p *protocol.Pending) {
	g.prep, g.prepID = preparedOp{}, ""
	if it.req.prep != nil && sameOp(&p.Op, &it.req.ops[it.index].Op) {
		g.prep, g.prepID = it.req.prep[it.index], p.Op.ID
	}
}

func sameOp(a, b *crdt.Op) bool {
	return a.ID == b.ID && a.Record == b.Record && a.Kind == b.Kind && a.Field == b.Field && a.Action == b.Action &&
		a.HLC == b.HLC && a.Device == b.Device && a.User == b.User && bytes.Equal(a.Value, b.Value) && slices.Equal(a.Base, b.Base)
}
