package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/backup"
	"github.com/fieldsync/fieldsync/server/store"
)

// The operator tools work on a data directory while no server runs on it
// (badger allows one process per directory).

// openStore opens the store of dataDir, decrypting with the key in keyFile
// when one is given.
func openStore(dataDir, keyFile string, log *slog.Logger) (*store.DB, error) {
	if err := backup.CheckComplete(dataDir); err != nil {
		return nil, err
	}
	key, err := readKeyFile(keyFile)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(filepath.Join(dataDir, "db"), store.Options{Schema: model.DefaultSchema(), Logger: log, EncryptionKey: key})
	if err != nil {
		return nil, fmt.Errorf("open store in %s (is a server running on it, or is the encryption key wrong?): %w", dataDir, err)
	}
	return db, nil
}

// VerifyAudit checks the audit chain of dataDir and writes a report to w;
// it returns an error when the chain does not verify.
func VerifyAudit(ctx context.Context, dataDir, keyFile string, log *slog.Logger, w io.Writer) error {
	db, err := openStore(dataDir, keyFile, log)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := audit.Verify(ctx, db)
	if err != nil {
		return err
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "entry %d: %s\n", p.Seq, p.Reason)
	}
	fmt.Fprintf(w, "%d entries; head %d %s\n", r.Entries, r.HeadSeq, r.HeadHash)
	if !r.OK() {
		return fmt.Errorf("the audit chain does not verify: %d problems", len(r.Problems))
	}
	fmt.Fprintln(w, "The audit chain verifies. Keep the head hash outside the server: it proves later that no newer entry was removed.")
	return nil
}

// BackupTo writes an encrypted backup of dataDir's store to out, and one
// of its data keys to keysOut (none when empty), for the backup key in
// backupKeyFile.
func BackupTo(ctx context.Context, dataDir, keyFile, backupKeyFile, out, keysOut string, log *slog.Logger) error {
	db, err := openStore(dataDir, keyFile, log)
	if err != nil {
		return err
	}
	defer db.Close()
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create backup file: %w", err)
	}
	err = backup.Write(ctx, db, f, backupKeyFile)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(out)
		return err
	}
	if keysOut == "" {
		return nil
	}
	if err := writeKeysTo(db, backupKeyFile, keysOut); err != nil {
		_ = os.Remove(out)
		return err
	}
	return nil
}

// writeKeysTo writes an encrypted backup of db's data keys to out.
func writeKeysTo(db *store.DB, backupKeyFile, out string) error {
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create data key backup file: %w", err)
	}
	err = backup.WriteKeys(db, f, backupKeyFile)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(out)
		return err
	}
	return nil
}

// RestoreFrom restores the encrypted backup in from into dataDir, which
// must not hold a store yet (see backup.Restore: a failed or killed
// restore leaves a directory no server opens), with the data key backup
// keysFrom (none when empty: append values are then restored erased).
func RestoreFrom(ctx context.Context, dataDir, keyFile, backupKeyFile, from, keysFrom string, log *slog.Logger) (backup.Manifest, error) {
	key, err := readKeyFile(keyFile)
	if err != nil {
		return backup.Manifest{}, err
	}
	return backup.Restore(ctx, backup.RestoreOptions{
		DataDir: dataDir, From: from, KeyFile: backupKeyFile, DataKeys: keysFrom,
		Store: store.Options{Schema: model.DefaultSchema(), Logger: log, EncryptionKey: key},
	})
}
