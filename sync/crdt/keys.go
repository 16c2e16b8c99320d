package crdt

import (
	"cmp"
	"slices"
	"strings"
)

// key is a string the merge state looks up (an op id, a set element) with
// its first eight bytes inline. Comparing two keys that differ in those
// bytes (nearly always for op ids, which are random UUIDs) reads no string
// data: when ops hop between records, a record's state is not in the
// cache, and every string it points to would be one more miss.
//
// The order of keys is the byte order of their strings: p is the first
// eight bytes big-endian, zero-padded, so comparing p first and the strings
// on a tie agrees with strings.Compare. When p ties and one string has at
// most eight bytes, it is a prefix of the other (the padding is zeros), so
// the lengths decide.
type key struct {
	p uint64
	s string
}

// keyOf returns the key of s.
func keyOf(s string) key {
	if len(s) >= 8 {
		_ = s[7] // one bounds check; the loads combine into one
		return key{p: uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
			uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8 | uint64(s[7]), s: s}
	}
	var p uint64
	for i := range 8 {
		p <<= 8
		if i < len(s) {
			p |= uint64(s[i])
		}
	}
	return key{p: p, s: s}
}

// compareKeys orders keys by the byte order of their strings.
func compareKeys(a, b key) int {
	if a.p != b.p {
		return cmp.Compare(a.p, b.p)
	}
	if len(a.s) <= 8 || len(b.s) <= 8 {
		// p holds the shorter string whole, and the longer starts with
		// it: the order is the order of lengths, read without the bytes.
		return cmp.Compare(len(a.s), len(b.s))
	}
	return strings.Compare(a.s, b.s)
}

// keySet is a set of keys in a slice sorted by compareKeys: one block of
// memory, searched without hashing.
type keySet []key

// index returns where k is or belongs in s, and whether it is there.
func (s keySet) index(k key) (int, bool) {
	return slices.BinarySearchFunc(s, k, compareKeys)
}

// has reports whether k is in s.
func (s keySet) has(k key) bool {
	_, ok := s.index(k)
	return ok
}

// add adds k to s and reports whether it was new.
func (s *keySet) add(k key) bool {
	i, ok := s.index(k)
	if ok {
		return false
	}
	if *s == nil {
		*s = make(keySet, 0, 4) // most sets stay small: one allocation
	}
	*s = slices.Insert(*s, i, k)
	return true
}

// keysOf returns the sorted set of ids, without duplicates.
func keysOf(ids []string) keySet {
	if len(ids) == 0 {
		return nil
	}
	s := make(keySet, len(ids))
	for i, id := range ids {
		s[i] = keyOf(id)
	}
	slices.SortFunc(s, compareKeys)
	return slices.CompactFunc(s, func(a, b key) bool { return a == b })
}
