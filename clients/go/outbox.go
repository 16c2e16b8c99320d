package fieldsync

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// enqueue queues op at the end of the outbox (caller holds writeMu). The
// sequence moves on even if the transaction fails: gaps are harmless.
func (c *Client) enqueue(t *tx, op *crdt.Op) error {
	seq := c.nextSeq
	c.nextSeq++
	if err := t.set(outboxKey(seq), op.AppendJSON(nil)); err != nil {
		return err
	}
	return t.set(outboxIDKey(op.ID), encodeSeq(seq))
}

// pending is one outbox entry on its way to the server.
type pending struct {
	seq uint64
	raw []byte
	op  crdt.Op
}

// outboxBatch returns the oldest outbox entries, at most maxOps of them
// and, beyond the first, at most maxBytes of op JSON.
func (c *Client) outboxBatch(maxOps, maxBytes int) ([]pending, error) {
	var batch []pending
	err := c.view(func(b *badger.Txn) error {
		it := b.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixOutbox), PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		size := 0
		for it.Rewind(); it.Valid() && len(batch) < maxOps; it.Next() {
			raw, err := it.Item().ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read outbox: %w", err)
			}
			if len(batch) > 0 && size+len(raw)+1 > maxBytes {
				break
			}
			op, err := decodeStored(raw)
			if err != nil {
				return err
			}
			size += len(raw) + 1
			batch = append(batch, pending{seq: seqOf(it.Item().Key()), raw: raw, op: op})
		}
		return nil
	})
	return batch, err
}

// outboxOf returns the outbox entries of record.
func outboxOf(t *tx, record string) ([]pending, error) {
	it := t.b.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixOutbox), PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	var out []pending
	for it.Rewind(); it.Valid(); it.Next() {
		raw, err := it.Item().ValueCopy(nil)
		if err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		op, err := decodeStored(raw)
		if err != nil {
			return nil, err
		}
		if op.Record == record {
			out = append(out, pending{seq: seqOf(it.Item().Key()), raw: raw, op: op})
		}
	}
	return out, nil
}

// inOutbox reports whether op id is still in the outbox.
func inOutbox(t *tx, id string) (uint64, bool, error) {
	v, err := t.get(outboxIDKey(id))
	if err != nil || v == nil {
		return 0, false, err
	}
	return decodeSeq(v), true, nil
}

// dequeue removes an answered op from the outbox.
func dequeue(t *tx, seq uint64, id string) error {
	if err := t.del(outboxKey(seq)); err != nil {
		return err
	}
	return t.del(outboxIDKey(id))
}

// Rejected is an op the server refused (or that can no longer be sent),
// kept for the user with the server's reason. The op no longer counts in
// the local state.
type Rejected struct {
	// Op is the op as written on this device.
	Op crdt.Op `json:"op"`
	// Code and Message are the server's reason (or the SDK's, for an op
	// of a record the device lost access to: forbidden).
	Code    model.Code `json:"code"`
	Message string     `json:"message"`
	// At is when the device learned of the rejection (device clock).
	At time.Time `json:"at"`
}

// quarantine moves an outbox entry to the quarantine and takes its op out
// of the local state (rebuilding the record without it).
func (c *Client) quarantine(t *tx, p pending, code model.Code, message string) error {
	if err := dequeue(t, p.seq, p.op.ID); err != nil {
		return err
	}
	data, err := json.Marshal(Rejected{Op: p.op, Code: code, Message: message, At: c.opt.Now().UTC()})
	if err != nil {
		return fmt.Errorf("encode quarantined op: %w", err)
	}
	if err := t.set(quarantineKey(p.seq), data); err != nil {
		return err
	}
	c.log.Warn("op quarantined", "op", p.op.ID, "record", p.op.Record, "field", p.op.Field, "code", code)
	key := opKey(p.op.Record, p.op.Field, p.op.ID)
	if ok, err := t.has(key); err != nil || !ok {
		return err
	}
	if err := t.del(key); err != nil {
		return err
	}
	t.stale[p.op.Record] = true
	return nil
}

// Quarantine returns the ops the server rejected, oldest first, with its
// code and message, and the ops of records this device lost access to
// before they were sent (code forbidden). They are never sent again.
func (c *Client) Quarantine(ctx context.Context) ([]Rejected, error) {
	if err := c.enter(); err != nil {
		return nil, err
	}
	defer c.leave()
	var out []Rejected
	err := c.view(func(b *badger.Txn) error {
		it := b.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixQuarantine), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var r Rejected
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &r) }); err != nil {
				return fmt.Errorf("decode quarantined op: %w", err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	return out, nil
}
