package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/auth"
	"github.com/fieldsync/fieldsync/server/badgerdir"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

var (
	_ protocol.Store = (*DB)(nil)
	_ auth.Store     = (*DB)(nil)
)

// Defaults of Options.
const (
	DefaultGCInterval  = 5 * time.Minute
	DefaultGroupMaxOps = 5000
)

// layoutVersion names the keyspace documented in doc.go.
const layoutVersion = "2"

// Options configure Open.
type Options struct {
	// Schema is the record schema ops are applied with (nil:
	// model.DefaultSchema()).
	Schema *model.Schema
	// Logger receives badger's warnings and errors and the store's own
	// notices (nil: discard).
	Logger *slog.Logger
	// EncryptionKey turns on encryption at rest: a 16, 24 or 32 byte AES
	// key (nil: off). A store written with a key opens only with that key.
	EncryptionKey []byte
	// GCInterval is the period of value-log garbage collection (0:
	// DefaultGCInterval; negative: off).
	GCInterval time.Duration
	// MemTableSize is badger's memtable size in bytes (0: badger's
	// default). Badger's largest transaction is 15% of it.
	MemTableSize int64
	// GroupMaxOps bounds the ops one group commit gathers (0:
	// DefaultGroupMaxOps). A single request larger than that is still
	// processed whole.
	GroupMaxOps int
	// Now is the server's wall clock, stamped on records as their last
	// update (nil: time.Now).
	Now func() time.Time
	// RecordCacheBytes bounds the writer's cache of record states (0:
	// DefaultRecordCacheBytes). Records written by chunks not yet
	// committed are kept beyond it.
	RecordCacheBytes int
	// plainValues stores append values without data keys, as stores did
	// before them: only the canary tests' controls set it.
	plainValues bool
}

func (o Options) withDefaults() Options {
	if o.Schema == nil {
		o.Schema = model.DefaultSchema()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.GCInterval == 0 {
		o.GCInterval = DefaultGCInterval
	}
	if o.GroupMaxOps <= 0 {
		o.GroupMaxOps = DefaultGroupMaxOps
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RecordCacheBytes <= 0 {
		o.RecordCacheBytes = DefaultRecordCacheBytes
	}
	return o
}

// DB is fieldsync's store on one badger directory. It is safe for
// concurrent use; op writes go through one writer goroutine (Commit).
type DB struct {
	bdb    *badger.DB
	opt    Options
	log    *slog.Logger
	schema *model.Schema

	// mu guards closed and the enqueueing of requests, so that Close
	// waits for requests already being handed to the writer.
	mu     sync.RWMutex
	closed bool
	reqs   chan *request

	// seq and records are the counters loaded at Open, where the writer
	// starts.
	seq     uint64
	records uint64

	// commits carries built chunks from the processor to the committer
	// (unbuffered: at most one chunk is in flight).
	commits       chan *chunk
	committerDone chan struct{}
	// pipeMu guards epoch, which a failed commit increments, and
	// batch.replied; pipeCond signals a commit or a failure.
	pipeMu   sync.Mutex
	pipeCond *sync.Cond
	epoch    uint64
	// committed is the last seq committed.
	committed atomic.Uint64
	// filter holds every stored op id (and some more), for the writer;
	// filterSeq is the last sequence number whose op it surely holds (set
	// by the committer).
	filter    *opFilter
	filterSeq uint64
	// commitTxn commits a chunk's transaction (tests inject failures).
	commitTxn func(*badger.Txn) error

	writerDone chan struct{}
	gcStop     chan struct{}
	gcDone     chan struct{}
	closeOnce  sync.Once
	closeErr   error
	// loadFailed is set when a Restore's badger Load failed: badger then
	// never marks the loaded versions done, so every later transaction
	// would wait forever. Close then skips saving the op filter; the
	// store must be thrown away.
	loadFailed atomic.Bool
	// keys is the store's data key store (datakeys.go).
	keys *dataKeys
	// erasing holds the records whose ops an erasure is still deleting
	// (retention.go, finishErasures); Open and the writer only.
	erasing map[string]bool
	// blobKeysMu orders an upload's creation (its key, then its bu/ key)
	// and SweepBlobKeys (blobs.go).
	blobKeysMu sync.Mutex
}

// Open opens (or creates) the store in dir and starts its writer and its
// value-log garbage collection.
func Open(dir string, opt Options) (*DB, error) {
	opt = opt.withDefaults()
	switch len(opt.EncryptionKey) {
	case 0, 16, 24, 32:
	default:
		return nil, fmt.Errorf("open store %s: the encryption key has %d bytes; it must have 16, 24 or 32", dir, len(opt.EncryptionKey))
	}
	bo := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithLogger(badgerLogger{opt.Logger.With("component", "badger")})
	if len(opt.EncryptionKey) > 0 {
		bo = bo.WithEncryptionKey(opt.EncryptionKey).WithIndexCacheSize(64 << 20)
	}
	if opt.MemTableSize > 0 {
		// Badger refuses a value threshold above its largest batch (15%
		// of the memtable); bigger values go to the value log.
		bo = bo.WithMemTableSize(opt.MemTableSize).
			WithValueThreshold(min(bo.ValueThreshold, opt.MemTableSize*15/100/4))
	}
	bdb, err := badgerdir.Open(bo, opt.Logger)
	if err != nil {
		if errors.Is(err, badger.ErrEncryptionKeyMismatch) {
			return nil, fmt.Errorf("open store %s: the encryption key does not match the store's (a wrong key, no key for an encrypted store, or a key for an unencrypted one): %w", dir, err)
		}
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	// The key store sits in badger's directory (created by now), under
	// badger's directory lock.
	var keys *dataKeys
	if !opt.plainValues {
		if keys, err = openDataKeys(filepath.Join(dir, dataKeysFile)); err != nil {
			return nil, errors.Join(fmt.Errorf("open store %s: %w", dir, err), bdb.Close())
		}
	}
	db := &DB{
		bdb:           bdb,
		opt:           opt,
		log:           opt.Logger,
		schema:        opt.Schema,
		reqs:          make(chan *request, 256),
		commits:       make(chan *chunk),
		committerDone: make(chan struct{}),
		writerDone:    make(chan struct{}),
		gcStop:        make(chan struct{}),
		gcDone:        make(chan struct{}),
		commitTxn:     (*badger.Txn).Commit,
		keys:          keys,
		erasing:       map[string]bool{},
	}
	db.pipeCond = sync.NewCond(&db.pipeMu)
	if err := db.init(); err != nil {
		return nil, errors.Join(fmt.Errorf("open store %s: %w", dir, err), bdb.Close(), keys.close())
	}
	go db.writer()
	go db.gc()
	return db, nil
}

// init checks the keyspace version and loads the committed counters.
func (db *DB) init() error {
	migrate := false
	err := db.bdb.Update(func(txn *badger.Txn) error {
		v, err := getValue(txn, []byte(keyLayout))
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
			return txn.Set([]byte(keyLayout), []byte(layoutVersion))
		case err != nil:
			return err
		case string(v) == "1":
			migrate = true
		case string(v) != layoutVersion:
			return fmt.Errorf("the store's keyspace version is %q; this build reads version %q", v, layoutVersion)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check keyspace version: %w", err)
	}
	if migrate {
		if err := db.migrateV1(); err != nil {
			return fmt.Errorf("migrate keyspace version 1: %w", err)
		}
	}
	seq, records, err := db.loadCounters()
	if err != nil {
		return err
	}
	db.seq, db.records = seq, records
	db.committed.Store(seq)
	db.filter, db.filterSeq, err = db.loadOpFilter()
	if err != nil {
		return err
	}
	if err := db.sweepKeys(); err != nil {
		return err
	}
	if err := db.sweepErasures(); err != nil {
		return err
	}
	if err := db.finishErasures(); err != nil {
		// The records stay erased for every answer (db.erasing); the
		// next Open or erasure tries again.
		db.log.Error("could not finish deleting the ops of erased records", "err", err)
	}
	return nil
}

// loadCounters reads m/seq and m/records as badger holds them now.
func (db *DB) loadCounters() (seq, records uint64, err error) {
	err = db.bdb.View(func(txn *badger.Txn) error {
		if seq, err = getUint(txn, keySeq); err != nil {
			return err
		}
		records, err = getUint(txn, keyRecords)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("load counters: %w", err)
	}
	return seq, records, nil
}

// Close stops accepting commits, lets the writer finish every request
// already queued, stops garbage collection, saves the writer's op filter
// and closes badger. Later calls return the first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.stopBackground()
		var err error
		if !db.loadFailed.Load() {
			err = db.saveOpFilter(db.filter, db.filterSeq)
		}
		if cerr := db.bdb.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
		}
		err = errors.Join(err, db.keys.close())
		db.closeErr = err
	})
	return db.closeErr
}

// stopBackground stops accepting commits, waits for the writer to finish
// every request already queued, and stops garbage collection. Call it
// once, under closeOnce.
func (db *DB) stopBackground() {
	db.mu.Lock()
	db.closed = true
	close(db.reqs)
	db.mu.Unlock()
	<-db.writerDone
	close(db.gcStop)
	<-db.gcDone
}

// gc runs badger's value-log garbage collection every GCInterval until
// Close.
func (db *DB) gc() {
	defer close(db.gcDone)
	if db.opt.GCInterval < 0 {
		<-db.gcStop
		return
	}
	t := time.NewTicker(db.opt.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-db.gcStop:
			return
		case <-t.C:
			db.runGC()
		}
	}
}

// runGC rewrites value-log files until badger finds nothing worth
// rewriting.
func (db *DB) runGC() {
	for {
		select {
		case <-db.gcStop:
			return
		default:
		}
		err := db.bdb.RunValueLogGC(0.5)
		if err == nil {
			continue
		}
		if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
			db.log.Warn("value log garbage collection failed", "err", err)
		}
		return
	}
}

// unavailable is the error of a call after Close.
func unavailable() error {
	return model.Errorf(model.CodeUnavailable, "The store is closed; try again once the server has restarted.")
}

// notFound is the error for something absent.
func notFound(format string, args ...any) error {
	return model.Errorf(model.CodeNotFound, format, args...)
}

// view runs fn in a read transaction, after checking ctx.
func (db *DB) view(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bdb.View(fn)
}

// maxConflictRetries bounds the retries of an account transaction that
// lost an optimistic conflict.
const maxConflictRetries = 16

// update runs fn in a read-write transaction and commits it, running it
// again (from a fresh snapshot) when the commit loses a conflict with a
// concurrent transaction.
func (db *DB) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := db.bdb.Update(fn)
		if !errors.Is(err, badger.ErrConflict) || i == maxConflictRetries {
			return err
		}
	}
}
