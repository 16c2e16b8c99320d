// Package audit is fieldsync's append-only, hash-chained audit log: who did
// what to which object, when, from where; never the content.
//
// Invariants: entries are numbered 1, 2, 3... without gaps; each entry
// carries the hash of the one before (the first carries the zero hash) and
// its own hash over its canonical JSON, so Verify detects any altered,
// removed, inserted or reordered entry. Only Log appends, one entry at a
// time under its lock; nothing updates or deletes an entry. Removing the
// newest entries is detectable only against a head recorded elsewhere:
// Verify returns the head hash so operators can keep it outside the server.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Action names what happened.
type Action string

// The audited actions.
const (
	ActionLogin         Action = "login"
	ActionLoginFailed   Action = "login_failed"
	ActionTokenReused   Action = "token_reused"
	ActionDeviceRevoked Action = "device_revoked"
	ActionRecordRead    Action = "record_read"
	ActionRecordsListed Action = "records_listed"
	// ActionRecordsPulled is one pull page read by a supervisor (counts of
	// identification ops and records, never their ids or content).
	ActionRecordsPulled Action = "records_pulled"
	// ActionFiguresRead is one request for the monitoring figures.
	ActionFiguresRead   Action = "figures_read"
	ActionExport        Action = "export"
	ActionRedaction     Action = "redaction"
	ActionOpRejected    Action = "op_rejected"
	ActionUserCreated   Action = "user_created"
	ActionTeamCreated   Action = "team_created"
	ActionUserDisabled  Action = "user_disabled"
	ActionUserEnabled   Action = "user_enabled"
	ActionPasswordReset Action = "password_reset"
	// ActionRetentionErased: retention erased a record (Object the
	// record, Detail the rule; actor "retention").
	ActionRetentionErased Action = "retention_erased"
	// ActionLegalHoldSet and ActionLegalHoldCleared: a record's legal
	// hold was set or cleared.
	ActionLegalHoldSet     Action = "legal_hold_set"
	ActionLegalHoldCleared Action = "legal_hold_cleared"
)

// The login throttle's decisions (server/ratelimit.go).
const (
	// ActionLoginThrottled: a failed login made its username and client
	// wait (Detail "delay <n>s"), or used up its client address's
	// allowance of failures (Detail "address limit").
	ActionLoginThrottled Action = "login_throttled"
	// ActionLoginRefused: the first login refused during such a wait
	// (Detail "user and client" or "address").
	ActionLoginRefused Action = "login_refused"
)

// ZeroHash is the prev of the first entry.
var ZeroHash = hex.EncodeToString(make([]byte, sha256.Size))

// Event is what a caller reports; Log turns it into an Entry.
type Event struct {
	Actor  string `json:"actor,omitempty"`
	Role   string `json:"role,omitempty"`
	Device string `json:"device,omitempty"`
	IP     string `json:"ip,omitempty"`
	Action Action `json:"action"`
	// Object is what the action concerns: a record, device, user or team
	// id, or a username for a failed login.
	Object string `json:"object,omitempty"`
	// Detail is a code or a count, never content.
	Detail string `json:"detail,omitempty"`
}

// Entry is one link of the chain.
type Entry struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Event
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}

// computeHash hashes the entry's JSON with Hash empty. encoding/json
// writes struct fields in declaration order and times in RFC 3339 with
// nanoseconds, so the bytes are stable.
func (e Entry) computeHash() string {
	e.Hash = ""
	data, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("audit: marshal entry: %v", err)) // only strings, ints and a time
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Store keeps the entries; server/store implements it.
type Store interface {
	// AppendAudit writes entries durably, in one transaction.
	AppendAudit(ctx context.Context, entries []Entry) error
	// LastAudit returns the newest entry, if any.
	LastAudit(ctx context.Context) (Entry, bool, error)
	// ScanAudit returns up to limit entries with Seq > after, in order.
	ScanAudit(ctx context.Context, after uint64, limit int) ([]Entry, error)
}

// Log appends events to the chain.
type Log struct {
	mu    sync.Mutex
	store Store
	now   func() time.Time
	last  Entry
	ready bool
}

// NewLog returns a log over store.
func NewLog(store Store, now func() time.Time) *Log {
	return &Log{store: store, now: now}
}

// Record appends events, in order, as one durable write.
func (l *Log) Record(ctx context.Context, events ...Event) error {
	return l.RecordWith(ctx, l.store.AppendAudit, events...)
}

// RecordWith appends events, in order, through write, which must store
// the entries durably in one transaction together with the change they
// audit (so that neither exists without the other). When write fails
// nothing is appended: the chain stays as it was and write's error is
// returned wrapped.
func (l *Log) RecordWith(ctx context.Context, write func(ctx context.Context, entries []Entry) error, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.load(ctx); err != nil {
		return err
	}
	entries := make([]Entry, len(events))
	prev := l.last
	for i, ev := range events {
		e := Entry{Seq: prev.Seq + 1, Time: l.now().UTC(), Event: ev, Prev: prev.Hash}
		if e.Seq == 1 {
			e.Prev = ZeroHash
		}
		e.Hash = e.computeHash()
		entries[i], prev = e, e
	}
	if err := write(ctx, entries); err != nil {
		return fmt.Errorf("append audit entries: %w", err)
	}
	l.last = prev
	return nil
}

func (l *Log) load(ctx context.Context) error {
	if l.ready {
		return nil
	}
	last, ok, err := l.store.LastAudit(ctx)
	if err != nil {
		return fmt.Errorf("read audit head: %w", err)
	}
	if ok {
		l.last = last
	}
	l.ready = true
	return nil
}
