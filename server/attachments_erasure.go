package server

import (
	"context"
	"fmt"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// The lifecycle of blobs. A blob lives while a live attachment entry
// names it. When an entry naming it is pushed, the record is bound to
// the blob of its scope (store.BindBlob), so the record keeps reading it
// wherever it moves. When a redaction erases a record's last live entry
// naming a blob and no other record is bound to it or names it in its
// scope, the blob is erased at once (store.DeleteBlob destroys its data
// key first: its bytes are then unreadable in the data directory and in
// every backup). The sweep (SweepBlobs) does the same for what a crash
// or a record's erasure left, expires incomplete uploads and deletes
// blobs no entry ever named once they are older than the orphan TTL.

// attachmentField reports whether field of kind is an attachment log.
func (s *Server) attachmentField(kind, field string) bool {
	k := s.schema.Kinds[kind]
	if k == nil {
		return false
	}
	f := k.Fields[field]
	return f != nil && f.Format == model.FormatAttachment
}

// indexAttachments binds the blobs that applied appends name to their
// records, and releases the blobs whose naming entries applied
// redactions erased (erasing those nothing else names). It never fails
// the push: what it could not do is logged, and the next sweep does it.
func (s *Server) indexAttachments(ctx context.Context, applied []crdt.Op) {
	bind, release := map[string][]string{}, map[string]bool{}
	for _, op := range applied {
		if !s.attachmentField(op.Kind, op.Field) {
			continue
		}
		switch op.Action {
		case model.ActionAppend:
			bind[op.Record] = append(bind[op.Record], attachmentDigest(op.Value))
		case model.ActionRedact:
			release[op.Record] = true
		}
	}
	if len(bind) == 0 && len(release) == 0 {
		return
	}
	s.blobMu.Lock()
	defer s.blobMu.Unlock()
	for rec, digests := range bind {
		st, err := s.db.Record(ctx, rec)
		if err != nil {
			s.log.Warn("bind blobs", "record", rec, "err", err)
			continue
		}
		live := liveDigests(s.schema, st.Record)
		for _, d := range digests {
			if !live[d] {
				continue // redacted before it arrived
			}
			if err := s.db.BindBlob(ctx, rec, st.Scope.Bucket(), d); err != nil && model.ErrorCode(err) != model.CodeNotFound {
				s.log.Warn("bind blob", "record", rec, "err", err)
			}
		}
	}
	for rec := range release {
		if err := s.releaseBlobs(ctx, rec, nil); err != nil {
			s.log.Warn("release blobs", "record", rec, "err", err)
		}
	}
}

// releaseBlobs unbinds the blobs record no longer names and erases those
// left unnamed. live holds, for each "<scope>/<digest>", the records of
// that scope whose live entries name it (nil: computed for the blobs
// concerned). The caller holds blobMu.
func (s *Server) releaseBlobs(ctx context.Context, record string, live map[string][]string) error {
	keep := map[string]bool{}
	st, err := s.db.Record(ctx, record)
	switch {
	case err == nil:
		keep = liveDigests(s.schema, st.Record)
	case model.ErrorCode(err) != model.CodeNotFound:
		return err
	}
	orphans, err := s.db.ReleaseBlobs(ctx, record, func(d string) bool { return keep[d] })
	if err != nil {
		return err
	}
	for _, b := range orphans {
		named := len(live[b.Scope+"/"+b.Digest]) > 0
		if live == nil {
			if named, err = s.namedInScope(ctx, b.Scope, b.Digest); err != nil {
				return err
			}
		}
		if named {
			continue
		}
		if err := s.db.DeleteBlob(ctx, b); err != nil {
			return err
		}
		s.log.Info("erased a blob no live entry names", "scope", b.Scope)
	}
	return nil
}

// namedInScope reports whether a live entry of a record in scope names
// digest.
func (s *Server) namedInScope(ctx context.Context, scope, digest string) (bool, error) {
	named := false
	err := s.db.ScanRecords(ctx, "", func(sc access.Scope) bool { return sc.Bucket() == scope }, func(_ store.Summary, rec *crdt.Record) error {
		if named = references(s.schema, rec, digest); named {
			return store.ErrStopScan
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("find entries naming a blob: %w", err)
	}
	return named, nil
}

// SweepBlobs erases incomplete uploads older than the upload TTL;
// destroys blob data keys without an upload (SweepBlobKeys); unbinds
// the blobs records no longer name (a redaction whose release a crash
// interrupted, an erased record) and erases those nothing names; binds
// the blobs named in their record's scope; erases blobs whose data key is
// gone; and erases completed blobs older than the orphan TTL that no
// live entry names.
func (s *Server) SweepBlobs(ctx context.Context) error {
	now := s.now()
	if _, err := s.db.ExpireUploads(ctx, now.Add(-s.cfg.UploadTTL)); err != nil {
		return err
	}
	if _, err := s.db.SweepBlobKeys(ctx); err != nil {
		return err
	}
	s.blobMu.Lock()
	defer s.blobMu.Unlock()
	named, scoped, err := s.liveReferences(ctx)
	if err != nil {
		return err
	}
	stale := map[string]bool{}
	bound := map[string]bool{}
	err = s.db.Bindings(ctx, func(rec, digest, scope string) error {
		if named[rec] == nil || !named[rec][digest] {
			stale[rec] = true
		} else {
			bound[scope+"/"+digest] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for rec := range stale {
		if err := s.releaseBlobs(ctx, rec, scoped); err != nil {
			return err
		}
	}
	cutoff := now.Add(-s.cfg.BlobOrphanTTL)
	return s.db.Blobs(ctx, func(b store.Blob) error {
		sd := b.Scope + "/" + b.Digest
		switch {
		case b.Erased:
			return s.db.DeleteBlob(ctx, b)
		case bound[sd] || scoped[sd] != nil:
			for _, rec := range scoped[sd] {
				if err := s.db.BindBlob(ctx, rec, b.Scope, b.Digest); err != nil && model.ErrorCode(err) != model.CodeNotFound {
					return err
				}
			}
			return nil
		case b.At.Before(cutoff):
			return s.db.DeleteBlob(ctx, b)
		}
		return nil
	})
}

// liveReferences returns, for every record, the digests its live
// attachment entries name, and for every "<scope>/<digest>" the records
// of that scope naming it.
func (s *Server) liveReferences(ctx context.Context) (named map[string]map[string]bool, scoped map[string][]string, err error) {
	named, scoped = map[string]map[string]bool{}, map[string][]string{}
	err = s.db.ScanRecords(ctx, "", nil, func(sum store.Summary, rec *crdt.Record) error {
		live := liveDigests(s.schema, rec)
		if len(live) == 0 {
			return nil
		}
		named[sum.ID] = live
		bucket := sum.Scope().Bucket()
		for d := range live {
			scoped[bucket+"/"+d] = append(scoped[bucket+"/"+d], sum.ID)
		}
		return nil
	})
	return named, scoped, err
}
