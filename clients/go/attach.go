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
	"io"
	"slices"

	"github.com/google/uuid"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// Attachments queued offline (issue 16 item 7): Attach keeps the file's
// bytes in the replica (b/ keys, in chunks) and a pending upload (u/ key)
// beside the attachments entry it writes, so a file travels with the op
// that names it. Sync uploads every pending file before it pushes any op,
// so the server never holds an entry whose file it could have had; the
// upload's id is kept in the pending upload, so after a cut or a restart
// the upload resumes at the offset the server acknowledged (asked with
// HEAD), never from zero. An upload is dropped with its bytes once the
// server verified the blob, or refused it for good (the refusal is
// logged; the entry is then pushed and names a file the server lacks).

// AttachOptions describe a file given to Attach.
type AttachOptions struct {
	// Name and Caption are the entry's file name and caption (optional).
	Name    string
	Caption string
	// MediaType is the file's media type (empty: sniffed from its bytes
	// with model.SniffMedia, as the server does again, refusing a file of
	// a type outside model.AttachmentTypes).
	MediaType string
	// KeepMetadata attaches a file as given; by default (false) the
	// location and device metadata of a JPEG, PNG, HEIC or MP4 are removed
	// (StripMetadata), and one that cannot be parsed is refused.
	KeepMetadata bool
}

// pendingUpload is the value of a u/ key: a file waiting to be uploaded.
type pendingUpload struct {
	Request api.UploadRequest `json:"request"`
	// Upload is the server's upload id once created ("" before).
	Upload string `json:"upload,omitempty"`
	// Blob names the file's chunks, b/<blob>/<n> ("" for a file queued
	// by an earlier version: b/<scope>/<digest>/<n>).
	Blob string `json:"blob,omitempty"`
}

// chunks is the prefix of the queued file's chunk keys.
func (p pendingUpload) chunks() []byte {
	if p.Blob == "" {
		return blobPrefix(scopeOf(p.Request), p.Request.Digest)
	}
	return []byte(prefixBlob + p.Blob + "/")
}

// scopeOf is the id of the team or week the request uploads into.
func scopeOf(r api.UploadRequest) string { return r.Team + r.ActionWeek }

// Attached is what Attach wrote: the entry's op id (the op a supervisor
// redacts to remove the file) and the file as the entry names it.
type Attached struct {
	Op string
	api.BlobInfo
}

// MaxStripInMemory bounds the JPEG or PNG photo Attach strips: its
// metadata segments and chunks are rewritten in memory, so a larger one
// is refused unless AttachOptions.KeepMetadata. Every other file (HEIC
// photos and MP4s included, stripped in place) is streamed into the replica one
// chunk at a time, whatever its size.
const MaxStripInMemory = 64 << 20

// sniffBytes is how much of a file's start Attach reads to name its type.
const sniffBytes = 64

// Attach attaches data to record id: AttachFrom of data.
func (c *Client) Attach(ctx context.Context, id string, data []byte, o AttachOptions) (Attached, error) {
	return c.AttachFrom(ctx, id, bytes.NewReader(data), int64(len(data)), o)
}

// AttachFrom attaches the size bytes of src to record id: it appends an
// attachments entry naming the file (by digest, with size, media type,
// name and caption) and queues the file to be uploaded by the next Sync,
// before the entry is pushed. A JPEG, PNG or HEIC photo or an MP4 is stripped of
// its metadata first unless o.KeepMetadata (the digest is of the
// stripped bytes).
//
// The file is never held in memory as a whole (except a JPEG or PNG to
// strip, up to MaxStripInMemory): it is copied into the replica (where
// it is encrypted at rest with everything else) one DefaultUploadChunk
// at a time while it is hashed, and Sync uploads it from there chunk by
// chunk.
func (c *Client) AttachFrom(ctx context.Context, id string, src io.ReaderAt, size int64, o AttachOptions) (Attached, error) {
	f, err := c.stageFile(ctx, src, size, o)
	if err != nil {
		return Attached{}, fmt.Errorf("attach file: %w", err)
	}
	a, err := c.attachStaged(ctx, id, f, o)
	if err != nil {
		if derr := c.dropChunks(f.chunks()); derr != nil {
			c.log.Warn("could not delete the copy of a file not attached", "err", derr)
		}
		return Attached{}, fmt.Errorf("attach file: %w", err)
	}
	return a, nil
}

// stagedFile is a file copied into the replica (b/<blob>/ chunks) and
// not yet named by a pending upload.
type stagedFile struct {
	blob, digest, media string
	size                int64
}

func (f stagedFile) chunks() []byte { return []byte(prefixBlob + f.blob + "/") }

// stageFile strips (unless o.KeepMetadata) and copies src into the
// replica under a new blob id, hashing it on the way.
func (c *Client) stageFile(ctx context.Context, src io.ReaderAt, size int64, o AttachOptions) (stagedFile, error) {
	if size < 0 {
		return stagedFile{}, model.Errorf(model.CodeInvalidRequest, "A file's size cannot be negative.")
	}
	head := make([]byte, min(size, sniffBytes))
	if _, err := readFull(src, head, 0); err != nil {
		return stagedFile{}, err
	}
	var patches []patch
	if !o.KeepMetadata {
		var err error
		if src, size, patches, err = stripSource(src, size, head); err != nil {
			return stagedFile{}, err
		}
	}
	f := stagedFile{blob: uuid.NewString(), size: size, media: o.MediaType}
	if f.media == "" {
		f.media, _ = model.SniffMedia(head)
	}
	if !model.AllowedAttachmentType(f.media) {
		return stagedFile{}, model.Errorf(model.CodeMediaType, "The file is not of an allowed type (%v); name its media type if it is one.", model.AttachmentTypes)
	}
	h := sha256.New()
	buf := make([]byte, DefaultUploadChunk)
	for n, off := uint64(0), int64(0); off < size; n, off = n+1, off+DefaultUploadChunk {
		part := buf[:min(DefaultUploadChunk, size-off)]
		err := ctx.Err()
		if err == nil {
			_, err = readFull(src, part, off)
		}
		if err == nil {
			applyPatches(part, off, patches)
			h.Write(part)
			err = c.updateLazy(func(t *tx) error { return t.set(binary.BigEndian.AppendUint64(f.chunks(), n), part) })
		}
		if err != nil {
			if derr := c.dropChunks(f.chunks()); derr != nil {
				c.log.Warn("could not delete the partial copy of a file", "err", derr)
			}
			return stagedFile{}, err
		}
	}
	f.digest = hex.EncodeToString(h.Sum(nil))
	return f, nil
}

// readFull reads len(p) bytes of src at off.
func readFull(src io.ReaderAt, p []byte, off int64) (int, error) {
	n, err := src.ReadAt(p, off)
	if n == len(p) {
		return n, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, fmt.Errorf("read file: %w", err)
}

// stripSource returns what to copy for a photo whose first bytes are
// head: a JPEG or PNG stripped in memory, or a HEIC's or MP4's patches.
func stripSource(src io.ReaderAt, size int64, head []byte) (io.ReaderAt, int64, []patch, error) {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8}) || bytes.HasPrefix(head, pngSignature):
		if size > MaxStripInMemory {
			return nil, 0, nil, model.Errorf(model.CodeBlobTooLarge, "The photo is larger than %d MiB, the most whose metadata this device removes; it was not attached.", MaxStripInMemory>>20)
		}
		data := make([]byte, size)
		if _, err := readFull(src, data, 0); err != nil {
			return nil, 0, nil, err
		}
		stripped, err := StripMetadata(data)
		if err != nil {
			return nil, 0, nil, err
		}
		return bytes.NewReader(stripped), int64(len(stripped)), nil, nil
	case isHEIC(head):
		ps, err := heicPatches(src, size)
		return src, size, ps, err
	case isMP4(head):
		ps, err := mp4Patches(src, size)
		return src, size, ps, err
	}
	return src, size, nil, nil
}

// attachStaged writes the attachments entry of f and its pending upload;
// a file the scope has queued already keeps the first copy (f's is
// deleted).
func (c *Client) attachStaged(ctx context.Context, id string, f stagedFile, o AttachOptions) (Attached, error) {
	entry := map[string]any{"digest": f.digest, "size": f.size, "media_type": f.media}
	if o.Name != "" {
		entry["name"] = o.Name
	}
	if o.Caption != "" {
		entry["caption"] = o.Caption
	}
	queued := false
	ops, err := c.write(ctx, id, "", func(t *tx, r *crdt.Record) ([]spec, error) {
		if err := c.checkClass(r.Kind, model.FieldAttachments, model.ClassLog); err != nil {
			return nil, err
		}
		req, err := c.uploadRequestFor(r, f.digest, f.size)
		if err != nil {
			return nil, err
		}
		if queued, err = t.has(uploadKey(scopeOf(req), req.Digest)); err != nil || queued {
			return []spec{{field: model.FieldAttachments, action: model.ActionAppend, value: entry}}, err
		}
		enc, err := json.Marshal(pendingUpload{Request: req, Blob: f.blob})
		if err != nil {
			return nil, fmt.Errorf("encode pending upload: %w", err)
		}
		if err := t.set(uploadKey(scopeOf(req), req.Digest), enc); err != nil {
			return nil, err
		}
		return []spec{{field: model.FieldAttachments, action: model.ActionAppend, value: entry}}, nil
	})
	if err != nil {
		return Attached{}, err
	}
	if queued {
		if err := c.dropChunks(f.chunks()); err != nil {
			c.log.Warn("could not delete the second copy of a queued file", "err", err)
		}
	}
	info := api.BlobInfo{Digest: f.digest, Size: f.size, MediaType: f.media}
	return Attached{Op: ops[0].ID, BlobInfo: info}, nil
}

// uploadRequestFor is the upload of a file for record r: into the team
// or week that scopes r.
func (c *Client) uploadRequestFor(r *crdt.Record, digest string, size int64) (api.UploadRequest, error) {
	req := api.UploadRequest{Size: size, Digest: digest}
	kind := c.schema.Kinds[r.Kind]
	var scope string
	if kind == nil || json.Unmarshal(r.Value(kind.Scope), &scope) != nil || scope == "" {
		return req, model.Errorf(model.CodeInvalidValue, "A file can only be attached to a record whose team or action week is set.")
	}
	if kind.Scope == model.FieldActionWeek {
		req.ActionWeek = scope
	} else {
		req.Team = scope
	}
	return req, nil
}

// uploadQueued uploads every queued file, resuming those started; Sync
// runs it before pushing.
func (c *Client) uploadQueued(ctx context.Context) error {
	var queued []pendingUpload
	err := c.view(func(b *badger.Txn) error {
		for _, key := range prefixKeys(b, []byte(prefixUpload)) {
			v, err := getValue(b, key)
			if err != nil {
				return err
			}
			var p pendingUpload
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("decode pending upload: %w", err)
			}
			queued = append(queued, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range queued {
		err := c.uploadOne(ctx, p)
		var apiErr *APIError
		if errors.As(err, &apiErr) && !retryableUpload(apiErr) && apiErr.Status != 401 {
			c.log.Warn("the server refused a queued file; its entry is pushed without it", "code", apiErr.Code)
			err = c.dropQueued(p)
		}
		if err != nil {
			return fmt.Errorf("upload queued file: %w", err)
		}
	}
	return nil
}

// uploadOne uploads one queued file: creating its upload (and keeping
// the id) or resuming it at the acknowledged offset, then completing it
// and dropping the queued bytes. The file is read from the replica one
// chunk at a time (queuedFile).
func (c *Client) uploadOne(ctx context.Context, p pendingUpload) error {
	u := &Uploader{Client: c, ChunkSize: c.opt.UploadChunk, MaxAttempts: c.opt.MaxAttempts, Backoff: c.opt.Backoff}
	offset, err := int64(0), error(nil)
	if p.Upload != "" {
		offset, err = u.acknowledged(ctx, p.Upload)
		if apiCode(err) == model.CodeNotFound {
			p.Upload, offset, err = "", 0, nil // expired at the server: start again
		}
		if err != nil {
			return err
		}
	}
	if p.Upload == "" {
		up, err := u.create(ctx, p.Request)
		if err != nil {
			return err
		}
		if p.Upload = up.ID; up.Complete {
			return c.dropQueued(p)
		}
		if err := c.saveQueued(p); err != nil {
			return err
		}
	}
	if err := u.send(ctx, p.Upload, queuedFile{c, p.chunks()}, p.Request.Size, offset); err != nil {
		return err
	}
	if _, err := u.complete(ctx, p.Upload); err != nil {
		return err
	}
	return c.dropQueued(p)
}

// queuedFile reads a queued file from its chunks in the replica, each
// DefaultUploadChunk bytes (the last one fewer).
type queuedFile struct {
	c      *Client
	prefix []byte
}

var _ io.ReaderAt = queuedFile{}

// ReadAt reads len(p) bytes at off from the chunks that hold them.
func (q queuedFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		at := off + int64(n)
		var v []byte
		err := q.c.view(func(b *badger.Txn) error {
			var err error
			v, err = getValue(b, binary.BigEndian.AppendUint64(bytes.Clone(q.prefix), uint64(at/DefaultUploadChunk)))
			return err
		})
		if err != nil {
			return n, fmt.Errorf("read queued file: %w", err)
		}
		if within := at % DefaultUploadChunk; within < int64(len(v)) {
			n += copy(p[n:], v[within:])
			continue
		}
		return n, fmt.Errorf("read queued file: the bytes at %d are not stored", at)
	}
	return n, nil
}

// saveQueued stores p (its upload id) durably.
func (c *Client) saveQueued(p pendingUpload) error {
	enc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode pending upload: %w", err)
	}
	return c.update(func(t *tx) error { return t.set(uploadKey(scopeOf(p.Request), p.Request.Digest), enc) })
}

// dropQueued deletes a queued file's bytes and pending upload.
func (c *Client) dropQueued(p pendingUpload) error {
	return c.update(func(t *tx) error {
		for _, key := range t.keys(p.chunks()) {
			if err := t.del(key); err != nil {
				return err
			}
		}
		return t.del(uploadKey(scopeOf(p.Request), p.Request.Digest))
	})
}

// dropChunks deletes the chunks under prefix (a file copied but not
// queued), a bounded number per transaction.
func (c *Client) dropChunks(prefix []byte) error {
	for {
		var keys [][]byte
		if err := c.view(func(b *badger.Txn) error { keys = prefixKeys(b, prefix); return nil }); err != nil || len(keys) == 0 {
			return err
		}
		err := c.update(func(t *tx) error {
			for _, key := range keys[:min(len(keys), 64)] {
				if err := t.del(key); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
}

// sweepChunks deletes, when the replica opens, the chunks no pending
// upload names: the copy of a file whose Attach was cut by a crash
// before its entry was written.
func (c *Client) sweepChunks() error {
	var orphans [][]byte
	err := c.view(func(b *badger.Txn) error {
		var named [][]byte
		for _, key := range prefixKeys(b, []byte(prefixUpload)) {
			v, err := getValue(b, key)
			if err != nil {
				return err
			}
			var p pendingUpload
			if json.Unmarshal(v, &p) == nil {
				named = append(named, p.chunks())
			}
		}
		for _, key := range prefixKeys(b, []byte(prefixBlob)) {
			if !slices.ContainsFunc(named, func(pre []byte) bool { return bytes.HasPrefix(key, pre) }) {
				orphans = append(orphans, key)
			}
		}
		return nil
	})
	if err != nil || len(orphans) == 0 {
		return err
	}
	c.log.Info("deleting the copies of files whose attaching did not finish", "chunks", len(orphans))
	return c.update(func(t *tx) error {
		for _, key := range orphans {
			if err := t.del(key); err != nil {
				return err
			}
		}
		return nil
	})
}
