package fieldsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

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
	// MediaType is the file's media type (empty: sniffed from its bytes,
	// for JPEG, PNG and PDF; the server sniffs again and refuses a file
	// of a type outside model.AttachmentTypes).
	MediaType string
	// KeepMetadata attaches a photo as given; by default (false) its
	// location and device metadata are removed (StripMetadata).
	KeepMetadata bool
}

// pendingUpload is the value of a u/ key: a file waiting to be uploaded.
type pendingUpload struct {
	Request api.UploadRequest `json:"request"`
	// Upload is the server's upload id once created ("" before).
	Upload string `json:"upload,omitempty"`
}

// scopeOf is the id of the team or week the request uploads into.
func scopeOf(r api.UploadRequest) string { return r.Team + r.ActionWeek }

// Attached is what Attach wrote: the entry's op id (the op a supervisor
// redacts to remove the file) and the file as the entry names it.
type Attached struct {
	Op string
	api.BlobInfo
}

// Attach attaches data to record id: it appends an attachments entry
// naming the file (by digest, with size, media type, name and caption)
// and queues the file to be uploaded by the next Sync, before the entry
// is pushed. A JPEG or PNG is stripped of its metadata first unless
// o.KeepMetadata (the digest is of the stripped bytes).
func (c *Client) Attach(ctx context.Context, id string, data []byte, o AttachOptions) (Attached, error) {
	if !o.KeepMetadata {
		stripped, err := StripMetadata(data)
		if err != nil {
			return Attached{}, fmt.Errorf("attach file: %w", err)
		}
		data = stripped
	}
	media := o.MediaType
	if media == "" {
		media = sniffLocal(data)
	}
	if !model.AllowedAttachmentType(media) {
		return Attached{}, fmt.Errorf("attach file: %w", model.Errorf(model.CodeMediaType, "The file is not of an allowed type (%v); name its media type if it is one.", model.AttachmentTypes))
	}
	sum := sha256.Sum256(data)
	entry := map[string]any{"digest": hex.EncodeToString(sum[:]), "size": len(data), "media_type": media}
	if o.Name != "" {
		entry["name"] = o.Name
	}
	if o.Caption != "" {
		entry["caption"] = o.Caption
	}
	ops, err := c.write(ctx, id, "", func(t *tx, r *crdt.Record) ([]spec, error) {
		if err := c.checkClass(r.Kind, model.FieldAttachments, model.ClassLog); err != nil {
			return nil, err
		}
		req, err := c.uploadRequestFor(r, entry["digest"].(string), len(data))
		if err != nil {
			return nil, err
		}
		if err := c.queueFile(t, req, data); err != nil {
			return nil, err
		}
		return []spec{{field: model.FieldAttachments, action: model.ActionAppend, value: entry}}, nil
	})
	if err != nil {
		return Attached{}, fmt.Errorf("attach file: %w", err)
	}
	info := api.BlobInfo{Digest: entry["digest"].(string), Size: int64(len(data)), MediaType: media}
	return Attached{Op: ops[0].ID, BlobInfo: info}, nil
}

// sniffLocal names the media type of the photos and scans the SDK
// recognises ("" otherwise).
func sniffLocal(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case bytes.HasPrefix(data, pngSignature):
		return "image/png"
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return "application/pdf"
	}
	return ""
}

// uploadRequestFor is the upload of a file for record r: into the team
// or week that scopes r.
func (c *Client) uploadRequestFor(r *crdt.Record, digest string, size int) (api.UploadRequest, error) {
	req := api.UploadRequest{Size: int64(size), Digest: digest}
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

// queueFile stores data in chunks and its pending upload in t.
func (c *Client) queueFile(t *tx, req api.UploadRequest, data []byte) error {
	for n, off := uint64(0), 0; off < len(data); n, off = n+1, off+DefaultUploadChunk {
		chunk := data[off:min(off+DefaultUploadChunk, len(data))]
		if err := t.set(blobChunkKey(scopeOf(req), req.Digest, n), chunk); err != nil {
			return err
		}
	}
	enc, err := json.Marshal(pendingUpload{Request: req})
	if err != nil {
		return fmt.Errorf("encode pending upload: %w", err)
	}
	return t.set(uploadKey(scopeOf(req), req.Digest), enc)
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
			err = c.dropQueued(p.Request)
		}
		if err != nil {
			return fmt.Errorf("upload queued file: %w", err)
		}
	}
	return nil
}

// uploadOne uploads one queued file: creating its upload (and keeping
// the id) or resuming it at the acknowledged offset, then completing it
// and dropping the queued bytes.
func (c *Client) uploadOne(ctx context.Context, p pendingUpload) error {
	u := &Uploader{Client: c, ChunkSize: c.opt.UploadChunk, MaxAttempts: c.opt.MaxAttempts, Backoff: c.opt.Backoff}
	data, err := c.queuedBytes(p.Request)
	if err != nil {
		return err
	}
	offset := int64(0)
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
			return c.dropQueued(p.Request)
		}
		if err := c.saveQueued(p); err != nil {
			return err
		}
	}
	if err := u.send(ctx, p.Upload, data, offset); err != nil {
		return err
	}
	if _, err := u.complete(ctx, p.Upload); err != nil {
		return err
	}
	return c.dropQueued(p.Request)
}

// queuedBytes reads a queued file back from its chunks.
func (c *Client) queuedBytes(req api.UploadRequest) ([]byte, error) {
	data := make([]byte, 0, req.Size)
	err := c.view(func(b *badger.Txn) error {
		for _, key := range prefixKeys(b, blobPrefix(scopeOf(req), req.Digest)) {
			v, err := getValue(b, key)
			if err != nil {
				return err
			}
			data = append(data, v...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read queued file: %w", err)
	}
	if int64(len(data)) != req.Size {
		return nil, fmt.Errorf("read queued file: %d of its %d bytes are stored", len(data), req.Size)
	}
	return data, nil
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
func (c *Client) dropQueued(req api.UploadRequest) error {
	return c.update(func(t *tx) error {
		for _, key := range t.keys(blobPrefix(scopeOf(req), req.Digest)) {
			if err := t.del(key); err != nil {
				return err
			}
		}
		return t.del(uploadKey(scopeOf(req), req.Digest))
	})
}
