package auth

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/model"
)

// Defaults for the Service fields left zero (RefreshGrace excepted: zero
// turns the grace off, so whoever builds a Service sets it, normally to
// DefaultRefreshGrace).
const (
	// DefaultAccessTTL is an access token's lifetime (DESIGN §5).
	DefaultAccessTTL = 15 * time.Minute
	// DefaultRefreshTTL is a refresh token's lifetime; each rotation
	// starts a new one.
	DefaultRefreshTTL = 30 * 24 * time.Hour
	// DefaultRefreshGrace is DESIGN §5's refresh grace period.
	DefaultRefreshGrace = 30 * time.Second
	// DefaultIssuer is the iss of access tokens.
	DefaultIssuer = "fieldsync"
	// DefaultAudience is the aud of access tokens.
	DefaultAudience = "fieldsync"
)

// Leeway is the clock skew tolerated on an access token's exp, nbf and iat.
const Leeway = 30 * time.Second

const (
	accessTyp     = "at+jwt" // header typ of access tokens (RFC 9068)
	useAccess     = "access" // token_use claim of access tokens
	refreshPrefix = "fsr_"   // refresh tokens start with it
	refreshBytes  = 32       // random bytes in a refresh token
	maxTokenLen   = 4096     // longer bearer strings are refused unparsed
)

// refreshB64 encodes refresh tokens.
var refreshB64 = base64.RawURLEncoding

// Service issues and checks tokens. Set its exported fields before first
// use and do not change them afterwards; it is safe for concurrent use and
// must not be copied after first use.
type Service struct {
	// Store keeps users, devices, refresh tokens and token families.
	Store Store
	// Keys signs new access tokens and verifies presented ones.
	Keys *KeySet
	// Issuer and Audience are the iss and aud of access tokens
	// (DefaultIssuer and DefaultAudience when empty).
	Issuer   string
	Audience string
	// AccessTTL and RefreshTTL are the lifetimes of access and refresh
	// tokens (DefaultAccessTTL and DefaultRefreshTTL when zero).
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// RefreshGrace is how long a used refresh token presented again still
	// returns the pair it was exchanged for; zero turns this off.
	RefreshGrace time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	grace graceCache
	locks [64]sync.Mutex // striped by refresh token hash
}

// Session is what a login or refresh hands out.
type Session struct {
	AccessToken  string
	RefreshToken string
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int
	DeviceID  string
	// User is the logged-in user with PasswordHash cleared.
	User model.User
}

// AccessClaims are the checked claims of an access token.
type AccessClaims struct {
	ID        string // jti
	User      string // sub
	Device    string // dev
	Family    string // fam
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// jwtClaims is an access token's payload on the wire.
type jwtClaims struct {
	jwt.RegisteredClaims
	Device   string `json:"dev,omitempty"`
	Family   string `json:"fam,omitempty"`
	TokenUse string `json:"token_use,omitempty"`
}

// now returns the current time of the injected clock.
func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// accessTTL returns AccessTTL or its default.
func (s *Service) accessTTL() time.Duration { return durationOr(s.AccessTTL, DefaultAccessTTL) }

// refreshTTL returns RefreshTTL or its default.
func (s *Service) refreshTTL() time.Duration { return durationOr(s.RefreshTTL, DefaultRefreshTTL) }

// issuer returns Issuer or its default. Never empty: an empty expected
// issuer would turn the parser's iss check off.
func (s *Service) issuer() string { return cmp.Or(s.Issuer, DefaultIssuer) }

// audience returns Audience or its default (never empty, as issuer).
func (s *Service) audience() string { return cmp.Or(s.Audience, DefaultAudience) }

// durationOr returns d, or def when d is not positive.
func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// ready reports a Service built without its store or keys.
func (s *Service) ready() error {
	if s == nil || s.Store == nil || s.Keys == nil {
		return errors.New("auth service used without a store or keys")
	}
	return nil
}

// issueAccess signs an access token for user on device in family.
func (s *Service) issueAccess(user, device, family string, now time.Time) (string, error) {
	claims := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer(),
			Subject:   user,
			Audience:  jwt.ClaimStrings{s.audience()},
			ExpiresAt: jwt.NewNumericDate(now.Add(s.accessTTL())),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		Device: device, Family: family, TokenUse: useAccess,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["typ"] = accessTyp
	tok.Header["kid"] = s.Keys.KID()
	signed, err := tok.SignedString(s.Keys.signer)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return signed, nil
}

// ParseAccess verifies an access token and returns its claims. An expired
// token is CodeTokenExpired; anything else wrong (missing, malformed, not
// ours, not an access token, not yet valid, for another issuer or
// audience) is CodeUnauthorized.
func (s *Service) ParseAccess(token string) (AccessClaims, error) {
	if err := s.ready(); err != nil {
		return AccessClaims{}, err
	}
	if token == "" {
		return AccessClaims{}, unauthorized("An access token is required.")
	}
	if len(token) > maxTokenLen { // >= is equivalent: a token that long is no token of ours
		return AccessClaims{}, unauthorized("The access token is malformed.")
	}
	var c jwtClaims
	_, err := s.parser().ParseWithClaims(token, &c, s.keyfunc)
	if err != nil {
		return AccessClaims{}, classifyParseError(err, &c)
	}
	if err := checkAccessClaims(&c); err != nil {
		return AccessClaims{}, err
	}
	return accessClaimsOf(&c), nil
}

// parser returns the JWT parser of access tokens.
func (s *Service) parser(extra ...jwt.ParserOption) *jwt.Parser {
	return jwt.NewParser(append([]jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(s.issuer()),
		jwt.WithAudience(s.audience()),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(s.now),
		jwt.WithStrictDecoding(),
	}, extra...)...)
}

// The keyfunc's refusals; their text never reaches a client.
var (
	errWrongTyp   = errors.New("header typ is not " + accessTyp)
	errCrit       = errors.New("header crit extensions are not understood")
	errUnknownKID = errors.New("header kid is not one of our keys")
)

// keyfunc checks an access token's header and returns the key of its kid.
func (s *Service) keyfunc(t *jwt.Token) (any, error) {
	if typ, _ := t.Header["typ"].(string); typ != accessTyp {
		return nil, errWrongTyp
	}
	if _, crit := t.Header["crit"]; crit {
		return nil, errCrit
	}
	kid, _ := t.Header["kid"].(string)
	pub, ok := s.Keys.PublicKey(kid)
	if !ok {
		return nil, errUnknownKID
	}
	return pub, nil
}

// notExpiryOnly lists the validation failures that make an expired token
// plainly unauthorized: it must be wrong for nothing but its age.
var notExpiryOnly = []error{
	jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid,
	jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidAudience, jwt.ErrTokenInvalidIssuer,
	jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenNotValidYet, jwt.ErrTokenInvalidSubject,
	jwt.ErrTokenInvalidId, jwt.ErrInvalidType,
}

// classifyParseError maps a jwt parse failure to CodeTokenExpired (a token
// of ours, well formed, wrong only in being expired) or CodeUnauthorized.
func classifyParseError(err error, c *jwtClaims) error {
	if !errors.Is(err, jwt.ErrTokenExpired) {
		return unauthorizedErr(messageOf(err), err)
	}
	for _, other := range notExpiryOnly {
		if errors.Is(err, other) {
			return unauthorizedErr(messageOf(err), err)
		}
	}
	if cerr := checkAccessClaims(c); cerr != nil {
		return cerr
	}
	return &model.Error{Code: model.CodeTokenExpired, Message: "The access token has expired; refresh it.", Err: err}
}

// messageOf returns the client sentence for a parse failure.
func messageOf(err error) string {
	switch {
	case errors.Is(err, errWrongTyp):
		return "This is not an access token."
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "The access token is malformed."
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "The access token is not signed by this server."
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "The access token is not valid yet."
	case errors.Is(err, jwt.ErrTokenInvalidAudience), errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "The access token was not issued for this server."
	}
	return "The access token is not valid."
}

// checkAccessClaims checks what the jwt parser does not: the token is an
// access token naming a user, device and family by canonical ids.
func checkAccessClaims(c *jwtClaims) error {
	if c.TokenUse != useAccess {
		return unauthorized("This is not an access token.")
	}
	if !model.ValidID(c.Subject) || !model.ValidID(c.Device) || !model.ValidID(c.Family) ||
		c.IssuedAt == nil || c.ExpiresAt == nil {
		return unauthorized("The access token lacks required claims.")
	}
	return nil
}

// accessClaimsOf returns the checked claims of c.
func accessClaimsOf(c *jwtClaims) AccessClaims {
	return AccessClaims{
		ID: c.ID, User: c.Subject, Device: c.Device, Family: c.Family,
		IssuedAt: c.IssuedAt.Time, ExpiresAt: c.ExpiresAt.Time,
	}
}

// newRefreshToken returns a fresh refresh token and its stored hash.
func newRefreshToken() (token, hash string, err error) {
	b := make([]byte, refreshBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("read refresh token: %w", err)
	}
	token = refreshPrefix + refreshB64.EncodeToString(b)
	return token, hashRefresh(token), nil
}

// hashRefresh returns the stored form of a refresh token: the hex SHA-256
// of the whole token string, prefix included.
func hashRefresh(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormedRefresh reports whether token looks like one we hand out, so
// garbage never reaches the store.
func wellFormedRefresh(token string) bool {
	body, ok := strings.CutPrefix(token, refreshPrefix)
	if !ok || len(body) != refreshB64.EncodedLen(refreshBytes) {
		return false
	}
	_, err := refreshB64.Strict().DecodeString(body)
	return err == nil
}

// unauthorized returns a CodeUnauthorized error with msg.
func unauthorized(msg string) *model.Error {
	return &model.Error{Code: model.CodeUnauthorized, Message: msg}
}

// unauthorizedErr returns a CodeUnauthorized error with msg and a cause.
func unauthorizedErr(msg string, cause error) *model.Error {
	return &model.Error{Code: model.CodeUnauthorized, Message: msg, Err: cause}
}
