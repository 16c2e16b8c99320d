package model

import (
	"time"
	"unicode"
	"unicode/utf8"
)

// MinPasswordLength is the shortest password accepted (weak_password below).
const MinPasswordLength = 12

// Length caps, in characters, of the names and free strings outside ops
// (they are stored and served to administrators at every console login,
// so they are bounded before anything trusts them).
const (
	MaxUsernameLength   = 64
	MaxDeviceNameLength = 100
	MaxTeamNameLength   = 200
	MaxPasswordLength   = 1024
)

// CheckName returns CodeInvalidRequest unless v is valid UTF-8 of at most
// max characters without control characters; what names the key in the
// sentence (never the value).
func CheckName(what, v string, max int) error {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		return Errorf(CodeInvalidRequest, "%s must be UTF-8 text of at most %d characters.", what, max)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return Errorf(CodeInvalidRequest, "%s may not hold control characters (such as line breaks).", what)
		}
	}
	return nil
}

// User is a person who logs in. PasswordHash is never served.
type User struct {
	ID           string `json:"id"`
	Username     string `json:"username"`
	Role         Role   `json:"role"`
	PasswordHash string `json:"password_hash"`
	// Teams: a field worker's or team lead's teams; a supervisor's
	// jurisdiction (empty = national); empty for other roles.
	Teams []string `json:"teams"`
	// ActionWeek and ValidUntil hold a visitor's grant.
	ActionWeek string     `json:"action_week,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	// DisabledAt is set while the account is disabled: it may not log in
	// and every token of it is refused. DisabledBy is who disabled it.
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	DisabledBy string     `json:"disabled_by,omitempty"`
}

// Disabled reports whether the account is disabled.
func (u *User) Disabled() bool { return u.DisabledAt != nil }

// Team is a mobile team (or another unit records belong to).
type Team struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Region    string    `json:"region"`
	CreatedAt time.Time `json:"created_at"`
}

// Device is a tablet (or browser, or CLI) bound to one user.
type Device struct {
	ID        string     `json:"id"`
	User      string     `json:"user"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	LastSeen  time.Time  `json:"last_seen"`
	LastIP    string     `json:"last_ip"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	RevokedBy string     `json:"revoked_by,omitempty"`
}

// Revoked reports whether the device was revoked.
func (d *Device) Revoked() bool { return d.RevokedAt != nil }

// RefreshToken is the stored side of a refresh token: only its hash is
// kept. Tokens of one login form a family; each use rotates to a new token
// of the same family.
type RefreshToken struct {
	Hash      string    `json:"hash"`
	Family    string    `json:"family"`
	User      string    `json:"user"`
	Device    string    `json:"device"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// UsedAt is set when the token was exchanged; Next is the hash of the
	// token it was exchanged for.
	UsedAt *time.Time `json:"used_at,omitempty"`
	Next   string     `json:"next,omitempty"`
}

// TokenFamily is a login's chain of refresh tokens; revoking it ends every
// token of the chain and the access tokens issued from it.
type TokenFamily struct {
	ID        string     `json:"id"`
	User      string     `json:"user"`
	Device    string     `json:"device"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Reason    string     `json:"reason,omitempty"`
}
