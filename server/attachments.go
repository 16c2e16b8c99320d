package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// getAttachment handles GET /v1/records/:id/attachments/:digest: the
// bytes of a blob, only for a caller who may read the record and only
// while one of its live (unredacted) attachment entries names the blob;
// everyone else (an auditor too) gets 404, as for a blob that does not
// exist. Served as a
// download (Content-Disposition: attachment, nosniff) with its sniffed
// media type; a single bytes Range is honoured. Supervisors' downloads
// are audited.
func (s *Server) getAttachment(c *fiber.Ctx) error {
	id, digest := c.Params("id"), c.Params("digest")
	notFound := model.Errorf(model.CodeNotFound, "There is no attachment %s you may read on record %s.", digest, id)
	if !model.ValidID(id) || !model.ValidDigest(digest) {
		return notFound
	}
	ctx := c.UserContext()
	st, err := s.db.Record(ctx, id)
	if err != nil || !access.CanRead(principal(c), st.Scope) || !references(s.schema, st.Record, digest) {
		if err != nil && model.ErrorCode(err) != model.CodeNotFound {
			return err
		}
		return notFound
	}
	b, err := s.recordBlob(ctx, id, st.Scope.Bucket(), digest)
	if err != nil {
		if model.ErrorCode(err) == model.CodeNotFound {
			return notFound
		}
		return err
	}
	if principal(c).Role == model.RoleSupervisor {
		if err := s.mustRecord(ctx, event(c, audit.ActionRecordRead, id, "attachment "+digest)); err != nil {
			return err
		}
	}
	from, to, ok := byteRange(c.Get(fiber.HeaderRange), b.Size)
	if !ok {
		c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes */%d", b.Size))
		return c.SendStatus(fiber.StatusRequestedRangeNotSatisfiable)
	}
	c.Set(fiber.HeaderContentType, b.MediaType)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+digest+`"`)
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	if from != 0 || to != b.Size {
		c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", from, to-1, b.Size))
		c.Status(fiber.StatusPartialContent)
	}
	var out strings.Builder
	out.Grow(int(to - from))
	if err := s.db.ReadBlob(ctx, b, from, to-from, &out); err != nil {
		return err
	}
	return c.SendString(out.String())
}

// recordBlob returns the blob digest a live entry of record names: the
// one bound to the record (uploaded in the scope the record was in when
// the entry was pushed, wherever the record moved since), else the one
// of the record's current scope (bucket), which it then binds. Dedup and
// uploads stay per scope: a record reads another scope's blob only
// through a binding made while it was in that scope.
func (s *Server) recordBlob(ctx context.Context, record, bucket, digest string) (store.Blob, error) {
	b, err := s.db.BoundBlob(ctx, record, digest)
	if model.ErrorCode(err) != model.CodeNotFound {
		return b, err
	}
	if b, err = s.db.Blob(ctx, bucket, digest); err != nil {
		return b, err
	}
	s.blobMu.Lock()
	defer s.blobMu.Unlock()
	if err := s.db.BindBlob(ctx, record, bucket, digest); err != nil && model.ErrorCode(err) != model.CodeNotFound {
		return b, err
	}
	return b, nil
}

// references reports whether a live entry of an attachment log of rec
// names digest.
func references(schema *model.Schema, rec *crdt.Record, digest string) bool {
	return liveDigests(schema, rec)[digest]
}

// liveDigests returns the digests the live (unredacted) entries of the
// attachment logs of rec name.
func liveDigests(schema *model.Schema, rec *crdt.Record) map[string]bool {
	live := map[string]bool{}
	kind := schema.Kinds[rec.Kind]
	if kind == nil {
		return live
	}
	for name, f := range kind.Fields {
		if f.Format != model.FormatAttachment {
			continue
		}
		for _, e := range rec.Entries(name) {
			if !e.Redacted {
				live[attachmentDigest(e.Value)] = true
			}
		}
	}
	return live
}

// attachmentDigest returns the digest an attachment entry names.
func attachmentDigest(v []byte) string {
	var entry struct {
		Digest string `json:"digest"`
	}
	if json.Unmarshal(v, &entry) != nil {
		return ""
	}
	return entry.Digest
}

// byteRange parses a single "bytes=a-b" (or "bytes=a-", "bytes=-n") Range
// against size: [from, to). No header is the whole blob.
func byteRange(h string, size int64) (from, to int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if h == "" {
		return 0, size, true
	}
	a, z, dash := strings.Cut(spec, "-")
	if !found || !dash || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	if a == "" {
		n, err := strconv.ParseInt(z, 10, 64)
		return max(size-n, 0), size, err == nil && n > 0
	}
	from, err := strconv.ParseInt(a, 10, 64)
	if err != nil || from >= size {
		return 0, 0, false
	}
	to = size
	if z != "" {
		last, err := strconv.ParseInt(z, 10, 64)
		if err != nil || last < from {
			return 0, 0, false
		}
		to = min(last+1, size)
	}
	return from, to, true
}

// SweepBlobs runs the server's blob sweep now (see Server.SweepBlobs).
func (m *Main) SweepBlobs(ctx context.Context) error { return m.server.SweepBlobs(ctx) }
