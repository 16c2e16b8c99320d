package model

import (
	"strings"
	"testing"
)

func TestValidDigest(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name string
		d    string
		want bool
	}{
		{"every hex digit", hex64, true},
		{"all 9", strings.Repeat("9", 64), true},
		{"all f", strings.Repeat("f", 64), true},
		{"63 digits", hex64[:63], false},
		{"65 digits", hex64 + "0", false},
		{"empty", "", false},
		{"upper case", strings.Repeat("A", 64), false},
		{"g", hex64[:63] + "g", false},
		{"slash (below 0)", "/" + hex64[1:], false},
		{"colon (above 9)", hex64[:63] + ":", false},
		{"backtick (below a)", "`" + hex64[1:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidDigest(tt.d); got != tt.want {
				t.Errorf("ValidDigest(%q) = %v, want %v", tt.d, got, tt.want)
			}
		})
	}
}

func TestAllowedAttachmentType(t *testing.T) {
	for _, typ := range AttachmentTypes {
		if !AllowedAttachmentType(typ) {
			t.Errorf("AllowedAttachmentType(%q) = false", typ)
		}
	}
	for _, typ := range []string{"image/svg+xml", "text/html", "", "IMAGE/JPEG", "application/octet-stream"} {
		if AllowedAttachmentType(typ) {
			t.Errorf("AllowedAttachmentType(%q) = true, want false", typ)
		}
	}
}
