package backup

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTripAndFailures(t *testing.T) {
	dir := t.TempDir()
	key, other := filepath.Join(dir, "backup.key"), filepath.Join(dir, "other.key")
	rcpt, err := GenerateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateKey(other); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rcpt, "age1") {
		t.Fatalf("recipient %q", rcpt)
	}
	plain := bytes.Repeat([]byte("canary-victim-statement "), 20000)
	var sealed bytes.Buffer
	if err := Encrypt(&sealed, key, func(w io.Writer) error { _, err := w.Write(plain); return err }); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed.Bytes(), []byte("canary")) {
		t.Fatal("plaintext visible in the backup")
	}
	read := func(data []byte, keyFile string) ([]byte, error) {
		var got []byte
		err := Decrypt(bytes.NewReader(data), keyFile, func(r io.Reader) error {
			var err error
			got, err = io.ReadAll(r)
			return err
		})
		return got, err
	}
	got, err := read(sealed.Bytes(), key)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("round trip: err %v, %d bytes back of %d", err, len(got), len(plain))
	}
	if _, err := read(sealed.Bytes(), other); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v, want ErrWrongKey", err)
	}
	truncated := sealed.Bytes()[:sealed.Len()-100]
	if _, err := read(truncated, key); err == nil {
		t.Fatal("truncated backup restored without error")
	}
	flipped := bytes.Clone(sealed.Bytes())
	flipped[len(flipped)/2] ^= 1
	if _, err := read(flipped, key); err == nil {
		t.Fatal("tampered backup restored without error")
	}
	if _, err := GenerateKey(key); err == nil {
		t.Fatal("GenerateKey overwrote an existing key")
	}
}
