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
//	o/<op id>                  op meta, 17 bytes: flags (bit 0: redacted), the
//	                           op's f/ seq, the device's hlc when the server
//	                           re-stamped the op (0 otherwise)
//	f/<seq>                    global feed: record id (36 bytes) + the op's served
//	                           JSON (crdt.Op.AppendJSON; "value":null once redacted)
//	b/<bucket>\x00<seq>        bucket feed: an op indexed under its own f/ seq
//	                           (empty value); an op indexed again under a new seq
//	                           after its record moved in (8-byte f/ seq, 8-byte
//	                           seq in the bucket it came from, that bucket's
//	                           name; see movedValue); or "D" + record id (37
//	                           bytes): a drop marker, the record left the bucket
//	r/<record id>              record state: creator, the record's ops (for each,
//	                           by f/ seq: the f/ seq and the seq of its entry in
//	                           the record's bucket; see recordValue) and
//	                           crdt.Record.MarshalBinary
//	rs/<record id>             Summary as JSON, for lists and feed scopes
//	h/<team id>/<week id>      empty: the action week is hosted by the team
//	w/<week id>                the action week's host team id
//	m/seq                      greatest committed sequence number (8 bytes)
//	m/records                  number of records (8 bytes)
//	m/layout                   keyspace version ("1")
//	m/opfilter                 the writer's filter of stored op ids, saved on
//	                           Close (opfilter.go)
//	u/<user id>                model.User as JSON
//	un/<username>              user id
//	t/<team id>                model.Team as JSON
//	d/<device id>              model.Device as JSON
//	du/<user id>/<device id>   empty: the user's devices
//	rt/<token hash>            model.RefreshToken as JSON
//	rf/<family id>             model.TokenFamily as JSON
//	rfd/<device id>/<family>   empty: the device's token families
//	a/<seq>                    audit entry as JSON, append-only (audit.go)
//	l/<record id>/<other id>   Link as JSON, once per direction: a supervisor's
//	                           link between two records (links.go), written
//	                           in one transaction with its audit entries;
//	                           never record state, never served by pull
//
// # Invariants
//
//   - One writer. The keys o/ to m/ are written only by the writer
//     (writer.go; m/layout and m/opfilter by Open and Close); account,
//     link and audit keys only by ordinary badger transactions, which
//     never touch the writer's keys.
//   - Group commit. The writer gathers concurrent Commit requests and
//     applies them as one badger transaction with SyncWrites, so one fsync
//     covers the group; a request is answered only once everything it
//     applied is durable. A group too big for one transaction
//     (badger.ErrTxnTooBig) is split into chunks of whole ops; each chunk
//     is one transaction holding the complete effects of its ops (op keys,
//     feeds, record states, m/seq), so whatever a crash leaves on disk is
//     a consistent prefix. The requests are answered once every chunk
//     committed; if one fails, every request of the group gets the error
//     (ops of chunks already committed are then duplicates on retry).
//   - Sequence numbers are assigned by the writer and committed in order:
//     each transaction holds the range just above m/seq, so a reader's
//     snapshot holds a prefix of the sequence and a pull cursor never
//     skips an op that commits late.
//   - Every stored op has exactly one f/ entry, under a seq fixed for
//     life, and is listed in its record's r/ value. Its served JSON is
//     rewritten only to erase a redacted value. A record's ops are indexed
//     in its current bucket only: when its bucket changes, the old
//     bucket's entries of the record are deleted, a drop marker is written
//     there under a new seq, and every op is indexed again in the new
//     bucket under new seqs that point to the unchanged f/ entries.
//   - r/, rs/, h/ and w/ always agree with the ops stored: they are
//     written in the same transaction as the ops that change them.
//   - A crash never stops the next Open: badger is opened through
//     server/badgerdir, which removes the 0-byte memtable or value log a
//     kill during their creation leaves (they hold no data) and logs it.
//   - Encryption at rest is badger's (Options.EncryptionKey); nothing is
//     written outside badger's directory.
package store
