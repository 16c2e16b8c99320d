package fieldsync

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// Record returns the merged local state of record id, conflicts with
// author, device and time included, or ErrNotFound.
func (c *Client) Record(ctx context.Context, id string) (*Record, error) {
	var out *Record
	err := c.read(ctx, func(b *badger.Txn) error {
		r, err := loadExisting(b, c.schema, id)
		if err != nil {
			return err
		}
		out = recordOf(c.schema, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read record: %w", err)
	}
	return out, nil
}

// History returns the ops of record id held on this device (received and
// unsent alike), sorted by (hlc, device, id); redacted entries' values are
// null.
func (c *Client) History(ctx context.Context, id string) ([]crdt.Op, error) {
	var ops []crdt.Op
	err := c.read(ctx, func(b *badger.Txn) error {
		var err error
		ops, err = storedOps(b, recordOpsPrefix(id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	crdt.SortOps(ops)
	return ops, nil
}

// RecordJSON returns record id exactly as GET /v1/records/{id} serves it
// (?history=true when history), in canonical form.
func (c *Client) RecordJSON(ctx context.Context, id string, history bool) ([]byte, error) {
	var out []byte
	err := c.read(ctx, func(b *badger.Txn) error {
		r, err := loadExisting(b, c.schema, id)
		if err != nil {
			return err
		}
		var ops []crdt.Op
		if history {
			if ops, err = storedOps(b, recordOpsPrefix(id)); err != nil {
				return err
			}
			crdt.SortOps(ops)
			if ops == nil {
				ops = []crdt.Op{}
			}
		}
		out = r.AppendJSON(nil, ops)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read record: %w", err)
	}
	return out, nil
}

// Query selects records for List.
type Query struct {
	// Kind limits the list to one kind ("" for every kind).
	Kind string
	// Where holds filters that must all match.
	Where []Filter
	// Deleted includes deleted records.
	Deleted bool
	// Conflicted limits the list to records with register conflicts.
	Conflicted bool
}

// Filter matches a register whose shown value equals Value, or a set that
// holds Value.
type Filter struct {
	// Field names a register or set field of the kind.
	Field string
	// Value is compared as JSON with the register's shown value, or
	// looked up among the set's elements (a string).
	Value any
}

// List returns the local records that match q, most recently changed
// first (by hlc, then id).
func (c *Client) List(ctx context.Context, q Query) ([]*Record, error) {
	prefix := []byte(prefixRecord)
	if q.Kind != "" {
		prefix = kindPrefix(q.Kind)
	}
	if q.Conflicted {
		prefix = []byte(prefixConflict)
	}
	var out []*Record
	err := c.read(ctx, func(b *badger.Txn) error {
		for _, k := range prefixKeys(b, prefix) {
			id := string(k[strings.LastIndexByte(string(k), '/')+1:])
			r, err := loadRecord(b, c.schema, id)
			if err != nil {
				return err
			}
			if r == nil || q.Kind != "" && r.Kind != q.Kind || r.Deleted() && !q.Deleted || !matches(c.schema, r, q.Where) {
				continue
			}
			out = append(out, recordOf(c.schema, r))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list records: %w", err)
	}
	slices.SortFunc(out, func(a, b *Record) int {
		if a.HLC != b.HLC {
			if a.HLC > b.HLC {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Conflicts returns the records holding register conflicts (deleted ones
// included): the ones a supervisor has to look at.
func (c *Client) Conflicts(ctx context.Context) ([]*Record, error) {
	return c.List(ctx, Query{Conflicted: true, Deleted: true})
}

func matches(s *model.Schema, r *crdt.Record, where []Filter) bool {
	for _, f := range where {
		decl, err := s.Field(r.Kind, f.Field)
		if err != nil {
			return false
		}
		want, err := json.Marshal(f.Value)
		if err != nil {
			return false
		}
		switch decl.Class {
		case model.ClassRegister:
			if !jsonEqual(r.Value(f.Field), want) {
				return false
			}
		case model.ClassSet:
			str, ok := f.Value.(string)
			if !ok || !slices.Contains(r.Elements(f.Field), str) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func jsonEqual(a, b []byte) bool {
	if len(a) == 0 {
		return false
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// read runs fn in a read-only transaction while the store is open.
func (c *Client) read(ctx context.Context, fn func(b *badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	return c.view(fn)
}
