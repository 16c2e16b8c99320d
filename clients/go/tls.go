package fieldsync

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// parseFingerprint reads a SHA-256 fingerprint as the server's banner
// prints it (hex pairs separated by colons) or as plain hex.
func parseFingerprint(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("check options: ServerCertSHA256 %q is not a SHA-256 fingerprint (64 hex digits, colons allowed)", s)
	}
	return b, nil
}

// pinnedClient returns an HTTP client that accepts exactly the server
// certificate whose SHA-256 is pin, whoever signed it (a self-signed
// certificate). The handshake still proves that the server holds the
// certificate's key.
func pinnedClient(pin []byte) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain is not checked against CAs; VerifyConnection checks
		// the pinned certificate instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server presented no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
				return errors.New("the server's certificate is not the pinned one (Options.ServerCertSHA256)")
			}
			return nil
		},
	}
	return &http.Client{Transport: tr}
}
