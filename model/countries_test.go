package model

import (
	"slices"
	"strings"
	"testing"
)

func TestIsCountry(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"DE", true},
		{"AL", true},
		{"XK", true},
		{"MK", true},
		{"RO", true},
		{"US", true},
		{"GB", true},
		{"de", false},
		{"EU", false},
		{"UK", false},
		{"ZZ", false},
		{"", false},
		{"DEU", false},
		{" DE", false},
		{"D", false},
	}
	for _, tt := range tests {
		if got := IsCountry(tt.code); got != tt.want {
			t.Errorf("IsCountry(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestCountryCodes(t *testing.T) {
	codes := strings.Fields(countryCodes)
	if len(codes) != 250 { // 249 officially assigned + XK
		t.Errorf("got %d codes, want 250", len(codes))
	}
	if len(countries) != len(codes) {
		t.Errorf("map has %d codes, list %d: duplicates in countryCodes", len(countries), len(codes))
	}
	if !slices.IsSorted(codes) {
		t.Error("countryCodes is not sorted")
	}
	if strings.Join(codes, " ") != countryCodes {
		t.Error("countryCodes must be separated by single spaces")
	}
	for _, c := range codes {
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			t.Errorf("malformed code %q", c)
		}
		if !IsCountry(c) {
			t.Errorf("IsCountry(%q) = false", c)
		}
	}
}
