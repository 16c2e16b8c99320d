package auth

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KeysDirName is the directory under the data directory that holds the
// signing keys.
const KeysDirName = "keys"

// SigningKeyFile is the file, in the keys directory, of the current
// signing key. Every other *.pem file there is a verification-only key
// (a retired signing key, private or public), kept so that tokens it
// signed stay valid until they expire.
const SigningKeyFile = "signing.pem"

// KeysDir returns the keys directory of the data directory dataDir.
func KeysDir(dataDir string) string { return filepath.Join(dataDir, KeysDirName) }

// KeySet is the signing key tokens are issued with and every key tokens
// are verified with, each known by its kid. It is immutable and safe for
// concurrent use.
type KeySet struct {
	signer ed25519.PrivateKey
	kid    string
	verify map[string]ed25519.PublicKey
}

// NewKeySet returns a KeySet signing with signer and verifying with its
// public key and the retired public keys. signer must be a valid key.
func NewKeySet(signer ed25519.PrivateKey, retired ...ed25519.PublicKey) *KeySet {
	pub := signer.Public().(ed25519.PublicKey)
	ks := &KeySet{signer: signer, kid: KeyID(pub), verify: map[string]ed25519.PublicKey{}}
	for _, k := range retired {
		ks.verify[KeyID(k)] = k
	}
	ks.verify[ks.kid] = pub
	return ks
}

// KeyID returns the kid of pub: the first 16 hex digits of the SHA-256 of
// the raw 32-byte public key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Secret returns a 32-byte secret for label derived from the signing key
// (HMAC-SHA256 keyed with its seed): for server secrets that must survive
// restarts, such as the key pull cursors are sealed with. A new signing
// key changes every secret (clients then pull again from the start).
func (k *KeySet) Secret(label string) []byte {
	m := hmac.New(sha256.New, k.signer.Seed())
	m.Write([]byte(label))
	return m.Sum(nil)
}

// KID returns the kid of the current signing key.
func (k *KeySet) KID() string { return k.kid }

// PublicKey returns the verification key known as kid.
func (k *KeySet) PublicKey(kid string) (ed25519.PublicKey, bool) {
	pub, ok := k.verify[kid]
	return pub, ok
}

// LoadOrCreateKeys loads the keys of the keys directory dir (see KeysDir):
// SigningKeyFile, created on first start, and every other *.pem file as a
// verification-only key. The directory is created 0700; key files are PEM
// PKCS#8 written 0600. A directory writable by group or others, or a key
// file with any permission beyond 0600, is refused with an error telling
// the operator to chmod it: whoever can read a signing key can forge any
// user's token, and whoever can plant a key can too.
func LoadOrCreateKeys(dir string) (*KeySet, error) {
	if err := ensureKeysDir(dir); err != nil {
		return nil, err
	}
	signing := filepath.Join(dir, SigningKeyFile)
	if _, err := os.Lstat(signing); errors.Is(err, fs.ErrNotExist) {
		if err := createSigningKey(dir); err != nil {
			return nil, err
		}
	}
	signer, err := loadPrivateKey(signing)
	if err != nil {
		return nil, err
	}
	retired, err := loadRetiredKeys(dir)
	if err != nil {
		return nil, err
	}
	return NewKeySet(signer, retired...), nil
}

// ensureKeysDir creates dir 0700 if absent and refuses one others may
// write to.
func ensureKeysDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create keys directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat keys directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("open keys directory: %s is not a directory", dir)
	}
	if checkPerms() && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("open keys directory: %s has permissions %04o, writable by other users "+
			"(who could plant a key and forge tokens); run: chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// checkPerms reports whether Unix permission bits mean anything here.
func checkPerms() bool { return runtime.GOOS != "windows" && runtime.GOOS != "plan9" }

// createSigningKey writes a new Ed25519 key to SigningKeyFile, atomically.
func createSigningKey(dir string) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("encode signing key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := writeFileAtomic(filepath.Join(dir, SigningKeyFile), data); err != nil {
		return fmt.Errorf("write signing key: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to path with mode 0600: a temporary file in
// the same directory, fsync'd, renamed into place, directory fsync'd.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-key-*") // CreateTemp makes it 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if err = writeSync(f, data); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// writeSync writes data to f, fsyncs and closes it. (Its error checks, and
// those of writeFileAtomic and syncDir, guard I/O failures no test injects;
// their negated mutants return early after a call that succeeded, which
// skips only an fsync or a cleanup: equivalent as far as tests can see.)
func writeSync(f *os.File, data []byte) error {
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// syncDir fsyncs a directory so a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// || would be equivalent off Windows: it returns err, nil when Sync succeeded.
	if err := d.Sync(); err != nil && runtime.GOOS != "windows" {
		return err
	}
	return nil
}

// loadRetiredKeys reads every *.pem of dir except SigningKeyFile.
func loadRetiredKeys(dir string) ([]ed25519.PublicKey, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read keys directory: %w", err)
	}
	var keys []ed25519.PublicKey
	for _, e := range entries {
		name := e.Name()
		if name == SigningKeyFile || !strings.HasSuffix(name, ".pem") {
			continue
		}
		pub, err := loadPublicKey(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		keys = append(keys, pub)
	}
	return keys, nil
}

// loadPrivateKey reads a PEM PKCS#8 Ed25519 private key.
func loadPrivateKey(path string) (ed25519.PrivateKey, error) {
	block, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("load key %s: PEM block is %q, want \"PRIVATE KEY\" (PKCS#8)", path, block.Type)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", path, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("load key %s: not an Ed25519 key", path)
	}
	return priv, nil
}

// loadPublicKey reads a verification key: a PKCS#8 private key (a retired
// signing key) or a PKIX public key.
func loadPublicKey(path string) (ed25519.PublicKey, error) {
	block, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if block.Type == "PRIVATE KEY" {
		priv, err := loadPrivateKey(path)
		if err != nil {
			return nil, err
		}
		return priv.Public().(ed25519.PublicKey), nil
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("load key %s: PEM block is %q, want \"PRIVATE KEY\" or \"PUBLIC KEY\"", path, block.Type)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", path, err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("load key %s: not an Ed25519 key", path)
	}
	return pub, nil
}

// maxKeyFile bounds what is read from a key file.
const maxKeyFile = 64 << 10

// readKeyFile opens path, refuses it if its permissions are wider than
// 0600, and decodes its first PEM block.
func readKeyFile(path string) (*pem.Block, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open key %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat key %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open key %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); checkPerms() && perm&^0o600 != 0 {
		return nil, fmt.Errorf("open key %s: permissions %04o are too open (anyone who reads it can forge tokens); run: chmod 600 %s",
			path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile))
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("load key %s: no PEM block found", path)
	}
	return block, nil
}
