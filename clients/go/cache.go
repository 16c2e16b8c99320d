package fieldsync

import (
	"container/list"

	"github.com/fieldsync/fieldsync/sync/crdt"
)

// recordCache keeps the most recently written records decoded, so a write
// to a large record does not decode its stored state first. It is used
// only by write transactions, under writeMu: a transaction works on the
// cached objects and the cache learns the outcome (commit keeps them,
// failure forgets them, as they may hold uncommitted changes).
type recordCache struct {
	max   int
	order *list.List // of *crdt.Record, most recent first
	byID  map[string]*list.Element
}

func newRecordCache(max int) *recordCache {
	return &recordCache{max: max, order: list.New(), byID: map[string]*list.Element{}}
}

func (rc *recordCache) get(id string) (*crdt.Record, bool) {
	e, ok := rc.byID[id]
	if !ok {
		return nil, false
	}
	rc.order.MoveToFront(e)
	return e.Value.(*crdt.Record), true
}

func (rc *recordCache) put(r *crdt.Record) {
	if e, ok := rc.byID[r.ID]; ok {
		e.Value = r
		rc.order.MoveToFront(e)
		return
	}
	rc.byID[r.ID] = rc.order.PushFront(r)
	for rc.order.Len() > rc.max {
		last := rc.order.Back()
		rc.order.Remove(last)
		delete(rc.byID, last.Value.(*crdt.Record).ID)
	}
}

func (rc *recordCache) remove(id string) {
	if e, ok := rc.byID[id]; ok {
		rc.order.Remove(e)
		delete(rc.byID, id)
	}
}

// committed records the state of every record a committed transaction
// touched (nil: deleted).
func (rc *recordCache) committed(records map[string]*crdt.Record) {
	for id, r := range records {
		if r == nil {
			rc.remove(id)
		} else {
			rc.put(r)
		}
	}
}

// failed forgets every record a failed transaction touched.
func (rc *recordCache) failed(records map[string]*crdt.Record) {
	for id := range records {
		rc.remove(id)
	}
}
