package protocol

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// cursorVersion is the first byte of a sealed cursor's plaintext.
const cursorVersion = 2

// cursorPlain is the plaintext's length: version, sequence, view.
const cursorPlain = 1 + 8 + 4

// cursorCodec seals pull cursors (AES-GCM under a server key), so that a
// device can neither read the global sequence in its cursor (the gaps
// would reveal other teams' activity) nor forge one: a cursor the server
// did not issue is invalid_cursor whatever sequence it names, so a forged
// large sequence cannot probe the store's last sequence. Sealing is
// deterministic (the nonce is a MAC of the plaintext, as in SIV), so the
// same position gives the same cursor and no nonce ever repeats for two
// plaintexts; every cursor has the same length.
type cursorCodec struct {
	aead  cipher.AEAD
	nonce []byte // MAC key of the nonce
}

// newCursorCodec derives the codec's keys from key (any length; a random
// one when empty, valid for this process only).
func newCursorCodec(key []byte) (*cursorCodec, error) {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("make cursor key: %w", err)
		}
	}
	block, err := aes.NewCipher(derive(key, "fieldsync cursor aead"))
	if err != nil {
		return nil, fmt.Errorf("make cursor cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("make cursor cipher: %w", err)
	}
	return &cursorCodec{aead: aead, nonce: derive(key, "fieldsync cursor nonce")}, nil
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// encode makes the opaque cursor for the last sequence read under view.
func (c *cursorCodec) encode(seq uint64, view uint32) string {
	plain := make([]byte, 0, cursorPlain)
	plain = append(plain, cursorVersion)
	plain = binary.BigEndian.AppendUint64(plain, seq)
	plain = binary.BigEndian.AppendUint32(plain, view)
	return c.seal(plain)
}

// seal encrypts plain under a nonce derived from it, as an opaque cursor.
func (c *cursorCodec) seal(plain []byte) string {
	nonce := derive(c.nonce, string(plain))[:c.aead.NonceSize()]
	return base64.RawURLEncoding.EncodeToString(c.aead.Seal(nonce, nonce, plain, nil))
}

// open returns the plaintext of a cursor seal made; ok is false for
// anything else.
func (c *cursorCodec) open(cursor string) ([]byte, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	n := c.aead.NonceSize()
	if err != nil || len(raw) < n+c.aead.Overhead() {
		return nil, false
	}
	plain, err := c.aead.Open(nil, raw[:n], raw[n:], nil)
	return plain, err == nil
}

// decode opens a cursor this codec sealed; ok is false for anything else.
func (c *cursorCodec) decode(cursor string) (seq uint64, view uint32, ok bool) {
	plain, ok := c.open(cursor)
	if !ok || len(plain) != cursorPlain || plain[0] != cursorVersion {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(plain[1:9]), binary.BigEndian.Uint32(plain[9:]), true
}
