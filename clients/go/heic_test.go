package fieldsync

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// isoBox returns a box of kind holding payload.
func isoBox(kind string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	return append(binary.BigEndian.AppendUint32(nil, uint32(8+len(body))), append([]byte(kind), body...)...)
}

// fullBox returns a full box (version, zero flags) of kind.
func fullBox(kind string, version byte, payload ...[]byte) []byte {
	return isoBox(kind, append([]byte{version, 0, 0, 0}, bytes.Join(payload, nil)...))
}

func u16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func u32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

// heicXMP is the XMP packet the test HEIC carries: the GPS position again.
const heicXMP = `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description exif:GPSLatitude="48,51.4018N" tiff:Model="` + canary + `"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`

// heicFixture is a HEIC built by phoneHEIC and where its metadata items
// lie in it.
type heicFixture struct {
	data        []byte
	exif, xmp   extent // file offsets and lengths of the Exif and XMP items
	irot        []byte // the rotation property, which must stay
	pixels      []byte // the image item's bytes (stand-ins for HEVC)
	xmpInIdat   bool
	orientation uint16
}

// phoneHEIC returns a HEIC as an iPhone lays it out: ftyp, a meta box
// (hdlr, pitm, iinf, iloc, iprp with ispe and irot) and an mdat with the
// image item, an Exif item (header offset, "Exif\0\0", phoneEXIF: make,
// orientation, GPS) and an XMP item with the GPS position; with xmpInIdat
// the XMP item is in the meta box's idat instead.
func phoneHEIC(xmpInIdat bool) heicFixture {
	f := heicFixture{xmpInIdat: xmpInIdat, orientation: 6, irot: isoBox("irot", []byte{1})}
	f.pixels = []byte("\x00\x00\x00\x10HEVC-PIXELS-0123")
	exif := append(append(u32(6), "Exif\x00\x00"...), phoneEXIF(f.orientation)...)
	ftyp := isoBox("ftyp", []byte("heic"), u32(0), []byte("mif1heic"))
	infe := func(id int, kind, extra string) []byte {
		return fullBox("infe", 2, u16(id), u16(0), []byte(kind), []byte("\x00"+extra))
	}
	meta := func(pixelsAt, exifAt, xmpAt int) []byte {
		loc := func(id, method, off, n int) []byte {
			return bytes.Join([][]byte{u16(id), u16(method), u16(0), u16(1), u32(off), u32(n)}, nil)
		}
		xmpMethod := 0
		var idat []byte
		if xmpInIdat {
			xmpMethod, xmpAt, idat = 1, 0, isoBox("idat", []byte(heicXMP))
		}
		return fullBox("meta", 0,
			fullBox("hdlr", 0, u32(0), []byte("pict"), make([]byte, 12), []byte("\x00")),
			fullBox("pitm", 0, u16(1)),
			fullBox("iinf", 0, u16(3), infe(1, "hvc1", ""), infe(2, "Exif", ""), infe(3, "mime", "application/rdf+xml\x00")),
			fullBox("iloc", 1, []byte{0x44, 0x00}, u16(3),
				loc(1, 0, pixelsAt, len(f.pixels)), loc(2, 0, exifAt, len(exif)), loc(3, xmpMethod, xmpAt, len(heicXMP))),
			isoBox("iprp",
				isoBox("ipco", fullBox("ispe", 0, u32(24), u32(16)), f.irot),
				fullBox("ipma", 0, u32(1), u16(1), []byte{2, 0x81, 0x82})),
			idat)
	}
	head := len(ftyp) + len(meta(0, 0, 0)) + 8 // the mdat's payload starts here
	mdat := append(append([]byte{}, f.pixels...), exif...)
	if !xmpInIdat {
		mdat = append(mdat, heicXMP...)
	}
	m := meta(head, head+len(f.pixels), head+len(f.pixels)+len(exif))
	f.data = bytes.Join([][]byte{ftyp, m, isoBox("mdat", mdat)}, nil)
	f.exif = extent{int64(head + len(f.pixels)), int64(len(exif))}
	f.xmp = extent{int64(head + len(f.pixels) + len(exif)), int64(len(heicXMP))}
	if xmpInIdat {
		f.xmp = extent{int64(bytes.Index(f.data, []byte(heicXMP))), int64(len(heicXMP))}
	}
	return f
}

// TestStripMetadataHEIC: a HEIC's Exif item (GPS IFD, make) and XMP item
// (GPS again) are blanked in place, in mdat or in idat: the coordinates
// and the make are gone, the Exif item keeps only the orientation, the
// XMP item is an empty packet, and every byte outside the two items
// (boxes, offsets, the irot property, the pixels) is identical.
func TestStripMetadataHEIC(t *testing.T) {
	for _, inIdat := range []bool{false, true} {
		f := phoneHEIC(inIdat)
		if media, _ := model.SniffMedia(f.data); media != "image/heic" {
			t.Fatalf("the fixture sniffs as %q, want image/heic", media)
		}
		for _, secret := range [][]byte{gpsRationals, []byte(canary), []byte("GPSLatitude")} {
			if !bytes.Contains(f.data, secret) {
				t.Fatalf("the fixture lacks %q: the test would prove nothing", secret)
			}
		}
		out, err := StripMetadata(f.data)
		if err != nil {
			t.Fatalf("idat %v: StripMetadata: %v", inIdat, err)
		}
		if len(out) != len(f.data) {
			t.Fatalf("idat %v: stripped length %d, want %d", inIdat, len(out), len(f.data))
		}
		for _, secret := range [][]byte{gpsRationals, []byte(canary), []byte("GPSLatitude")} {
			if bytes.Contains(out, secret) {
				t.Errorf("idat %v: the stripped HEIC still holds %q", inIdat, secret)
			}
		}
		for i := range out {
			in := func(e extent) bool { return int64(i) >= e.off && int64(i) < e.off+e.n }
			if out[i] != f.data[i] && !in(f.exif) && !in(f.xmp) {
				t.Fatalf("idat %v: byte %d changed outside the Exif and XMP items", inIdat, i)
			}
		}
		exif := out[f.exif.off : f.exif.off+f.exif.n]
		if !bytes.HasPrefix(exif, append(u32(6), "Exif\x00\x00"...)) || exifOrientation(exif[10:]) != int(f.orientation) {
			t.Errorf("idat %v: the Exif item is %q; want its header and orientation %d", inIdat, exif, f.orientation)
		}
		xmp := string(out[f.xmp.off : f.xmp.off+f.xmp.n])
		if !strings.HasPrefix(xmp, emptyXMPStart) || !strings.HasSuffix(xmp, emptyXMPEnd) {
			t.Errorf("idat %v: the XMP item is %q; want an empty packet", inIdat, xmp)
		}
		if !bytes.Contains(out, f.irot) || !bytes.Contains(out, f.pixels) {
			t.Errorf("idat %v: the rotation property or the pixels changed", inIdat)
		}
		if again, err := StripMetadata(out); err != nil || !bytes.Equal(again, out) {
			t.Errorf("idat %v: stripping twice changes the file (err %v)", inIdat, err)
		}
	}
}

// TestStripMetadataRefusesHEICItCannotFollow: a HEIC whose metadata the
// SDK cannot locate, or that holds what it does not know as harmless, is
// refused (media_type), never sent with its metadata.
func TestStripMetadataRefusesHEICItCannotFollow(t *testing.T) {
	for name, data := range heicRefusals() {
		if _, err := StripMetadata(data); model.ErrorCode(err) != model.CodeMediaType {
			t.Errorf("%s: err = %v, want %s", name, err, model.CodeMediaType)
		}
	}
}

// heicRefusals are HEICs stripping must refuse, by what is wrong with
// them (the TypeScript SDK's test refuses them too: see
// TestStripMetadataTypeScriptFixtures).
func heicRefusals() map[string][]byte {
	f := phoneHEIC(false)
	replace := func(old, new string) []byte { return bytes.Replace(f.data, []byte(old), []byte(new), 1) }
	moov := append(append([]byte{}, f.data...), isoBox("moov", isoBox("udta", []byte("\xa9xyz+48.8567+002.3508/")))...)
	return map[string][]byte{
		"truncated":                     f.data[:len(f.data)-40],
		"a moov box (QuickTime udta)":   moov,
		"an item type it does not know": replace("hvc1", "zzzz"),
		"no iloc":                       replace("iloc", "xloc"),
		"Exif outside mdat": func() []byte {
			// The Exif item's extent moved into the ftyp box.
			d := bytes.Clone(f.data)
			at := bytes.Index(d, bytes.Join([][]byte{u16(2), u16(0), u16(0), u16(1)}, nil)) // item 2's iloc entry
			copy(d[at+8:], u32(8))
			return d
		}(),
	}
}

// FuzzStripHEIC: stripping a HEIC never panics; what it returns has the
// input's length, differs from it only inside the payloads of mdat and
// idat boxes (never in the boxes that describe the file), and stripping
// it again changes nothing.
func FuzzStripHEIC(f *testing.F) {
	f.Add(phoneHEIC(false).data)
	f.Add(phoneHEIC(true).data)
	f.Fuzz(func(t *testing.T, data []byte) {
		if !isHEIC(data) {
			data = append(phoneHEIC(false).data[:12:12], data...) // keep the fuzzer on HEIC
		}
		out, err := StripMetadata(data)
		if err != nil {
			if model.ErrorCode(err) != model.CodeMediaType {
				t.Fatalf("err = %v, want %s", err, model.CodeMediaType)
			}
			return
		}
		if len(out) != len(data) {
			t.Fatalf("stripped length %d, want %d", len(out), len(data))
		}
		inside := dataPayloads(t, data)
		for i := range out {
			if out[i] != data[i] && !slices.ContainsFunc(inside, func(e extent) bool { return int64(i) >= e.off && int64(i) < e.off+e.n }) {
				t.Fatalf("byte %d changed outside the mdat and idat payloads", i)
			}
		}
		if again, err := StripMetadata(out); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("stripping twice changes the file (err %v)", err)
		}
	})
}

// dataPayloads returns the payloads of data's top-level mdat boxes and
// of its meta box's idat (data was stripped, so its boxes parse).
func dataPayloads(t *testing.T, data []byte) []extent {
	r := bytes.NewReader(data)
	top, err := children(r, 0, int64(len(data)))
	if err != nil {
		t.Fatalf("a stripped file's boxes do not parse: %v", err)
	}
	var out []extent
	for _, b := range top {
		switch b.kind {
		case "mdat":
			out = append(out, extent{b.start, b.end - b.start})
		case "meta":
			_, idat, err := heicItems(r, b)
			if err != nil {
				t.Fatalf("a stripped file's meta does not parse: %v", err)
			}
			if idat.start >= 0 {
				out = append(out, extent{idat.start, idat.end - idat.start})
			}
		}
	}
	return out
}

// phoneHEICFile is phoneHEIC(false) as a file, for the end-to-end tests
// (package e2e cannot call phoneHEIC); TestPhoneHEICFile keeps it the
// same.
const phoneHEICFile = "testdata/phone.heic"

// TestPhoneHEICFile: the committed fixture is what phoneHEIC builds
// (FIELDSYNC_UPDATE_FIXTURES=1 rewrites it).
func TestPhoneHEICFile(t *testing.T) {
	want := phoneHEIC(false).data
	if os.Getenv("FIELDSYNC_UPDATE_FIXTURES") != "" {
		if err := os.WriteFile(phoneHEICFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(phoneHEICFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s is not what phoneHEIC builds (%v); rerun with FIELDSYNC_UPDATE_FIXTURES=1", phoneHEICFile, err)
	}
}
