// Package backup encrypts and decrypts fieldsync backups with age
// (filippo.io/age: X25519 recipients, ChaCha20-Poly1305 in authenticated
// 64 KiB chunks), so a backup is confidential and any truncation or
// tampering fails the restore. The backup key is separate from the store's
// encryption key: badger's backup stream is plaintext, and whoever holds the
// backups need not hold the live data.
//
// Invariants: a backup is never written unencrypted; a restore reads
// nothing that failed authentication (the caller's loader only ever sees
// bytes age verified; a truncated stream is an error).
package backup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// GenerateKey writes a new identity (secret key) to path with 0600
// permissions and returns its public recipient, which alone suffices to
// write backups.
func GenerateKey(path string) (string, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", fmt.Errorf("generate backup key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("create backup key file: %w", err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "# fieldsync backup key; public recipient: %s\n%s\n", id.Recipient(), id); err != nil {
		return "", fmt.Errorf("write backup key file: %w", err)
	}
	return id.Recipient().String(), f.Close()
}

// readKeyLines returns the non-comment lines of a key file.
func readKeyLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open backup key file: %w", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines, sc.Err()
}

// recipient reads a key file holding an identity (AGE-SECRET-KEY-1...) or
// only a recipient (age1...).
func recipient(path string) (age.Recipient, error) {
	lines, err := readKeyLines(path)
	if err != nil {
		return nil, err
	}
	for _, line := range lines {
		if id, err := age.ParseX25519Identity(line); err == nil {
			return id.Recipient(), nil
		}
		if r, err := age.ParseX25519Recipient(line); err == nil {
			return r, nil
		}
	}
	return nil, fmt.Errorf("no backup key in %s: create one with `fieldsync backup-keygen %s`", path, path)
}

func identity(path string) (age.Identity, error) {
	lines, err := readKeyLines(path)
	if err != nil {
		return nil, err
	}
	for _, line := range lines {
		if id, err := age.ParseX25519Identity(line); err == nil {
			return id, nil
		}
	}
	return nil, fmt.Errorf("no secret backup key (AGE-SECRET-KEY-1...) in %s: a restore needs the secret key, not only the recipient", path)
}

// Encrypt writes to w what produce writes, encrypted for the key in
// keyFile.
func Encrypt(w io.Writer, keyFile string, produce func(io.Writer) error) error {
	r, err := recipient(keyFile)
	if err != nil {
		return err
	}
	enc, err := age.Encrypt(w, r)
	if err != nil {
		return fmt.Errorf("start backup encryption: %w", err)
	}
	if err := produce(enc); err != nil {
		return fmt.Errorf("write backup: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("finish backup encryption: %w", err)
	}
	return nil
}

// ErrWrongKey means the backup was not written for this key.
var ErrWrongKey = errors.New("the backup was not encrypted for this key (or its key stanza is damaged)")

// Decrypt reads an encrypted backup from r with the secret key in keyFile
// and hands the plaintext to consume.
func Decrypt(r io.Reader, keyFile string, consume func(io.Reader) error) error {
	id, err := identity(keyFile)
	if err != nil {
		return err
	}
	dec, err := age.Decrypt(r, id)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return fmt.Errorf("decrypt backup: %w", ErrWrongKey)
		}
		return fmt.Errorf("decrypt backup: its header is damaged or it is not a fieldsync backup (%w)", err)
	}
	if err := consume(dec); err != nil {
		return fmt.Errorf("restore backup: %w", err)
	}
	return nil
}
