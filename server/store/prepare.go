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
// (record id and served JSON), which the single writer then only has to
// store.

// prepare fills req.feeds.
func (db *DB) prepare(req *request) {
	req.feeds = make([][]byte, len(req.ops))
	for i := range req.ops {
		op := &req.ops[i].Op
		if op.Action == model.ActionAppend {
			continue // sealed by the writer (datakeys.go)
		}
		req.feeds[i] = op.AppendJSON(append(make([]byte, 0, idLen+320+len(op.Value)), op.Record...))
	}
}

// prepared makes the f/ value prepared for the op about to be applied
// available to the group; none when decide changed the op.
func (g *group) prepared(it *item, p *protocol.Pending) {
	g.feed, g.feedID = nil, ""
	if it.req.feeds != nil && sameOp(&p.Op, &it.req.ops[it.index].Op) {
		g.feed, g.feedID = it.req.feeds[it.index], p.Op.ID
	}
}

func sameOp(a, b *crdt.Op) bool {
	return a.ID == b.ID && a.Record == b.Record && a.Kind == b.Kind && a.Field == b.Field && a.Action == b.Action &&
		a.HLC == b.HLC && a.Device == b.Device && a.User == b.User && bytes.Equal(a.Value, b.Value) && slices.Equal(a.Base, b.Base)
}
