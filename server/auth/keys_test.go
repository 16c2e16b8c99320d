package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadOrCreateKeys(t *testing.T) {
	dir := KeysDir(t.TempDir())
	ks, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.KID()) != 16 {
		t.Errorf("kid %q, want 16 hex digits", ks.KID())
	}
	assertPerm(t, dir, 0o700)
	assertPerm(t, filepath.Join(dir, SigningKeyFile), 0o600)
	pemBytes, err := os.ReadFile(filepath.Join(dir, SigningKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(pemBytes), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("key file is not PEM PKCS#8:\n%s", pemBytes)
	}

	again, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := again.KID(), ks.KID(); got != want {
		t.Errorf("reloaded kid = %s, want %s", got, want)
	}
	if !again.signer.Equal(ks.signer) {
		t.Errorf("reloaded key differs")
	}
}

func assertPerm(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: perm %04o, want %04o", path, got, want)
	}
}

func TestLoadKeysTooOpen(t *testing.T) {
	tests := []struct {
		name     string
		path     string // relative to the keys dir, "" = the dir
		perm     os.FileMode
		wantHint string
	}{
		{"signing key world readable", SigningKeyFile, 0o644, "chmod 600"},
		{"signing key group readable", SigningKeyFile, 0o640, "chmod 600"},
		{"signing key executable", SigningKeyFile, 0o700, "chmod 600"},
		{"retired key group readable", "retired.pem", 0o640, "chmod 600"},
		{"directory group writable", "", 0o770, "chmod 700"},
		{"directory world writable", "", 0o707, "chmod 700"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := KeysDir(t.TempDir())
			if _, err := LoadOrCreateKeys(dir); err != nil {
				t.Fatal(err)
			}
			writePublicKey(t, filepath.Join(dir, "retired.pem"))
			if err := os.Chmod(filepath.Join(dir, tt.path), tt.perm); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateKeys(dir)
			if err == nil {
				t.Fatalf("LoadOrCreateKeys accepted perm %04o", tt.perm)
			}
			if !strings.Contains(err.Error(), tt.wantHint) {
				t.Errorf("error %q does not tell the operator to %s", err, tt.wantHint)
			}
		})
	}
}

func TestLoadKeysOwnerOnlyNarrower(t *testing.T) {
	dir := KeysDir(t.TempDir())
	if _, err := LoadOrCreateKeys(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, SigningKeyFile), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeys(dir); err != nil {
		t.Errorf("a 0400 key was refused: %v", err)
	}
}

// writePublicKey writes a fresh PKIX public key to path (0600) and
// returns it.
func writePublicKey(t *testing.T, path string) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestLoadRetiredKeys(t *testing.T) {
	dir := KeysDir(t.TempDir())
	first, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Rotation: the old signing key is retired, a new one is created.
	if err := os.Rename(filepath.Join(dir, SigningKeyFile), filepath.Join(dir, "retired-1.pem")); err != nil {
		t.Fatal(err)
	}
	pub := writePublicKey(t, filepath.Join(dir, "retired-2.pem"))
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	ks, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ks.KID() == first.KID() {
		t.Fatalf("no new signing key after rotation")
	}
	want := []string{first.KID(), KeyID(pub), ks.KID()}
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(ks.verify)); !slices.Equal(got, want) {
		t.Errorf("KIDs = %v, want %v", got, want)
	}
	if _, ok := ks.PublicKey(first.KID()); !ok {
		t.Errorf("retired signing key not usable for verification")
	}
}

func TestLoadKeysBadFiles(t *testing.T) {
	tests := []struct {
		name string
		file string
		data string
	}{
		{"signing not PEM", SigningKeyFile, "hello"},
		{"signing is a public key", SigningKeyFile, ""},
		{"retired garbage PEM", "old.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
		{"retired wrong type", "old.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := KeysDir(t.TempDir())
			if _, err := LoadOrCreateKeys(dir); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tt.file)
			if tt.data == "" {
				writePublicKey(t, path)
			} else if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadOrCreateKeys(dir); err == nil {
				t.Errorf("LoadOrCreateKeys accepted a bad key file")
			}
		})
	}
}

func TestKeyIDStable(t *testing.T) {
	pub := ed25519.PublicKey(make([]byte, ed25519.PublicKeySize))
	// SHA-256 of 32 zero bytes starts 66687aadf862bd77.
	if got, want := KeyID(pub), "66687aadf862bd77"; got != want {
		t.Errorf("KeyID = %s, want %s", got, want)
	}
}
