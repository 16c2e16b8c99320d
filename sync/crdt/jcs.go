package crdt

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// canonical returns raw in RFC 8785 canonical form.
func canonical(raw json.RawMessage) (json.RawMessage, error) {
	out, err := jcs.Transform(raw)
	if err != nil {
		return nil, fmt.Errorf("canonicalize value: %w", err)
	}
	return out, nil
}

// appendString appends s as an RFC 8785 JSON string: only '"', '\\' and
// control characters are escaped, control characters with the short forms
// where JSON has them and \u00xx (lowercase) otherwise. s must be valid
// UTF-8 (DecodeOp guarantees it).
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			buf = append(buf, '\\', '"')
		case c == '\\':
			buf = append(buf, '\\', '\\')
		case c >= 0x20:
			buf = append(buf, c)
		case c == '\b':
			buf = append(buf, '\\', 'b')
		case c == '\t':
			buf = append(buf, '\\', 't')
		case c == '\n':
			buf = append(buf, '\\', 'n')
		case c == '\f':
			buf = append(buf, '\\', 'f')
		case c == '\r':
			buf = append(buf, '\\', 'r')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return append(buf, '"')
}

// validString reports whether s can be written by appendString.
func validString(s string) bool { return utf8.ValidString(s) }
