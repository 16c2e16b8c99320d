package crdt

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"
	"pgregory.net/rapid"
)

// jsonNumbers are number spellings the generator draws from besides
// random ones: exact and inexact integers around 2^53, exponents, the
// limits of float64, negative zero.
var jsonNumbers = []string{
	"0", "-0", "0.0", "1", "-1", "9", "95", "1.5", "1E2", "1e+2", "1e-7", "0.000001",
	"9007199254740991", "9007199254740992", "9007199254740993", "-9007199254740993",
	"18014398509481985", "123456789012345678901234567890", "1e21", "1e20", "999999999999999",
	"9999999999999999", "1.7976931348623157e308", "5e-324", "2.5E-5", "100e-2",
}

// jsonRunes are characters a generated string draws from: every control
// character, the characters JSON escapes, and multi-byte runes.
var jsonRunes = func() []rune {
	rs := []rune{'"', '\\', '/', 'a', 'Z', ' ', 0x7f, 0x80, 'é', 0x2028, 0x2029, 0xfeff, 0x1f600}
	for c := rune(0); c < 0x20; c++ {
		rs = append(rs, c)
	}
	return rs
}()

// genNumber draws a JSON number: a listed spelling or random digits with
// an optional sign, fraction and exponent.
func genNumber(t *rapid.T) string {
	if rapid.Bool().Draw(t, "listed") {
		return rapid.SampledFrom(jsonNumbers).Draw(t, "number")
	}
	var b strings.Builder
	if rapid.Bool().Draw(t, "neg") {
		b.WriteByte('-')
	}
	b.WriteString(rapid.StringMatching(`[1-9][0-9]{0,19}|0`).Draw(t, "int"))
	if rapid.Bool().Draw(t, "frac") {
		b.WriteString("." + rapid.StringMatching(`[0-9]{1,6}`).Draw(t, "digits"))
	}
	if rapid.Bool().Draw(t, "exp") {
		b.WriteString(rapid.StringMatching(`[eE][+-]?[0-9]{1,3}`).Draw(t, "e"))
	}
	return b.String()
}

// genString draws a JSON string, each character written raw where JSON
// allows it or as a \u escape (upper or lower case, surrogate pairs).
func genString(t *rapid.T) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range rapid.SliceOfN(rapid.SampledFrom(jsonRunes), 0, 6).Draw(t, "runes") {
		escape := r < 0x20 || r == '"' || r == '\\' || rapid.Bool().Draw(t, "escape")
		switch {
		case !escape:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04X`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		case rapid.Bool().Draw(t, "upper"):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// genValue draws a JSON value text of at most depth levels of nesting,
// with insignificant white space.
func genValue(t *rapid.T, depth int) string {
	kinds := 4
	if depth > 0 {
		kinds = 6
	}
	switch rapid.IntRange(0, kinds-1).Draw(t, "kind") {
	case 0:
		return rapid.SampledFrom([]string{"null", "true", "false"}).Draw(t, "literal")
	case 1, 2:
		return genNumber(t)
	case 3:
		return genString(t)
	case 4:
		n := rapid.IntRange(0, 3).Draw(t, "len")
		items := make([]string, n)
		for i := range items {
			items[i] = genValue(t, depth-1)
		}
		return "[ " + strings.Join(items, " ,") + "]"
	}
	n := rapid.IntRange(0, 3).Draw(t, "members")
	members := make([]string, n)
	for i := range members {
		members[i] = fmt.Sprintf("%s : %s", genString(t), genValue(t, depth-1))
	}
	return "{" + strings.Join(members, ",\n") + " }"
}

// TestPropertyValueCanonical: every value DecodeOp accepts is stored in
// exactly the form github.com/gowebpki/jcs gives it (RFC 8785), control
// characters and integers past 2^53 included, and the op it is served in
// is canonical too. Kills decode.go's fast path accepting 16-digit
// integers and jcs.go writing U+001F raw.
func TestPropertyValueCanonical(t *testing.T) {
	accepted := 0
	rapid.Check(t, func(t *rapid.T) {
		raw := genValue(t, 2)
		op, err := DecodeOp(fmt.Appendf(nil, `{"id":%q,"record":%q,"kind":"identification","field":"notes","action":"append","value":%s,"hlc":"0000000000000001","device":%q}`,
			"00000000-0000-4000-8000-000000000002", mtRec, raw, mtDev))
		want, jerr := jcs.Transform([]byte(raw))
		if err != nil {
			if jerr == nil && !strings.Contains(raw, "e3") && !strings.Contains(raw, "E3") {
				t.Logf("refused %s: %v", raw, err)
			}
			return
		}
		accepted++
		if jerr != nil {
			t.Fatalf("DecodeOp accepted %s, which jcs refuses: %v", raw, jerr)
		}
		if !bytes.Equal(op.Value, want) {
			t.Fatalf("value %s stored as %s, want %s", raw, op.Value, want)
		}
		served := op.AppendJSON(nil)
		if c, err := jcs.Transform(served); err != nil || !bytes.Equal(c, served) {
			t.Fatalf("served op is not canonical (%v):\ngot  %s\nwant %s", err, served, c)
		}
	})
	if accepted == 0 {
		t.Fatal("no generated value was accepted")
	}
}

// TestDecodeIntegersPast2to53: integers a double cannot hold exactly are
// stored as RFC 8785 writes them (the nearest double), whatever their
// length.
func TestDecodeIntegersPast2to53(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"9007199254740993", "9007199254740992"},
		{"-9007199254740993", "-9007199254740992"},
		{"9007199254740995", "9007199254740996"},
		{"18014398509481985", "18014398509481984"},
		{"999999999999999", "999999999999999"},
		{"9999999999999999", "10000000000000000"},
		{"123456789012345678901234567890", "1.2345678901234568e+29"},
	} {
		op, err := DecodeOp(fmt.Appendf(nil, `{"id":"00000000-0000-4000-8000-000000000002","record":%q,"kind":"identification","field":"age_estimate","action":"set","value":%s,"hlc":"0000000000000001","device":%q}`, mtRec, tc.in, mtDev))
		if err != nil {
			t.Fatalf("DecodeOp(%s): %v", tc.in, err)
		}
		if got := string(op.Value); got != tc.want {
			t.Errorf("value %s stored as %s, want %s", tc.in, got, tc.want)
		}
	}
}
