package fieldsync

import (
	"net/http"
	"strings"
	"testing"
)

// TestServerCertSHA256Checked: a malformed pin, or a pin beside an
// HTTPClient (whose TLS the SDK would silently not use), is refused; a
// pin as the server's banner prints it, or in plain hex, is accepted.
func TestServerCertSHA256Checked(t *testing.T) {
	good := strings.Repeat("AB:", 31) + "AB"
	cases := []struct {
		name string
		opt  Options
		ok   bool
	}{
		{"banner form", Options{ServerCertSHA256: good}, true},
		{"plain hex", Options{ServerCertSHA256: strings.Repeat("ab", 32)}, true},
		{"too short", Options{ServerCertSHA256: "AB:CD"}, false},
		{"not hex", Options{ServerCertSHA256: strings.Repeat("zz", 32)}, false},
		{"with an HTTPClient", Options{ServerCertSHA256: good, HTTPClient: &http.Client{}}, false},
	}
	for _, tc := range cases {
		_, err := tc.opt.withDefaults()
		if (err == nil) != tc.ok {
			t.Errorf("%s: withDefaults = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
