package crdt

import (
	"encoding/json"
	"slices"
	"sort"

	"github.com/fieldsync/fieldsync/model"
)

// setField is an add-wins observed-remove set. For each element it keeps
// the add ops no remove has named (live) and the add op ids removes have
// named (removed, including ids not yet received). An element is present
// while live is not empty, so a remove only cancels the adds its writer had
// seen and a concurrent add wins.
type setField struct {
	elems map[string]*element
	bytes int // size (size.go)
}

type element struct {
	live    []string
	removed []string
}

func (s *setField) elem(value json.RawMessage) *element {
	name, _ := rawString([]byte(value)) // Validate guarantees a string.
	return s.element(name)
}

// element returns the element name, creating it when it is new.
func (s *setField) element(name string) *element {
	if s.elems == nil {
		s.elems = map[string]*element{}
	}
	e, ok := s.elems[name]
	if !ok {
		e = &element{}
		s.elems[name] = e
		s.bytes += elemCost(name)
	}
	return e
}

func (s *setField) apply(op *Op) bool {
	e := s.elem(op.Value)
	before := e.cost()
	defer func() { s.bytes += e.cost() - before }()
	if op.Action == model.ActionRemove {
		changed := false
		for _, id := range op.Base {
			if e.remove(id) {
				changed = true
			}
		}
		return changed
	}
	return e.add(op.ID)
}

func (e *element) add(id string) bool {
	if slices.Contains(e.removed, id) || slices.Contains(e.live, id) {
		return false
	}
	e.live = append(e.live, id)
	return true
}

func (e *element) remove(id string) bool {
	if slices.Contains(e.removed, id) {
		return false
	}
	e.removed = append(e.removed, id)
	e.live = slices.DeleteFunc(e.live, func(x string) bool { return x == id })
	return true
}

// present returns the present elements sorted by byte order.
func (s *setField) present() []string {
	out := make([]string, 0, len(s.elems))
	for name, e := range s.elems {
		if len(e.live) > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (s *setField) merge(other field) {
	o := other.(*setField)
	for name, oe := range o.elems {
		e := s.element(name)
		before := e.cost()
		for _, id := range oe.removed {
			e.remove(id)
		}
		for _, id := range oe.live {
			e.add(id)
		}
		s.bytes += e.cost() - before
	}
}

func (s *setField) clone() field {
	c := &setField{elems: make(map[string]*element, len(s.elems)), bytes: s.bytes}
	for name, e := range s.elems {
		c.elems[name] = &element{live: slices.Clone(e.live), removed: slices.Clone(e.removed)}
	}
	return c
}
