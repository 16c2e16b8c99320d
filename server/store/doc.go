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
//	r/<record id>              record head: creator, the snapshot's seq (the
//	                           greatest f/ seq of the ops it holds) and
//	                           crdt.Record.MarshalBinary of the record as of
//	                           that seq; rewritten only by compaction (below)
//	rl/<record id><page>       the record's op list in pages of 64 ops (page:
//	                           4 bytes big endian; no separator: ids have a
//	                           fixed length), by ascending f/ seq: each op's
//	                           f/ seq and the seq of its entry in the record's
//	                           bucket (see opPage); new ops rewrite only the
//	                           last page
//	rs/<record id>             Summary, for lists and feed scopes; its
//	                           labels (status, region, review status) are the
//	                           fields protocol.Effects.Summary names. Written
//	                           with a key store: binary, the scope (kind, team,
//	                           action week, creator) in the clear, then the
//	                           labels sealed with a key derived from the
//	                           record's key (summary.go); otherwise JSON in
//	                           the clear
//	h/<team id>/<week id>      empty: the action week is hosted by the team
//	w/<week id>                the action week's host team id
//	m/seq                      greatest committed sequence number (8 bytes)
//	m/records                  number of records (8 bytes)
//	m/layout                   keyspace version ("2"; Open migrates "1")
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
//	datakeys (a file)          the data keys of append values, of records
//	                           (datakeys.go) and of blobs (blobs.go: slot id
//	                           "blob" + the upload id's hex digits): not a
//	                           badger key, beside badger's files, never in a
//	                           backup
//	l/<record id>/<other id>   Link as JSON, once per direction: a supervisor's
//	                           link between two records (links.go), written
//	                           in one transaction with its audit entries;
//	                           never record state, never served by pull
//	bu/<upload id>             Upload as JSON: scope, digest, size, user,
//	                           acknowledged offset, complete, sealed (blobs.go)
//	bc/<upload id><offset>     a blob's bytes from offset (8 bytes big endian),
//	                           at most 256 KiB per value, sealed (AES-256-GCM:
//	                           nonce, ciphertext, tag; the key id and offset
//	                           are the additional data) with the upload's data
//	                           key; each PATCH committed with SyncWrites before
//	                           it is acknowledged
//	x/<record id>              Tombstone as JSON: a record retention erased
//	                           (id, kind, scope, rule, time, the seq of its
//	                           drop markers; never content) (retention.go)
//	xk/<record id>             the ids of the data keys an erasure destroys
//	                           after its commit: the record's key and the keys
//	                           of the blobs only it bound (a crash between the
//	                           erasure's commit and the destruction; Open)
//	xd/<record id>             the bucket of an erased record whose ops are
//	                           still to be deleted (finishErasures deletes
//	                           them page by page, each op's data key first;
//	                           Open finishes what a crash interrupted)
//	b/x\x00<seq>               the erasures feed: a drop marker per erased
//	                           record, merged into the global feed's pages
//	lh/<record id>             Hold as JSON: a legal hold, never erased
//	pa/<record id>/<device>    the time the device acknowledged the purge
//	bl/<scope>/<digest>        Blob as JSON: a verified blob of a bucket
//	                           ("t:<team>", "w:<week>"), naming the upload
//	                           whose chunks (and data key) hold it; dedup never
//	                           crosses scopes
//	bx/<scope>/<digest>/<rec>  empty: a live entry of record rec names the blob
//	                           (a binding, written when the entry is pushed)
//	bxr/<rec>/<digest>         the scope of the blob bound to rec: the record
//	                           reads it wherever it moves; when a record's last
//	                           binding of a blob goes (its entries redacted,
//	                           or the record erased by retention), the blob is
//	                           erased unless a record of its scope still names
//	                           it (retention: still binds it)
//
// # Storage design: a snapshot plus an op tail
//
// The cost of storing one op does not depend on the size of its record.
// An op writes only keys of its own (o/, f/, its b/ entry) and, once per
// record per group commit, the record's rs/ summary and the last page of
// its op list (rl/, at most 64 entries): a few hundred bytes whatever the
// record holds. The record's snapshot (r/) is not rewritten per op, and
// its op list is not one value that grows.
//
//   - Compaction. The writer rewrites a record's head (a new snapshot at
//     the record's last seq; the tail becomes empty) when the tail's served
//     bytes exceed both compactMinBytes (4 KiB) and the snapshot's length
//     (and when the record moves, so its head names its bucket), so the
//     O(record) work of a compaction is paid once per O(record) bytes of
//     ops: amortised, the cost per op stays proportional to the op. A
//     replay (snapshot + tail) therefore reads at most about twice the
//     record. A redaction that erases a stored value compacts its record
//     at once, so the newest snapshot never holds an erased value.
//   - The writer's record cache. The writer keeps the decoded states of
//     recently written big records (32 KiB and more, up to
//     Options.RecordCacheBytes), so deciding and applying an op to a big
//     record neither reads nor decodes it; a small record is read again
//     (a small snapshot and a tail of at most 4 KiB). The cache holds
//     the state as of the last chunk built, uncommitted chunks included
//     (whatever their size); it is dropped whole when a commit fails or a
//     group is split, and a record is evicted only once its last write is
//     visible to the writer's read transactions. A record's data key is
//     made once per state the writer holds, and its tombstone (x/) read
//     once per chunk and the chunks built on it (an erasure drops both
//     with the overlay). Commit's caller builds each op's f/ value, with
//     a key store all of it but the sealed bytes (prepare.go), so the
//     writer only seals and stores.
//   - Effects decided once. The writer applies what protocol's decide
//     returned (protocol.Effects): the record's scope and bucket after the
//     op, the host-team change of an action week, the stored op whose
//     value the op erases, whether the op itself arrives erased, and the
//     fields whose values label the record in its rs/ summary. The store
//     merges the op into the state (crdt.Record.Apply, the data type's
//     merge), persists and indexes; it holds no rule of the domain, so a
//     second store (DESIGN §9) implements protocol.Store from this
//     contract alone.
//
// Designed for what comes next:
//
//   - Erasure that reaches the bytes (the data-lifecycle issue; done for
//     appends, datakeys.go: one key per append, in a file of 72-byte
//     slots; f/ keeps the op's redacted JSON in clear and seals the bytes
//     that differ; retention erasure is done in retention.go and destroys
//     those keys and the record keys that seal register and set values,
//     snapshots and summary labels). Every key
//     holding a record's content is reachable from the record: its rl/
//     list names its f/ entries, and r/ and rs/ are keyed by its id. The
//     plan: values that can be erased (a log entry's value; a whole record
//     on retention; a blob) are sealed with data keys held in a key store
//     outside badger, one key per record and one per log entry, in a file
//     of fixed slots that is overwritten in place and fsynced (deletion is
//     immediate, unlike badger's). f/ of an append holds its value sealed
//     with the entry's key; the snapshot holds entry values sealed the
//     same way (crdt's snapshot encoding maps entry values through a hook),
//     so destroying the entry's key erases it in f/, in every snapshot
//     version badger still holds, and in every backup, which never carries
//     the key store. Retention destroys the record key and the entry keys
//     found through rl/, then deletes the keys and leaves a tombstone.
//   - Snapshots served to fresh devices (the slow-links issue). A record's
//     state at a known seq is its head plus its tail, read in the same
//     transaction as m/seq: a bootstrap page is the states of the records
//     of a device's buckets (an index br/<bucket>/<record id>, written on
//     create and move from Effects.Bucket, will list them without
//     scanning), and the device then pulls from that page's m/seq; ops it
//     receives twice are duplicates the merge ignores. The crdt snapshot
//     already holds what later ops need (removed set ids, redactions of
//     appends not yet received), and erased values are never in it.
//     Open cases first: rs/ holds status and update time to order by.
//     Built (snapshot.go, DB.Snapshot): a page reads m/seq and the states
//     of the records above a given id in one read transaction, filtered by
//     the bucket in each head (no br/ index yet: a page scans heads).
//   - Blobs in chunks (the attachments issue; built, blobs.go). Outside
//     the op writer, in ordinary transactions that never touch its keys:
//     bu/ an upload, bc/ its chunks keyed by upload and offset, bl/ the
//     blob head of a scope and digest naming its upload, bx/ and bxr/ the
//     bindings of records to blobs. Every upload has a data key of its
//     own in the key store, created and synced before the upload is
//     stored; its chunks are sealed with it. An upload holds one blob and
//     a scope one blob per digest, so the key is the blob's. Every
//     deletion (an expired or refused upload, an orphan swept, a blob
//     whose last naming entry was redacted) destroys the key first, then
//     deletes the keys: from the destruction on, the chunks badger still
//     holds and every backup hold only ciphertext. Bindings are written
//     by the server after a push (not by the writer, from Effects: a
//     binding needs the blob, uploaded before or after the op); a sweep
//     repairs what a crash between a push and its bindings left, and
//     destroys the blob keys whose upload was never stored
//     (SweepBlobKeys).
//
// # Invariants
//
//   - One writer. The keys o/ to m/ are written only by the writer
//     (writer.go; m/layout and m/opfilter by Open and Close; a retention
//     erasure runs on the writer alone, after every chunk handed over has
//     committed, and also deletes the record's l/ and lh/ keys; the
//     deletion of its ops that follows, in transactions of
//     eraseOpsPerTx ops, runs on the writer or in Open); account,
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
//     life, and is listed in its record's rl/ pages. Its served JSON is
//     rewritten only to erase a redacted value. A record's ops are indexed
//     in its current bucket only: when its bucket changes, the old
//     bucket's entries of the record are deleted, a drop marker is written
//     there under a new seq, and every op is indexed again in the new
//     bucket under new seqs that point to the unchanged f/ entries.
//   - A record's state is its head's snapshot with its tail applied: the
//     ops of its rl/ list above the snapshot's seq, read from f/. Both are
//     read in one transaction, so every reader sees a state that agrees
//     with the ops stored.
//   - rl/, rs/, h/ and w/ always agree with the ops stored: they are
//     written in the same transaction as the ops that change them; r/ is
//     written with a record's first op and then only by compaction, in
//     the transaction of the op that calls for it.
//   - A crash never stops the next Open: badger is opened through
//     server/badgerdir, which removes the 0-byte memtable or value log a
//     kill during their creation leaves (they hold no data) and logs it.
//   - Encryption at rest is badger's (Options.EncryptionKey); the only file
//     in badger's directory that is not badger's is the data key store.
//   - Every append value not erased is sealed with its own data key, on
//     disk before its op commits; an erasure destroys the key once its
//     transaction commits (Open finishes one a crash interrupted). A value
//     whose key is gone reads as erased.
//   - Every blob chunk is sealed with its upload's data key, on disk
//     before the upload is stored. A deletion destroys the key before its
//     transaction; a blob or upload whose key is gone reads as absent and
//     is never served, and the next sweep deletes its keys.
//   - Every other op's f/ value and every record snapshot written with a
//     key store is sealed with its record's key (key store id: a digest
//     of the record id, recordKeyID), and so are the labels of every
//     summary (with a key derived from it); retention destroys it, then
//     the record's entry keys. A head whose record key is gone reads as
//     an absent record (Record: not_found; the writer refuses its ops
//     record_erased; snapshots, listings and scans skip it; retention
//     offers it again, RetentionCandidate.KeyGone).
//   - An erasure of any size is one small transaction (head, summary,
//     tombstone, drop markers, xk/ and xd/); the record's ops go after,
//     a bounded number per transaction. From the first transaction on
//     the record is erased for every answer: no head or summary (its
//     feed entries left have the zero scope nobody reads), and the
//     writer treats its stored ops as unknown (DB.erasing), so a re-push
//     is record_erased.
package store
