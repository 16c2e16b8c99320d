package server

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
)

// blobStore is what the upload and attachment endpoints (uploads.go,
// attachments.go) and the blob sweeper need from storage.
type blobStore interface {
	CreateUpload(ctx context.Context, u store.Upload) error
	Upload(ctx context.Context, id string) (store.Upload, error)
	AppendUpload(ctx context.Context, id string, offset int64, data []byte) (int64, error)
	CompleteUpload(ctx context.Context, id string, check func(head []byte) (string, error)) (store.Blob, error)
	Blob(ctx context.Context, scope, digest string) (store.Blob, error)
	ReadBlob(ctx context.Context, b store.Blob, off, n int64, w io.Writer) error
	ExpireUploads(ctx context.Context, cutoff time.Time) (int, error)
	Blobs(ctx context.Context, fn func(b store.Blob) error) error
	DeleteBlob(ctx context.Context, b store.Blob) error
	BindBlob(ctx context.Context, record, scope, digest string) error
	BoundBlob(ctx context.Context, record, digest string) (store.Blob, error)
	ReleaseBlobs(ctx context.Context, record string, keep func(digest string) bool) ([]store.Blob, error)
	Bindings(ctx context.Context, fn func(record, digest, scope string) error) error
	SweepBlobKeys(ctx context.Context) (int, error)
}

// headerUploadOffset carries an upload's acknowledged offset (tus-like).
const headerUploadOffset = "Upload-Offset"

// createUpload handles POST /v1/uploads: a resumable upload of one blob
// into a team (for identifications) or an action week (for site visits),
// checked like a record's first op in that scope: the caller must be
// allowed to write there. A blob already complete in that scope is not
// uploaded again (dedup never crosses scopes).
func (s *Server) createUpload(c *fiber.Ctx) error {
	var req api.UploadRequest
	if err := json.Unmarshal(requestBody(c), &req); err != nil {
		return model.Errorf(model.CodeInvalidJSON, "The body must be an upload request in JSON.")
	}
	if !model.ValidDigest(req.Digest) || req.Size < 1 {
		return model.Errorf(model.CodeInvalidRequest, "An upload needs a positive size and a SHA-256 digest in lowercase hex.")
	}
	if req.Size > s.cfg.MaxBlobBytes {
		return model.Errorf(model.CodeBlobTooLarge, "A file may hold at most %d bytes.", s.cfg.MaxBlobBytes)
	}
	scope, err := s.uploadScope(c, req)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	if b, err := s.db.Blob(ctx, scope, req.Digest); err == nil {
		return c.Status(fiber.StatusOK).JSON(api.Upload{ID: b.Upload, Offset: b.Size, Size: b.Size, Complete: true})
	}
	u := store.Upload{ID: uuid.Must(uuid.NewV7()).String(), Scope: scope, Digest: req.Digest, Size: req.Size, User: principal(c).User, At: s.now()}
	if err := s.db.CreateUpload(ctx, u); err != nil {
		return err
	}
	c.Set(headerUploadOffset, "0")
	return c.Status(fiber.StatusCreated).JSON(api.Upload{ID: u.ID, Size: u.Size})
}

// uploadScope returns the access bucket an upload names, once the caller
// may write a record there.
func (s *Server) uploadScope(c *fiber.Ctx, req api.UploadRequest) (string, error) {
	p := principal(c)
	var sc access.Scope
	switch {
	case req.Team != "" && req.ActionWeek == "" && model.ValidID(req.Team):
		sc = access.Scope{Kind: model.KindIdentification, Team: req.Team, Creator: p.User}
	case req.ActionWeek != "" && req.Team == "" && model.ValidID(req.ActionWeek):
		sc = access.Scope{Kind: model.KindSiteVisit, ActionWeek: req.ActionWeek}
		if st, err := s.db.Record(c.UserContext(), req.ActionWeek); err == nil {
			sc.HostTeam = st.Scope.HostTeam
		}
	default:
		return "", model.Errorf(model.CodeInvalidRequest, "An upload names exactly one scope: a team or an action week, by id.")
	}
	if !p.Syncs() || !access.CanWrite(p, sc) {
		return "", model.Errorf(model.CodeForbidden, "You may not upload files for records of this scope.")
	}
	return sc.Bucket(), nil
}

// ownUpload returns the caller's upload :id; anyone else's is not found.
func (s *Server) ownUpload(c *fiber.Ctx) (store.Upload, error) {
	id := c.Params("id")
	if !model.ValidID(id) {
		return store.Upload{}, model.Errorf(model.CodeInvalidID, "The upload id must be a UUID in canonical lowercase form.")
	}
	u, err := s.db.Upload(c.UserContext(), id)
	if err != nil || u.User != principal(c).User {
		if err != nil && model.ErrorCode(err) != model.CodeNotFound {
			return u, err
		}
		return u, model.Errorf(model.CodeNotFound, "There is no upload %s of yours.", id)
	}
	return u, nil
}

// uploadOffset handles HEAD /v1/uploads/:id: the acknowledged offset,
// where a client resumes after a cut.
func (s *Server) uploadOffset(c *fiber.Ctx) error {
	u, err := s.ownUpload(c)
	if err != nil {
		return err
	}
	c.Set(headerUploadOffset, strconv.FormatInt(u.Offset, 10))
	c.Set("Upload-Length", strconv.FormatInt(u.Size, 10))
	return c.SendStatus(fiber.StatusNoContent)
}

// appendUpload handles PATCH /v1/uploads/:id: the body is the bytes from
// the Upload-Offset header on. It is acknowledged (204 with the new
// offset) only once durable; any other offset than the acknowledged one
// is 409 upload_offset with the acknowledged offset in Upload-Offset.
func (s *Server) appendUpload(c *fiber.Ctx) error {
	u, err := s.ownUpload(c)
	if err != nil {
		return err
	}
	offset, err := strconv.ParseInt(c.Get(headerUploadOffset), 10, 64)
	if err != nil || offset < 0 {
		return model.Errorf(model.CodeInvalidRequest, "A chunk needs its offset in the Upload-Offset header.")
	}
	cur, err := s.db.AppendUpload(c.UserContext(), u.ID, offset, requestBody(c))
	c.Set(headerUploadOffset, strconv.FormatInt(cur, 10))
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// completeUpload handles POST /v1/uploads/:id/complete: the bytes must
// hash to the digest and be of an allowed media type, sniffed from them;
// otherwise the upload is deleted and refused (digest_mismatch,
// media_type).
func (s *Server) completeUpload(c *fiber.Ctx) error {
	u, err := s.ownUpload(c)
	if err != nil {
		return err
	}
	if u.Complete {
		b, err := s.db.Blob(c.UserContext(), u.Scope, u.Digest)
		if err != nil {
			return err
		}
		return c.JSON(api.BlobInfo{Digest: b.Digest, Size: b.Size, MediaType: b.MediaType})
	}
	b, err := s.db.CompleteUpload(c.UserContext(), u.ID, model.SniffMedia)
	if err != nil {
		return err
	}
	return c.JSON(api.BlobInfo{Digest: b.Digest, Size: b.Size, MediaType: b.MediaType})
}
