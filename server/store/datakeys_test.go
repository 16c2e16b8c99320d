package store

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// canaryStore is a store holding a record with two notes, each with a
// canary text of its own: erased (redacted when redact is set) and kept.
type canaryStore struct {
	dir          string
	rec          string
	erasedID     string
	keptID       string
	erased, kept string
	author       author
	db           *DB
	// ops is the number of ops stored before any redaction.
	ops int
}

func newCanaryStore(t *testing.T, opt Options) *canaryStore {
	t.Helper()
	c := &canaryStore{dir: t.TempDir(), rec: newID(), author: newAuthor()}
	c.erased, c.kept = canaryText(), canaryText()
	c.db = openAt(t, c.dir, opt)
	const k = model.KindIdentification
	ops := c.author.identification(t, c.rec, newID())
	e := c.author.op(t, c.rec, k, "notes", model.ActionAppend, `{"text":"`+c.erased+`"}`)
	kept := c.author.op(t, c.rec, k, "notes", model.ActionAppend, `{"text":"`+c.kept+`"}`)
	c.erasedID, c.keptID = e.Op.ID, kept.Op.ID
	mustApplied(t, commit(t, c.db, append(ops, e, kept)...))
	c.ops = len(ops) + 3
	// More ops, so that the record is compacted with the note in its
	// snapshot (and badger holds that snapshot version).
	mustApplied(t, commit(t, c.db, c.author.op(t, c.rec, k, "region", model.ActionSet, quote("north"))))
	return c
}

// canaryText returns 24 random capital letters: no other stored byte
// string shares 4 of them in a row, so badger's block compression cannot
// encode the canary as a back-reference that a byte scan would miss.
func canaryText() string {
	b := make([]byte, 24)
	for i := range b {
		b[i] = 'A' + byte(rand.IntN(26))
	}
	return string(b)
}

func (c *canaryStore) redact(t *testing.T) {
	t.Helper()
	mustApplied(t, commit(t, c.db, c.author.op(t, c.rec, model.KindIdentification, "notes", model.ActionRedact, "", c.erasedID)))
}

// filesHolding returns the files under dir whose bytes contain s.
func filesHolding(t *testing.T, dir, s string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			found = append(found, filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// canaryScan is where the canaries a scan looked for were found: for
// each canary found, the files (byte scan of every file of the data
// directory) or the badger versions (read with the store's keys, so
// through encryption at rest and the data keys) holding it.
type canaryScan map[string][]string

// scanFiles closes db (if not nil) and returns the files of dir holding
// each canary: the scan after a shutdown (or of a restored store).
func scanFiles(t *testing.T, db *DB, dir string, canaries ...string) canaryScan {
	t.Helper()
	if db != nil {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	found := canaryScan{}
	for _, s := range canaries {
		if files := filesHolding(t, dir, s); len(files) > 0 {
			found[s] = files
		}
	}
	return found
}

// scanVersions returns the versions of db holding each canary.
func scanVersions(t *testing.T, db *DB, canaries ...string) canaryScan {
	t.Helper()
	found := canaryScan{}
	for _, s := range canaries {
		if v := versionsHolding(t, db, s); len(v) > 0 {
			found[s] = v
		}
	}
	return found
}

// versionsHolding reads every version of every key through badger (so
// it sees through encryption at rest), opening sealed values with the
// store's data keys, and returns the keys of the versions that hold s.
func versionsHolding(t *testing.T, db *DB, s string) []string {
	t.Helper()
	var found []string
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if holds(db, k, v, s) {
				found = append(found, string(k))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// holds reports whether the value v of key k holds s, plain or sealed.
func holds(db *DB, k, v []byte, s string) bool {
	if bytes.Contains(v, []byte(s)) {
		return true
	}
	switch {
	case bytes.HasPrefix(k, []byte(prefixFeed)):
		_, js, err := splitFeedValue(db.keys, v)
		return err == nil && bytes.Contains(js, []byte(s))
	case bytes.HasPrefix(k, []byte(prefixSummary)):
		sum, err := decodeSummaryValue(db.keys, string(k[len(prefixSummary):]), v)
		if err != nil {
			return false
		}
		js, err := json.Marshal(sum)
		return err == nil && bytes.Contains(js, []byte(s))
	case bytes.HasPrefix(k, []byte(prefixRecord)):
		h, err := parseHead(v)
		if err != nil {
			return false
		}
		snap, err := db.keys.openSnapshot(string(k[len(prefixRecord):]), h.snapshot)
		if err != nil {
			return false
		}
		var r crdt.Record
		if r.UnmarshalSealed(snap, snapshotSealer{db.keys}) != nil {
			return false
		}
		if plain, err := r.MarshalBinary(); err == nil && bytes.Contains(plain, []byte(s)) {
			return true
		}
		for _, e := range r.Entries("notes") {
			if bytes.Contains(e.Value, []byte(s)) {
				return true
			}
		}
	}
	return false
}

// TestErasureReachesTheBytes: after a redaction and a clean shutdown, no
// file of the store's directory holds the erased note's bytes, and no
// version badger holds can be read back to it, while the note kept is
// still served. The controls show that the scans find a canary: without
// a redaction (sealed values read through badger with their keys), and
// with values stored plain as before data keys (the raw byte scan). On
// the code before data keys the redacted cases found the canary (in the
// superseded f/ and r/ versions) unless badger's compaction at Close
// happened to drop them: nothing forced it.
func TestErasureReachesTheBytes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opt        Options
		redact     bool
		wantFiles  bool // the erased canary in the directory's bytes
		wantLogged bool // ... in a version read through badger
	}{
		{name: "redacted", redact: true},
		{name: "redacted, encrypted at rest", opt: Options{EncryptionKey: bytes.Repeat([]byte{7}, 32)}, redact: true},
		{name: "control: no redaction", wantLogged: true},
		{name: "control: no redaction, encrypted at rest", opt: Options{EncryptionKey: bytes.Repeat([]byte{7}, 32)}, wantLogged: true},
		{name: "control: plain values, no redaction", opt: Options{plainValues: true}, wantFiles: true, wantLogged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.GCInterval = -1
			c := newCanaryStore(t, tc.opt)
			if tc.redact {
				c.redact(t)
			}
			files := scanFiles(t, c.db, c.dir, c.erased)
			if got := len(files) > 0; got != tc.wantFiles {
				t.Errorf("files holding the erased canary: %v, want some: %v", files, tc.wantFiles)
			}
			db := openAt(t, c.dir, tc.opt)
			versions := scanVersions(t, db, c.erased, c.kept)
			if got := len(versions[c.erased]) > 0; got != tc.wantLogged {
				t.Errorf("versions holding the erased canary: %q, want some: %v", versions[c.erased], tc.wantLogged)
			}
			if len(versions[c.kept]) == 0 {
				t.Error("no version holds the kept note")
			}
			if got := feedValueOf(t, db, c.keptID); !strings.Contains(got, c.kept) {
				t.Errorf("kept note served as %s", got)
			}
		})
	}
}

// backupOf returns a backup of db's store and one of its data keys.
func backupOf(t *testing.T, db *DB) (store, keys []byte) {
	t.Helper()
	var s, k bytes.Buffer
	if err := db.Backup(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	if err := db.BackupKeys(&k); err != nil {
		t.Fatal(err)
	}
	return s.Bytes(), k.Bytes()
}

// restoreInto restores a store backup and a key backup into a new
// directory and opens the store there.
func restoreInto(t *testing.T, store, keys []byte) (*DB, string) {
	t.Helper()
	dir := t.TempDir()
	if err := RestoreKeys(dir, bytes.NewReader(keys)); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Restore(context.Background(), bytes.NewReader(store)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return openAt(t, dir, Options{GCInterval: -1}), dir
}

// TestBackupRespectsLaterErasure: a backup taken before a redaction,
// restored (with the key store as it is after the erasure) once the
// value is erased, cannot give the value back, in answers or in its
// files, while everything not erased restores intact. The control
// restores the same backup with the key backup taken with it: the value
// is there.
func TestBackupRespectsLaterErasure(t *testing.T) {
	ctx := context.Background()
	c := newCanaryStore(t, Options{GCInterval: -1})
	oldStore, oldKeys := backupOf(t, c.db)
	c.redact(t)
	_, keysNow := backupOf(t, c.db)

	check := func(t *testing.T, keys []byte, wantErased bool) {
		db, dir := restoreInto(t, oldStore, keys)
		if got := feedValueOf(t, db, c.keptID); !strings.Contains(got, c.kept) {
			t.Errorf("kept note restored as %s", got)
		}
		erasedJSON := feedValueOf(t, db, c.erasedID)
		if got := erasedJSON == "null"; got != wantErased {
			t.Errorf("erased note restored as %s", erasedJSON)
		}
		hist, err := db.History(ctx, c.rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != c.ops {
			t.Errorf("history has %d ops, want the %d of the backup", len(hist), c.ops)
		}
		for _, op := range hist {
			if op.ID == c.erasedID && (string(op.Value) == "null") != wantErased {
				t.Errorf("erased note in history: %s", op.Value)
			}
		}
		st, err := db.Record(ctx, c.rec)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range st.Record.Entries("notes") {
			switch e.Op {
			case c.keptID:
				if !strings.Contains(string(e.Value), c.kept) {
					t.Errorf("kept entry restored as %s", e.Value)
				}
			case c.erasedID:
				if (string(e.Value) == "null") != wantErased {
					t.Errorf("erased entry restored as %s", e.Value)
				}
			}
		}
		if got := crdt.String(st.Record.Value("region")); got != "north" {
			t.Errorf("region restored as %q", got)
		}
		if files := scanFiles(t, db, dir, c.erased); len(files) > 0 {
			t.Errorf("files of the restored store hold the erased canary: %v", files)
		}
	}
	t.Run("keys after the erasure", func(t *testing.T) { check(t, keysNow, true) })
	t.Run("control: keys of the backup's time", func(t *testing.T) { check(t, oldKeys, false) })
}

// TestErasureSurvivesACrashBeforeItsKeyIsDestroyed: a key left live by a
// crash between an erasure's commit and the key's destruction is
// destroyed by the next Open.
func TestErasureSurvivesACrashBeforeItsKeyIsDestroyed(t *testing.T) {
	c := newCanaryStore(t, Options{GCInterval: -1})
	_, keys := backupOf(t, c.db)
	c.redact(t)
	if err := c.db.Close(); err != nil {
		t.Fatal(err)
	}
	// Put back the key store as it was before the erasure.
	if err := os.Remove(filepath.Join(c.dir, dataKeysFile)); err != nil {
		t.Fatal(err)
	}
	if err := RestoreKeys(c.dir, bytes.NewReader(keys)); err != nil {
		t.Fatal(err)
	}
	db := openAt(t, c.dir, Options{GCInterval: -1})
	v := scanVersions(t, db, c.erased, c.kept)
	if len(v[c.erased]) > 0 {
		t.Errorf("after Open, versions holding the erased canary: %q", v[c.erased])
	}
	if len(v[c.kept]) == 0 {
		t.Error("after Open, no version holds the kept note")
	}
}

// TestDataKeysWrittenAtSync: the keys the writer creates are written to
// the key store file together, by the sync that precedes the commit of
// the ops they seal (one write instead of one per key), and a key
// destroyed before that sync is written and then zeroed, never left on
// disk. On the code before, create wrote each key at once.
func TestDataKeysWrittenAtSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), dataKeysFile)
	ks, err := openDataKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := newID(), newID(), newID()
	for _, id := range []string{a, b} {
		if _, err := ks.create(id); err != nil {
			t.Fatal(err)
		}
	}
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if got, want := size(), int64(len(keysMagic)); got != want {
		t.Errorf("key store after two creates: %d bytes, want %d (nothing written before sync)", got, want)
	}
	if err := ks.sync(); err != nil {
		t.Fatal(err)
	}
	if got, want := size(), slotOffset(2); got != want {
		t.Errorf("key store after sync: %d bytes, want %d", got, want)
	}
	if _, err := ks.create(c); err != nil {
		t.Fatal(err)
	}
	if err := ks.destroy([]string{a, c}); err != nil {
		t.Fatal(err)
	}
	if err := ks.close(); err != nil {
		t.Fatal(err)
	}
	again, err := openDataKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.close()
	if got, want := again.live(), []string{b}; !slices.Equal(got, want) {
		t.Errorf("live keys after reopening: %v, want %v", got, want)
	}
}
