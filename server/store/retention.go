package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/retention"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// Retention erasure (DESIGN §3: the one physical removal; doc.go). An
// expired record is erased by one small transaction of the writer, of
// the same size whatever the record holds: its head, summary, hold and
// links are deleted; a drop marker is written in its bucket and in the
// erasures feed (read by national readers) under a new seq; a tombstone
// x/<record id> is kept so that no op can bring the record back. The
// same transaction deletes the record's blob bindings and the head of
// every blob no other record binds. Once it commits, the record's data
// key (which seals its register and set values, snapshots and summary
// labels) and the keys of those blobs are destroyed, so the sealed
// values and chunks badger still holds (older versions, the value log)
// and every backup read as erased; the blobs' uploads and chunks are
// deleted next. A crash in between leaves the key ids in xk/<record id>,
// and Open destroys their keys; ExpireUploads (the upload sweep) deletes
// an upload whose key is gone. Then the record's ops (o/, f/, bucket
// entries, rl/ pages) are deleted in transactions of eraseOpsPerTx ops,
// each op's own data key (an append's) destroyed first; xd/<record id>
// names a record whose ops are not all deleted yet, and Open goes on
// with it (finishErasures).
const (
	prefixTombstone = "x/"
	prefixEraseKeys = "xk/"
	prefixHold      = "lh/"
	prefixPurgeAck  = "pa/"
	prefixEraseOps  = "xd/"
	erasuresBucket  = "x"
)

// Tombstone is what remains of an erased record: never content.
type Tombstone struct {
	Record     string    `json:"record"`
	Kind       string    `json:"kind"`
	Team       string    `json:"team,omitempty"`
	ActionWeek string    `json:"action_week,omitempty"`
	Creator    string    `json:"creator,omitempty"`
	Rule       string    `json:"rule"`
	At         time.Time `json:"at"`
	// Seq is the seq of the drop markers the erasure wrote.
	Seq uint64 `json:"seq"`
}

// Scope is the scope the record had when it was erased (its action
// week's host team left out).
func (t *Tombstone) Scope() access.Scope {
	return access.Scope{Kind: t.Kind, Team: t.Team, ActionWeek: t.ActionWeek, Creator: t.Creator}
}

// Hold is a legal hold on a record: while it is set, the record is never
// erased.
type Hold struct {
	Record string    `json:"record"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// ErrNotExpired is EraseRecord's answer for a record that no longer
// expires under the rule it was planned with (it changed, or was put on
// hold, since the plan).
var ErrNotExpired = model.Errorf(model.CodeConflict, "The record no longer expires under the rule it was planned with (changed or put on legal hold since); it was not erased.")

// Judge decides whether a record expires, and under which rule.
type Judge func(retention.Record) (rule string, expired bool)

// eraseReq is a retention erasure on its way to the writer.
type eraseReq struct {
	record  string
	rule    string
	at      time.Time
	judge   Judge
	entries []audit.Entry
}

// RetentionCandidate is a record retention judges: its facts and its
// scope (for the jurisdiction of whoever asks).
type RetentionCandidate struct {
	retention.Record
	Scope access.Scope
	// KeyGone is set when the record's data key is gone: retention erased
	// it before, and this store was restored from an older backup. Its
	// labels are unreadable (Record holds its id and kind only); an
	// erasure takes it again under any rule (RuleErasedBefore).
	KeyGone bool
}

// RuleErasedBefore is the rule an erasure names for a record whose data
// key is gone (RetentionCandidate.KeyGone).
const RuleErasedBefore = "erased before the backup was restored"

// decodeSummaryScopeOnly decodes the scope of the rs/ item of record id
// (the fields kept in the clear).
func decodeSummaryScopeOnly(item *badger.Item, id string) (Summary, error) {
	var s Summary
	err := item.Value(func(v []byte) error {
		var err error
		s, err = decodeSummaryValue(nil, id, v)
		if errors.Is(err, errRecordKeyGone) {
			err = nil
		}
		return err
	})
	return s, err
}

// RetentionRecords returns the facts retention judges for every record
// of kinds (records of other kinds are not judged), by record id, and
// every record whose key is gone (KeyGone), whatever its kind.
func (db *DB) RetentionRecords(ctx context.Context, kinds []string) ([]RetentionCandidate, error) {
	var out []RetentionCandidate
	err := db.view(ctx, func(txn *badger.Txn) error {
		weeks := map[string]time.Time{}
		sr := newScopeReader(txn)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixSummary), PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			id := string(it.Item().Key()[len(prefixSummary):])
			s, err := sr.decodeSummary(db.keys, id, it.Item())
			if errors.Is(err, errRecordKeyGone) {
				s, err = decodeSummaryScopeOnly(it.Item(), id)
				if err == nil { // whatever the rules say
					out = append(out, RetentionCandidate{Record: retention.Record{ID: id, Kind: s.Kind}, Scope: s.Scope(), KeyGone: true})
				}
				if err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			if !contains(kinds, s.Kind) {
				continue
			}
			r, err := db.retentionFacts(txn, &s, weeks)
			if err != nil {
				return err
			}
			out = append(out, RetentionCandidate{Record: r, Scope: s.Scope()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read retention facts: %w", err)
	}
	return out, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// retentionFacts returns what retention judges of the record s
// summarises; weeks caches the end days of action weeks.
func (db *DB) retentionFacts(txn *badger.Txn, s *Summary, weeks map[string]time.Time) (retention.Record, error) {
	held, err := exists(txn, key(prefixHold, s.ID))
	if err != nil {
		return retention.Record{}, fmt.Errorf("read hold of %s: %w", s.ID, err)
	}
	r := retention.Record{ID: s.ID, Kind: s.Kind, Status: s.Status, LastChange: s.UpdatedAt, Held: held}
	if s.Kind == model.KindSiteVisit && s.ActionWeek != "" {
		end, ok := weeks[s.ActionWeek]
		if !ok {
			if end, err = db.weekEnds(txn, s.ActionWeek); err != nil {
				return retention.Record{}, err
			}
			weeks[s.ActionWeek] = end
		}
		r.WeekEnds = end
	}
	return r, nil
}

// weekEnds returns the ends_on day of action week id (zero when unknown).
func (db *DB) weekEnds(txn *badger.Txn, id string) (time.Time, error) {
	rs, err := loadRecord(txn, db.schema, db.keys, id)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	day, err := time.Parse(time.DateOnly, crdt.String(rs.rec.Value(model.FieldEndsOn)))
	if err != nil {
		return time.Time{}, nil
	}
	return day, nil
}

// EraseRecord erases record id under rule at time at, with the audit
// entries of the erasure in the same transaction, if judge (given the
// record's facts as the erasure's transaction reads them) still expires
// it under rule: otherwise ErrNotExpired, and nothing changes. A record
// on legal hold is never erased. An unknown record is not_found.
func (db *DB) EraseRecord(ctx context.Context, id, rule string, at time.Time, judge Judge, entries []audit.Entry) error {
	req := &request{done: make(chan error, 1), erase: &eraseReq{record: id, rule: rule, at: at.UTC(), judge: judge, entries: entries}}
	if err := db.enqueue(ctx, req); err != nil {
		return err
	}
	return <-req.done
}

// eraseInWriter carries out an erasure on the writer goroutine: it waits
// until every chunk handed over has committed and drops the writer's
// overlay and cache (the erasure is rare; the next chunk reads badger
// afresh), then erases in one transaction of its own, destroys the
// record's key, and deletes the record's ops (finishErasures).
func (db *DB) eraseInWriter(w *writerState, req *request) {
	db.settle(w)
	db.resync(w)
	seq := w.seq + 1
	var keys []string
	var blobs []Blob
	err := db.bdb.Update(func(txn *badger.Txn) error {
		var err error
		keys, blobs, err = db.erase(txn, req.erase, seq)
		return err
	})
	if errors.Is(err, badger.ErrConflict) {
		// A hold or link of the record changed meanwhile: judged again at
		// the next run.
		err = ErrNotExpired
	}
	if err != nil {
		req.done <- err
		return
	}
	db.erasing[req.erase.record] = true
	w.seq, w.records, w.handed = seq, w.records-1, seq
	db.pipeMu.Lock()
	db.committed.Store(seq)
	db.pipeCond.Broadcast()
	db.pipeMu.Unlock()
	db.filterSeq = seq
	err = db.destroyErasedKeys(req.erase.record, keys)
	db.dropErasedBlobs(blobs)
	if ferr := db.finishErasures(); ferr != nil {
		db.log.Error("retention erasure could not delete an erased record's ops; the next open retries", "err", ferr)
	}
	req.done <- err
}

// dropErasedBlobs deletes the uploads and chunks of the blobs an erasure
// released, once their data keys are destroyed (deleteUpload destroys
// them first anyway). A failure is left to the sweep (ExpireUploads
// deletes every upload whose key is gone).
func (db *DB) dropErasedBlobs(blobs []Blob) {
	for _, b := range blobs {
		if err := db.deleteUpload(context.Background(), b.Upload, nil); err != nil {
			db.log.Error("retention erasure could not delete an erased blob's chunks; the upload sweep retries", "err", err)
		}
	}
}

// destroyErasedKeys destroys the data keys an erasure named (the
// record's key and the keys of the blobs it released), then forgets them
// (xk/).
func (db *DB) destroyErasedKeys(record string, keys []string) error {
	if err := db.keys.destroy(keys); err != nil {
		db.log.Error("retention erasure could not destroy data keys; the next open retries", "err", err)
		return nil // erased from every answer; Open finishes it
	}
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Delete(key(prefixEraseKeys, record)) }); err != nil {
		db.log.Error("retention erasure could not forget destroyed keys; the next open retries", "err", err)
	}
	return nil
}

// erase writes the erasure of e.record in txn, under seq; it returns the
// ids of the data keys to destroy (the record's key, and the keys of the
// blobs no other record binds once the record's bindings are gone) and
// those blobs, whose heads it deletes. The record's ops stay, listed in
// its rl/ pages, for finishErasures (xd/ names the record): an erasure
// of any size is one small transaction.
func (db *DB) erase(txn *badger.Txn, e *eraseReq, seq uint64) ([]string, []Blob, error) {
	// The head is read without its snapshot, which a store restored from
	// a backup older than an earlier erasure can no longer open.
	hv, err := getValue(txn, key(prefixRecord, e.record))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil, model.Errorf(model.CodeNotFound, "There is no record %s to erase.", e.record)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read record %s: %w", e.record, err)
	}
	h, err := parseHead(hv)
	if err != nil {
		return nil, nil, fmt.Errorf("decode record %s: %w", e.record, err)
	}
	sv, err := getValue(txn, key(prefixSummary, e.record))
	if err != nil {
		return nil, nil, fmt.Errorf("read summary of %s: %w", e.record, err)
	}
	s, err := decodeSummaryValue(db.keys, e.record, sv)
	switch {
	case errors.Is(err, errRecordKeyGone):
		// Its key is gone: retention erased it before (this store was
		// restored from an older backup), whatever its labels said.
	case err != nil:
		return nil, nil, err
	default:
		facts, err := db.retentionFacts(txn, &s, map[string]time.Time{})
		if err != nil {
			return nil, nil, err
		}
		if rule, ok := e.judge(facts); !ok || rule != e.rule {
			return nil, nil, ErrNotExpired
		}
	}
	blobs, keys, err := releaseErasedBlobs(txn, e.record)
	if err != nil {
		return nil, nil, err
	}
	keys = append(keys, recordKeyID(e.record))
	rs := &erasedRecord{kind: s.Kind, scope: h.scope, bucket: h.bucket}
	if err := db.eraseRest(txn, rs, e, seq, keys); err != nil {
		return nil, nil, err
	}
	return keys, blobs, appendAudit(txn, e.entries)
}

// erasedRecord is what an erasure reads of its record.
type erasedRecord struct {
	kind   string
	scope  access.Scope
	bucket string
}

// eraseRest deletes the record's head, summary, hold and links, and
// writes the drop markers, the tombstone, the keys to destroy (xk/), the
// ops to delete (xd/) and the counters.
func (db *DB) eraseRest(txn *badger.Txn, rs *erasedRecord, e *eraseReq, seq uint64, keys []string) error {
	id := e.record
	dels := [][]byte{key(prefixRecord, id), key(prefixSummary, id), key(prefixHold, id)}
	links, err := linkKeys(txn, id)
	if err != nil {
		return err
	}
	if err := deleteKeys(txn, append(dels, links...)...); err != nil {
		return err
	}
	t := Tombstone{Record: id, Kind: rs.kind, Team: rs.scope.Team, ActionWeek: rs.scope.ActionWeek, Creator: rs.scope.Creator, Rule: e.rule, At: e.at, Seq: seq}
	tv, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode tombstone: %w", err)
	}
	records, err := getUint(txn, keyRecords)
	if err != nil {
		return err
	}
	if records > 0 {
		records--
	}
	idList := make([]byte, 0, len(keys)*idLen)
	for _, k := range keys {
		idList = append(idList, k...)
	}
	sets := [][2][]byte{
		{key(prefixTombstone, id), tv},
		{key(prefixEraseKeys, id), idList},
		{key(prefixEraseOps, id), []byte(rs.bucket)},
		{bucketKey(erasuresBucket, seq), erasedMarker(id)},
		{[]byte(keySeq), uint64Value(seq)},
		{[]byte(keyRecords), uint64Value(records)},
	}
	if rs.bucket != "" {
		sets = append(sets, [2][]byte{bucketKey(rs.bucket, seq), erasedMarker(id)})
	}
	for _, kv := range sets {
		if err := txn.Set(kv[0], kv[1]); err != nil {
			return fmt.Errorf("erase record %s: %w", id, err)
		}
	}
	return nil
}

// eraseOpsPerTx is the number of an erased record's ops one transaction
// of finishErasures deletes (three keys each, and their rl/ pages; at
// least one page goes per transaction). Tests lower it.
var eraseOpsPerTx = 20000

// eraseInterrupt, when set (tests), is called after each transaction of
// finishErasures; an error stops it there, as a crash would.
var eraseInterrupt func(record string, done int) error

// finishErasures deletes the ops of every erased record xd/ names, in
// transactions of at most eraseOpsPerTx ops: for each, it destroys the
// data keys of the ops (their appends' own keys), then deletes the ops'
// o/, f/ and bucket entries with the rl/ pages that listed them. A crash
// leaves the pages not yet deleted, and the next Open goes on from there.
// Until then the record is erased for every answer: no head, no summary
// (its feed entries have a scope nobody reads), and its stored ops are
// unknown to the writer (db.erasing), so a re-push is record_erased.
func (db *DB) finishErasures() error {
	pending := map[string]string{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixEraseOps), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			pending[string(it.Item().Key()[len(prefixEraseOps):])] = string(v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finish erasures: %w", err)
	}
	for record := range pending {
		db.erasing[record] = true
	}
	var errs []error
	for record, bucket := range pending {
		if err := db.eraseOps(record, bucket); err != nil {
			errs = append(errs, fmt.Errorf("finish the erasure of %s: %w", record, err))
			continue
		}
		delete(db.erasing, record)
	}
	return errors.Join(errs...)
}

// eraseOps deletes the ops of erased record, one eraseOpChunk at a time.
func (db *DB) eraseOps(record, bucket string) error {
	for done := 1; ; done++ {
		more, err := db.eraseOpChunk(record, bucket)
		if err != nil || !more {
			return err
		}
		if eraseInterrupt != nil {
			if err := eraseInterrupt(record, done); err != nil {
				return err
			}
		}
	}
}

// eraseOpChunk deletes the ops of the first rl/ pages of an erased
// record, up to eraseOpsPerTx ops; it reports whether it deleted any
// (false once nothing is left, when it deletes xd/).
func (db *DB) eraseOpChunk(record, bucket string) (bool, error) {
	var ids []string
	var dels [][]byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		prefix := key(prefixOpList, record)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			ops, err := parseOpPage(nil, v)
			if err != nil {
				return fmt.Errorf("read op list of %s: %w", record, err)
			}
			if len(ids) > 0 && len(ids)+len(ops) > eraseOpsPerTx {
				return nil
			}
			for _, o := range ops {
				id, err := opIDAt(txn, db.keys, o.fseq)
				if err != nil {
					return err
				}
				ids = append(ids, id)
				dels = append(dels, key(prefixOp, id), feedKey(o.fseq))
				if bucket != "" {
					dels = append(dels, bucketKey(bucket, o.bseq))
				}
			}
			dels = append(dels, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if len(dels) == 0 {
		return false, db.bdb.Update(func(txn *badger.Txn) error { return txn.Delete(key(prefixEraseOps, record)) })
	}
	// The keys go first: a crash before the deletion commits leaves ops
	// whose values read as erased, found again by the next Open.
	if err := db.keys.destroy(ids); err != nil {
		return false, err
	}
	return true, db.bdb.Update(func(txn *badger.Txn) error { return deleteKeys(txn, dels...) })
}

// opIDAt returns the id of the op stored at f/ seq.
func opIDAt(txn *badger.Txn, ks *dataKeys, seq uint64) (string, error) {
	v, err := getValue(txn, feedKey(seq))
	if err != nil {
		return "", fmt.Errorf("read op at seq %d: %w", seq, err)
	}
	_, js, err := splitFeedValue(ks, v)
	if err != nil {
		return "", err
	}
	var o struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(js, &o); err != nil || len(o.ID) != idLen {
		return "", fmt.Errorf("read op id at seq %d: the stored op is damaged", seq)
	}
	return o.ID, nil
}

// releaseErasedBlobs deletes the blob bindings of an erased record and
// the heads of the blobs no other record binds, and returns those blobs
// and the ids of their data keys, which the erasure destroys with its
// ops' (xk/ holds them until then).
func releaseErasedBlobs(txn *badger.Txn, record string) ([]Blob, []string, error) {
	blobs, err := releaseBindings(txn, record, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("release blobs of %s: %w", record, err)
	}
	var keys []string
	for _, b := range blobs {
		if err := txn.Delete(blobKey(b.Scope, b.Digest)); err != nil {
			return nil, nil, fmt.Errorf("erase blob of %s: %w", record, err)
		}
		if b.Sealed {
			keys = append(keys, blobKeyID(b.Upload))
		}
	}
	return blobs, keys, nil
}

// linkKeys returns the l/ keys of record's links, both directions.
func linkKeys(txn *badger.Txn, record string) ([][]byte, error) {
	prefix := []byte(prefixLink + record + "/")
	var ks [][]byte
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().KeyCopy(nil)
		other := string(k[len(prefix):])
		ks = append(ks, k, key2(prefixLink, other, record))
	}
	return ks, nil
}

func deleteKeys(txn *badger.Txn, ks ...[]byte) error {
	for _, k := range ks {
		if err := txn.Delete(k); err != nil {
			return fmt.Errorf("erase: %w", err)
		}
	}
	return nil
}

// Tombstone returns the tombstone of record id, if it was erased.
func (db *DB) Tombstone(ctx context.Context, id string) (Tombstone, bool, error) {
	var t Tombstone
	found := false
	err := db.view(ctx, func(txn *badger.Txn) error {
		var err error
		t, found, err = readTombstone(txn, id)
		return err
	})
	return t, found, err
}

func readTombstone(txn *badger.Txn, id string) (Tombstone, bool, error) {
	v, err := getValue(txn, key(prefixTombstone, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Tombstone{}, false, nil
	}
	if err != nil {
		return Tombstone{}, false, fmt.Errorf("read tombstone of %s: %w", id, err)
	}
	var t Tombstone
	if err := json.Unmarshal(v, &t); err != nil {
		return Tombstone{}, false, fmt.Errorf("decode tombstone of %s: %w", id, err)
	}
	return t, true, nil
}

// Tombstones returns every tombstone, by record id.
func (db *DB) Tombstones(ctx context.Context) ([]Tombstone, error) {
	var out []Tombstone
	err := db.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixTombstone), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var t Tombstone
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &t) }); err != nil {
				return fmt.Errorf("decode tombstone: %w", err)
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read tombstones: %w", err)
	}
	return out, nil
}

// SetHold sets (hold) or clears the legal hold of record id, in one
// transaction with the audit entries of the change. A record that does
// not exist is not_found.
func (db *DB) SetHold(ctx context.Context, id string, hold bool, by string, at time.Time, entries []audit.Entry) error {
	return db.bdb.Update(func(txn *badger.Txn) error {
		if ok, err := exists(txn, key(prefixRecord, id)); err != nil || !ok {
			return absent(err, "read record", func() error {
				return model.Errorf(model.CodeNotFound, "There is no record %s.", id)
			})
		}
		k := key(prefixHold, id)
		if hold {
			v, err := json.Marshal(Hold{Record: id, By: by, At: at.UTC()})
			if err != nil {
				return fmt.Errorf("encode hold: %w", err)
			}
			if err := txn.Set(k, v); err != nil {
				return fmt.Errorf("write hold: %w", err)
			}
		} else if err := txn.Delete(k); err != nil {
			return fmt.Errorf("clear hold: %w", err)
		}
		return appendAudit(txn, entries)
	})
}

// HoldOf returns the legal hold of record id, if one is set.
func (db *DB) HoldOf(ctx context.Context, id string) (Hold, bool, error) {
	var h Hold
	found := false
	err := db.view(ctx, func(txn *badger.Txn) error {
		v, err := getValue(txn, key(prefixHold, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return json.Unmarshal(v, &h)
	})
	if err != nil {
		return Hold{}, false, fmt.Errorf("read hold of %s: %w", id, err)
	}
	return h, found, nil
}

// AckPurges records that device acknowledged the erasure of records (ids
// that are not tombstones are ignored); it returns how many it recorded.
func (db *DB) AckPurges(ctx context.Context, device string, records []string, at time.Time) (int, error) {
	n := 0
	err := db.bdb.Update(func(txn *badger.Txn) error {
		n = 0
		for _, r := range records {
			if ok, err := exists(txn, key(prefixTombstone, r)); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			v, _ := at.UTC().MarshalText()
			if err := txn.Set(key2(prefixPurgeAck, r, device), v); err != nil {
				return fmt.Errorf("write purge acknowledgement: %w", err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("acknowledge purges: %w", err)
	}
	return n, nil
}

// PurgeAcks returns, for erased record id, the devices that acknowledged
// its purge.
func (db *DB) PurgeAcks(ctx context.Context, id string) (map[string]bool, error) {
	acks := map[string]bool{}
	err := db.view(ctx, func(txn *badger.Txn) error {
		prefix := key2(prefixPurgeAck, id, "")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			acks[string(it.Item().Key()[len(prefix):])] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read purge acknowledgements: %w", err)
	}
	return acks, nil
}

// sweepErasures destroys the data keys an erasure interrupted by a crash
// left (xk/).
func (db *DB) sweepErasures() error {
	type pending struct {
		record string
		ops    []string
	}
	var ps []pending
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixEraseKeys), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			p := pending{record: string(it.Item().Key()[len(prefixEraseKeys):])}
			for len(v) >= idLen {
				p.ops, v = append(p.ops, string(v[:idLen])), v[idLen:]
			}
			ps = append(ps, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep erasures: %w", err)
	}
	for _, p := range ps {
		if err := db.keys.destroy(p.ops); err != nil {
			return fmt.Errorf("sweep erasures: %w", err)
		}
		if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Delete(key(prefixEraseKeys, p.record)) }); err != nil {
			return fmt.Errorf("sweep erasures: %w", err)
		}
	}
	return nil
}
