package fieldsync

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// canary is in every piece of metadata the test photos carry; none of it
// may survive stripping.
const canary = "CANARY"

// gpsRationals are the latitude the test photos carry (48° 51' 24.11"),
// as the TIFF rationals a phone writes.
var gpsRationals = func() []byte {
	var b []byte
	for _, v := range []uint32{48, 1, 51, 1, 2411, 100} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}()

// phoneEXIF returns a little-endian TIFF structure as a phone writes it:
// Make, Orientation o and a GPS IFD with a latitude.
func phoneEXIF(o uint16) []byte {
	le := binary.LittleEndian
	b := []byte("II*\x00\x08\x00\x00\x00")
	entry := func(tag, typ uint16, n, v uint32) {
		b = le.AppendUint32(le.AppendUint32(le.AppendUint16(le.AppendUint16(b, tag), typ), n), v)
	}
	b = le.AppendUint16(b, 3) // IFD0 at 8: three entries, ends at 50
	entry(0x010F, 2, 16, 50)  // Make
	entry(0x0112, 3, 1, uint32(o))
	entry(0x8825, 4, 1, 66) // GPS IFD
	b = le.AppendUint32(b, 0)
	b = append(b, canary+"-PHONE-X1\x00"...) // at 50, 16 bytes
	b = le.AppendUint16(b, 2)                // GPS IFD at 66, ends at 96
	entry(0x0001, 2, 2, 'N')
	entry(0x0002, 5, 3, 96)
	b = le.AppendUint32(b, 0)
	return append(b, gpsRationals...)
}

// testPicture is a small image with a gradient, so that decoding checks
// something.
func testPicture() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for y := range 16 {
		for x := range 24 {
			img.Set(x, y, color.RGBA{uint8(x * 10), uint8(y * 15), 128, 255})
		}
	}
	return img
}

// jpegSeg returns an application segment with marker m holding p.
func jpegSeg(m byte, p string) []byte {
	return append([]byte{0xFF, m, byte((len(p) + 2) >> 8), byte(len(p) + 2)}, p...)
}

// phoneJPEG returns a JPEG with orientation o as a phone writes it: EXIF
// with GPS and maker, XMP, Photoshop IPTC, a comment, a JFIF thumbnail
// and a trailer after the end of the image, each holding canary.
func phoneJPEG(t testing.TB, o uint16) []byte {
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, testPicture(), nil); err != nil {
		t.Fatal(err)
	}
	plain := enc.Bytes()
	out := []byte{0xFF, 0xD8}
	out = append(out, jpegSeg(0xE0, "JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x01\x01"+canary[:3])...)
	out = append(out, jpegSeg(0xE1, "Exif\x00\x00"+string(phoneEXIF(o)))...)
	out = append(out, jpegSeg(0xE1, "http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>"+canary+" GPSLatitude</x:xmpmeta>")...)
	out = append(out, jpegSeg(0xED, "Photoshop 3.0\x008BIM"+canary)...)
	out = append(out, jpegSeg(0xFE, canary+" comment")...)
	out = append(out, plain[2:]...)
	return append(out, canary+" trailer"...)
}

// pngChunk returns a PNG chunk with its CRC.
func pngChunk(kind string, body []byte) []byte { return appendPNGChunk(nil, kind, body) }

// phonePNG returns a PNG with orientation o in eXIf and text chunks, each
// holding canary, and a trailer after IEND.
func phonePNG(t testing.TB, o uint16) []byte {
	var enc bytes.Buffer
	if err := png.Encode(&enc, testPicture()); err != nil {
		t.Fatal(err)
	}
	plain := enc.Bytes()
	ihdrEnd := len(pngSignature) + 25
	out := append([]byte{}, plain[:ihdrEnd]...)
	out = append(out, pngChunk("eXIf", phoneEXIF(o))...)
	out = append(out, pngChunk("tEXt", []byte("Comment\x00"+canary))...)
	out = append(out, pngChunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"+canary))...)
	out = append(out, pngChunk("zTXt", []byte("Raw profile\x00\x00"+canary))...)
	out = append(out, pngChunk("tIME", []byte{0x07, 0xEA, 12, 3, 15, 0, 0})...)
	out = append(out, pngChunk("prVt", []byte(canary))...)
	out = append(out, plain[ihdrEnd:]...)
	return append(out, canary+" trailer"...)
}

// sameImage fails unless a and b decode to the same pixels.
func sameImage(t *testing.T, a, b []byte) {
	t.Helper()
	ia, _, err := image.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatalf("decode original: %v", err)
	}
	ib, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode stripped: %v", err)
	}
	if ia.Bounds() != ib.Bounds() {
		t.Fatalf("bounds %v, want %v", ib.Bounds(), ia.Bounds())
	}
	for y := ia.Bounds().Min.Y; y < ia.Bounds().Max.Y; y++ {
		for x := ia.Bounds().Min.X; x < ia.Bounds().Max.X; x++ {
			if ia.At(x, y) != ib.At(x, y) {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, ib.At(x, y), ia.At(x, y))
			}
		}
	}
}

// TestStripMetadataJPEG: a phone's JPEG loses its GPS position, maker,
// XMP, IPTC, comment, JFIF thumbnail and trailer, keeps its pixels and
// its orientation (as a minimal EXIF), and stripping again changes
// nothing.
func TestStripMetadataJPEG(t *testing.T) {
	for _, o := range []uint16{1, 6} {
		in := phoneJPEG(t, o)
		if !bytes.Contains(in, gpsRationals) || !bytes.Contains(in, []byte(canary)) {
			t.Fatal("the test photo carries no metadata: the test checks nothing")
		}
		out, err := StripMetadata(in)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(out, gpsRationals) || bytes.Contains(out, []byte(canary)) {
			t.Errorf("orientation %d: metadata survives stripping: %q", o, out[:min(len(out), 200)])
		}
		sameImage(t, in, out)
		if got, want := jpegOrientation(out), int(o); got != want && !(o == 1 && got == 0) {
			t.Errorf("orientation after stripping = %d, want %d", got, want)
		}
		again, err := StripMetadata(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Errorf("stripping twice changes the file (err %v)", err)
		}
	}
}

// jpegOrientation returns the EXIF orientation of a JPEG, 0 for none.
func jpegOrientation(data []byte) int {
	segs, err := jpegSegments(data)
	if err != nil {
		return -1
	}
	for _, s := range segs {
		if s.marker == 0xE1 && bytes.HasPrefix(s.payload(), []byte("Exif\x00\x00")) {
			return exifOrientation(s.payload()[6:])
		}
	}
	return 0
}

// TestStripMetadataPNG: a PNG loses eXIf GPS, text chunks, tIME, private
// chunks and its trailer, keeps its pixels and orientation.
func TestStripMetadataPNG(t *testing.T) {
	in := phonePNG(t, 6)
	out, err := StripMetadata(in)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, gpsRationals) || bytes.Contains(out, []byte(canary)) || bytes.Contains(out, []byte("tIME")) {
		t.Errorf("metadata survives stripping: %q", out)
	}
	sameImage(t, in, out)
	i := bytes.Index(out, []byte("eXIf"))
	if i < 4 {
		t.Fatal("the orientation was dropped with the metadata")
	}
	n := binary.BigEndian.Uint32(out[i-4:])
	if got := exifOrientation(out[i+4 : i+4+int(n)]); got != 6 {
		t.Errorf("orientation after stripping = %d, want 6", got)
	}
	if got, want := binary.BigEndian.Uint32(out[i+4+int(n):]), crc32.ChecksumIEEE(out[i:i+4+int(n)]); got != want {
		t.Errorf("eXIf CRC = %x, want %x", got, want)
	}
}

// TestStripMetadataRefusesWhatItCannotParse: a truncated photo is refused
// (media_type), never sent with its metadata; other files pass unchanged.
func TestStripMetadataRefusesWhatItCannotParse(t *testing.T) {
	for name, data := range map[string][]byte{
		"truncated JPEG": phoneJPEG(t, 6)[:300],
		"truncated PNG":  phonePNG(t, 6)[:60],
	} {
		if _, err := StripMetadata(data); model.ErrorCode(err) != model.CodeMediaType {
			t.Errorf("%s: err = %v, want %s", name, err, model.CodeMediaType)
		}
	}
	pdf := []byte("%PDF-1.7\n" + canary)
	if out, err := StripMetadata(pdf); err != nil || !bytes.Equal(out, pdf) {
		t.Errorf("a PDF = %q, %v; want it unchanged", out, err)
	}
}

// FuzzStripMetadata: stripping never panics, and what it returns is
// stable (stripping it again changes nothing) and, for a file Go's
// decoders read, still read with the same size.
func FuzzStripMetadata(f *testing.F) {
	f.Add(phoneJPEG(f, 6))
	f.Add(phonePNG(f, 3))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xD9})
	f.Add([]byte("%PDF-1.7"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := StripMetadata(data)
		if err != nil {
			return
		}
		again, err := StripMetadata(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("stripping twice changes the file (err %v)", err)
		}
		in, _, inErr := image.DecodeConfig(bytes.NewReader(data))
		got, _, outErr := image.DecodeConfig(bytes.NewReader(out))
		if inErr == nil && (outErr != nil || got.Width != in.Width || got.Height != in.Height) {
			t.Fatalf("stripped file reads as %+v, %v; want %+v", got, outErr, in)
		}
	})
}

// TestStripMetadataTypeScriptFixtures: the TypeScript SDK's strip test
// (clients/ts/test/strip.test.ts) checks its port against these photos
// and voice notes and this function's output, kept in
// clients/ts/test/testdata (*.stripped.*), and against the files Go
// refuses (testdata/refused: it must refuse each); they must be what the
// builders above and StripMetadata make now (regenerate with
// FIELDSYNC_UPDATE_TS_FIXTURES=1).
func TestStripMetadataTypeScriptFixtures(t *testing.T) {
	dir := filepath.Join("..", "ts", "test", "testdata")
	large, _, _ := largeM4A()
	photos := map[string][]byte{
		"phone-1.jpg": phoneJPEG(t, 1), "phone-6.jpg": phoneJPEG(t, 6), "phone-6.png": phonePNG(t, 6), "phone-3.png": phonePNG(t, 3),
		"phone.heic": phoneHEIC(false).data, "phone-idat.heic": phoneHEIC(true).data,
		"voice.m4a": phoneM4A(true).data, "voice-plain.m4a": phoneM4A(false).data, "voice-large.m4a": large,
	}
	want := map[string][]byte{}
	for name, in := range photos {
		out, err := StripMetadata(in)
		if err != nil {
			t.Fatal(err)
		}
		ext := filepath.Ext(name)
		want[name], want[strings.TrimSuffix(name, ext)+".stripped"+ext] = in, out
	}
	refused := map[string][]byte{}
	for ext, cases := range map[string]map[string][]byte{".heic": heicRefusals(), ".m4a": mp4Refusals()} {
		for name, data := range cases {
			if _, err := StripMetadata(data); model.ErrorCode(err) != model.CodeMediaType {
				t.Fatalf("%s: err = %v, want %s", name, err, model.CodeMediaType)
			}
			slug := strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
					return r
				}
				return '-'
			}, name)
			refused[slug+ext] = data
		}
	}
	checkFixtures(t, dir, want)
	checkFixtures(t, filepath.Join(dir, "refused"), refused)
}

// checkFixtures fails unless dir holds the files of want (and, for the
// refused directory, no other), writing them first with
// FIELDSYNC_UPDATE_TS_FIXTURES=1.
func checkFixtures(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	update := os.Getenv("FIELDSYNC_UPDATE_TS_FIXTURES") == "1"
	if update {
		if filepath.Base(dir) == "refused" {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for file, data := range want {
		path := filepath.Join(dir, file)
		if update {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s differs from what the Go SDK makes now (%v); regenerate with FIELDSYNC_UPDATE_TS_FIXTURES=1", path, err)
		}
	}
	if filepath.Base(dir) != "refused" {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := want[e.Name()]; !ok {
			t.Errorf("%s is not a file the Go SDK refuses now; regenerate with FIELDSYNC_UPDATE_TS_FIXTURES=1", filepath.Join(dir, e.Name()))
		}
	}
}

// TestStripMetadataTypeScriptMutants: a differential test of the
// TypeScript port (clients/ts/test/isobmff.test.ts) beyond the fixtures:
// testdata/mutants.txt lists, one a line (base, length, pos:value edits, result), mutants of the HEIC and M4A fixtures (a few
// bytes changed where their boxes are, some cut short) with what Go's
// StripMetadata makes of each: "refused" (media_type) or the first 16 hex
// digits of the output's SHA-256; the port must decide and write the
// same. It must be what Go makes now (FIELDSYNC_UPDATE_TS_FIXTURES=1
// rewrites it).
func TestStripMetadataTypeScriptMutants(t *testing.T) {
	large, _, _ := largeM4A()
	bases := []struct {
		name string
		data []byte
	}{{"phone.heic", phoneHEIC(false).data}, {"phone-idat.heic", phoneHEIC(true).data}, {"voice.m4a", phoneM4A(true).data}, {"voice-plain.m4a", phoneM4A(false).data}, {"voice-large.m4a", large}}
	rng := rand.New(rand.NewPCG(16, 6))
	var lines bytes.Buffer
	for _, b := range bases {
		for range 200 {
			d := bytes.Clone(b.data)
			if rng.IntN(4) == 0 {
				d = d[:13+rng.IntN(len(d)-13)]
			}
			var edits []string
			for range 1 + rng.IntN(4) {
				at, v := 12+rng.IntN(min(600, len(d))-12), rng.IntN(256)
				if k := rng.IntN(3); k < 2 {
					v = []int{0, 1, 8, 0xFF}[rng.IntN(4)]
				}
				d[at] = byte(v)
				edits = append(edits, fmt.Sprintf("%d:%d", at, v))
			}
			out, err := StripMetadata(d)
			result := "refused"
			switch {
			case model.ErrorCode(err) == model.CodeMediaType:
			case err != nil:
				t.Fatalf("%s %v: %v", b.name, edits, err)
			default:
				sum := sha256.Sum256(out)
				result = hex.EncodeToString(sum[:8])
			}
			fmt.Fprintf(&lines, "%s %d %s %s\n", b.name, len(d), strings.Join(edits, ","), result)
		}
	}
	checkFixtures(t, filepath.Join("..", "ts", "test", "testdata"), map[string][]byte{"mutants.txt": lines.Bytes()})
}
