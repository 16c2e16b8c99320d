package fieldsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// DefaultFileCache is the bytes of downloaded files a replica keeps when
// Options.FileCache is zero.
const DefaultFileCache = 64 << 20

// Downloaded files (issue 16 item 7) are fetched on demand and kept in
// the replica under f/<record>/<digest>, so they are encrypted at rest
// with it, dropped with their record (deleteState) and erased with the
// replica on a wipe. The cache is bounded by Options.FileCache: the
// oldest files are evicted first (e/<seq> orders them).

// Fetch returns the file digest attached to record id, while a live
// entry of the record as held on this device names it (a file whose entry
// was redacted is dropped from the cache and is ErrNoFile): from the
// cache, or downloaded from the server (which serves it only to a caller
// who may read the record while a live entry names it) and checked
// against its digest before it is kept and returned.
func (c *Client) Fetch(ctx context.Context, id, digest string) ([]byte, error) {
	if !model.ValidID(id) || !model.ValidDigest(digest) {
		return nil, fmt.Errorf("fetch file: %w", model.Errorf(model.CodeInvalidRequest, "A file is named by a record id and a SHA-256 digest in lowercase hex."))
	}
	if err := c.enter(); err != nil {
		return nil, err
	}
	data, err := c.fetch(ctx, id, digest)
	c.leave()
	if err != nil {
		return nil, fmt.Errorf("fetch file: %w", c.finish(err))
	}
	return data, nil
}

// fetch is Fetch inside enter and leave.
func (c *Client) fetch(ctx context.Context, id, digest string) ([]byte, error) {
	var data []byte
	live := false
	err := c.view(func(b *badger.Txn) error {
		r, err := loadExisting(b, c.schema, id)
		if err != nil {
			return err
		}
		if live = references(r, digest); !live {
			return nil
		}
		data, err = getValue(b, fileKey(id, digest))
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case !live:
		// Redacted since it was cached, or never attached here.
		if err := c.update(func(t *tx) error { return t.del(fileKey(id, digest)) }); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("file %s of record %s: %w", digest, id, ErrNoFile)
	case data != nil:
		return data, nil
	}
	if err := c.call(ctx, http.MethodGet, "/v1/records/"+id+"/attachments/"+digest, nil, &data, true); err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != digest {
		return nil, &transportError{errors.New("the file received does not match its digest")}
	}
	if int64(len(data)) <= int64(c.opt.FileCache) {
		if err := c.cacheFile(id, digest, data); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// references reports whether a live (unredacted) attachments entry of r
// names digest.
func references(r *crdt.Record, digest string) bool {
	for _, e := range r.Entries(model.FieldAttachments) {
		var entry struct {
			Digest string `json:"digest"`
		}
		if !e.Redacted && json.Unmarshal(e.Value, &entry) == nil && entry.Digest == digest {
			return true
		}
	}
	return false
}

// cacheFile keeps data and evicts the oldest files until the cache is
// within Options.FileCache.
func (c *Client) cacheFile(id, digest string, data []byte) error {
	return c.update(func(t *tx) error {
		order := t.keys([]byte(prefixFileOrder))
		seq := uint64(0)
		if len(order) > 0 {
			seq = seqOf(order[len(order)-1]) + 1
		}
		total := int64(len(data))
		sizes := map[string]int64{}
		it := t.b.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixFile)})
		for it.Rewind(); it.Valid(); it.Next() {
			sizes[string(it.Item().Key())] = it.Item().ValueSize()
			total += it.Item().ValueSize()
		}
		it.Close()
		for _, k := range order {
			if total <= int64(c.opt.FileCache) {
				break
			}
			file, err := t.get(k)
			if err != nil {
				return err
			}
			total -= sizes[string(file)]
			if err := errors.Join(t.del(file), t.del(k)); err != nil {
				return err
			}
		}
		return errors.Join(t.set(fileKey(id, digest), data), t.set(seqKey(prefixFileOrder, seq), fileKey(id, digest)))
	})
}

// dropFiles deletes the cached files of record id.
func (t *tx) dropFiles(id string) error {
	for _, k := range t.keys([]byte(prefixFile + id + "/")) {
		if err := t.del(k); err != nil {
			return err
		}
	}
	return nil
}
