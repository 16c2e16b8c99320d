package store

import (
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/sync/protocol"
)

// DefaultFeedLimit is the page size of Feed when the caller asks for none.
const DefaultFeedLimit = 1000

// Feed returns up to limit entries with a sequence number above after, in
// sequence order: from the global feed when all is set (ops only, Bucket
// empty), otherwise merged from the feeds of buckets (ops and drop
// markers). Every entry carries its record's scope as it is now. Last is
// the greatest sequence read (after when none), More whether further
// entries exist. The page is read from one consistent snapshot.
func (db *DB) Feed(ctx context.Context, buckets []string, all bool, after uint64, limit int) (protocol.FeedPage, error) {
	if limit <= 0 {
		limit = DefaultFeedLimit
	}
	page := protocol.FeedPage{Last: after}
	err := db.view(ctx, func(txn *badger.Txn) error {
		f := feedReader{ctx: ctx, txn: txn, sr: newScopeReader(txn), page: &page, limit: limit, keys: db.keys}
		if all {
			if err := f.global(after); err != nil {
				return err
			}
			return f.erasures(after)
		}
		return f.buckets(buckets, after)
	})
	if err != nil {
		return protocol.FeedPage{}, fmt.Errorf("read feed: %w", err)
	}
	return page, nil
}

// feedReader fills one page.
type feedReader struct {
	ctx   context.Context
	txn   *badger.Txn
	sr    *scopeReader
	page  *protocol.FeedPage
	limit int
	keys  *dataKeys
}

func (f *feedReader) full() (bool, error) {
	n := len(f.page.Entries)
	if n > 0 && n%256 == 0 {
		if err := f.ctx.Err(); err != nil {
			return false, err
		}
	}
	return n >= f.limit, nil
}

// global reads the global feed.
func (f *feedReader) global(after uint64) error {
	it := f.txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixFeed), PrefetchValues: true, PrefetchSize: min(f.limit, 256)})
	defer it.Close()
	for it.Seek(feedKey(after + 1)); it.Valid(); it.Next() {
		full, err := f.full()
		if err != nil {
			return err
		}
		if full {
			f.page.More = true
			return nil
		}
		item := it.Item()
		seq := seqOfKey(item.Key())
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("read feed entry %d: %w", seq, err)
		}
		if err := f.add(seq, "", v); err != nil {
			return err
		}
	}
	return nil
}

// erasures adds to a global page the drop markers of the records erased
// (retention.go) in the range the page covers: up to its last entry when
// more follow, otherwise all of them. The page stays in sequence order.
func (f *feedReader) erasures(after uint64) error {
	it := f.txn.NewIterator(badger.IteratorOptions{Prefix: bucketPrefix(erasuresBucket), PrefetchValues: true})
	defer it.Close()
	added := false
	for it.Seek(bucketKey(erasuresBucket, after+1)); it.Valid(); it.Next() {
		seq := seqOfKey(it.Item().Key())
		if f.page.More && seq > f.page.Last {
			break
		}
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("read erasure %d: %w", seq, err)
		}
		if drop, _ := isDropValue(v); !drop {
			return fmt.Errorf("read erasure %d: the entry is damaged", seq)
		}
		f.page.Entries = append(f.page.Entries, protocol.FeedEntry{Seq: seq, Bucket: erasuresBucket, Record: string(v[1:]), Drop: true, Erased: true})
		f.page.Last = max(f.page.Last, seq)
		added = true
	}
	if added {
		slices.SortStableFunc(f.page.Entries, func(a, b protocol.FeedEntry) int { return cmpUint(a.Seq, b.Seq) })
	}
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// add appends the op entry at seq whose f/ value is v.
func (f *feedReader) add(seq uint64, bucket string, v []byte) error {
	record, js, err := splitFeedValue(f.keys, v)
	if err != nil {
		return fmt.Errorf("read feed entry %d: %w", seq, err)
	}
	scope, err := f.sr.scope(record)
	if err != nil {
		return err
	}
	f.page.Entries = append(f.page.Entries, protocol.FeedEntry{Seq: seq, Bucket: bucket, Record: record, JSON: js, Scope: scope})
	f.page.Last = seq
	return nil
}

// buckets merges the feeds of buckets by sequence.
func (f *feedReader) buckets(buckets []string, after uint64) error {
	buckets = slices.Compact(slices.Sorted(slices.Values(buckets)))
	h := make(cursorHeap, 0, len(buckets))
	defer func() {
		for _, c := range h {
			c.it.Close()
		}
	}()
	for _, b := range buckets {
		it := f.txn.NewIterator(badger.IteratorOptions{Prefix: bucketPrefix(b), PrefetchValues: true, PrefetchSize: min(f.limit, 100)})
		it.Seek(bucketKey(b, after+1))
		if !it.Valid() {
			it.Close()
			continue
		}
		h = append(h, &bucketCursor{bucket: b, it: it, seq: seqOfKey(it.Item().Key())})
	}
	heap.Init(&h)
	for h.Len() > 0 {
		full, err := f.full()
		if err != nil {
			return err
		}
		if full {
			f.page.More = true
			return nil
		}
		c := h[0]
		if err := f.addBucketEntry(c); err != nil {
			return err
		}
		c.it.Next()
		if c.it.Valid() {
			c.seq = seqOfKey(c.it.Item().Key())
			heap.Fix(&h, 0)
		} else {
			c.it.Close()
			heap.Pop(&h)
		}
	}
	return nil
}

// addBucketEntry appends the entry c points at: a drop marker, or the op
// of the f/ entry it names.
func (f *feedReader) addBucketEntry(c *bucketCursor) error {
	v, err := c.it.Item().ValueCopy(nil)
	if err != nil {
		return fmt.Errorf("read bucket %s entry %d: %w", c.bucket, c.seq, err)
	}
	if drop, erased := isDropValue(v); drop {
		record := string(v[1:])
		scope, err := f.sr.scope(record)
		if err != nil {
			return err
		}
		f.page.Entries = append(f.page.Entries, protocol.FeedEntry{Seq: c.seq, Bucket: c.bucket, Record: record, Drop: true, Erased: erased, Scope: scope})
		f.page.Last = c.seq
		return nil
	}
	fseq := c.seq // an op indexed under its own seq
	var prev uint64
	var from string
	switch {
	case len(v) > 16: // indexed again after a move
		fseq, prev, from = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), string(v[16:])
	case len(v) > 0:
		if fseq, err = parseUint64(v); err != nil {
			return fmt.Errorf("read bucket %s entry %d: %w", c.bucket, c.seq, err)
		}
	}
	fv, err := getValue(f.txn, feedKey(fseq))
	if err != nil {
		return fmt.Errorf("read feed entry %d of bucket %s entry %d: %w", fseq, c.bucket, c.seq, err)
	}
	if err := f.add(c.seq, c.bucket, fv); err != nil {
		return err
	}
	if from != "" {
		e := &f.page.Entries[len(f.page.Entries)-1]
		e.MovedFrom, e.PrevSeq = from, prev
	}
	return nil
}

// bucketCursor is one bucket's iterator in the merge.
type bucketCursor struct {
	bucket string
	it     *badger.Iterator
	seq    uint64
}

// cursorHeap orders bucket cursors by their current sequence.
type cursorHeap []*bucketCursor

// Len implements heap.Interface.
func (h cursorHeap) Len() int { return len(h) }

// Less implements heap.Interface.
func (h cursorHeap) Less(i, j int) bool { return h[i].seq < h[j].seq }

// Swap implements heap.Interface.
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

// Push implements heap.Interface.
func (h *cursorHeap) Push(x any) { *h = append(*h, x.(*bucketCursor)) }

// Pop implements heap.Interface.
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// LastSeq returns the greatest committed sequence number, as badger holds
// it now: a cursor from any earlier Feed is never above it.
func (db *DB) LastSeq(ctx context.Context) (uint64, error) {
	var seq uint64
	err := db.view(ctx, func(txn *badger.Txn) error {
		var err error
		seq, err = getUint(txn, keySeq)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read last seq: %w", err)
	}
	return seq, nil
}

// HostedWeeks returns the ids of the action weeks hosted by any of teams,
// sorted.
func (db *DB) HostedWeeks(ctx context.Context, teams []string) ([]string, error) {
	var weeks []string
	err := db.view(ctx, func(txn *badger.Txn) error {
		for _, t := range teams {
			prefix := key2(prefixHosted, t, "")
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			for it.Rewind(); it.Valid(); it.Next() {
				weeks = append(weeks, string(it.Item().Key()[len(prefix):]))
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read hosted weeks: %w", err)
	}
	slices.Sort(weeks)
	return slices.Compact(weeks), nil
}
