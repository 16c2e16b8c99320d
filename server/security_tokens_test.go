package server_test

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/auth"
)

// signingKey reads the server's private signing key from its data
// directory, to forge tokens that are validly signed but wrong otherwise.
func signingKey(t *testing.T, h *harness) (ed25519.PrivateKey, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(h.dir, auth.KeysDirName, auth.SigningKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv := k.(ed25519.PrivateKey)
	return priv, auth.KeyID(priv.Public().(ed25519.PublicKey))
}

// forge signs claims with the server's key and header fields.
func forge(t *testing.T, priv ed25519.PrivateKey, kid string, claims jwt.MapClaims, edit func(*jwt.Token)) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = kid
	tok.Header["typ"] = "at+jwt"
	if edit != nil {
		edit(tok)
	}
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestForgedTokensAre401: every malformed, forged, expired or misused token
// gets 401 with its code, never a 5xx, never data.
func TestForgedTokensAre401(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	fw := w.clients["fw"]
	priv, kid := signingKey(t, h)
	now := time.Now()
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "fieldsync", "aud": "fieldsync", "sub": fw.user.ID, "dev": fw.device,
			"fam": validFamily(t, fw.token), "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
			"jti": newID(), "token_use": "access"}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := valid()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	// The control: a token forged exactly like the server's works, so
	// every refusal below is about the one thing changed.
	control := forge(t, priv, kid, valid(), nil)
	if status, body := h.do(http.MethodGet, "/v1/sync/pull", control, nil); status != http.StatusOK {
		t.Fatalf("control token refused: %d %s", status, body)
	}
	pub := priv.Public().(ed25519.PublicKey)
	hs256, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, valid()).SignedString([]byte(pub))
	parts := strings.Split(control, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(decodeSegment(t, parts[1]), fw.user.ID, newID(), 1))) + "." + parts[2]
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+kid+`"}`)) + "." + parts[1] + "."
	otherKey := func() string {
		_, p2, _ := ed25519.GenerateKey(nil)
		return forge(t, p2, kid, valid(), nil)
	}()
	tests := []struct {
		name  string
		token string
		code  model.Code
	}{
		{"garbage", "not.a.token", model.CodeUnauthorized},
		{"empty segments", "..", model.CodeUnauthorized},
		{"alg none", algNone, model.CodeUnauthorized},
		{"HS256 with the public key", hs256, model.CodeUnauthorized},
		{"tampered payload", tampered, model.CodeUnauthorized},
		{"signed by another key", otherKey, model.CodeUnauthorized},
		{"unknown kid", forge(t, priv, "0123456789abcdef", valid(), nil), model.CodeUnauthorized},
		{"expired", forge(t, priv, kid, with("exp", now.Add(-time.Hour).Unix()), nil), model.CodeTokenExpired},
		{"not yet valid", forge(t, priv, kid, with("nbf", now.Add(time.Hour).Unix()), nil), model.CodeUnauthorized},
		{"issued in the future", forge(t, priv, kid, with("iat", now.Add(time.Hour).Unix()), nil), model.CodeUnauthorized},
		{"wrong audience", forge(t, priv, kid, with("aud", "another-service"), nil), model.CodeUnauthorized},
		{"wrong issuer", forge(t, priv, kid, with("iss", "evil"), nil), model.CodeUnauthorized},
		{"no exp", forge(t, priv, kid, with("exp", nil), nil), model.CodeUnauthorized},
		{"no sub", forge(t, priv, kid, with("sub", nil), nil), model.CodeUnauthorized},
		{"no dev", forge(t, priv, kid, with("dev", nil), nil), model.CodeUnauthorized},
		{"not an access token", forge(t, priv, kid, with("token_use", "refresh"), nil), model.CodeUnauthorized},
		{"wrong typ header", forge(t, priv, kid, valid(), func(tk *jwt.Token) { tk.Header["typ"] = "JWT" }), model.CodeUnauthorized},
		{"someone else's device", forge(t, priv, kid, with("dev", newID()), nil), model.CodeUnauthorized},
		{"refresh token as access token", fw.refresh, model.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/v1/sync/pull", "/v1/records", "/v1/schema"} {
				status, body := h.do(http.MethodGet, path, tt.token, nil)
				if status != http.StatusUnauthorized || errorCode(t, body) != string(tt.code) {
					t.Fatalf("GET %s: %d %s, want 401 %s", path, status, body, tt.code)
				}
			}
		})
	}
}

func decodeSegment(t *testing.T, seg string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// validFamily reads the token family claim of a real access token.
func validFamily(t *testing.T, token string) string {
	t.Helper()
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil {
		t.Fatal(err)
	}
	fam, _ := claims["fam"].(string)
	return fam
}

// TestRefreshReuseRevokesTheFamily: a refresh token used twice (after the
// grace) is token_reused, and every token of its family dies with it.
func TestRefreshReuseRevokesTheFamily(t *testing.T) {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_REFRESH_GRACE": "0s"})
	w := newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	fw := w.clients["fw"]
	old := fw.refresh
	status, body := h.do(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": old})
	if status != http.StatusOK {
		t.Fatalf("first refresh: %d %s", status, body)
	}
	var fresh struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	mustUnmarshal(t, body, &fresh)
	if fresh.RefreshToken == old {
		t.Fatal("refresh token did not rotate")
	}
	status, body = h.do(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": old})
	if status != http.StatusUnauthorized || errorCode(t, body) != "token_reused" {
		t.Fatalf("reused refresh token: %d %s, want 401 token_reused", status, body)
	}
	for name, tok := range map[string]string{"old access": fw.token, "new access": fresh.AccessToken} {
		if status, body := h.do(http.MethodGet, "/v1/sync/pull", tok, nil); status != http.StatusUnauthorized {
			t.Errorf("%s token after reuse: %d %s, want 401", name, status, body)
		}
	}
	if status, _ := h.do(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": fresh.RefreshToken}); status != http.StatusUnauthorized {
		t.Errorf("new refresh token after reuse: %d, want 401", status)
	}
}

// TestRefreshGraceReturnsSamePair: a refresh re-sent within the grace
// (a lost response) returns the same new pair instead of logging out.
func TestRefreshGraceReturnsSamePair(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	old := w.clients["fw"].refresh
	_, first := h.do(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": old})
	status, second := h.do(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": old})
	if status != http.StatusOK || string(first) != string(second) {
		t.Fatalf("re-sent within the grace: %d\nfirst  %s\nsecond %s", status, first, second)
	}
}
