package fieldsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// DefaultSnapshotLimit is the page size, in records, a bootstrap's first
// page asks of the server.
const DefaultSnapshotLimit = 100

// BootstrapPhase is where a bootstrap from a snapshot stands.
type BootstrapPhase string

// Phases of a bootstrap. The server serves the open cases (its team's
// identifications still being worked on) first; once they are in, the
// app may show them while the rest fills in.
const (
	// BootstrapOpenCases: the open cases are on their way.
	BootstrapOpenCases BootstrapPhase = "open_cases"
	// BootstrapRest: every open case is in; the rest fills in.
	BootstrapRest BootstrapPhase = "rest"
	// BootstrapComplete: every record of the snapshot is in; the device
	// pulls the ops since as usual.
	BootstrapComplete BootstrapPhase = "complete"
)

// BootstrapProgress is what Options.OnBootstrap receives after each
// snapshot page applied.
type BootstrapProgress struct {
	Phase BootstrapPhase
	// Records counts the records received by this run of the bootstrap
	// (a bootstrap resumed after a cut counts from its resumption).
	Records int
}

// bootstrap fills a fresh replica from a snapshot (Options.Bootstrap):
// it fetches pages of record states until the server has no more, merging
// each page in one transaction with the snapshot cursor, and returns the
// records received and the cursor to pull from ("" when the replica is not
// fresh: then it pulls every op as usual). A bootstrap cut short resumes
// from the stored snapshot cursor; a cursor the server refuses starts the
// snapshot again (merging a state twice changes nothing).
func (c *Client) bootstrap(ctx context.Context) (int, string, error) {
	cursor, fresh, err := c.snapshotStart()
	if err != nil || !fresh {
		return 0, "", err
	}
	received, restarted := 0, false
	for {
		p, err := c.fetchSnapshot(ctx, cursor)
		if code := apiCode(err); (code == model.CodeResyncRequired || code == model.CodeInvalidCursor) && cursor != "" && !restarted {
			c.log.Warn("snapshot cursor refused; starting the snapshot again", "code", code)
			restarted, cursor = true, ""
			continue
		}
		if notServed(err) && cursor == "" {
			c.log.Info("the server serves no snapshots; pulling every op")
			return received, "", nil
		}
		if err != nil {
			return received, "", fmt.Errorf("snapshot: %w", err)
		}
		if err := c.update(func(t *tx) error { return c.applySnapshot(t, p) }); err != nil {
			return received, "", fmt.Errorf("apply snapshot page: %w", err)
		}
		received += len(p.Records)
		c.reportBootstrap(p, received)
		if !p.More {
			return received, p.PullCursor, nil
		}
		cursor = p.Cursor
	}
}

// reportBootstrap tells Options.OnBootstrap where the bootstrap stands
// once page p is applied.
func (c *Client) reportBootstrap(p *api.SnapshotResponse, received int) {
	if c.opt.OnBootstrap != nil {
		c.opt.OnBootstrap(BootstrapProgress{Phase: phaseAfter(p), Records: received})
	}
}

// phaseAfter is the bootstrap's phase once page p is applied.
func phaseAfter(p *api.SnapshotResponse) BootstrapPhase {
	switch {
	case !p.More:
		return BootstrapComplete
	case p.OpenCasesDone:
		return BootstrapRest
	}
	return BootstrapOpenCases
}

// bootstrapPhase returns the phase of the bootstrap under way in b (""
// when none is).
func bootstrapPhase(b *badger.Txn) (BootstrapPhase, error) {
	v, err := getValue(b, []byte(keySnapshot))
	if err != nil || v == nil {
		return "", err
	}
	open, err := getValue(b, []byte(keySnapshotOpen))
	if err != nil {
		return "", err
	}
	if open != nil {
		return BootstrapRest, nil
	}
	return BootstrapOpenCases, nil
}

// notServed reports whether err is a 404: a server without snapshots.
func notServed(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// snapshotStart returns the snapshot cursor to resume from and whether
// the replica may bootstrap: a snapshot is under way, or it holds no
// record and no resync runs.
func (c *Client) snapshotStart() (cursor string, fresh bool, err error) {
	err = c.view(func(b *badger.Txn) error {
		v, err := getValue(b, []byte(keySnapshot))
		if err != nil {
			return err
		}
		if v != nil {
			cursor, fresh = string(v), true
			return nil
		}
		fresh = !c.resyncing && !anyKey(b, []byte(prefixRecord))
		return nil
	})
	return cursor, fresh, err
}

// anyKey reports whether any key starts with prefix.
func anyKey(b *badger.Txn, prefix []byte) bool {
	it := b.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	it.Rewind()
	return it.Valid()
}

// fetchSnapshot fetches the snapshot page after cursor, its size adapted
// to the link (pageSizer).
func (c *Client) fetchSnapshot(ctx context.Context, cursor string) (*api.SnapshotResponse, error) {
	limit := c.snapSize.next()
	path := "/v1/sync/snapshot?limit=" + strconv.Itoa(limit)
	if cursor != "" {
		path += "&cursor=" + url.QueryEscape(cursor)
	}
	var body []byte
	start := c.opt.Now()
	if err := c.call(ctx, http.MethodGet, path, nil, &body, true); err != nil {
		if isCut(err) {
			c.snapSize.cut()
		}
		return nil, err
	}
	took := c.opt.Now().Sub(start)
	var p api.SnapshotResponse
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, &transportError{fmt.Errorf("decode snapshot page: %w", err)}
	}
	if p.More {
		// The last page of the open cases, or of the snapshot, may be
		// short whatever the link: only full pages measure it.
		c.snapSize.observe(limit, len(p.Records), took)
	}
	return &p, nil
}

// applySnapshot merges one snapshot page: each state becomes its record's
// base and is merged into the record (created when absent); the clock
// follows the newest state; the last page stores the pull cursor.
func (c *Client) applySnapshot(t *tx, p *api.SnapshotResponse) error {
	var newest hlc.Timestamp
	for _, sr := range p.Records {
		r := &crdt.Record{}
		if err := r.UnmarshalBinary(sr.State); err != nil || r.ID != sr.ID || r.Kind != sr.Kind {
			c.log.Error("snapshot record does not decode; skipped", "record", sr.ID)
			continue
		}
		newest = max(newest, r.HLC)
		if err := t.set(baseKey(r.ID), sr.State); err != nil {
			return err
		}
		if err := t.mergeState(r); err != nil {
			return err
		}
	}
	server, _ := hlc.Parse(p.ServerHLC)
	_, _ = c.clock.Update(newest)
	_, _ = c.clock.Update(server)
	if p.More && p.OpenCasesDone {
		if err := t.set([]byte(keySnapshotOpen), []byte{1}); err != nil {
			return err
		}
	}
	if p.More {
		return t.set([]byte(keySnapshot), []byte(p.Cursor))
	}
	if err := t.del([]byte(keySnapshot)); err != nil {
		return err
	}
	if err := t.del([]byte(keySnapshotOpen)); err != nil {
		return err
	}
	if err := t.set([]byte(keyCursor), []byte(p.PullCursor)); err != nil {
		return err
	}
	t.after = append(t.after, func() { c.cursor = p.PullCursor })
	return nil
}

// mergeState merges a served state into its local record, or makes it the
// record when none is held.
func (t *tx) mergeState(r *crdt.Record) error {
	local, exists, err := t.record(r.ID)
	if err != nil {
		return err
	}
	if exists {
		if err := local.Merge(r); err != nil {
			return fmt.Errorf("merge snapshot of %s: %w", r.ID, err)
		}
	} else {
		t.records[r.ID] = r
	}
	t.full[r.ID] = true
	t.touch(r.ID)
	return nil
}

// base returns record id's bootstrap base (nil when it has none).
func (t *tx) base(id string) (*crdt.Record, error) {
	data, err := t.get(baseKey(id))
	if err != nil || data == nil {
		return nil, err
	}
	r := &crdt.Record{}
	if err := r.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("load base of %s: %w", id, err)
	}
	return r, nil
}

// redactBase applies a redact op to its record's base, so an erased value
// stays in no key of the replica.
func (t *tx) redactBase(op *crdt.Op) error {
	r, err := t.base(op.Record)
	if err != nil || r == nil {
		return err
	}
	if _, err := r.Apply(t.schema, op); err != nil {
		return nil // the op was refused by the record too; nothing to erase
	}
	data, err := r.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode base of %s: %w", op.Record, err)
	}
	return t.set(baseKey(op.Record), data)
}
