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

func TestSniffMedia(t *testing.T) {
	ftyp := func(brand string) []byte { return []byte("\x00\x00\x00\x18ftyp" + brand + "\x00\x00\x00\x00") }
	tests := []struct {
		name string
		head []byte
		want string
	}{
		{"jpeg", []byte{0xFF, 0xD8, 0xFF, 0xE0}, "image/jpeg"},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00"), "image/png"},
		{"pdf", []byte("%PDF-1.7\n"), "application/pdf"},
		{"ogg", []byte("OggS\x00\x02"), "audio/ogg"},
		{"webm", []byte{0x1A, 0x45, 0xDF, 0xA3, 0x9F}, "audio/webm"},
		{"heic", ftyp("heic"), "image/heic"},
		{"heif mif1", ftyp("mif1"), "image/heic"},
		{"m4a", ftyp("M4A "), "audio/mp4"},
		{"mp4 isom", ftyp("isom"), "audio/mp4"},
		{"svg", []byte("<svg xmlns=\"http://www.w3.org/2000/svg\">"), ""},
		{"html", []byte("<!DOCTYPE html><html>"), ""},
		{"unknown ftyp brand", ftyp("qt  "), ""},
		{"ftyp cut short", []byte("\x00\x00\x00\x18ftyphei"), ""},
		{"jpeg cut short", []byte{0xFF, 0xD8}, ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SniffMedia(tt.head)
			if got != tt.want {
				t.Errorf("SniffMedia = %q, want %q", got, tt.want)
			}
			if tt.want == "" && ErrorCode(err) != CodeMediaType {
				t.Errorf("SniffMedia error = %v, want code %s", err, CodeMediaType)
			}
			if got != "" && !AllowedAttachmentType(got) {
				t.Errorf("SniffMedia named %q, which is not an allowed type", got)
			}
		})
	}
}
