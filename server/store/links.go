package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
)

// prefixLink holds the links supervisors make between records, once per
// direction: l/<record id>/<other record id> -> Link as JSON.
//
// Links are supervisor data, never record state: they are not ops, are
// never served by pull or GET /v1/records, and a caller is shown a link
// only when it may read both records (the server filters; the store does
// not know principals).
const prefixLink = "l/"

// Link is a supervisor's link between two records.
type Link struct {
	// Records are the two record ids, the smaller first.
	Records [2]string `json:"records"`
	// By is the user who made the link, At when.
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// ErrLinkUnchanged is returned by SetLink when the link is already in the
// state asked for; nothing was written.
var ErrLinkUnchanged = errors.New("link already in that state")

// newLink returns the link between a and b, smaller id first.
func newLink(a, b, by string, at time.Time) Link {
	if b < a {
		a, b = b, a
	}
	return Link{Records: [2]string{a, b}, By: by, At: at.UTC()}
}

// SetLink links (or, with linked false, unlinks) records a and b, in one
// durable transaction that also writes the audit entries of the change,
// so neither exists without the other. When the link is already as asked
// it writes nothing, audit entries included, and returns ErrLinkUnchanged.
func (db *DB) SetLink(ctx context.Context, a, b string, linked bool, by string, at time.Time, entries []audit.Entry) error {
	if !model.ValidID(a) || !model.ValidID(b) || a == b {
		return fmt.Errorf("set link %q-%q: two distinct record ids needed", a, b)
	}
	return db.bdb.Update(func(txn *badger.Txn) error {
		present, err := exists(txn, key2(prefixLink, a, b))
		if err != nil {
			return fmt.Errorf("read link: %w", err)
		}
		if present == linked {
			return ErrLinkUnchanged
		}
		for _, pair := range [][2]string{{a, b}, {b, a}} {
			k := key2(prefixLink, pair[0], pair[1])
			if linked {
				err = setJSON(txn, k, newLink(a, b, by, at))
			} else {
				err = txn.Delete(k)
			}
			if err != nil {
				return fmt.Errorf("write link: %w", err)
			}
		}
		return appendAudit(txn, entries)
	})
}

// LinksOf returns the links of record, ordered by the other record's id.
func (db *DB) LinksOf(ctx context.Context, record string) ([]Link, error) {
	return db.scanLinks(prefixLink+record+"/", func(string, string) bool { return true })
}

// Links returns every link once, ordered by (first id, second id).
func (db *DB) Links(ctx context.Context) ([]Link, error) {
	return db.scanLinks(prefixLink, func(from, to string) bool { return from < to })
}

// scanLinks decodes the links under prefix whose key (from, to) keep
// accepts.
func (db *DB) scanLinks(prefix string, keep func(from, to string) bool) ([]Link, error) {
	var out []Link
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefixLink):]
			if len(k) != 2*idLen+1 || !keep(string(k[:idLen]), string(k[idLen+1:])) {
				continue
			}
			var l Link
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &l) }); err != nil {
				return fmt.Errorf("decode link %s: %w", it.Item().Key(), err)
			}
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read links: %w", err)
	}
	return out, nil
}
