package main

import (
	"context"
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

func (c *cli) newToolFlags(name string) toolFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return toolFlags{
		fs:      fs,
		data:    fs.String("data", c.envOr("FIELDSYNC_DATA", "./data"), "data directory (FIELDSYNC_DATA)"),
		keyFile: fs.String("encryption-key-file", c.getenv("FIELDSYNC_ENCRYPTION_KEY_FILE"), "the store's encryption key, if it is encrypted (FIELDSYNC_ENCRYPTION_KEY_FILE)"),
	}
}

func (c *cli) envOr(name, def string) string {
	if v := c.getenv(name); v != "" {
		return v
	}
	return def
}

func (c *cli) toolLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c.errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// noArgs refuses positional arguments left after the flags.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q (fieldsync %s -h shows its usage)", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}

const auditUsage = `usage: fieldsync audit verify [--data DIR] [--encryption-key-file F]

With the server stopped, walks the audit log's hash chain and prints its
head; exits 1 when the chain does not verify.
`

func (c *cli) audit(args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(c.out, auditUsage)
		return errHelpShown
	}
	if len(args) == 0 || args[0] != "verify" {
		return usagef("audit: the only audit command is verify (fieldsync audit -h shows its usage)")
	}
	tf := c.newToolFlags("audit verify")
	if err := c.parseFlags(tf.fs, args[1:], auditUsage); err != nil {
		return err
	}
	if err := noArgs(tf.fs); err != nil {
		return err
	}
	return server.VerifyAudit(context.Background(), *tf.data, *tf.keyFile, c.toolLogger(), c.out)
}

const backupUsage = `usage: fieldsync backup [--data DIR] --key BACKUP_KEY_FILE --out FILE [--keys-out KEYS_FILE]

With the server stopped, writes an encrypted backup of the store (age; the
key file may hold only the public recipient) with a manifest its restore
checks, and an encrypted backup of the store's data keys to KEYS_FILE
(default FILE.datakeys). The store backup never holds the data keys: keep
KEYS_FILE apart from it and no longer than the erasure period, so that a
value erased since cannot be read from an old backup.
`

func (c *cli) backup(args []string) error {
	tf := c.newToolFlags("backup")
	key := tf.fs.String("key", c.getenv("FIELDSYNC_BACKUP_KEY_FILE"), "backup key file: its secret key or only its age1... recipient (FIELDSYNC_BACKUP_KEY_FILE)")
	out := tf.fs.String("out", "", "backup file to create")
	keysOut := tf.fs.String("keys-out", "", "data key backup file to create (default: the backup file + .datakeys)")
	if err := c.parseFlags(tf.fs, args, backupUsage); err != nil {
		return err
	}
	if err := noArgs(tf.fs); err != nil {
		return err
	}
	if *key == "" || *out == "" {
		return usagef("backup: --key and --out are needed (fieldsync backup -h shows its usage)")
	}
	if *keysOut == "" {
		*keysOut = *out + ".datakeys"
	}
	if err := server.BackupTo(context.Background(), *tf.data, *tf.keyFile, *key, *out, *keysOut, c.toolLogger()); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "Wrote the encrypted backup %s and its data keys %s (keep them apart; keep the keys no longer than the erasure period)\n", *out, *keysOut)
	return nil
}

const restoreUsage = `usage: fieldsync restore --data NEW_DIR --key BACKUP_KEY_FILE --in FILE [--keys KEYS_FILE | --without-data-keys]

Restores an encrypted backup into a data directory that holds no store. The
backup is read and checked whole before the store is written aside and
moved into place; until then the directory holds RESTORE-INCOMPLETE and no
server opens it. A restore into such a directory starts over. KEYS_FILE
(default FILE.datakeys when it exists) is the data key backup: values
erased since it was taken are restored erased. Without a data key backup
every record's values are restored erased, so restore refuses to run
unless --without-data-keys says that is meant (accounts, teams and the
audit chain only).
`

func (c *cli) restore(args []string) error {
	tf := c.newToolFlags("restore")
	key := tf.fs.String("key", c.getenv("FIELDSYNC_BACKUP_KEY_FILE"), "backup key file with the secret key (FIELDSYNC_BACKUP_KEY_FILE)")
	in := tf.fs.String("in", "", "backup file to restore")
	keys := tf.fs.String("keys", "", "data key backup file (default: the backup file + .datakeys, when it exists)")
	withoutKeys := tf.fs.Bool("without-data-keys", false, "restore with no data key backup: every record's values restored erased")
	if err := c.parseFlags(tf.fs, args, restoreUsage); err != nil {
		return err
	}
	if err := noArgs(tf.fs); err != nil {
		return err
	}
	if *key == "" || *in == "" {
		return usagef("restore: --key and --in are needed (fieldsync restore -h shows its usage)")
	}
	if *keys == "" && !*withoutKeys {
		if _, err := os.Stat(*in + ".datakeys"); err != nil {
			return usagef("restore: no data key backup (%s.datakeys): without it every record's values are restored erased; name it with --keys, or pass --without-data-keys if that is meant", *in)
		}
		*keys = *in + ".datakeys"
	}
	if *withoutKeys {
		if *keys != "" {
			return usagef("restore: --keys and --without-data-keys exclude each other")
		}
		fmt.Fprintf(c.out, "No data key backup: every record's values are restored erased.\n")
	}
	m, err := server.RestoreFrom(context.Background(), *tf.data, *tf.keyFile, *key, *in, *keys, c.toolLogger())
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "Restored %s into %s and checked it: %d records, last sequence number %d, audit chain verified to entry %d.\nStart the server on it. Devices log in again (new signing keys).\n", *in, *tf.data, m.Records, m.LastSeq, m.AuditSeq)
	return nil
}

const keygenUsage = `usage: fieldsync backup-keygen FILE

Creates FILE (which must not exist) holding a new backup key, and prints its
public recipient, which alone suffices to write backups. Keep FILE away from
the server's data.
`

func (c *cli) keygen(args []string) error {
	fs := flag.NewFlagSet("backup-keygen", flag.ContinueOnError)
	if err := c.parseFlags(fs, args, keygenUsage); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("backup-keygen: name one key file to create (fieldsync backup-keygen -h shows its usage)")
	}
	path := fs.Arg(0)
	rcpt, err := backup.GenerateKey(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "Created %s (keep it away from the server's data).\nPublic recipient, enough to write backups: %s\n", path, rcpt)
	return nil
}
