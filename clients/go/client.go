package fieldsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/badgerdir"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Client is one device's replica: open it with Open, log in once, write
// and read offline, and sync with Sync or Run. It is safe for concurrent
// use. A directory belongs to one Client at a time and to one user.
type Client struct {
	dir    string
	opt    Options
	log    *slog.Logger
	schema *model.Schema
	db     *badger.DB
	clock  *hlc.Clock
	device string

	// ctx ends when the Client closes or wipes; every request derives
	// from it, so Close never waits for the network.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// life guards db against Close and wipe: operations hold it shared,
	// Close and wipe exclusively. state is guarded by life.
	life  sync.RWMutex
	state lifeState

	// writeMu serialises every write transaction, so the outbox sequence
	// and the persisted clock only move forward. It guards nextSeq,
	// cursor, resyncing and lastSync.
	writeMu   sync.Mutex
	nextSeq   uint64
	cursor    string
	resyncing bool
	lastSync  time.Time

	// cache holds recently written records decoded (guarded by writeMu).
	cache *recordCache

	// syncMu lets one sync run at a time.
	syncMu sync.Mutex
	// fetchMu lets one FetchTo download or write out a file at a time,
	// so a download never deletes or evicts the chunks another is
	// writing (fetch.go).
	fetchMu sync.Mutex
	// pullSize and snapSize adapt pull and snapshot pages to the link.
	pullSize, snapSize *pageSizer
	// pushed and pulled count, since Open, the ops the server accepted
	// (applied or duplicate) and the ops and drops pulled (see Status).
	pushed, pulled atomic.Int64

	// authMu serialises logins and refreshes; sess is guarded by sessMu.
	authMu sync.Mutex
	sessMu sync.RWMutex
	sess   session

	// poke wakes Run (local write, server event).
	poke chan struct{}
	subs subscribers

	gcDone chan struct{}
	// ownHTTP is set when the SDK made the HTTP client (and closes its
	// idle connections on Close).
	ownHTTP bool
}

// recordCacheSize is how many decoded records write transactions keep.
const recordCacheSize = 512

type lifeState int

const (
	stateOpen lifeState = iota
	stateClosed
	stateWiped
)

// Open opens (or creates) the replica in dir, restoring the outbox, the
// session, the pull cursor and the clock. The directory is the app's:
// the SDK keeps its files there and erases them all on a wipe.
func Open(dir string, opt Options) (*Client, error) {
	ownHTTP := opt.HTTPClient == nil
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create replica directory: %w", err)
	}
	db, err := openBadger(filepath.Join(dir, "db"), opt)
	if err != nil {
		return nil, err
	}
	c := &Client{
		dir: dir, opt: opt, log: opt.Logger, schema: opt.Schema, db: db,
		clock: hlc.NewClock(opt.Now, 0), done: make(chan struct{}),
		poke: make(chan struct{}, 1), gcDone: make(chan struct{}), ownHTTP: ownHTTP, cache: newRecordCache(recordCacheSize),
		pullSize: newPageSizer(opt.PullLimit, minPullLimit, MaxPullLimit, opt.PageTime),
		snapSize: newPageSizer(opt.SnapshotLimit, minSnapshotLimit, MaxPullLimit/10, opt.PageTime),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.restore(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := c.sweepChunks(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := c.syncStore(); err != nil {
		_ = db.Close()
		return nil, err
	}
	go c.collectGarbage()
	c.log.Debug("replica opened", "dir", dir, "device", c.device, "outbox_next", c.nextSeq)
	return c, nil
}

func openBadger(dir string, opt Options) (*badger.DB, error) {
	// Durability is decided per transaction: local writes, push results
	// and sessions are synced before they are acknowledged (update,
	// saveSession); pulled pages are not (updateLazy). Memory is sized
	// for a tablet: two 32 MiB memtables and a 32 MiB block cache.
	bo := badger.DefaultOptions(dir).
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		WithMemTableSize(32 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(32 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithLogger(badgerLogger{opt.Logger.With("component", "badger")})
	if len(opt.EncryptionKey) > 0 {
		bo = bo.WithEncryptionKey(opt.EncryptionKey).WithIndexCacheSize(16 << 20)
	}
	db, err := badgerdir.Open(bo, opt.Logger)
	if err != nil {
		return nil, fmt.Errorf("open replica store: %w", err)
	}
	return db, nil
}

// restore loads what the Client keeps in memory, creating the device id on
// first open.
func (c *Client) restore() error {
	return c.db.Update(func(b *badger.Txn) error {
		dev, err := getValue(b, []byte(keyDevice))
		if err != nil {
			return err
		}
		if dev == nil {
			dev = []byte(uuid.NewString())
			if err := b.Set([]byte(keyDevice), dev); err != nil {
				return fmt.Errorf("store device id: %w", err)
			}
		}
		c.device = string(dev)
		if c.sess, err = loadSession(b); err != nil {
			return err
		}
		cur, err := getValue(b, []byte(keyCursor))
		if err != nil {
			return err
		}
		c.cursor = string(cur)
		resync, err := getValue(b, []byte(keyResync))
		if err != nil {
			return err
		}
		c.resyncing = resync != nil
		if v, err := getValue(b, []byte(keyLastSync)); err != nil {
			return err
		} else if v != nil {
			c.lastSync, _ = time.Parse(time.RFC3339Nano, string(v))
		}
		clk, err := getValue(b, []byte(keyClock))
		if err != nil {
			return err
		}
		if last := hlc.Timestamp(decodeSeq(clk)); last != 0 {
			_, _ = c.clock.Update(last) // never behind what was issued before
		}
		c.nextSeq = max(lastSeq(b, prefixOutbox), lastSeq(b, prefixQuarantine)) + 1
		return nil
	})
}

// lastSeq returns the greatest sequence under prefix (0 when empty).
func lastSeq(b *badger.Txn, prefix string) uint64 {
	it := b.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), Reverse: true})
	defer it.Close()
	it.Seek(seqKey(prefix, ^uint64(0)))
	if !it.Valid() {
		return 0
	}
	return seqOf(it.Item().Key())
}

// DeviceID returns this device's id, generated on first Open and sent with
// every login so that ops written before the first sync carry it.
func (c *Client) DeviceID() string { return c.device }

// enter makes an operation hold the store open; leave ends it. Internal
// code never calls enter again while holding it.
func (c *Client) enter() error {
	c.life.RLock()
	switch c.state {
	case stateClosed:
		c.life.RUnlock()
		return ErrClosed
	case stateWiped:
		c.life.RUnlock()
		return ErrWiped
	}
	return nil
}

func (c *Client) leave() { c.life.RUnlock() }

// wiped reports whether the replica was wiped (waiting for a wipe in
// progress to finish).
func (c *Client) wiped() bool {
	c.life.RLock()
	defer c.life.RUnlock()
	return c.state == stateWiped
}

// bind returns a context that also ends when the Client closes or wipes.
func (c *Client) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Close stops syncing, waits for operations in progress and closes the
// store. Everything acknowledged is already on disk. Close is idempotent.
func (c *Client) Close() error {
	c.cancel()
	c.life.Lock()
	defer c.life.Unlock()
	if c.state != stateOpen {
		return nil
	}
	c.state = stateClosed
	return c.shutdown()
}

// shutdown closes the store; life must be held exclusively.
func (c *Client) shutdown() error {
	close(c.done)
	<-c.gcDone
	if c.ownHTTP {
		c.opt.HTTPClient.CloseIdleConnections()
	}
	if err := c.db.Close(); err != nil {
		return fmt.Errorf("close replica store: %w", err)
	}
	return nil
}

// wipe erases every local file after the server said the device must
// (revoked, grant ended), and returns ErrWiped wrapping cause.
func (c *Client) wipe(cause error) error {
	c.cancel()
	c.life.Lock()
	defer c.life.Unlock()
	if c.state == stateWiped {
		return fmt.Errorf("%w: %w", ErrWiped, cause)
	}
	if c.state == stateOpen {
		if err := c.shutdown(); err != nil {
			c.log.Error("close store before wipe", "err", err)
		}
	}
	c.state = stateWiped
	c.sessMu.Lock()
	c.sess = session{}
	c.sessMu.Unlock()
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("wipe local data: %w", errors.Join(err, ErrWiped, cause))
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(c.dir, e.Name())))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wipe local data: %w", errors.Join(err, ErrWiped, cause))
	}
	c.log.Warn("local data wiped on the server's order", "device", c.device, "code", apiCode(cause))
	return fmt.Errorf("%w: %w", ErrWiped, cause)
}

// finish turns an error that orders a wipe into the wipe; operations call
// it after leave.
func (c *Client) finish(err error) error {
	if isWipe(err) {
		return c.wipe(err)
	}
	return err
}

// collectGarbage runs badger's value-log GC now and then.
func (c *Client) collectGarbage() {
	defer close(c.gcDone)
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			for c.db.RunValueLogGC(0.5) == nil {
			}
		}
	}
}

// badgerLogger routes badger's logs to slog (its info chatter as debug).
type badgerLogger struct{ l *slog.Logger }

// Errorf logs at error level.
func (b badgerLogger) Errorf(f string, a ...any) { b.l.Error(fmt.Sprintf(f, a...)) }

// Warningf logs at warning level.
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(fmt.Sprintf(f, a...)) }

// Infof logs at debug level: badger's information is chatter to an app.
func (b badgerLogger) Infof(f string, a ...any) { b.l.Debug(fmt.Sprintf(f, a...)) }

// Debugf logs at debug level.
func (b badgerLogger) Debugf(f string, a ...any) { b.l.Debug(fmt.Sprintf(f, a...)) }
