package model

import "testing"

func TestValidID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"0193f2a1-b2c3-7000-8000-000000000001", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"0193F2A1-B2C3-7000-8000-000000000001", false},
		{"0193f2a1b2c37000800000000000000001", false},
		{"{0193f2a1-b2c3-7000-8000-000000000001}", false},
		{"0193f2a1-b2c3-7000-8000-00000000000g", false},
		{"0193f2a1_b2c3-7000-8000-000000000001", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.in); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidDate(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"2026-11-27", true},
		{"2024-02-29", true},
		{"2026-02-29", false},
		{"2026-13-01", false},
		{"26-11-27", false},
		{"2026-11-27T00:00:00Z", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidDate(tt.in); got != tt.want {
			t.Errorf("ValidDate(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
