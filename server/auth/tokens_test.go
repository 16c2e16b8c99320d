package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fieldsync/fieldsync/model"
)

const (
	testUser   = "0195a3c0-1111-7000-8000-000000000001"
	testDevice = "0195a3c0-2222-7000-8000-000000000002"
	testFamily = "0195a3c0-3333-7000-8000-000000000003"
)

// validClaims are the claims of a good access token issued at now.
func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer, "aud": []string{testAudience}, "sub": testUser,
		"dev": testDevice, "fam": testFamily, "token_use": "access",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
		"jti": "0195a3c0-4444-4000-8000-000000000004",
	}
}

// craft signs claims with key as an EdDSA token with typ at+jwt and kid.
func craft(t *testing.T, key ed25519.PrivateKey, kid string, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = kid
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// with returns a copy of c with the changes applied (nil deletes).
func with(c jwt.MapClaims, changes map[string]any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// b64json encodes v as a JWT segment.
func b64json(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// algNone builds an unsigned alg:none token by hand.
func algNone(t *testing.T, kid string, claims jwt.MapClaims) string {
	h := b64json(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid})
	return h + "." + b64json(t, claims) + "."
}

// hs256WithPublicKey signs claims with HMAC, keyed by our public key's
// bytes: the classic algorithm-confusion forgery.
func hs256WithPublicKey(t *testing.T, pub ed25519.PublicKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = kid
	s, err := tok.SignedString([]byte(pub))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tamper replaces the payload of a signed token, keeping its signature.
func tamper(t *testing.T, token string, claims jwt.MapClaims) string {
	parts := strings.Split(token, ".")
	return parts[0] + "." + b64json(t, claims) + "." + parts[2]
}

func TestParseAccess(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	kid := f.svc.Keys.KID()
	pub := f.key.Public().(ed25519.PublicKey)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherKID := KeyID(other.Public().(ed25519.PublicKey))
	good := craft(t, f.key, kid, validClaims(now), nil)
	issued, err := f.svc.issueAccess(testUser, testDevice, testFamily, now)
	if err != nil {
		t.Fatal(err)
	}
	refresh, _, _ := newRefreshToken()
	vc := validClaims(now)
	past := now.Add(-time.Hour)
	future := now.Add(5 * time.Minute)

	tests := []struct {
		name  string
		token string
		want  model.Code
	}{
		{"valid crafted", good, ""},
		{"valid issued", issued, ""},
		{"valid, expired within leeway", craft(t, f.key, kid, with(vc, map[string]any{"exp": now.Add(-10 * time.Second).Unix()}), nil), ""},
		{"valid, aud as a string", craft(t, f.key, kid, with(vc, map[string]any{"aud": testAudience}), nil), ""},
		{"none", "", model.CodeUnauthorized},
		{"garbage", "garbage", model.CodeUnauthorized},
		{"garbage segments", "a.b.c", model.CodeUnauthorized},
		{"too long", strings.Repeat("a", maxTokenLen+1), model.CodeUnauthorized},
		{"alg none", algNone(t, kid, vc), model.CodeUnauthorized},
		{"HS256 keyed with the public key", hs256WithPublicKey(t, pub, kid, vc), model.CodeUnauthorized},
		{"tampered sub", tamper(t, good, with(vc, map[string]any{"sub": "0195a3c0-1111-7000-8000-0000000000ff"})), model.CodeUnauthorized},
		{"tampered exp", tamper(t, good, with(vc, map[string]any{"exp": now.Add(time.Hour).Unix()})), model.CodeUnauthorized},
		{"signature stripped", strings.Join(strings.Split(good, ".")[:2], ".") + ".", model.CodeUnauthorized},
		{"unknown kid", craft(t, other, otherKID, vc, nil), model.CodeUnauthorized},
		{"our kid, other key", craft(t, other, kid, vc, nil), model.CodeUnauthorized},
		{"no kid", craft(t, f.key, kid, vc, map[string]any{"kid": nil}), model.CodeUnauthorized},
		{"typ JWT", craft(t, f.key, kid, vc, map[string]any{"typ": "JWT"}), model.CodeUnauthorized},
		{"no typ", craft(t, f.key, kid, vc, map[string]any{"typ": nil}), model.CodeUnauthorized},
		{"crit header", craft(t, f.key, kid, vc, map[string]any{"crit": []string{"exp"}}), model.CodeUnauthorized},
		{"expired", craft(t, f.key, kid, with(vc, map[string]any{"iat": past.Unix(), "nbf": past.Unix(), "exp": past.Add(15 * time.Minute).Unix()}), nil), model.CodeTokenExpired},
		{"expired and wrong aud", craft(t, f.key, kid, with(vc, map[string]any{"aud": "other", "exp": past.Unix()}), nil), model.CodeUnauthorized},
		{"expired and no dev", craft(t, f.key, kid, with(vc, map[string]any{"dev": nil, "exp": past.Unix()}), nil), model.CodeUnauthorized},
		{"expired refresh-use token", craft(t, f.key, kid, with(vc, map[string]any{"token_use": "refresh", "exp": past.Unix()}), nil), model.CodeUnauthorized},
		{"expired, forged", craft(t, other, kid, with(vc, map[string]any{"exp": past.Unix()}), nil), model.CodeUnauthorized},
		{"nbf in the future", craft(t, f.key, kid, with(vc, map[string]any{"nbf": future.Unix()}), nil), model.CodeUnauthorized},
		{"iat in the future", craft(t, f.key, kid, with(vc, map[string]any{"iat": future.Unix()}), nil), model.CodeUnauthorized},
		{"wrong aud", craft(t, f.key, kid, with(vc, map[string]any{"aud": []string{"other-api"}}), nil), model.CodeUnauthorized},
		{"wrong iss", craft(t, f.key, kid, with(vc, map[string]any{"iss": "https://evil.test"}), nil), model.CodeUnauthorized},
		{"refresh token as access token", refresh, model.CodeUnauthorized},
		{"token_use refresh", craft(t, f.key, kid, with(vc, map[string]any{"token_use": "refresh"}), nil), model.CodeUnauthorized},
		{"no token_use", craft(t, f.key, kid, with(vc, map[string]any{"token_use": nil}), nil), model.CodeUnauthorized},
		{"no sub", craft(t, f.key, kid, with(vc, map[string]any{"sub": nil}), nil), model.CodeUnauthorized},
		{"no dev", craft(t, f.key, kid, with(vc, map[string]any{"dev": nil}), nil), model.CodeUnauthorized},
		{"no fam", craft(t, f.key, kid, with(vc, map[string]any{"fam": nil}), nil), model.CodeUnauthorized},
		{"no exp", craft(t, f.key, kid, with(vc, map[string]any{"exp": nil}), nil), model.CodeUnauthorized},
		{"no iat", craft(t, f.key, kid, with(vc, map[string]any{"iat": nil}), nil), model.CodeUnauthorized},
		{"no iss", craft(t, f.key, kid, with(vc, map[string]any{"iss": nil}), nil), model.CodeUnauthorized},
		{"no aud", craft(t, f.key, kid, with(vc, map[string]any{"aud": nil}), nil), model.CodeUnauthorized},
		{"sub not canonical", craft(t, f.key, kid, with(vc, map[string]any{"sub": strings.ToUpper(testUser)}), nil), model.CodeUnauthorized},
		{"dev not a uuid", craft(t, f.key, kid, with(vc, map[string]any{"dev": "tablet-7"}), nil), model.CodeUnauthorized},
		{"sub of the wrong type", craft(t, f.key, kid, with(vc, map[string]any{"sub": 42}), nil), model.CodeUnauthorized},
		{"exp of the wrong type", craft(t, f.key, kid, with(vc, map[string]any{"exp": "tomorrow"}), nil), model.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.svc.ParseAccess(tt.token)
			wantCode(t, err, tt.want)
			if tt.want == "" && (c.User != testUser || c.Device != testDevice || c.Family != testFamily) {
				t.Errorf("claims = %+v, want user %s device %s family %s", c, testUser, testDevice, testFamily)
			}
		})
	}
}

func TestIssuedAccessTokenShape(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	tok, err := f.svc.issueAccess(testUser, testDevice, testFamily, now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	var header, claims map[string]any
	decodeSegment(t, parts[0], &header)
	decodeSegment(t, parts[1], &claims)
	wantHeader := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": f.svc.Keys.KID()}
	for k, want := range wantHeader {
		if got := header[k]; got != want {
			t.Errorf("header %s = %v, want %v", k, got, want)
		}
	}
	wantClaims := map[string]any{
		"iss": testIssuer, "sub": testUser, "dev": testDevice, "fam": testFamily, "token_use": "access",
		"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(DefaultAccessTTL).Unix()),
	}
	for k, want := range wantClaims {
		if got := claims[k]; got != want {
			t.Errorf("claim %s = %v, want %v", k, got, want)
		}
	}
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != testAudience {
		t.Errorf("aud = %v, want [%s]", claims["aud"], testAudience)
	}
	if jti, _ := claims["jti"].(string); !model.ValidID(jti) {
		t.Errorf("jti = %v, want a uuid", claims["jti"])
	}
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestParseAccessRetiredKey(t *testing.T) {
	f := newFixture(t)
	_, oldKey, _ := ed25519.GenerateKey(rand.Reader)
	oldPub := oldKey.Public().(ed25519.PublicKey)
	f.svc.Keys = NewKeySet(f.key, oldPub)
	tok := craft(t, oldKey, KeyID(oldPub), validClaims(f.clock.Now()), nil)
	if _, err := f.svc.ParseAccess(tok); err != nil {
		t.Errorf("token of a retired key refused: %v", err)
	}
}

func TestParseAccessUsesClock(t *testing.T) {
	f := newFixture(t)
	tok, err := f.svc.issueAccess(testUser, testDevice, testFamily, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultAccessTTL + Leeway + time.Second)
	_, err = f.svc.ParseAccess(tok)
	wantCode(t, err, model.CodeTokenExpired)
}

func FuzzParseAccess(f *testing.F) {
	fx := newFixture(f)
	good, _ := fx.svc.issueAccess(testUser, testDevice, testFamily, fx.clock.Now())
	for _, s := range []string{"", "a.b.c", good, good + "x", "fsr_abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := fx.svc.ParseAccess(s)
		if err != nil {
			if c := model.ErrorCode(err); c != model.CodeUnauthorized && c != model.CodeTokenExpired {
				t.Fatalf("code %s for %q", c, s)
			}
		}
	})
}
