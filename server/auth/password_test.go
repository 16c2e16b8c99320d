package auth

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashVerify(t *testing.T) {
	h1, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !phcRE.MatchString(h1) {
		t.Errorf("hash %q is not a PHC argon2id string", h1)
	}
	if h1 == h2 {
		t.Errorf("two hashes of one password are equal: salt not random")
	}
	tests := []struct {
		name string
		pw   string
		want bool
	}{
		{"right", testPassword, true},
		{"wrong", testPassword + "!", false},
		{"empty", "", false},
		{"case", strings.ToUpper(testPassword), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyPassword(h1, tt.pw)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("VerifyPassword = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRecommendedParams(t *testing.T) {
	saved := hashParams
	hashParams = recommendedParams
	defer func() { hashParams = saved }()
	h, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=65536,t=2,p=2$"; !strings.HasPrefix(h, want) {
		t.Errorf("hash %q, want prefix %q", h, want)
	}
	// Parameters are read from the string, whatever hashParams says now.
	hashParams = saved
	ok, err := VerifyPassword(h, testPassword)
	if err != nil || !ok {
		t.Errorf("VerifyPassword = %v, %v; want true, nil", ok, err)
	}
}

func TestVerifyBadHash(t *testing.T) {
	good, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	tests := []struct{ name, hash string }{
		{"empty", ""},
		{"garbage", "not a hash"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"old version", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"param order", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"param sign", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key},
		{"huge memory", "$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key},
		{"huge time", "$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"many threads", "$argon2id$v=19$m=8192,t=1,p=255$" + salt + "$" + key},
		{"padded salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"short salt", "$argon2id$v=19$m=64,t=1,p=1$AAAA$" + key},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA"},
		{"extra field", good + "$x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyPassword(tt.hash, testPassword)
			if err == nil || ok {
				t.Errorf("VerifyPassword = %v, %v; want false and an error", ok, err)
			}
			if !errors.Is(err, errBadPHC) {
				t.Errorf("err = %v, want errBadPHC", err)
			}
		})
	}
}

func TestCheckPasswordStrength(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		want model.Code
	}{
		{"empty", "", model.CodeWeakPassword},
		{"eleven", "abcdefghijk", model.CodeWeakPassword},
		{"twelve", "abcdefghijkl", ""},
		{"one char repeated", "aaaaaaaaaaaaaaaa", model.CodeWeakPassword},
		{"one rune repeated", strings.Repeat("é", 20), model.CodeWeakPassword},
		{"eleven runes, 22 bytes", "éàüöäßçñøåæ", model.CodeWeakPassword},
		{"twelve runes", "éàüöäßçñøåæœ", ""},
		{"spaces count", "a b c d e f ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, CheckPasswordStrength(tt.pw), tt.want)
		})
	}
}

func TestDummyHashParses(t *testing.T) {
	h, err := dummyHash()
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyPassword(h, testPassword); ok || err != nil {
		t.Errorf("VerifyPassword(dummy) = %v, %v; want false, nil", ok, err)
	}
}
