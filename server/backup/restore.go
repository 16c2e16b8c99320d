package backup

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/store"
)

// A backup's plaintext (inside age) is a header line, a manifest line and
// badger's backup stream:
//
//	fieldsync-backup 2\n{"records":..,"last_seq":..,"audit_seq":..,"audit_hash":".."}\n<badger stream>
//
// Backups of format 1 hold only the badger stream; they restore with the
// audit chain verified but no counts to compare.
const (
	headerV2 = "fieldsync-backup 2\n"
	// maxFrame bounds one frame of badger's stream: a damaged length
	// must not make the verification pass allocate or skip gigabytes.
	maxFrame = 1 << 30
)

// Restore directory layout: the store is loaded into DataDir/db.restoring
// and renamed to DataDir/db once verified; DataDir/RESTORE-INCOMPLETE
// exists from before the first byte is written until after the rename.
const (
	// IncompleteMarker is the file whose presence in a data directory
	// means a restore into it began and has not completed.
	IncompleteMarker = "RESTORE-INCOMPLETE"
	storeDir         = "db"
	loadingDir       = "db.restoring"
)

// Manifest is what a backup says it holds; a restore checks the restored
// store against it.
type Manifest struct {
	Records   int    `json:"records"`
	LastSeq   uint64 `json:"last_seq"`
	AuditSeq  uint64 `json:"audit_seq"`
	AuditHash string `json:"audit_hash"`
}

// manifestOf reads the manifest of an open store.
func manifestOf(ctx context.Context, db *store.DB) (Manifest, error) {
	var m Manifest
	var err error
	if m.Records, err = db.RecordCount(ctx); err != nil {
		return m, err
	}
	if m.LastSeq, err = db.LastSeq(ctx); err != nil {
		return m, err
	}
	last, ok, err := db.LastAudit(ctx)
	if err != nil {
		return m, fmt.Errorf("read audit head: %w", err)
	}
	if ok {
		m.AuditSeq, m.AuditHash = last.Seq, last.Hash
	}
	return m, nil
}

// Write writes an encrypted backup of db (with its manifest) to w, for the
// backup key in keyFile. Run it on a store no server writes to.
func Write(ctx context.Context, db *store.DB, w io.Writer, keyFile string) error {
	m, err := manifestOf(ctx, db)
	if err != nil {
		return fmt.Errorf("read backup manifest: %w", err)
	}
	line, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode backup manifest: %w", err)
	}
	return Encrypt(w, keyFile, func(pw io.Writer) error {
		if _, err := io.WriteString(pw, headerV2+string(line)+"\n"); err != nil {
			return err
		}
		return db.Backup(ctx, pw)
	})
}

// readManifest reads the header and manifest from br; ok is false for a
// format 1 backup (nothing is consumed then).
func readManifest(br *bufio.Reader) (m Manifest, ok bool, err error) {
	peek, _ := br.Peek(len(headerV2))
	if string(peek) != headerV2 {
		if strings.HasPrefix(string(peek), "fieldsync-backup ") {
			return m, false, errors.New("the backup has a format this build does not read")
		}
		return m, false, nil
	}
	if _, err := br.Discard(len(headerV2)); err != nil {
		return m, false, err
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return m, false, fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, false, fmt.Errorf("the manifest does not parse: %w", err)
	}
	return m, true, nil
}

// walkFrames reads badger's backup stream to its end, checking that it is
// a whole number of frames, and returns how many it holds.
func walkFrames(r io.Reader) (int, error) {
	var frames int
	for {
		var sz uint64
		err := binary.Read(r, binary.LittleEndian, &sz)
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if err != nil {
			return frames, err
		}
		if sz > maxFrame {
			return frames, fmt.Errorf("frame %d claims %d bytes", frames+1, sz)
		}
		if _, err := io.CopyN(io.Discard, r, int64(sz)); err != nil {
			return frames, err
		}
		frames++
	}
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// DataDir is the data directory to restore into; it must not hold a
	// store, unless an earlier restore into it did not complete.
	DataDir string
	// From is the encrypted backup file.
	From string
	// KeyFile holds the backup's secret key.
	KeyFile string
	// DataKeys is a backup of the store's data keys (WriteKeys, encrypted
	// for the same backup key), put next to the restored store; empty:
	// none, and every append value (notes, referrals...) is restored
	// erased.
	DataKeys string
	// Store configures the restored store (its encryption key, logger).
	Store store.Options

	// step, when set, is called at each stage and each 64 KiB of backup
	// read (tests kill the process there).
	step func(stage string)
}

// Restore restores the backup From into DataDir. It first reads the whole
// backup (authenticated by age, framed as badger's stream), then loads it
// into DataDir/db.restoring, reopens and checks it against the manifest
// (record count, last sequence number, audit chain and head), and only
// then renames it to DataDir/db. From the start until that rename,
// DataDir holds IncompleteMarker, so a restore that fails or is killed
// leaves a directory CheckComplete refuses. A restore into a directory an
// earlier restore left incomplete starts over. Errors are one line.
func Restore(ctx context.Context, o RestoreOptions) (Manifest, error) {
	if o.step == nil {
		o.step = func(string) {}
	}
	if err := prepareDir(o.DataDir, o.From); err != nil {
		return Manifest{}, err
	}
	o.step("marked")
	m, hasManifest, err := verifyFile(o)
	if err != nil {
		return m, err
	}
	o.step("verified")
	loading := filepath.Join(o.DataDir, loadingDir)
	if err := load(ctx, o, loading); err != nil {
		_ = os.RemoveAll(loading)
		return m, err
	}
	o.step("loaded")
	if err := check(ctx, o, loading, m, hasManifest); err != nil {
		_ = os.RemoveAll(loading)
		return m, err
	}
	o.step("checked")
	if err := os.Rename(loading, filepath.Join(o.DataDir, storeDir)); err != nil {
		return m, fmt.Errorf("move the restored store into place: %w", err)
	}
	if err := syncDir(o.DataDir); err != nil {
		return m, err
	}
	o.step("renamed")
	if err := os.Remove(filepath.Join(o.DataDir, IncompleteMarker)); err != nil {
		return m, fmt.Errorf("remove %s: %w", IncompleteMarker, err)
	}
	return m, syncDir(o.DataDir)
}

// CheckComplete returns an error when a restore into dataDir began and did
// not complete: no server or tool may open such a directory.
func CheckComplete(dataDir string) error {
	_, err := os.Stat(filepath.Join(dataDir, IncompleteMarker))
	switch {
	case err == nil:
		return fmt.Errorf("%s holds an incomplete restore (%s is present): run fieldsync restore into it again, or delete it", dataDir, IncompleteMarker)
	case errors.Is(err, os.ErrNotExist):
		return nil
	default:
		return fmt.Errorf("check %s for an incomplete restore: %w", dataDir, err)
	}
}

// prepareDir makes dataDir exist with IncompleteMarker in it, atomically
// (a new directory is created aside and renamed into place), and removes
// what an earlier incomplete restore left.
func prepareDir(dataDir, from string) error {
	note := fmt.Sprintf("A restore of %s began at %s and has not completed.\nNo server opens this directory until a restore into it completes.\n", from, time.Now().UTC().Format(time.RFC3339))
	_, statErr := os.Stat(dataDir)
	if errors.Is(statErr, os.ErrNotExist) {
		return createMarked(dataDir, note)
	}
	if statErr != nil {
		return fmt.Errorf("check data directory: %w", statErr)
	}
	incomplete := CheckComplete(dataDir) != nil
	if _, err := os.Stat(filepath.Join(dataDir, storeDir)); err == nil && !incomplete {
		return fmt.Errorf("%s already holds a store; restore into a new directory", dataDir)
	}
	if incomplete {
		for _, d := range []string{storeDir, loadingDir} {
			if err := os.RemoveAll(filepath.Join(dataDir, d)); err != nil {
				return fmt.Errorf("remove what an incomplete restore left: %w", err)
			}
		}
	}
	return writeMarker(dataDir, note)
}

// createMarked creates dataDir holding only the marker.
func createMarked(dataDir, note string) error {
	parent := filepath.Dir(filepath.Clean(dataDir))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".fieldsync-restore-*")
	if err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := writeMarker(tmp, note); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dataDir); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("create data directory: %w", err)
	}
	return syncDir(parent)
}

// writeMarker writes IncompleteMarker into dir atomically and durably.
func writeMarker(dir, note string) error {
	tmp := filepath.Join(dir, IncompleteMarker+".tmp")
	if err := os.WriteFile(tmp, []byte(note), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", IncompleteMarker, err)
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, IncompleteMarker)); err != nil {
		return fmt.Errorf("write %s: %w", IncompleteMarker, err)
	}
	return syncDir(dir)
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error { return syncFile(dir) }

// openBackup opens the backup file, reporting every 64 KiB read to step.
func openBackup(o RestoreOptions) (*os.File, io.Reader, error) {
	f, err := os.Open(o.From)
	if err != nil {
		return nil, nil, fmt.Errorf("open backup file: %w", err)
	}
	return f, &stepReader{r: f, step: o.step}, nil
}

type stepReader struct {
	r    io.Reader
	n    int64
	step func(string)
}

func (s *stepReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	before := s.n
	s.n += int64(n)
	if s.n>>16 != before>>16 {
		s.step("read")
	}
	return n, err
}

// countReader counts the plaintext bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// verifyFile reads the whole backup once: it must decrypt with the key,
// authenticate to its end and hold a manifest and whole frames.
func verifyFile(o RestoreOptions) (m Manifest, hasManifest bool, err error) {
	f, r, err := openBackup(o)
	if err != nil {
		return m, false, err
	}
	defer f.Close()
	var plain *countReader
	err = Decrypt(r, o.KeyFile, func(dec io.Reader) error {
		plain = &countReader{r: dec}
		br := bufio.NewReaderSize(plain, 64<<10)
		var err error
		if m, hasManifest, err = readManifest(br); err != nil {
			return err
		}
		_, err = walkFrames(br)
		return err
	})
	switch {
	case err == nil:
		return m, hasManifest, nil
	case plain == nil:
		return m, false, err // the key, or the header age reads first
	default:
		return m, false, fmt.Errorf("the backup %s is damaged or truncated: it fails after %d bytes of content (%w); nothing was restored", o.From, plain.n, unwrapAll(err))
	}
}

// unwrapAll returns the innermost error, so a one-line message does not
// repeat its context.
func unwrapAll(err error) error {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			return err
		}
		err = inner
	}
}

// load loads the backup into a new store in dir.
func load(ctx context.Context, o RestoreOptions, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove an earlier partial load: %w", err)
	}
	if err := restoreKeys(o, dir); err != nil {
		return err
	}
	opt := o.Store
	opt.GCInterval = -1
	db, err := store.Open(dir, opt)
	if err != nil {
		return err
	}
	f, r, err := openBackup(o)
	if err != nil {
		return errors.Join(err, db.Close())
	}
	defer f.Close()
	err = Decrypt(r, o.KeyFile, func(dec io.Reader) error {
		br := bufio.NewReaderSize(dec, 64<<10)
		if _, _, err := readManifest(br); err != nil {
			return err
		}
		return db.Restore(ctx, br)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("load the backup %s (it changed or the disk failed after it verified?): %w", o.From, unwrapAll(err))
	}
	return nil
}

// check reopens the loaded store and compares it with the manifest; the
// audit chain must verify in any case.
func check(ctx context.Context, o RestoreOptions, dir string, want Manifest, hasManifest bool) error {
	opt := o.Store
	opt.GCInterval = -1
	db, err := store.Open(dir, opt)
	if err != nil {
		return fmt.Errorf("reopen the restored store: %w", err)
	}
	defer db.Close()
	got, err := manifestOf(ctx, db)
	if err != nil {
		return fmt.Errorf("read the restored store: %w", err)
	}
	rep, err := audit.Verify(ctx, db)
	if err != nil {
		return fmt.Errorf("verify the restored audit chain: %w", err)
	}
	if !rep.OK() {
		return fmt.Errorf("the restored audit chain does not verify (%d problems, the first at entry %d: %s); nothing was restored", len(rep.Problems), rep.Problems[0].Seq, rep.Problems[0].Reason)
	}
	if hasManifest && got != want {
		return fmt.Errorf("the restored store differs from the backup's manifest (records %d, last seq %d, audit head %d; the backup says %d, %d, %d); nothing was restored",
			got.Records, got.LastSeq, got.AuditSeq, want.Records, want.LastSeq, want.AuditSeq)
	}
	return nil
}

// WriteKeys writes a backup of db's data keys to w, encrypted for the
// backup key in keyFile. Store backups never carry the data keys: keep
// key backups apart, and no longer than the erasure period.
func WriteKeys(db *store.DB, w io.Writer, keyFile string) error {
	return Encrypt(w, keyFile, db.BackupKeys)
}

// restoreKeys puts the data key backup o.DataKeys (if any) into dir.
func restoreKeys(o RestoreOptions, dir string) error {
	if o.DataKeys == "" {
		return nil
	}
	f, err := os.Open(o.DataKeys)
	if err != nil {
		return fmt.Errorf("open the data key backup: %w", err)
	}
	defer f.Close()
	err = Decrypt(f, o.KeyFile, func(r io.Reader) error { return store.RestoreKeys(dir, r) })
	if err != nil {
		return fmt.Errorf("restore the data key backup %s: %w", o.DataKeys, unwrapAll(err))
	}
	return nil
}
