package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/fieldsync/fieldsync/model"
)

// argonParams are the cost parameters of one argon2id hash.
type argonParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// recommendedParams: 64 MiB, two passes, two lanes (above every OWASP
// argon2id profile; RFC 9106's 64 MiB profile has three passes). About
// 0.16 s on a 2-core server; stored hashes carry their parameters, so
// raising them later only affects new hashes.
var recommendedParams = argonParams{Memory: 64 * 1024, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32}

// hashParams are the parameters new hashes get (tests lower them).
var hashParams = recommendedParams

// Bounds accepted when parsing a stored hash, so a corrupted or hostile
// hash string cannot make verification allocate gigabytes or spin.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 16
	maxThreads   = 16
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// hashSlots bounds how many argon2id computations run at once: each holds
// Memory KiB, and a burst of logins must not exhaust the machine.
var hashSlots = make(chan struct{}, max(2, min(runtime.GOMAXPROCS(0), 8)))

// phcB64 is the PHC string format's base64: standard alphabet, no padding.
var phcB64 = base64.RawStdEncoding

// HashPassword returns pw hashed with argon2id and a fresh 16-byte salt, in
// the PHC string form $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>.
// It does not judge strength; see CheckPasswordStrength.
func HashPassword(pw string) (string, error) {
	p := hashParams
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key := deriveKey(pw, salt, p)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.Memory, p.Time, p.Threads, phcB64.EncodeToString(salt), phcB64.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches hash, a PHC string made by
// HashPassword (its parameters are read from the string). The comparison
// is constant-time. A hash that does not parse is an error, not a mismatch.
func VerifyPassword(hash, pw string) (bool, error) {
	p, salt, want, err := parsePHC(hash)
	if err != nil {
		return false, fmt.Errorf("parse password hash: %w", err)
	}
	got := deriveKey(pw, salt, p)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// CheckPasswordStrength refuses, with CodeWeakPassword, a password shorter
// than model.MinPasswordLength characters (runes, not bytes) or made of one
// character repeated.
func CheckPasswordStrength(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < model.MinPasswordLength {
		return model.Errorf(model.CodeWeakPassword,
			"Passwords need at least %d characters; this one has %d.", model.MinPasswordLength, n)
	}
	if n > model.MaxPasswordLength {
		return model.Errorf(model.CodeInvalidRequest, "Passwords may have at most %d characters.", model.MaxPasswordLength)
	}
	if oneRune(pw) {
		return model.Errorf(model.CodeWeakPassword, "A password may not be one character repeated.")
	}
	return nil
}

// oneRune reports whether s is a single rune repeated.
func oneRune(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	for _, r := range s {
		if r != first {
			return false
		}
	}
	return true
}

// argonRuns counts argon2id computations, so a test can check that every
// failed login costs one without timing anything.
var argonRuns atomic.Uint64

// deriveKey runs argon2id, waiting for a free slot first.
func deriveKey(pw string, salt []byte, p argonParams) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	argonRuns.Add(1)
	return argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// errBadPHC is the cause of every parse failure of a stored hash.
var errBadPHC = errors.New("not an argon2id PHC string of supported parameters")

// parsePHC splits a PHC string into its parameters, salt and key.
func parsePHC(s string) (argonParams, []byte, []byte, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" ||
		parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return argonParams{}, nil, nil, errBadPHC
	}
	p, err := parseParams(parts[3])
	if err != nil {
		return argonParams{}, nil, nil, err
	}
	salt, err1 := phcB64.Strict().DecodeString(parts[4])
	key, err2 := phcB64.Strict().DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen ||
		len(key) < minKeyLen || len(key) > maxKeyLen {
		return argonParams{}, nil, nil, errBadPHC
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// parseParams parses "m=<KiB>,t=<passes>,p=<lanes>" within the bounds.
func parseParams(s string) (argonParams, error) {
	var vals [3]uint64
	fields := strings.Split(s, ",")
	if len(fields) != len(vals) {
		return argonParams{}, errBadPHC
	}
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(fields[i], name)
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return argonParams{}, errBadPHC
		}
		vals[i] = n
	}
	m, t, p := vals[0], vals[1], vals[2]
	if p < 1 || p > maxThreads || t < 1 || t > maxTime || m < 8*p || m > maxMemoryKiB {
		return argonParams{}, errBadPHC
	}
	return argonParams{Memory: uint32(m), Time: uint32(t), Threads: uint8(p)}, nil
}

// dummyHash is a hash of a random password with the current parameters,
// checked when a username is unknown so that costs the same as a wrong
// password.
var dummyHash = sync.OnceValues(func() (string, error) {
	return HashPassword(rand.Text())
})

// burnDummy spends one password verification's time and learns nothing.
func burnDummy(pw string) {
	if h, err := dummyHash(); err == nil {
		_, _ = VerifyPassword(h, pw)
	}
}
