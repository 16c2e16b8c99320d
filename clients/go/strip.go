package fieldsync

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"

	"github.com/fieldsync/fieldsync/model"
)

// Photo metadata (issue 16 item 6): a photo taken at a shelter must not
// carry the shelter's coordinates, or the phone that took it, to every
// reader of the record. StripMetadata removes what cameras write beside
// the pixels, keeping only what is needed to show the picture the right
// way: colour (JFIF, ICC profile, Adobe) and the EXIF orientation, kept
// as a minimal EXIF holding that one tag. Rotating the pixels instead
// would mean decoding and re-encoding the photo: a lossy second
// compression of a document whose small print matters, and slower on a
// phone; every current viewer (browsers included) honours the tag.
//
// Stripping keeps by a list, never drops by one: a segment or chunk it
// does not know as harmless is removed, and a JPEG or PNG it cannot parse
// is refused rather than sent as it is (it fails closed).

// pngSignature opens every PNG file.
var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// pngKeep are the PNG chunks kept: the critical ones and those that only
// say how to render the pixels. Everything else (eXIf, tEXt, iTXt, zTXt,
// tIME, private chunks) is dropped.
var pngKeep = map[string]bool{
	"IHDR": true, "PLTE": true, "IDAT": true, "IEND": true,
	"tRNS": true, "cHRM": true, "gAMA": true, "iCCP": true, "sBIT": true, "sRGB": true,
	"cICP": true, "mDCV": true, "cLLI": true, "bKGD": true, "hIST": true, "pHYs": true,
	"sPLT": true, "acTL": true, "fcTL": true, "fdAT": true,
}

// StripMetadata returns data without the location and device metadata
// of a JPEG, PNG or HEIC photo or an MP4 (M4A voice note): for a HEIC its
// Exif, XMP and other metadata items blanked in place (heic.go); for an
// MP4 its udta, meta and uuid boxes blanked in place (mp4.go); for a JPEG every APPn segment except JFIF
// (without its thumbnail), an ICC profile and Adobe's, every comment, and
// anything after the end of the image; for a PNG every chunk outside
// pngKeep and anything after IEND. An EXIF orientation other than the
// default is kept as a minimal EXIF with that one tag. Any other data is
// returned unchanged. A file that starts like a JPEG, PNG, HEIC or MP4
// but cannot be parsed is refused with model.CodeMediaType.
func StripMetadata(data []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8}):
		return stripJPEG(data)
	case bytes.HasPrefix(data, pngSignature):
		return stripPNG(data)
	case isHEIC(data):
		return stripHEIC(data)
	case isMP4(data):
		return stripMP4(data)
	}
	return data, nil
}

// isHEIC reports whether head sniffs as a HEIC photo.
func isHEIC(head []byte) bool {
	media, _ := model.SniffMedia(head)
	return media == "image/heic"
}

// stripHEIC returns a copy of a HEIC with its metadata items blanked in
// place (heicPatches): of the same length, every other byte unchanged.
func stripHEIC(data []byte) ([]byte, error) {
	ps, err := heicPatches(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(data)
	applyPatches(out, 0, ps)
	return out, nil
}

// jpegSegment is one marker of a JPEG with its bytes (for a start of
// scan, the entropy-coded data that follows it too).
type jpegSegment struct {
	marker byte
	raw    []byte
}

// payload is the segment's bytes after its marker and length.
func (s jpegSegment) payload() []byte {
	if len(s.raw) < 4 {
		return nil
	}
	return s.raw[4:]
}

func badJPEG() error {
	return model.Errorf(model.CodeMediaType, "The photo is not a well-formed JPEG, so its location metadata cannot be removed; it was not uploaded.")
}

func badPNG() error {
	return model.Errorf(model.CodeMediaType, "The picture is not a well-formed PNG, so its metadata cannot be removed; it was not uploaded.")
}

// stripJPEG rewrites a JPEG with only the segments jpegKeep allows, the
// minimal EXIF of its orientation after SOI (and JFIF), and nothing after
// EOI.
func stripJPEG(data []byte) ([]byte, error) {
	segs, err := jpegSegments(data)
	if err != nil {
		return nil, err
	}
	orientation := 0
	out := make([]byte, 0, len(data))
	out = append(out, 0xFF, 0xD8)
	var kept []jpegSegment
	for _, s := range segs {
		if s.marker == 0xE1 && orientation == 0 {
			orientation = exifOrientation(bytes.TrimPrefix(s.payload(), []byte("Exif\x00\x00")))
		}
		if k, ok := jpegKeep(s); ok {
			kept = append(kept, k)
		}
	}
	exif := orientationEXIF(orientation)
	for i, s := range kept {
		if exif != nil && (i > 0 || s.marker != 0xE0) {
			out = append(out, 0xFF, 0xE1, byte((len(exif)+8)>>8), byte(len(exif)+8))
			out = append(append(out, "Exif\x00\x00"...), exif...)
			exif = nil
		}
		out = append(out, s.raw...)
	}
	return out, nil
}

// jpegSegments splits data (which starts with SOI) into its segments up
// to and including EOI; anything after EOI is left out.
func jpegSegments(data []byte) ([]jpegSegment, error) {
	var segs []jpegSegment
	pos := 2
	for {
		if pos >= len(data) || data[pos] != 0xFF {
			return nil, badJPEG()
		}
		for pos < len(data) && data[pos] == 0xFF {
			pos++
		}
		if pos >= len(data) {
			return nil, badJPEG()
		}
		m, start := data[pos], pos-1
		pos++
		switch {
		case m == 0xD9:
			return append(segs, jpegSegment{m, data[start:pos]}), nil
		case m >= 0xD0 && m <= 0xD7 || m == 0x01:
			segs = append(segs, jpegSegment{m, data[start:pos]})
			continue
		case m == 0x00 || m == 0xD8:
			return nil, badJPEG()
		}
		if pos+2 > len(data) {
			return nil, badJPEG()
		}
		end := pos + int(binary.BigEndian.Uint16(data[pos:]))
		if end < pos+2 || end > len(data) {
			return nil, badJPEG()
		}
		if m == 0xDA {
			if end = scanEnd(data, end); end < 0 {
				return nil, badJPEG()
			}
		}
		segs = append(segs, jpegSegment{m, data[start:end]})
		pos = end
	}
}

// scanEnd returns the index of the marker that ends the entropy-coded
// data starting at i (stuffed 0xFF00 and restart markers are part of the
// data), or -1 if the data ends first.
func scanEnd(data []byte, i int) int {
	for ; i+1 < len(data); i++ {
		if data[i] != 0xFF {
			continue
		}
		if b := data[i+1]; b != 0x00 && (b < 0xD0 || b > 0xD7) {
			return i
		}
		i++
	}
	return -1
}

// jpegKeep returns the segment to keep in place of s, if any: JFIF
// without its thumbnail, an ICC profile, Adobe's colour transform and
// every segment that is not an application segment or a comment.
func jpegKeep(s jpegSegment) (jpegSegment, bool) {
	p := s.payload()
	switch {
	case s.marker == 0xE0 && bytes.HasPrefix(p, []byte("JFIF\x00")) && len(p) >= 14:
		raw := append([]byte{0xFF, 0xE0, 0x00, 0x10}, p[:12]...)
		return jpegSegment{s.marker, append(raw, 0, 0)}, true
	case s.marker == 0xE2:
		return s, bytes.HasPrefix(p, []byte("ICC_PROFILE\x00"))
	case s.marker == 0xEE:
		return s, bytes.HasPrefix(p, []byte("Adobe"))
	case s.marker >= 0xE0 && s.marker <= 0xEF || s.marker == 0xFE:
		return s, false
	}
	return s, true
}

// exifOrientation returns the Orientation tag (1 to 8) of the first IFD
// of a TIFF structure, or 0 if it has none or cannot be read.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 0
	}
	var order binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 0
	}
	if order.Uint16(tiff[2:]) != 42 {
		return 0
	}
	ifd := int64(order.Uint32(tiff[4:]))
	if ifd+2 > int64(len(tiff)) {
		return 0
	}
	n := int64(order.Uint16(tiff[ifd:]))
	for e := ifd + 2; e+12 <= int64(len(tiff)) && e < ifd+2+12*n; e += 12 {
		if order.Uint16(tiff[e:]) == 0x0112 && order.Uint16(tiff[e+2:]) == 3 {
			if v := int(order.Uint16(tiff[e+8:])); v >= 1 && v <= 8 {
				return v
			}
			return 0
		}
	}
	return 0
}

// orientationEXIF returns a big-endian TIFF structure whose only tag is
// Orientation o, or nil for none or the default (1).
func orientationEXIF(o int) []byte {
	if o < 2 || o > 8 {
		return nil
	}
	return []byte{
		'M', 'M', 0, 42, 0, 0, 0, 8, // header, first IFD at 8
		0, 1, // one entry
		0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, // Orientation, SHORT, 1, o
		0, 0, 0, 0, // no next IFD
	}
}

// stripPNG rewrites a PNG with only the chunks of pngKeep, an eXIf chunk
// of its orientation after IHDR, and nothing after IEND.
func stripPNG(data []byte) ([]byte, error) {
	type chunk struct {
		kind string
		raw  []byte
	}
	var chunks []chunk
	orientation := 0
	for pos := len(pngSignature); ; {
		if pos+12 > len(data) {
			return nil, badPNG()
		}
		n := int64(binary.BigEndian.Uint32(data[pos:]))
		end := int64(pos) + 12 + n
		if end > int64(len(data)) {
			return nil, badPNG()
		}
		c := chunk{string(data[pos+4 : pos+8]), data[pos:end]}
		if len(chunks) == 0 && c.kind != "IHDR" {
			return nil, badPNG()
		}
		switch {
		case c.kind == "eXIf" && orientation == 0:
			orientation = exifOrientation(c.raw[8 : len(c.raw)-4])
		case pngKeep[c.kind]:
			chunks = append(chunks, c)
		case c.kind[0] >= 'A' && c.kind[0] <= 'Z':
			return nil, badPNG() // an unknown critical chunk
		}
		pos = int(end)
		if c.kind == "IEND" {
			break
		}
	}
	out := append(make([]byte, 0, len(data)), pngSignature...)
	for i, c := range chunks {
		out = append(out, c.raw...)
		if exif := orientationEXIF(orientation); i == 0 && exif != nil {
			out = appendPNGChunk(out, "eXIf", exif)
		}
	}
	return out, nil
}

// appendPNGChunk appends a chunk of kind holding body, with its CRC.
func appendPNGChunk(out []byte, kind string, body []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
	start := len(out)
	out = append(append(out, kind...), body...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
}
