package crdt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/fieldsync/fieldsync/sync/hlc"
)

// The stored form of a Record's full internal state (not only what is
// served): siblings, superseded ids, per-element adds and removes, log
// entries and redactions, so a store updates a record incrementally
// without replaying its history. It is a compact binary encoding (the
// store rewrites a record's snapshot on every commit that touches it):
//
//	snapshot = version(1) body crc32c(4)
//	body     = str(id) str(kind) u64(hlc) uvarint(n) field*n
//	field    = str(name) class(1) register | set | log
//	register = uvarint(n) entry*n  strs(superseded)
//	set      = uvarint(n) (str(element) strs(live) strs(removed))*n
//	log      = uvarint(n) entry*n  uvarint(m) (str(target) redaction)*m
//	entry    = str(op) str(value) u64(hlc) str(device) str(user) str(redacted_by) bool(redacted)
//	redaction= u64(hlc) str(device) str(op) str(user)
//	str      = uvarint(len) bytes;  strs = uvarint(n) str*n
//
// The checksum (CRC-32C, big-endian, over version and body) makes every
// truncated or damaged snapshot an error rather than a different record.
// Version 1 is the same without the checksum; it is still read, so stores
// written before version 2 keep working, and each commit rewrites it.
const snapshotVersion = 2

// snapshotV1 is the version without a checksum.
const snapshotV1 = 1

// castagnoli is the CRC-32C table of the snapshot checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	classRegister byte = iota + 1
	classSet
	classLog
)

// MarshalBinary encodes the record's full state for storage.
func (r *Record) MarshalBinary() ([]byte, error) {
	w := snapWriter{buf: make([]byte, 0, 512)}
	w.byte(snapshotVersion)
	w.str(r.ID)
	w.str(r.Kind)
	w.u64(uint64(r.HLC))
	w.uvarint(len(r.fields))
	for _, nf := range r.fields {
		w.str(nf.name)
		switch f := nf.f.(type) {
		case *register:
			w.byte(classRegister)
			w.entries(f.siblings)
			w.uvarint(len(f.superseded))
			for _, k := range f.superseded {
				w.str(k.s)
			}
		case *setField:
			w.byte(classSet)
			w.uvarint(len(f.elems))
			for i := range f.elems {
				e := &f.elems[i]
				w.str(e.name.s)
				w.keys(e.live())
				w.keys(e.removed())
			}
		case *logField:
			w.byte(classLog)
			w.entries(f.entries)
			w.uvarint(len(f.redactions))
			for _, p := range f.redactions {
				rd := &p.r
				w.str(p.target.s)
				w.u64(uint64(rd.HLC))
				w.str(rd.Device)
				w.str(rd.Op)
				w.str(rd.User)
			}
		default:
			return nil, fmt.Errorf("encode record snapshot: unknown field type %T", f)
		}
	}
	return binary.BigEndian.AppendUint32(w.buf, crc32.Checksum(w.buf, castagnoli)), nil
}

// UnmarshalBinary restores a record written by MarshalBinary.
func (r *Record) UnmarshalBinary(data []byte) error {
	body, err := snapshotBody(data)
	if err != nil {
		return fmt.Errorf("decode record snapshot: %w", err)
	}
	d := snapReader{buf: body}
	id, kind, t := d.str(), d.str(), hlc.Timestamp(d.u64())
	n := d.count()
	fields := Record{fields: make([]namedField, 0, n)}
	for range n {
		name := d.str()
		f, err := d.field()
		if err != nil {
			return fmt.Errorf("decode record snapshot field %q: %w", name, err)
		}
		fields.putField(name, f)
	}
	if d.err != nil {
		return fmt.Errorf("decode record snapshot: %w", d.err)
	}
	if len(d.buf) != 0 {
		return errors.New("decode record snapshot: trailing bytes")
	}
	r.ID, r.Kind, r.HLC = id, kind, t
	r.setFields(fields.fields)
	return nil
}

// snapshotBody checks a snapshot's version and checksum and returns its
// body.
func snapshotBody(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, errShort
	}
	switch data[0] {
	case snapshotV1:
		return data[1:], nil
	case snapshotVersion:
		if len(data) < 1+crc32.Size { // <= is equivalent: an empty body fails to decode
			return nil, errShort
		}
		end := len(data) - crc32.Size
		if crc32.Checksum(data[:end], castagnoli) != binary.BigEndian.Uint32(data[end:]) {
			return nil, errors.New("checksum mismatch: the snapshot is damaged or truncated")
		}
		return data[1:end], nil
	}
	return nil, fmt.Errorf("unknown version %d", data[0])
}

func (d *snapReader) field() (field, error) {
	switch class := d.byte(); class {
	case classRegister:
		reg := &register{siblings: d.entries()}
		reg.superseded = keysOf(d.strs())
		reg.recount()
		return reg, nil
	case classSet:
		n := d.count()
		s := &setField{elems: make([]element, 0, n)}
		for range n {
			name := d.str()
			live, removed := d.strs(), d.strs()
			e := element{name: keyOf(name), ids: make([]key, 0, len(live)+len(removed)), nLive: len(live)}
			for _, id := range append(live, removed...) {
				e.ids = append(e.ids, keyOf(id))
			}
			// A later element of the same name replaces an earlier one.
			if i, ok := s.find([]byte(name)); ok {
				s.elems[i] = e
			} else {
				s.elems = slices.Insert(s.elems, i, e)
			}
		}
		s.recount()
		return s, nil
	case classLog:
		l := &logField{entries: d.entries()}
		n := d.count()
		for range n {
			p := pending{target: keyOf(d.str())}
			p.r = redaction{HLC: hlc.Timestamp(d.u64()), Device: d.str(), Op: d.str(), User: d.str()}
			// A later redaction of the same target replaces an earlier one.
			if i, ok := l.findRedaction(p.target); ok {
				l.redactions[i] = p
			} else {
				l.redactions = slices.Insert(l.redactions, i, p)
			}
		}
		l.recount()
		return l, nil
	default:
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("unknown class %d", class)
	}
}

// snapWriter appends the snapshot encoding.
type snapWriter struct{ buf []byte }

func (w *snapWriter) byte(b byte)    { w.buf = append(w.buf, b) }
func (w *snapWriter) u64(v uint64)   { w.buf = binary.BigEndian.AppendUint64(w.buf, v) }
func (w *snapWriter) uvarint(n int)  { w.buf = binary.AppendUvarint(w.buf, uint64(n)) }
func (w *snapWriter) str(s string)   { w.uvarint(len(s)); w.buf = append(w.buf, s...) }
func (w *snapWriter) bytes(b []byte) { w.uvarint(len(b)); w.buf = append(w.buf, b...) }

func (w *snapWriter) keys(ks []key) {
	w.uvarint(len(ks))
	for _, k := range ks {
		w.str(k.s)
	}
}

func (w *snapWriter) strs(ss []string) {
	w.uvarint(len(ss))
	for _, s := range ss {
		w.str(s)
	}
}

func (w *snapWriter) entries(es []Entry) {
	w.uvarint(len(es))
	for i := range es {
		e := &es[i]
		w.str(e.Op)
		w.bytes(e.Value)
		w.u64(uint64(e.HLC))
		w.str(e.Device)
		w.str(e.User)
		w.str(e.RedactedBy)
		if e.Redacted {
			w.byte(1)
		} else {
			w.byte(0)
		}
	}
}

// snapReader reads the snapshot encoding; the first problem sticks in err
// and every later read returns zero values.
type snapReader struct {
	buf []byte
	err error
}

var errShort = errors.New("snapshot is truncated")

// take returns the next n bytes. (d.err != nil && n < 0 would be
// equivalent: an error sticks and is returned anyway, and count never
// returns a negative n.)
func (d *snapReader) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.buf) {
		if d.err == nil {
			d.err = errShort
		}
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

func (d *snapReader) byte() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

// flag reads a bool written as 0 or 1; any other byte is damage.
func (d *snapReader) flag() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	if d.err == nil {
		d.err = errors.New("a flag is neither 0 nor 1")
	}
	return false
}

func (d *snapReader) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// count reads a length that must fit in what is left (each item takes at
// least one byte), so a damaged length cannot ask for a huge allocation.
func (d *snapReader) count() int {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.buf)
	// len+k is equivalent (mutant): a count at most k past what is left fails at the next take.
	if k <= 0 || n > uint64(len(d.buf)-k) {
		d.err = errShort
		return 0
	}
	d.buf = d.buf[k:]
	return int(n)
}

func (d *snapReader) str() string { return string(d.take(d.count())) }

func (d *snapReader) bytes() []byte {
	b := d.take(d.count())
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func (d *snapReader) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.str()
	}
	return ss
}

func (d *snapReader) entries() []Entry {
	n := d.count()
	if n == 0 {
		return nil
	}
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Op: d.str(), Value: d.bytes(), HLC: hlc.Timestamp(d.u64()), Device: d.str(), User: d.str(), RedactedBy: d.str(), Redacted: d.flag()}
	}
	return es
}
