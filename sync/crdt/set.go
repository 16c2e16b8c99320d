package crdt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"slices"

	"github.com/fieldsync/fieldsync/model"
)

// setField is an add-wins observed-remove set. For each element it keeps
// the add ops no remove has named (live) and the add op ids removes have
// named (removed, including ids not yet received). An element is present
// while live is not empty, so a remove only cancels the adds its writer had
// seen and a concurrent add wins.
//
// The elements are a slice sorted by name, each holding its live and
// removed ids in one slice: a set's state is two blocks of memory, not a
// map of pointers to pairs of slices.
//
// A set's first elements live inside it, so a small set is one block.
type setField struct {
	elems  []element
	bytes  int // size (size.go)
	inline [4]element
}

// newSet returns an empty set, its elements in s.inline.
func newSet() *setField {
	s := &setField{}
	s.elems = s.inline[:0]
	return s
}

// element is one element of a set: ids[:nLive] are the live adds and
// ids[nLive:] the removed ones, each in the order they became so.
type element struct {
	name  key
	ids   []key
	nLive int
}

func (e *element) live() []key    { return e.ids[:e.nLive] }
func (e *element) removed() []key { return e.ids[e.nLive:] }

// find returns the index of element name, or where it belongs and false.
// name is the element's unquoted bytes; looking it up allocates nothing.
func (s *setField) find(name []byte) (int, bool) {
	k := keyOfBytes(name)
	return slices.BinarySearchFunc(s.elems, k, func(e element, k key) int {
		if e.name.p != k.p {
			if e.name.p < k.p {
				return -1
			}
			return 1
		}
		switch {
		case len(e.name.s) <= 8 || len(name) <= 8:
			return cmp.Compare(len(e.name.s), len(name)) // p holds the shorter whole
		case e.name.s == string(name): // compared in place: no copy of name
			return 0
		case e.name.s < string(name):
			return -1
		}
		return 1
	})
}

// keyOfBytes returns the key's inline prefix for name; its string is left
// empty.
func keyOfBytes(name []byte) key {
	if len(name) >= 8 {
		return key{p: binary.BigEndian.Uint64(name)}
	}
	var p uint64
	for i := range 8 {
		p <<= 8
		if i < len(name) {
			p |= uint64(name[i])
		}
	}
	return key{p: p}
}

// element returns the element name, creating it when it is new.
func (s *setField) element(name []byte) *element {
	i, ok := s.find(name)
	if !ok {
		s.elems = slices.Insert(s.elems, i, element{name: keyOf(string(name))})
		s.bytes += elemCost(s.elems[i].name.s)
	}
	return &s.elems[i]
}

// elementName returns the unquoted bytes of a set op's value (Validate
// guarantees a string); without escapes, a slice of the value itself.
func elementName(value json.RawMessage) []byte {
	if len(value) >= 2 && value[0] == '"' && bytes.IndexByte(value[1:len(value)-1], '\\') < 0 {
		return value[1 : len(value)-1]
	}
	name, _ := rawString([]byte(value))
	return []byte(name)
}

func (s *setField) apply(op *Op) bool {
	e := s.element(elementName(op.Value))
	before := e.cost()
	defer func() { s.bytes += e.cost() - before }()
	if op.Action == model.ActionRemove {
		changed := false
		for _, id := range op.Base {
			if e.remove(keyOf(id)) {
				changed = true
			}
		}
		return changed
	}
	return e.add(keyOf(op.ID))
}

func (e *element) add(id key) bool {
	if slices.Contains(e.ids, id) {
		return false
	}
	e.ids = slices.Insert(e.ids, e.nLive, id)
	e.nLive++
	return true
}

// remove moves id from the live adds (every copy a snapshot may hold) to
// the end of the removed ones, or appends it there when it is not live.
func (e *element) remove(id key) bool {
	if slices.Contains(e.removed(), id) {
		return false
	}
	n := 0
	for _, k := range e.live() {
		if k != id {
			e.ids[n] = k
			n++
		}
	}
	m := copy(e.ids[n:], e.ids[e.nLive:])
	e.ids = append(e.ids[:n+m], id)
	e.nLive = n
	return true
}

// present returns the present elements sorted by byte order.
func (s *setField) present() []string {
	out := make([]string, 0, len(s.elems))
	for i := range s.elems {
		if e := &s.elems[i]; e.nLive > 0 {
			out = append(out, e.name.s)
		}
	}
	return out
}

func (s *setField) merge(other field) {
	o := other.(*setField)
	for i := range o.elems {
		oe := &o.elems[i]
		e := s.element([]byte(oe.name.s))
		before := e.cost()
		for _, id := range oe.removed() {
			e.remove(id)
		}
		for _, id := range oe.live() {
			e.add(id)
		}
		s.bytes += e.cost() - before
	}
}

func (s *setField) clone() field {
	c := &setField{elems: slices.Clone(s.elems), bytes: s.bytes}
	for i := range c.elems {
		c.elems[i].ids = slices.Clone(c.elems[i].ids)
	}
	return c
}
