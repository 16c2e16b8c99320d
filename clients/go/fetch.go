package fieldsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// DefaultFileCache is the bytes of downloaded files a replica keeps when
// Options.FileCache is zero.
const DefaultFileCache = 64 << 20

// Downloaded files (issue 16 item 7) are fetched on demand into the
// replica, so they are encrypted at rest with it, dropped with their
// record (deleteState) and erased with the replica on a wipe. A file is
// never held in memory as a whole: it is downloaded into chunks of
// DefaultUploadChunk bytes under f/<record>/<digest>/<n>, hashed on the
// way, resuming a cut download at the byte received (a Range request;
// the bytes of a chunk cut short are kept too), and written out one chunk
// at a time only once the whole file matched its digest. A file whose
// bytes do not match is deleted and its writer receives nothing.
//
// A verified file is kept (f/<record>/<digest> is set to its size) while
// the cache is within Options.FileCache, the oldest files evicted first
// (e/<seq> orders them); one larger than the cache is deleted once it was
// written out. Besides the cache the replica holds at most one
// unfinished download (a new one deletes the chunks of any other), which
// the next FetchTo of its file resumes. One FetchTo at a time downloads
// or writes out a file (fetchMu), so none deletes or evicts the chunks
// another is writing.

// cacheMarker opens the value of f/<record>/<digest> of a verified file:
// the 8 bytes of its size (big endian) follow. Any other value (a file
// cached whole by an earlier version) is deleted and the file fetched
// again.
const cacheMarker = "fsc1"

// fileChunks is the prefix of the chunks of a downloaded file.
func fileChunks(id, digest string) []byte { return append(fileKey(id, digest), '/') }

// isFileChunk reports whether an f/ key is a chunk (its file key, a slash
// and 8 bytes) rather than a file key (which ends in the hex digest).
func isFileChunk(key []byte) bool { return len(key) > 9 && key[len(key)-9] == '/' }

// Fetch returns the file digest attached to record id: FetchTo into
// memory. FetchTo is the form that holds at most one chunk.
func (c *Client) Fetch(ctx context.Context, id, digest string) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := c.FetchTo(ctx, id, digest, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// FetchTo writes the file digest attached to record id to w and returns
// the bytes written, while a live entry of the record as held on this
// device names it (a file whose entry was redacted is dropped from the
// cache and is ErrNoFile): from the cache, or downloaded from the server
// (which serves it only to a caller who may read the record while a live
// entry names it).
//
// w receives the file only once all of it matched its digest, one chunk
// per Write: a download whose bytes do not match is deleted from the
// replica and the error (model.CodeDigestMismatch) comes before any
// Write. A download cut more than Options.MaxAttempts times in a row
// without progress returns its error with nothing written either; the
// next FetchTo of the file resumes where it stopped. Only an error of w
// itself, or of reading the replica, can come after some of the file was
// written: a caller writing a file should write a temporary one and
// rename it once FetchTo returned no error.
func (c *Client) FetchTo(ctx context.Context, id, digest string, w io.Writer) (int64, error) {
	if !model.ValidID(id) || !model.ValidDigest(digest) {
		return 0, fmt.Errorf("fetch file: %w", model.Errorf(model.CodeInvalidRequest, "A file is named by a record id and a SHA-256 digest in lowercase hex."))
	}
	if err := c.enter(); err != nil {
		return 0, err
	}
	n, err := c.fetchTo(ctx, id, digest, w)
	c.leave()
	if err != nil {
		return n, fmt.Errorf("fetch file: %w", c.finish(err))
	}
	return n, nil
}

// fetchTo is FetchTo inside enter and leave.
func (c *Client) fetchTo(ctx context.Context, id, digest string, w io.Writer) (int64, error) {
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	size, live := int64(0), false
	err := c.view(func(b *badger.Txn) error {
		r, err := loadExisting(b, c.schema, id)
		if err != nil {
			return err
		}
		size, live = references(r, digest)
		return nil
	})
	switch {
	case err != nil:
		return 0, err
	case !live:
		// Redacted since it was cached, or never attached here.
		if err := c.update(func(t *tx) error { return t.dropFile(id, digest) }); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("file %s of record %s: %w", digest, id, ErrNoFile)
	}
	marker, err := c.fileMarker(id, digest)
	if err != nil {
		return 0, err
	}
	if cached, ok := markedSize(marker); ok {
		return c.writeChunks(ctx, id, digest, cached, w)
	}
	if marker != nil { // an earlier version's whole-file value
		if err := c.update(func(t *tx) error { return t.del(fileKey(id, digest)) }); err != nil {
			return 0, err
		}
	}
	if err := c.download(ctx, id, digest, size); err != nil {
		return 0, err
	}
	if size > int64(c.opt.FileCache) {
		defer func() {
			if err := c.dropChunks(fileChunks(id, digest)); err != nil {
				c.log.Warn("could not delete a fetched file larger than the cache", "err", err)
			}
		}()
	} else if err := c.cacheFile(id, digest, size); err != nil {
		return 0, err
	}
	return c.writeChunks(ctx, id, digest, size, w)
}

// fileMarker reads f/<record>/<digest>.
func (c *Client) fileMarker(id, digest string) ([]byte, error) {
	var v []byte
	err := c.view(func(b *badger.Txn) error {
		var err error
		v, err = getValue(b, fileKey(id, digest))
		return err
	})
	return v, err
}

// markedSize returns the size a cache marker holds.
func markedSize(v []byte) (int64, bool) {
	if len(v) != len(cacheMarker)+8 || string(v[:len(cacheMarker)]) != cacheMarker {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(v[len(cacheMarker):])), true
}

// writeChunks writes the size bytes of a downloaded file to w, one chunk
// per Write.
func (c *Client) writeChunks(ctx context.Context, id, digest string, size int64, w io.Writer) (int64, error) {
	written := int64(0)
	for n := uint64(0); written < size; n++ {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		var v []byte
		err := c.view(func(b *badger.Txn) error {
			var err error
			v, err = getValue(b, binary.BigEndian.AppendUint64(fileChunks(id, digest), n))
			return err
		})
		if err == nil && (len(v) == 0 || int64(len(v)) > size-written) {
			err = fmt.Errorf("read fetched file: chunk %d is missing or too long", n)
		}
		if err != nil {
			return written, err
		}
		k, err := w.Write(v)
		if written += int64(k); err != nil {
			return written, fmt.Errorf("write fetched file: %w", err)
		}
	}
	return written, nil
}

// download is one file being downloaded into the replica: chunks 0..n-1
// are stored and hashed, buf holds the start of chunk n (stored too if a
// cut interrupted it, not hashed yet).
type download struct {
	c      *Client
	id     string
	digest string
	size   int64
	h      hash.Hash
	n      uint64
	buf    []byte
}

// received is the offset the download resumes at.
func (d *download) received() int64 { return int64(d.n)*DefaultUploadChunk + int64(len(d.buf)) }

// download downloads the size bytes of file digest of record id into the
// replica and verifies them, resuming from what an earlier cut download
// stored; bytes that do not match are deleted (CodeDigestMismatch).
func (c *Client) download(ctx context.Context, id, digest string, size int64) error {
	d := &download{c: c, id: id, digest: digest, size: size, h: sha256.New(), buf: make([]byte, 0, DefaultUploadChunk)}
	if err := d.resume(); err != nil {
		return err
	}
	for failures := 0; d.received() < size; {
		before := d.received()
		err := d.get(ctx)
		if err == nil {
			continue
		}
		if d.received() > before {
			failures = 0
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) && !retryableUpload(apiErr) || ctx.Err() != nil {
			return err
		}
		if failures++; failures >= c.opt.MaxAttempts {
			return err
		}
		if err := sleepCtx(ctx, c.opt.Backoff.Delay(failures-1)); err != nil {
			return err
		}
	}
	if got := hex.EncodeToString(d.h.Sum(nil)); got != digest {
		if err := c.dropChunks(fileChunks(id, digest)); err != nil {
			c.log.Warn("could not delete a fetched file that does not match its digest", "err", err)
		}
		return model.Errorf(model.CodeDigestMismatch, "The file received does not match its digest; it was deleted and nothing was written.")
	}
	return nil
}

// resume deletes the unfinished downloads of other files and picks up
// the chunks an earlier download of this one stored, hashing the whole
// ones; a gap or an oversized chunk starts it again from zero.
func (d *download) resume() error {
	return d.c.update(func(t *tx) error {
		own := fileChunks(d.id, d.digest)
		complete := map[string]bool{}
		var others [][]byte
		for _, key := range t.keys([]byte(prefixFile)) {
			switch {
			case !isFileChunk(key):
				complete[string(key)] = true
			case !bytes.HasPrefix(key, own):
				others = append(others, key)
			}
		}
		for _, key := range others {
			if !complete[string(key[:len(key)-9])] {
				if err := t.del(key); err != nil {
					return err
				}
			}
		}
		for _, key := range t.keys(own) {
			v, err := t.get(key)
			if err != nil {
				return err
			}
			if seqOf(key) != d.n || len(d.buf) > 0 || len(v) > DefaultUploadChunk || d.received()+int64(len(v)) > d.size {
				return d.restart(t)
			}
			if len(v) < DefaultUploadChunk && d.received()+int64(len(v)) < d.size {
				d.buf = append(d.buf, v...) // cut short: the download goes on from its end
				continue
			}
			d.h.Write(v)
			d.n++
		}
		return nil
	})
}

// restart deletes what the download stored and starts it from zero.
func (d *download) restart(t *tx) error {
	d.h.Reset()
	d.n, d.buf = 0, d.buf[:0]
	for _, key := range t.keys(fileChunks(d.id, d.digest)) {
		if err := t.del(key); err != nil {
			return err
		}
	}
	return nil
}

// get sends one GET for the bytes from d.received() on and stores them
// chunk by chunk; a body cut short stores the chunk begun and returns a
// *transportError.
func (d *download) get(ctx context.Context) error {
	path := "/v1/records/" + d.id + "/attachments/" + d.digest
	ctx, cancel := context.WithTimeout(ctx, d.c.opt.RequestTimeout)
	defer cancel()
	from := d.received()
	header := http.Header{"Range": {fmt.Sprintf("bytes=%d-", from)}, "Accept-Encoding": {"identity"}}
	resp, err := d.c.sendWith(ctx, http.MethodGet, path, nil, true, header)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK && from > 0:
		// The server sent the whole file: start again from its first byte.
		if err := d.c.update(d.restart); err != nil {
			return err
		}
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode != http.StatusPartialContent || !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", from)):
		return &transportError{fmt.Errorf("GET %s: the server did not answer the range asked", path)}
	}
	return d.receive(resp.Body, path)
}

// receive reads body into chunks, storing each one full (or the file's
// last) and hashing it, until the file is whole.
func (d *download) receive(body io.Reader, path string) error {
	for d.received() < d.size {
		want := min(DefaultUploadChunk, d.size-int64(d.n)*DefaultUploadChunk)
		k, err := body.Read(d.buf[len(d.buf):want])
		d.buf = d.buf[:len(d.buf)+k]
		if int64(len(d.buf)) == want {
			if err := d.store(); err != nil {
				return err
			}
			d.h.Write(d.buf)
			d.n, d.buf = d.n+1, d.buf[:0]
			continue
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			if len(d.buf) > 0 {
				if serr := d.store(); serr != nil {
					return serr
				}
			}
			return &transportError{fmt.Errorf("GET %s: read file: %w", path, err)}
		}
	}
	return nil
}

// store keeps the chunk begun (d.buf) in the replica.
func (d *download) store() error {
	key := binary.BigEndian.AppendUint64(fileChunks(d.id, d.digest), d.n)
	return d.c.updateLazy(func(t *tx) error { return t.set(key, d.buf) })
}

// references reports whether a live (unredacted) attachments entry of r
// names digest, and the size it gives the file.
func references(r *crdt.Record, digest string) (int64, bool) {
	for _, e := range r.Entries(model.FieldAttachments) {
		var entry struct {
			Digest string `json:"digest"`
			Size   int64  `json:"size"`
		}
		if !e.Redacted && json.Unmarshal(e.Value, &entry) == nil && entry.Digest == digest && entry.Size >= 0 {
			return entry.Size, true
		}
	}
	return 0, false
}

// cacheFile marks the downloaded file digest of record id (size bytes)
// as cached and evicts the oldest files until the cache is within
// Options.FileCache.
func (c *Client) cacheFile(id, digest string, size int64) error {
	return c.update(func(t *tx) error {
		order := t.keys([]byte(prefixFileOrder))
		seq := uint64(0)
		if len(order) > 0 {
			seq = seqOf(order[len(order)-1]) + 1
		}
		total := size
		sizes := map[string]int64{}
		for _, k := range t.keys([]byte(prefixFile)) {
			if isFileChunk(k) {
				continue
			}
			v, err := t.get(k)
			if err != nil {
				return err
			}
			n, ok := markedSize(v)
			if !ok {
				n = int64(len(v))
			}
			sizes[string(k)] = n
			total += n
		}
		for _, k := range order {
			if total <= int64(c.opt.FileCache) {
				break
			}
			file, err := t.get(k)
			if err != nil {
				return err
			}
			total -= sizes[string(file)]
			if err := errors.Join(t.dropFileKey(file), t.del(k)); err != nil {
				return err
			}
		}
		marker := binary.BigEndian.AppendUint64([]byte(cacheMarker), uint64(size))
		return errors.Join(t.set(fileKey(id, digest), marker), t.set(seqKey(prefixFileOrder, seq), fileKey(id, digest)))
	})
}

// dropFile deletes the downloaded file digest of record id.
func (t *tx) dropFile(id, digest string) error { return t.dropFileKey(fileKey(id, digest)) }

// dropFileKey deletes the file whose f/ key is file, with its chunks.
func (t *tx) dropFileKey(file []byte) error {
	for _, k := range t.keys(append(bytes.Clone(file), '/')) {
		if err := t.del(k); err != nil {
			return err
		}
	}
	return t.del(file)
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
