// Package fieldsync is the Go device SDK of fieldsync: a local replica of
// the records the device's user may read, a durable outbox of everything
// written on the device, and the sync loop that exchanges ops with a
// fieldsync server (DESIGN §3-§6).
//
// A tablet may be offline for a week and the data is about victims of
// trafficking, so the SDK is built around what must never happen: a
// statement written on the device lost, or a record kept on a device that
// may no longer see it.
//
// Usage:
//
//	c, err := fieldsync.Open(dir, fieldsync.Options{ServerURL: url, DeviceName: "tablet 7"})
//	_, err = c.Login(ctx, "ana", password) // once; the session survives restarts
//	id, err := c.CreateIdentification(ctx, teamID, fieldsync.F("status", "potential"))
//	_, err = c.Append(ctx, id, "notes", map[string]any{"text": "met at the border"})
//	go c.Run(ctx) // sync whenever online: pushes, pulls, live updates
//
// # Invariants
//
//   - One merge: local state is computed by sync/crdt, the same code as the
//     server's, so the device shows merged state offline and a device and
//     the server holding the same ops hold byte-identical canonical records.
//   - Local state = the ops received from the server + the device's own
//     ops not yet answered. A rejected op leaves the local state (the
//     server will never hold it) and is kept in the quarantine.
//   - Durable writes: every local write updates the local state, the
//     record's op store and the outbox in one badger transaction, synced
//     to disk (fsync) before the call returns; a crash at any moment loses
//     nothing written. Push results and sessions are synced the same way.
//     Pulled pages are committed without an fsync (a process crash loses
//     nothing; a power cut may lose the last pages together with the
//     cursor that would skip them, so they are pulled again).
//   - A crash never stops the next Open: the replica is opened through
//     server/badgerdir, which removes the 0-byte memtable or value log a
//     kill during their creation leaves (they hold no data) and logs it.
//   - The outbox keeps write order. An op leaves it only when the server
//     answered applied or duplicate (or served the op in a pull), or moves
//     to the quarantine with the server's code and message when rejected;
//     a rejected op never blocks the others and is never dropped silently.
//   - A pulled page (ops, drops and the new cursor) is applied in one
//     transaction; applying an op twice changes nothing, so an interrupted
//     sync resumes where it stopped and a re-sent op is merely a duplicate.
//   - The HLC never goes backwards: its last stamp is persisted with every
//     write and restored on Open.
//   - A record the server says the device lost access to (drop, or absent
//     after a full resync) is deleted with all its ops; a revoked device or
//     an ended grant wipes every local file (ErrWiped).
//   - A record's state is stored whole while small; past 16 KiB, the ops
//     merged into it go to a short tail beside it, so a write to a large
//     record costs O(op), not O(record), most of the time.
//   - A photo or voice note never leaves the device with its location
//     unless the caller says so: Attach and Uploader strip JPEG, PNG and
//     HEIC metadata and blank an MP4's udta, meta and uuid boxes
//     (StripMetadata; KeepMetadata opts out) and refuse a file of those
//     types they cannot parse rather than send it as it is. WebM and Ogg
//     are sent as they are (they have no standard location field).
//   - Attach never holds a file whole (but a JPEG or PNG to strip, up to
//     MaxStripInMemory): it is copied into the replica and uploaded from
//     there one chunk at a time; UploadFrom reads its source a chunk at a
//     time.
//   - FetchTo never holds a file whole either: it downloads into the
//     replica chunk by chunk, resuming a cut at the byte received, and
//     writes to its writer only once the whole file matched its digest (a
//     mismatch is deleted and nothing is written).
//   - Time comes only from Options.Now; logs only go to Options.Logger.
package fieldsync
