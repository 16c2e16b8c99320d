package fieldsync

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// FieldValue is one field given to Create: a register's value, a set's
// elements (a string or a []string) or a log's entries (an object or a
// slice of objects).
type FieldValue struct {
	// Field names a field of the kind being created.
	Field string
	// Value is what the field starts with.
	Value any
}

// F returns FieldValue{field, value}.
func F(field string, value any) FieldValue { return FieldValue{Field: field, Value: value} }

// spec is one op a write is about to make.
type spec struct {
	field  string
	action model.Action
	value  any
	base   []string
}

// Create creates a record of kind with fields, all in one durable local
// write, and returns its id. A kind with a scope (identification: team,
// site_visit: action_week) needs that field; its op goes first, as the
// server wants a record's first op to bring its scope.
func (c *Client) Create(ctx context.Context, kind string, fields ...FieldValue) (string, error) {
	k, ok := c.schema.Kinds[kind]
	if !ok {
		return "", fmt.Errorf("create record: %w", model.Errorf(model.CodeUnknownKind, "There is no record kind %q.", kind))
	}
	if k.Scope != "" {
		i := slices.IndexFunc(fields, func(f FieldValue) bool { return f.Field == k.Scope })
		if i < 0 {
			return "", fmt.Errorf("create record: %w", model.Errorf(model.CodeInvalidValue, "A new %s needs its %q.", kind, k.Scope))
		}
		fields = append([]FieldValue{fields[i]}, append(slices.Clone(fields[:i]), fields[i+1:]...)...)
	}
	specs, err := c.createSpecs(kind, fields)
	if err != nil {
		return "", fmt.Errorf("create record: %w", err)
	}
	id := uuid.NewString()
	if _, err := c.write(ctx, id, kind, func(*tx, *crdt.Record) ([]spec, error) { return specs, nil }); err != nil {
		return "", fmt.Errorf("create record: %w", err)
	}
	return id, nil
}

// CreateIdentification creates an identification of team teamID with
// fields and returns its id.
func (c *Client) CreateIdentification(ctx context.Context, teamID string, fields ...FieldValue) (string, error) {
	return c.Create(ctx, model.KindIdentification, append([]FieldValue{F(model.FieldTeam, teamID)}, fields...)...)
}

func (c *Client) createSpecs(kind string, fields []FieldValue) ([]spec, error) {
	var specs []spec
	seen := map[string]bool{}
	for _, fv := range fields {
		decl, err := c.schema.Field(kind, fv.Field)
		if err != nil {
			return nil, err
		}
		switch decl.Class {
		case model.ClassRegister:
			if seen[fv.Field] {
				return nil, model.Errorf(model.CodeInvalidValue, "The field %q is given twice.", fv.Field)
			}
			specs = append(specs, spec{field: fv.Field, action: model.ActionSet, value: fv.Value})
		case model.ClassSet:
			elems, err := elementsOf(fv)
			if err != nil {
				return nil, err
			}
			for _, e := range elems {
				specs = append(specs, spec{field: fv.Field, action: model.ActionAdd, value: e})
			}
		case model.ClassLog:
			for _, e := range entriesOf(fv.Value) {
				specs = append(specs, spec{field: fv.Field, action: model.ActionAppend, value: e})
			}
		}
		seen[fv.Field] = true
	}
	return specs, nil
}

func elementsOf(fv FieldValue) ([]string, error) {
	switch v := fv.Value.(type) {
	case string:
		return []string{v}, nil
	case []string:
		return v, nil
	}
	return nil, model.Errorf(model.CodeInvalidValue, "The field %q is a set; give a string or a []string.", fv.Field)
}

// entriesOf returns the entries of a log value: each element of a slice,
// or the value itself.
func entriesOf(v any) []any {
	if _, raw := v.(json.RawMessage); !raw {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice {
			out := make([]any, rv.Len())
			for i := range out {
				out[i] = rv.Index(i).Interface()
			}
			return out
		}
	}
	return []any{v}
}

// Set writes value to register field of record id and returns the op id.
// Its base is the field's current siblings on this device, so the write
// resolves every conflict the device can see.
func (c *Client) Set(ctx context.Context, id, field string, value any) (string, error) {
	ops, err := c.write(ctx, id, "", func(_ *tx, r *crdt.Record) ([]spec, error) {
		if err := c.checkClass(r.Kind, field, model.ClassRegister); err != nil {
			return nil, err
		}
		var base []string
		for _, s := range r.Siblings(field) {
			base = append(base, s.Op)
		}
		return []spec{{field: field, action: model.ActionSet, value: value, base: base}}, nil
	})
	if err != nil {
		return "", fmt.Errorf("set %s: %w", field, err)
	}
	return ops[0].ID, nil
}

// Add adds element to set field of record id and returns the op id.
func (c *Client) Add(ctx context.Context, id, field, element string) (string, error) {
	ops, err := c.write(ctx, id, "", func(_ *tx, r *crdt.Record) ([]spec, error) {
		if err := c.checkClass(r.Kind, field, model.ClassSet); err != nil {
			return nil, err
		}
		return []spec{{field: field, action: model.ActionAdd, value: element}}, nil
	})
	if err != nil {
		return "", fmt.Errorf("add %s: %w", field, err)
	}
	return ops[0].ID, nil
}

// Remove removes element from set field of record id and returns the op
// id. Its base is the element's live add ops on this device; an add this
// device has not seen survives (add wins). When the element is not
// present nothing is written and the op id is "".
func (c *Client) Remove(ctx context.Context, id, field, element string) (string, error) {
	ops, err := c.write(ctx, id, "", func(_ *tx, r *crdt.Record) ([]spec, error) {
		if err := c.checkClass(r.Kind, field, model.ClassSet); err != nil {
			return nil, err
		}
		live := r.LiveAdds(field, element)
		if len(live) == 0 {
			return nil, nil
		}
		return []spec{{field: field, action: model.ActionRemove, value: element, base: live}}, nil
	})
	if err != nil {
		return "", fmt.Errorf("remove %s: %w", field, err)
	}
	if len(ops) == 0 {
		return "", nil
	}
	return ops[0].ID, nil
}

// Append appends entry (a JSON object, such as map[string]any{"text": ...})
// to log field of record id and returns the op id.
func (c *Client) Append(ctx context.Context, id, field string, entry any) (string, error) {
	ops, err := c.write(ctx, id, "", func(_ *tx, r *crdt.Record) ([]spec, error) {
		if err := c.checkClass(r.Kind, field, model.ClassLog); err != nil {
			return nil, err
		}
		return []spec{{field: field, action: model.ActionAppend, value: entry}}, nil
	})
	if err != nil {
		return "", fmt.Errorf("append to %s: %w", field, err)
	}
	return ops[0].ID, nil
}

// Redact erases the log entry written by op entryOp (supervisors only):
// its value becomes null everywhere, this device's copy of the op
// included, and a marker names who redacted it. It returns the op id.
func (c *Client) Redact(ctx context.Context, id, field, entryOp string) (string, error) {
	ops, err := c.write(ctx, id, "", func(_ *tx, r *crdt.Record) ([]spec, error) {
		if err := c.checkClass(r.Kind, field, model.ClassLog); err != nil {
			return nil, err
		}
		return []spec{{field: field, action: model.ActionRedact, value: nil, base: []string{entryOp}}}, nil
	})
	if err != nil {
		return "", fmt.Errorf("redact %s: %w", field, err)
	}
	return ops[0].ID, nil
}

func (c *Client) checkClass(kind, field string, want model.Class) error {
	decl, err := c.schema.Field(kind, field)
	if err != nil {
		return err
	}
	if decl.Class != want {
		return model.Errorf(model.CodeInvalidOp, "The field %q is a %s, not a %s.", field, decl.Class, want)
	}
	return nil
}

// write makes the ops plan returns for record id, applies them to the
// local state, stores them and queues them in the outbox, all in one
// durable transaction. With kind != "" the record is created (and must
// not exist); otherwise it must exist locally.
func (c *Client) write(ctx context.Context, id, kind string, plan func(t *tx, r *crdt.Record) ([]spec, error)) ([]crdt.Op, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.enter(); err != nil {
		return nil, err
	}
	defer c.leave()
	user, ok := c.user()
	if !ok {
		return nil, ErrNotLoggedIn
	}
	var made []crdt.Op
	err := c.update(func(t *tx) error {
		made = nil
		r, exists, err := t.record(id)
		if err != nil {
			return err
		}
		switch {
		case kind != "" && exists:
			return model.Errorf(model.CodeConflict, "Record %s exists already.", id)
		case kind != "":
			r = t.create(id, kind)
		case !exists:
			return fmt.Errorf("record %s: %w", id, ErrNotFound)
		}
		specs, err := plan(t, r)
		if err != nil {
			return err
		}
		for _, s := range specs {
			op, err := c.writeLocal(t, r, s, user)
			if err != nil {
				return err
			}
			made = append(made, op)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(made) > 0 {
		c.wake()
	}
	return made, nil
}

// newOp builds, normalises and validates the op of s, stamped now.
// writeLocal makes the op s describes, refuses it when the server would
// reject it for good (the record's limits: now, not after days in the
// outbox), and applies it to r and the outbox in t.
func (c *Client) writeLocal(t *tx, r *crdt.Record, s spec, user api.User) (crdt.Op, error) {
	op, err := c.newOp(r, s, user)
	if err != nil {
		return crdt.Op{}, err
	}
	if err := crdt.CheckLimits(c.schema, r, &op); err != nil {
		return crdt.Op{}, err
	}
	if err := c.applyLocal(t, r, &op); err != nil {
		return crdt.Op{}, err
	}
	return op, nil
}

func (c *Client) newOp(r *crdt.Record, s spec, user api.User) (crdt.Op, error) {
	op, err := crdt.NewOp(crdt.Op{ID: uuid.NewString(), Record: r.ID, Kind: r.Kind, Field: s.field, Action: s.action,
		Base: s.base, HLC: c.clock.Now(), Device: c.device, User: user.ID}, s.value)
	if err != nil {
		return crdt.Op{}, err
	}
	if err := crdt.Validate(c.schema, &op); err != nil {
		return crdt.Op{}, err
	}
	return op, checkRole(c.schema, user.Role, &op)
}

// checkRole refuses, before it reaches the outbox, an op the user's role
// may never write (the server has the last word on everything else).
func checkRole(s *model.Schema, role model.Role, op *crdt.Op) error {
	if role == "" {
		return nil
	}
	decl, err := s.Field(op.Kind, op.Field)
	if err != nil {
		return err
	}
	writers := decl.Writers
	if op.Action == model.ActionRedact {
		writers = decl.Redactors
	}
	if !model.HasRole(writers, role) {
		return model.Errorf(model.CodeForbidden, "Your role (%s) may not %s %q of a %s.", role, op.Action, op.Field, op.Kind)
	}
	return nil
}

// applyLocal merges an op written on this device into the local state,
// stores it and queues it in the outbox.
func (c *Client) applyLocal(t *tx, r *crdt.Record, op *crdt.Op) error {
	if _, err := r.Apply(c.schema, op); err != nil {
		return err
	}
	enc := op.AppendJSON(nil)
	t.merged(r.ID, enc)
	if err := t.set(opKey(op.Record, op.Field, op.ID), enc); err != nil {
		return err
	}
	if op.Action == model.ActionRedact {
		if err := eraseTarget(t, op); err != nil {
			return err
		}
		if err := t.redactBase(op); err != nil {
			return err
		}
	}
	return c.enqueue(t, op)
}

// eraseTarget erases the value of the append a redact op names, in this
// device's op store and in its record's tail (the record state erases it
// through the merge).
func eraseTarget(t *tx, redact *crdt.Op) error {
	for _, target := range redact.Base {
		op, ok, err := t.getOp(redact.Record, redact.Field, target)
		if err != nil {
			return err
		}
		if !ok || crdt.IsNull(op.Value) {
			continue
		}
		erased := op.Redacted()
		enc := erased.AppendJSON(nil)
		if err := t.set(opKey(op.Record, op.Field, op.ID), enc); err != nil {
			return err
		}
		if err := t.eraseInTail(op.Record, op.ID, enc); err != nil {
			return err
		}
	}
	return nil
}
