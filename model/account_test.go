package model

import (
	"strings"
	"testing"
	"time"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		v    string
		max  int
		want Code // "" = accepted
	}{
		{"empty", "", 5, ""},
		{"ascii at max", "abcde", 5, ""},
		{"ascii over max", "abcdef", 5, CodeInvalidRequest},
		{"max counts characters not bytes", "ÄÖÜßé", 5, ""},
		{"multibyte over max", "ÄÖÜßéx", 5, CodeInvalidRequest},
		{"invalid utf-8", "ab\xffc", 5, CodeInvalidRequest},
		{"line break", "ab\nc", 5, CodeInvalidRequest},
		{"nul", "a\x00", 5, CodeInvalidRequest},
		{"del", "a\x7f", 5, CodeInvalidRequest},
		{"c1 control", "a\u0085", 5, CodeInvalidRequest},
		{"space and punctuation", "a b-c", 5, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckName("username", tt.v, tt.max)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckName(%q) = %v, want nil", tt.v, err)
				}
				return
			}
			if got := ErrorCode(err); err == nil || got != tt.want {
				t.Fatalf("CheckName(%q) = %v, want code %q", tt.v, err, tt.want)
			}
			msg := ErrorMessage(err)
			if !strings.HasPrefix(msg, "username ") {
				t.Errorf("message %q does not name the key", msg)
			}
			if tt.v != "" && strings.Contains(msg, tt.v) {
				t.Errorf("message %q repeats the value", msg)
			}
		})
	}
}

func TestCheckNameMessages(t *testing.T) {
	tests := []struct {
		name, v, want string
	}{
		{"too long", "abcdef", "username must be UTF-8 text of at most 5 characters."},
		{"control", "ab\tc", "username may not hold control characters (such as line breaks)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorMessage(CheckName("username", tt.v, 5)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDisabledAndRevoked(t *testing.T) {
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	if (&User{}).Disabled() {
		t.Error("a user without DisabledAt is disabled")
	}
	if !(&User{DisabledAt: &now}).Disabled() {
		t.Error("a user with DisabledAt is not disabled")
	}
	if (&Device{}).Revoked() {
		t.Error("a device without RevokedAt is revoked")
	}
	if !(&Device{RevokedAt: &now}).Revoked() {
		t.Error("a device with RevokedAt is not revoked")
	}
}
