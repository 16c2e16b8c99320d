package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/server/backup"
)

// toolFlags are the flags every operator tool shares.
type toolFlags struct {
	fs      *flag.FlagSet
	data    *string
	keyFile *string
}

func newToolFlags(name string) toolFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return toolFlags{
		fs:      fs,
		data:    fs.String("data", envOr("FIELDSYNC_DATA", "./data"), "data directory (FIELDSYNC_DATA)"),
		keyFile: fs.String("encryption-key-file", os.Getenv("FIELDSYNC_ENCRYPTION_KEY_FILE"), "the store's encryption key, if it is encrypted (FIELDSYNC_ENCRYPTION_KEY_FILE)"),
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func toolLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func auditCmd(args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: fieldsync audit verify --data DIR")
	}
	tf := newToolFlags("audit verify")
	if err := tf.fs.Parse(args[1:]); err != nil {
		return err
	}
	return server.VerifyAudit(context.Background(), *tf.data, *tf.keyFile, toolLogger(), os.Stdout)
}

func backupCmd(args []string) error {
	tf := newToolFlags("backup")
	key := tf.fs.String("key", os.Getenv("FIELDSYNC_BACKUP_KEY_FILE"), "backup key file: its secret key or only its age1... recipient (FIELDSYNC_BACKUP_KEY_FILE)")
	out := tf.fs.String("out", "", "backup file to create")
	if err := tf.fs.Parse(args); err != nil {
		return err
	}
	if *key == "" || *out == "" {
		return errors.New("usage: fieldsync backup --data DIR --key BACKUP_KEY_FILE --out FILE")
	}
	if err := server.BackupTo(context.Background(), *tf.data, *tf.keyFile, *key, *out, toolLogger()); err != nil {
		return err
	}
	fmt.Printf("Wrote the encrypted backup %s\n", *out)
	return nil
}

func restoreCmd(args []string) error {
	tf := newToolFlags("restore")
	key := tf.fs.String("key", os.Getenv("FIELDSYNC_BACKUP_KEY_FILE"), "backup key file with the secret key (FIELDSYNC_BACKUP_KEY_FILE)")
	in := tf.fs.String("in", "", "backup file to restore")
	if err := tf.fs.Parse(args); err != nil {
		return err
	}
	if *key == "" || *in == "" {
		return errors.New("usage: fieldsync restore --data NEW_DIR --key BACKUP_KEY_FILE --in FILE")
	}
	m, err := server.RestoreFrom(context.Background(), *tf.data, *tf.keyFile, *key, *in, toolLogger())
	if err != nil {
		return err
	}
	fmt.Printf("Restored %s into %s and checked it: %d records, last sequence number %d, audit chain verified to entry %d.\nStart the server on it. Devices log in again (new signing keys).\n", *in, *tf.data, m.Records, m.LastSeq, m.AuditSeq)
	return nil
}

func keygenCmd(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: fieldsync backup-keygen FILE")
	}
	rcpt, err := backup.GenerateKey(args[0])
	if err != nil {
		return err
	}
	fmt.Printf("Created %s (keep it away from the server's data).\nPublic recipient, enough to write backups: %s\n", args[0], rcpt)
	return nil
}
