package fieldsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// ErrNotQuarantined: an op id given to Dismiss or Resend is not in the
// quarantine.
var ErrNotQuarantined = errors.New("fieldsync: op not in the quarantine")

// quarantined is a quarantine entry with its key.
type quarantined struct {
	seq uint64
	Rejected
}

// quarantinedOf returns the quarantine entries of ids, in quarantine order
// (the order they were written); every id must be there.
func quarantinedOf(b *badger.Txn, ids []string) ([]quarantined, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []quarantined
	it := b.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixQuarantine), PrefetchValues: true})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		var q quarantined
		if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &q.Rejected) }); err != nil {
			return nil, fmt.Errorf("decode quarantined op: %w", err)
		}
		if want[q.Op.ID] {
			q.seq = seqOf(it.Item().Key())
			out = append(out, q)
			delete(want, q.Op.ID)
		}
	}
	for _, id := range ids {
		if want[id] {
			return nil, fmt.Errorf("%w: %s", ErrNotQuarantined, id)
		}
	}
	return out, nil
}

// Dismiss removes the quarantined ops ids for good (the user gave up on
// them). Nothing is removed unless every id is in the quarantine.
func (c *Client) Dismiss(ctx context.Context, ids ...string) error {
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	err := c.update(func(t *tx) error {
		qs, err := quarantinedOf(t.b, ids)
		if err != nil {
			return err
		}
		for _, q := range qs {
			if err := t.del(quarantineKey(q.seq)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dismiss quarantined ops: %w", err)
	}
	return nil
}

// Resend writes the quarantined ops ids again, as new ops (new ids, stamped
// now), in the order they were first written, and takes them out of the
// quarantine, all in one durable local write; it returns the new op ids.
// A FieldValue in fix replaces the value of the resent set ops of its
// field (the mistyped team of a new identification, say); every fix must
// match one. A record the device no longer holds (every op of a new
// record was rejected) is created again under the same id. Like every
// local write, the new ops are checked against the schema and the user's
// role first, and the server decides again at the next Sync.
func (c *Client) Resend(ctx context.Context, ids []string, fix ...FieldValue) ([]string, error) {
	if err := c.enter(); err != nil {
		return nil, err
	}
	defer c.leave()
	user, ok := c.user()
	if !ok {
		return nil, ErrNotLoggedIn
	}
	var made []string
	err := c.update(func(t *tx) error {
		made = nil
		qs, err := quarantinedOf(t.b, ids)
		if err != nil {
			return err
		}
		if err := checkFixes(qs, fix); err != nil {
			return err
		}
		for _, q := range qs {
			r, exists, err := t.record(q.Op.Record)
			if err != nil {
				return err
			}
			if !exists {
				r = t.create(q.Op.Record, q.Op.Kind)
			}
			s, err := resendSpec(r, &q.Op, fix)
			if err != nil {
				return err
			}
			op, err := c.writeLocal(t, r, s, user)
			if err != nil {
				return err
			}
			if err := t.del(quarantineKey(q.seq)); err != nil {
				return err
			}
			made = append(made, op.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resend quarantined ops: %w", err)
	}
	c.wake()
	return made, nil
}

// checkFixes refuses a fix that no resent set op would use.
func checkFixes(qs []quarantined, fix []FieldValue) error {
	for _, f := range fix {
		if !slices.ContainsFunc(qs, func(q quarantined) bool { return q.Op.Field == f.Field && q.Op.Action == model.ActionSet }) {
			return model.Errorf(model.CodeInvalidValue, "No quarantined op sets %q, so there is nothing to fix there.", f.Field)
		}
	}
	return nil
}

// resendSpec is the write that replays op on the device's current state:
// a set covers the field's current values (and takes its fixed value), a
// remove the element's live adds, a redact its original target.
func resendSpec(r *crdt.Record, op *crdt.Op, fix []FieldValue) (spec, error) {
	s := spec{field: op.Field, action: op.Action, value: json.RawMessage(op.Value)}
	switch op.Action {
	case model.ActionSet:
		for _, sib := range r.Siblings(op.Field) {
			s.base = append(s.base, sib.Op)
		}
		for _, f := range fix {
			if f.Field == op.Field {
				s.value = f.Value
			}
		}
	case model.ActionRemove:
		var element string
		if err := json.Unmarshal(op.Value, &element); err != nil {
			return s, fmt.Errorf("decode removed element: %w", err)
		}
		s.base = r.LiveAdds(op.Field, element)
	case model.ActionRedact:
		s.base = op.Base
	}
	return s, nil
}
