// Package crdt is fieldsync's one merge engine: the op type, op decoding
// and validation against the schema, and the merged state of a record.
// The server and the Go client both use it; the TypeScript client follows
// the same rules, proven by the golden vectors in testdata/.
//
// It is pure and deterministic: no I/O, no clock, no randomness.
//
// # Ops
//
// An op writes one field of one record. Its id is its idempotency key.
// Ops are totally ordered by (hlc, device, id), each compared as strings
// (SortOps). An op's base lists the op ids it supersedes, as the writer's
// replica saw them: for set, the field's siblings; for remove, the live
// adds of that element; for redact, the one append it erases; for add and
// append, nothing. A base entry affects only ops of the same record and
// field (for sets, of the same element); entries that name anything else,
// or ops not yet received, are kept and take effect if such an op arrives.
//
// # Merge rules
//
// The state of a field is a function of the set of its ops; the order of
// arrival and duplicates never matter:
//
//  1. register (action set): the siblings are the set ops not named in the
//     base of any other op of the field. The shown value is the greatest
//     sibling by (hlc, device, op); the others are conflicts, greatest
//     first. With no sibling left (only possible with forged bases that
//     name each other) the register shows {"value":null}. (register.go)
//  2. set (actions add, remove): an element is present while some add of
//     it is not named in the base of a remove of that element. A remove
//     cancels only the adds it names, so a concurrent add wins; a remove
//     with an empty base changes nothing. (set.go)
//  3. log (actions append, redact): entries sorted by (hlc, device, op). A
//     redacted entry keeps its place, its value becomes null, and it names
//     the user of the greatest redact op naming it. A redact that arrives
//     before its append erases the append on arrival. (log.go)
//  4. deleted is an ordinary register shown at the top level of the
//     record; a deleted record still accepts and merges ops. (record.go)
//  5. The record's hlc is the greatest hlc of its ops. (record.go)
//
// Record.Apply costs O(size of the field's state), not O(history): each
// field keeps only its siblings, elements or entries plus the ids that
// bases named. Record.Merge is the state-based join of two replicas of a
// record and equals applying the union of their ops.
//
// # Memory layout
//
// Ops from a server's many devices hop between records, so Apply usually
// finds a record's state out of the cache; the state is laid out to be
// reached in few misses. No field state is a map: a record's fields, a
// register's superseded ids, a set's elements (each with its live and
// removed adds in one slice) and a log's ids and pending redactions are
// sorted slices. Ids and element names are keys carrying their first
// eight bytes inline (keys.go), so comparing two that differ reads no
// string. A record's first 16 fields, a register's first sibling and a
// set's first 4 elements live inside their owner, so a Record is used
// through its pointer and never copied. The layout is in memory only:
// the snapshot encoding (snapshot.go) is unchanged.
//
// # Size and limits
//
// Record.Size approximates the bytes of the record's stored state; each
// field keeps its count as it changes (and a decoded snapshot recounts
// it), so it costs O(fields) and is the same on every replica holding the
// same ops. CheckLimits refuses, with record_too_large, an op that would
// grow a record past the schema's RecordLimits; it never refuses redact,
// remove or a write to a SizeExempt field. (size.go, limits.go)
//
// # Canonical form
//
// Record.Canonical writes the state as served by GET /v1/records/{id} in
// RFC 8785 form: keys sorted, no whitespace, values canonical (DecodeOp
// canonicalises every value once, on arrival). Replicas holding the same
// ops hold byte-identical canonical state.
//
// # Three ways to an Op
//
// DecodeOp reads an op from a device, strictly. NewOp builds the op that
// trusted code writes (the server, its tools, the Go SDK) from Go values,
// with DecodeOp's checks and result but no JSON round trip. DecodeStored
// reads back, in one pass, the bytes AppendJSON wrote (the server's store
// and the SDK keep ops so), falling back to DecodeOp for any other layout.
// String reads a string value. (decode.go, newop.go, stored.go)
package crdt
