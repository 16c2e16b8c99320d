// Package store is fieldsync's storage on badger (DESIGN §7): the op log,
// the global and per-bucket change feeds, the materialised record state,
// and the accounts (users, teams, devices, refresh tokens). *DB implements
// protocol.Store and auth.Store.
//
// # Keyspace
//
// Every key starts with a short prefix naming what it holds. <seq> is a
// sequence number as 8 bytes big endian, so that key order is sequence
// order; ids are canonical 36-character UUIDs.
//
//	o/<op id>                  op meta: flags (bit 0 = redacted), seq, device hlc
//	                           (8 bytes each, big endian), record id (36 bytes)
//	f/<seq>                    global feed: record id (36 bytes) + the op's served
//	                           JSON (crdt.Op.AppendJSON; "value":null once redacted)
//	b/<bucket>\x00<seq>        bucket feed: 8-byte seq of the f/ entry, or "D" +
//	                           record id (37 bytes): a drop marker, the record left
//	                           the bucket
//	ro/<record id>/<seq>       the record's ops by f/ seq; value: the 8-byte seq of
//	                           the op's entry in the record's current bucket (0:
//	                           not indexed)
//	r/<record id>              record state: uvarint length + creator user id +
//	                           crdt.Record.MarshalBinary
//	rs/<record id>             Summary as JSON, for lists and feed scopes
//	h/<team id>/<week id>      empty: the action week is hosted by the team
//	w/<week id>                the action week's host team id
//	m/seq                      greatest committed sequence number (8 bytes)
//	m/records                  number of records (8 bytes)
//	m/layout                   keyspace version ("1")
//	u/<user id>                model.User as JSON
//	un/<username>              user id
//	t/<team id>                model.Team as JSON
//	d/<device id>              model.Device as JSON
//	du/<user id>/<device id>   empty: the user's devices
//	rt/<token hash>            model.RefreshToken as JSON
//	rf/<family id>             model.TokenFamily as JSON
//	rfd/<device id>/<family>   empty: the device's token families
//
// # Invariants
//
//   - One writer. Every key from o/ to m/ is written only by the writer
//     goroutine (writer.go); account keys are written by ordinary badger
//     transactions, which never touch the writer's keys.
//   - Group commit. The writer gathers concurrent Commit requests and
//     applies them in one badger transaction with SyncWrites, so one fsync
//     covers the group; a request is answered only after everything it
//     applied is durable. When a group does not fit one transaction
//     (badger.ErrTxnTooBig) it is split into chunks of whole ops; each
//     chunk is one transaction holding complete effects of its ops (op
//     keys, feeds, record states, m/seq), so whatever a crash leaves on
//     disk is a consistent prefix. The requests are answered once every
//     chunk committed; if one fails, every request of the group gets the
//     error (ops of chunks already committed are then duplicates on retry).
//   - Sequence numbers are assigned by the writer and committed in order:
//     every transaction holds a contiguous range above m/seq, so a reader's
//     snapshot always holds a prefix of the sequence and a pull cursor never
//     skips an op that commits late. Seqs are never reused once a reader
//     could have seen them.
//   - Every stored op has exactly one f/ entry (its seq, fixed for life) and
//     one ro/ entry. Its served JSON is rewritten only to erase a redacted
//     value. A record's ops are indexed in its current bucket only: when
//     its bucket changes, the old bucket's entries of the record are
//     deleted, a drop marker is written there under a new seq, and every op
//     is indexed again in the new bucket under new seqs that point to the
//     unchanged f/ entries.
//   - r/, rs/ and o/ always agree: they are written in the same
//     transaction as the ops that change them.
//   - Encryption at rest is badger's (Options.EncryptionKey); nothing is
//     written outside badger's directory.
package store
