package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

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
// everyone else gets 404, as for a blob that does not exist. Served as a
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
	b, err := s.db.Blob(ctx, st.Scope.Bucket(), digest)
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

// references reports whether a live entry of an attachment log of rec
// names digest.
func references(schema *model.Schema, rec *crdt.Record, digest string) bool {
	kind := schema.Kinds[rec.Kind]
	if kind == nil {
		return false
	}
	for name, f := range kind.Fields {
		if f.Format != model.FormatAttachment {
			continue
		}
		for _, e := range rec.Entries(name) {
			if !e.Redacted && attachmentDigest(e.Value) == digest {
				return true
			}
		}
	}
	return false
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

// SweepBlobs deletes incomplete uploads older than the upload TTL (their
// chunks with them) and completed blobs older than the orphan TTL that no
// live attachment entry of a record of their scope names.
func (s *Server) SweepBlobs(ctx context.Context) error {
	now := s.now()
	if _, err := s.db.ExpireUploads(ctx, now.Add(-s.cfg.UploadTTL)); err != nil {
		return err
	}
	cutoff := now.Add(-s.cfg.BlobOrphanTTL)
	var old []store.Blob
	err := s.db.Blobs(ctx, func(b store.Blob) error {
		if b.At.Before(cutoff) {
			old = append(old, b)
		}
		return nil
	})
	if err != nil || len(old) == 0 {
		return err
	}
	live, err := s.referencedBlobs(ctx)
	if err != nil {
		return err
	}
	for _, b := range old {
		if !live[b.Scope+"/"+b.Digest] {
			if err := s.db.DeleteBlob(ctx, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// referencedBlobs returns "<scope>/<digest>" of every blob a live
// attachment entry names.
func (s *Server) referencedBlobs(ctx context.Context) (map[string]bool, error) {
	live := map[string]bool{}
	err := s.db.ScanRecords(ctx, "", nil, func(sum store.Summary, rec *crdt.Record) error {
		kind := s.schema.Kinds[rec.Kind]
		if kind == nil {
			return nil
		}
		for name, f := range kind.Fields {
			if f.Format != model.FormatAttachment {
				continue
			}
			for _, e := range rec.Entries(name) {
				if !e.Redacted {
					live[access.Scope{Kind: sum.Kind, Team: sum.Team, ActionWeek: sum.ActionWeek}.Bucket()+"/"+attachmentDigest(e.Value)] = true
				}
			}
		}
		return nil
	})
	return live, err
}

// sweepBlobsEvery runs SweepBlobs every interval until Shutdown; a failed
// sweep is logged and tried again at the next tick.
func (s *Server) sweepBlobsEvery(interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.shutdown:
			return
		case <-tick.C:
			if err := s.SweepBlobs(context.Background()); err != nil {
				s.log.Warn("sweep blobs", "err", err)
			}
		}
	}
}

// SweepBlobs runs the server's blob sweep now (see Server.SweepBlobs).
func (m *Main) SweepBlobs(ctx context.Context) error { return m.server.SweepBlobs(ctx) }
