package fieldsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// DefaultUploadChunk is the bytes an Uploader sends per request when its
// ChunkSize is zero: well under the server's 4 MiB body limit, and small
// enough that a cut link re-sends little.
const DefaultUploadChunk = 1 << 20

// UploadScope names where a file is uploaded: exactly one of Team (for
// an identification of that team) or ActionWeek (for a site visit of
// that week), as the record that will reference it.
type UploadScope struct {
	Team       string
	ActionWeek string
}

// Uploader uploads files (attachment blobs) to the server in chunks,
// resuming a cut upload at the offset the server acknowledged (asked with
// HEAD, or read from a 409 upload_offset), never from zero.
type Uploader struct {
	Client *Client
	// ChunkSize is the bytes per request (0: DefaultUploadChunk).
	ChunkSize int
	// MaxAttempts is how many failed requests in a row, without the
	// acknowledged offset moving, end the upload (0: DefaultMaxAttempts).
	MaxAttempts int
	// Backoff is the wait between attempts (zero: DefaultBackoff).
	Backoff Backoff
	// KeepMetadata uploads JPEG, PNG and HEIC photos and MP4 voice notes
	// as given, with the location and device metadata their phone wrote.
	// By default (false) Upload removes it first (StripMetadata), keeping
	// a photo's orientation: a photo or a voice note recorded at a
	// shelter must not carry the shelter's coordinates to every reader.
	KeepMetadata bool
}

// Upload uploads data into scope: UploadFrom of data.
func (u *Uploader) Upload(ctx context.Context, scope UploadScope, data []byte) (api.BlobInfo, error) {
	return u.UploadFrom(ctx, scope, bytes.NewReader(data), int64(len(data)))
}

// UploadFrom uploads the size bytes of src into scope and returns the
// verified blob: its digest names it in an attachments entry. A JPEG,
// PNG or HEIC photo or an MP4 is stripped of its metadata first unless
// KeepMetadata (the digest is of the bytes sent): a HEIC or MP4 in place
// as it is read, a JPEG or PNG in memory up to MaxStripInMemory. Any
// other file is read twice, a chunk at a time (to hash it, then to send
// it), never held whole. A scope that holds the blob already answers at
// once (nothing is sent again).
func (u *Uploader) UploadFrom(ctx context.Context, scope UploadScope, src io.ReaderAt, size int64) (api.BlobInfo, error) {
	if size < 0 {
		return api.BlobInfo{}, model.Errorf(model.CodeInvalidRequest, "A file's size cannot be negative.")
	}
	if !u.KeepMetadata {
		head := make([]byte, min(size, sniffBytes))
		if _, err := readFull(src, head, 0); err != nil {
			return api.BlobInfo{}, err
		}
		stripped, n, ps, err := stripSource(src, size, head)
		if err != nil {
			return api.BlobInfo{}, fmt.Errorf("strip metadata: %w", err)
		}
		src, size = patchedFile{stripped, ps}, n
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(src, 0, size)); err != nil {
		return api.BlobInfo{}, fmt.Errorf("read file: %w", err)
	}
	req := api.UploadRequest{Size: size, Digest: hex.EncodeToString(h.Sum(nil)), Team: scope.Team, ActionWeek: scope.ActionWeek}
	up, err := u.create(ctx, req)
	if err != nil {
		return api.BlobInfo{}, err
	}
	if !up.Complete {
		if err := u.send(ctx, up.ID, src, size, 0); err != nil {
			return api.BlobInfo{}, err
		}
	}
	return u.complete(ctx, up.ID)
}

// patchedFile reads a file with patches applied to what it reads.
type patchedFile struct {
	src     io.ReaderAt
	patches []patch
}

var _ io.ReaderAt = patchedFile{}

// ReadAt reads len(p) bytes at off, patched.
func (f patchedFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.src.ReadAt(p, off)
	applyPatches(p[:n], off, f.patches)
	return n, err
}

// create starts an upload (or finds the scope holds the blob already).
func (u *Uploader) create(ctx context.Context, req api.UploadRequest) (api.Upload, error) {
	var up api.Upload
	if err := u.retry(ctx, func() error { return u.Client.call(ctx, http.MethodPost, "/v1/uploads", req, &up, true) }); err != nil {
		return api.Upload{}, fmt.Errorf("create upload: %w", err)
	}
	return up, nil
}

// complete asks the server to verify upload id and returns the blob.
func (u *Uploader) complete(ctx context.Context, id string) (api.BlobInfo, error) {
	var info api.BlobInfo
	err := u.retry(ctx, func() error {
		return u.Client.call(ctx, http.MethodPost, "/v1/uploads/"+id+"/complete", nil, &info, true)
	})
	if err != nil {
		return api.BlobInfo{}, fmt.Errorf("complete upload: %w", err)
	}
	return info, nil
}

// acknowledged asks the server (HEAD) how many bytes of upload id it
// holds.
func (u *Uploader) acknowledged(ctx context.Context, id string) (int64, error) {
	var ack int64
	err := u.retry(ctx, func() error {
		var err error
		ack, err = u.Client.uploadRequest(ctx, http.MethodHead, "/v1/uploads/"+id, nil, -1)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ask upload offset: %w", err)
	}
	return ack, nil
}

// send sends the chunks of src (size bytes) from offset on (the
// acknowledged offset, as far as the caller knows) until the server
// holds them all, reading one chunk at a time into one buffer.
func (u *Uploader) send(ctx context.Context, id string, src io.ReaderAt, size, offset int64) error {
	chunk := u.ChunkSize
	if chunk <= 0 {
		chunk = DefaultUploadChunk
	}
	buf := make([]byte, min(int64(chunk), size))
	failures := 0
	for offset < size {
		part := buf[:min(int64(chunk), size-offset)]
		if _, err := readFull(src, part, offset); err != nil {
			return err
		}
		next, err := u.Client.uploadRequest(ctx, http.MethodPatch, "/v1/uploads/"+id, part, offset)
		if err == nil {
			offset, failures = next, 0
			continue
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Code != model.CodeUploadOffset && !retryableUpload(apiErr) {
			return fmt.Errorf("upload chunk: %w", err)
		}
		if failures++; failures >= u.maxAttempts() {
			return fmt.Errorf("upload chunk: %w", err)
		}
		if err := sleepCtx(ctx, u.Backoff.withDefaults().Delay(failures-1)); err != nil {
			return err
		}
		if ack, herr := u.Client.uploadRequest(ctx, http.MethodHead, "/v1/uploads/"+id, nil, -1); herr == nil {
			offset = ack
		}
	}
	return nil
}

// retryableUpload reports whether an error answer may pass on retry.
func retryableUpload(e *APIError) bool {
	return e.Code == model.CodeRateLimited || e.Code == model.CodeUnavailable || e.Status >= 500
}

func (u *Uploader) maxAttempts() int {
	if u.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return u.MaxAttempts
}

// retry runs fn until it succeeds, fails with an answer that will not
// change, or fails maxAttempts times.
func (u *Uploader) retry(ctx context.Context, fn func() error) error {
	for n := 0; ; n++ {
		err := fn()
		var apiErr *APIError
		if err == nil || errors.As(err, &apiErr) && !retryableUpload(apiErr) || n+1 >= u.maxAttempts() {
			return err
		}
		if err := sleepCtx(ctx, u.Backoff.withDefaults().Delay(n)); err != nil {
			return err
		}
	}
}

// uploadRequest sends a PATCH (body at offset) or HEAD of an upload and
// returns the acknowledged offset the server answered; a 401 token
// refresh is tried once, like send.
func (c *Client) uploadRequest(ctx context.Context, method, path string, body []byte, offset int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.RequestTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		token := c.accessToken()
		if token == "" {
			return 0, c.noSessionError()
		}
		req, err := http.NewRequestWithContext(ctx, method, c.opt.ServerURL+path, bytes.NewReader(body))
		if err != nil {
			return 0, fmt.Errorf("build request %s %s: %w", method, path, err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if offset >= 0 {
			req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
			req.Header.Set("Content-Type", "application/offset+octet-stream")
		}
		resp, err := c.opt.HTTPClient.Do(req)
		if err != nil {
			return 0, &transportError{fmt.Errorf("%s %s: %w", method, path, err)}
		}
		ack, perr := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
		if resp.StatusCode/100 == 2 {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if perr != nil {
				return 0, &transportError{fmt.Errorf("%s %s: no Upload-Offset in the answer", method, path)}
			}
			return ack, nil
		}
		apiErr, err := readAPIError(resp)
		if err != nil {
			return 0, &transportError{fmt.Errorf("%s %s: read error response: %w", method, path, err)}
		}
		if attempt == 0 && apiErr.Status == http.StatusUnauthorized && !apiErr.Wipe && apiErr.Code != model.CodeDeviceRevoked {
			if err := c.refresh(ctx, token); err != nil {
				return 0, err
			}
			continue
		}
		return 0, apiErr
	}
}
