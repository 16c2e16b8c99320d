package fieldsync

import "encoding/binary"

// The local keyspace (one badger directory, <dir>/db, as given to Open):
//
//	m/device                 this device's id (generated on first Open)
//	m/session                tokens and the logged-in user (JSON)
//	m/cursor                 the pull cursor
//	m/clock                  the HLC's last stamp (8 bytes, big endian)
//	m/lastsync               when the last Sync completed (RFC 3339)
//	m/resync                 set while a full re-pull after 410 is running
//	r/<record>               record state (crdt.Record.MarshalBinary)
//	t/<record>               the record's tail: ops merged after r/ was written
//	k/<kind>/<record>        kind index
//	c/<record>               conflict index: records with register conflicts
//	o/<record>/<field>/<op>  every op of the record held locally (canonical JSON)
//	q/<seq>                  outbox: own ops not yet answered, in write order
//	p/<op>                   outbox index: op id → seq
//	x/<seq>                  quarantine: rejected ops with code and message
//	v/<record>               records not yet seen again during a resync
//	s/<record>               the record's state as a bootstrap snapshot served
//	                         it (redactions received since applied): the base
//	                         a rebuild replays the record's o/ ops onto
//	m/snapshot               the snapshot cursor while a bootstrap runs
//	m/snapshot-open          set once the bootstrap's open cases are in
//	g/<record>               a record a pull's drop deleted, to acknowledge
//	                         at the next sync (POST /v1/sync/purges)
//	u/<scope>/<digest>       a file queued for upload (attach.go): the upload
//	                         request and, once created, the server's upload id
//	f/<record>/<digest>      a downloaded file verified and cached (fetch.go):
//	                         "fsc1" and its size (8 bytes, big endian);
//	                         dropped with its record
//	f/<record>/<digest>/<n>  its bytes, chunk n (8 bytes, big endian) of
//	                         DefaultUploadChunk bytes (the chunk of a cut
//	                         download may be shorter); chunks without the
//	                         key above are the one unfinished download
//	e/<seq>                  the cache's order: seq → f/ key, oldest first
//	b/<blob>/<n>             a queued file's bytes, chunk n (8 bytes, big
//	                         endian) of DefaultUploadChunk bytes; <blob> is
//	                         a random id the u/ value names (a file queued
//	                         by an earlier version: b/<scope>/<digest>/<n>).
//	                         Chunks no u/ value names (an Attach cut by a
//	                         crash) are deleted at Open.
const (
	keyDevice   = "m/device"
	keySession  = "m/session"
	keyCursor   = "m/cursor"
	keyClock    = "m/clock"
	keyLastSync = "m/lastsync"
	keyResync   = "m/resync"
	keySnapshot = "m/snapshot"
	// keySnapshotOpen is set while a bootstrap runs once its open cases
	// are in.
	keySnapshotOpen = "m/snapshot-open"

	prefixRecord     = "r/"
	prefixTail       = "t/"
	prefixKind       = "k/"
	prefixConflict   = "c/"
	prefixOp         = "o/"
	prefixOutbox     = "q/"
	prefixOutboxID   = "p/"
	prefixQuarantine = "x/"
	prefixResync     = "v/"
	prefixBase       = "s/"
	prefixDropped    = "g/"
	prefixUpload     = "u/"
	prefixBlob       = "b/"
	prefixFile       = "f/"
	prefixFileOrder  = "e/"
)

func fileKey(record, digest string) []byte { return []byte(prefixFile + record + "/" + digest) }

func uploadKey(scope, digest string) []byte  { return []byte(prefixUpload + scope + "/" + digest) }
func blobPrefix(scope, digest string) []byte { return []byte(prefixBlob + scope + "/" + digest + "/") }

func blobChunkKey(scope, digest string, n uint64) []byte {
	return binary.BigEndian.AppendUint64(blobPrefix(scope, digest), n)
}

func recordKey(id string) []byte        { return []byte(prefixRecord + id) }
func tailKey(id string) []byte          { return []byte(prefixTail + id) }
func kindKey(kind, id string) []byte    { return []byte(prefixKind + kind + "/" + id) }
func kindPrefix(kind string) []byte     { return []byte(prefixKind + kind + "/") }
func conflictKey(id string) []byte      { return []byte(prefixConflict + id) }
func recordOpsPrefix(rec string) []byte { return []byte(prefixOp + rec + "/") }
func outboxIDKey(op string) []byte      { return []byte(prefixOutboxID + op) }
func resyncKey(rec string) []byte       { return []byte(prefixResync + rec) }
func baseKey(rec string) []byte         { return []byte(prefixBase + rec) }

func opKey(rec, field, op string) []byte {
	return []byte(prefixOp + rec + "/" + field + "/" + op)
}

func outboxKey(seq uint64) []byte     { return seqKey(prefixOutbox, seq) }
func quarantineKey(seq uint64) []byte { return seqKey(prefixQuarantine, seq) }

func seqKey(prefix string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefix), seq)
}

// seqOf returns the sequence number of an outbox or quarantine key.
func seqOf(key []byte) uint64 {
	return binary.BigEndian.Uint64(key[len(key)-8:])
}

func encodeSeq(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func decodeSeq(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}
