package fieldsync

import (
	"bytes"
	"os"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// voiceNoteLocation is where the test voice note was recorded, as
// QuickTime writes it (ISO 6709).
const voiceNoteLocation = "+48.8577+002.2950/"

// appleLocationKey is the meta key iPhones store the location under.
const appleLocationKey = "com.apple.quicktime.location.ISO6709"

// voiceNote is an M4A built by phoneM4A with where its metadata boxes
// lie.
type voiceNote struct {
	data      []byte
	blanked   []extent // the udta and meta boxes (offset and length)
	audio     []byte   // the mdat payload (stand-ins for AAC frames)
	trackUdta bool
}

// phoneM4A returns an M4A as a phone's recorder lays it out: ftyp M4A,
// mdat with the audio, and moov holding mvhd, a minimal trak (tkhd, mdia
// with mdhd and a "soun" hdlr), a udta with ©xyz (the location), ©mak
// and ©nam, and a meta box (hdlr mdta, keys with the Apple location key
// and a model key, ilst with their values). With trackUdta the trak also
// holds a udta with a 3GPP loci box.
func phoneM4A(trackUdta bool) voiceNote {
	n := voiceNote{trackUdta: trackUdta, audio: []byte("\x21\x10AAC-FRAMES-0123456789")}
	ftyp := isoBox("ftyp", []byte("M4A "), u32(0), []byte("M4A isommp42"))
	mdat := isoBox("mdat", n.audio)
	qtString := func(kind, v string) []byte { return isoBox(kind, u16(len(v)), u16(0x15c7), []byte(v)) }
	udta := isoBox("udta", qtString("\xa9xyz", voiceNoteLocation), qtString("\xa9mak", "Apple"), qtString("\xa9nam", "Rue de Rivoli 12"))
	key := func(name string) []byte { return append(u32(8+len(name)), append([]byte("mdta"), name...)...) }
	value := func(i int, v string) []byte {
		return isoBox(string(u32(i)), isoBox("data", u32(1), u32(0), []byte(v)))
	}
	meta := fullBox("meta", 0,
		fullBox("hdlr", 0, u32(0), []byte("mdta"), make([]byte, 13)),
		fullBox("keys", 0, u32(2), key(appleLocationKey), key("com.apple.quicktime.model")),
		isoBox("ilst", value(1, voiceNoteLocation), value(2, "iPhone 15")))
	trakKids := [][]byte{
		fullBox("tkhd", 0, make([]byte, 80)),
		isoBox("mdia", fullBox("mdhd", 0, make([]byte, 20)), fullBox("hdlr", 0, u32(0), []byte("soun"), make([]byte, 13))),
	}
	if trackUdta {
		loci := fullBox("loci", 0, u16(0x15c7), []byte("Shelter\x00"), []byte{0}, u32(0x0030db22), u32(0x00024c1d), u32(0), []byte("Earth\x00\x00"))
		trakKids = append(trakKids, isoBox("udta", loci))
	}
	moov := isoBox("moov", fullBox("mvhd", 0, make([]byte, 96)), isoBox("trak", trakKids...), udta, meta)
	n.data = slices.Concat(ftyp, mdat, moov)
	at := func(box []byte) extent { return extent{int64(bytes.Index(n.data, box)), int64(len(box))} }
	n.blanked = []extent{at(udta), at(meta)}
	if trackUdta {
		n.blanked = append(n.blanked, at(trakKids[2]))
	}
	return n
}

// TestStripMetadataMP4: the location of a voice note (©xyz in udta, the
// Apple location key and its value in meta, loci in a track's udta)
// is gone after stripping, as are the make, model and title; each of
// those boxes is a free box of zeros of its size and every other byte of
// the file is as it was.
func TestStripMetadataMP4(t *testing.T) {
	for _, trackUdta := range []bool{false, true} {
		n := phoneM4A(trackUdta)
		if media, _ := model.SniffMedia(n.data); media != "audio/mp4" {
			t.Fatalf("the fixture sniffs as %q", media)
		}
		got, err := StripMetadata(n.data)
		if err != nil {
			t.Fatalf("trackUdta %v: %v", trackUdta, err)
		}
		if len(got) != len(n.data) {
			t.Fatalf("trackUdta %v: %d bytes, want %d", trackUdta, len(got), len(n.data))
		}
		for _, secret := range []string{voiceNoteLocation, appleLocationKey, "iPhone 15", "Apple", "Rivoli", "Shelter", "loci"} {
			if bytes.Contains(got, []byte(secret)) {
				t.Errorf("trackUdta %v: the stripped file still holds %q", trackUdta, secret)
			}
		}
		inBlanked := func(i int64) bool {
			return slices.ContainsFunc(n.blanked, func(e extent) bool { return i >= e.off && i < e.off+e.n })
		}
		for i := range int64(len(got)) {
			if !inBlanked(i) && got[i] != n.data[i] {
				t.Fatalf("trackUdta %v: byte %d outside the metadata boxes changed", trackUdta, i)
			}
		}
		for _, e := range n.blanked {
			b := got[e.off : e.off+e.n]
			if want := slices.Concat(n.data[e.off:e.off+4], []byte("free"), make([]byte, e.n-8)); !bytes.Equal(b, want) {
				t.Errorf("trackUdta %v: the box at %d is %q, want a free box of zeros of its size", trackUdta, e.off, b)
			}
		}
		if !bytes.Contains(got, n.audio) {
			t.Errorf("trackUdta %v: the audio was changed", trackUdta)
		}
	}
}

// TestStripMetadataRefusesMP4ItCannotFollow: an MP4 whose location the
// SDK cannot be sure to remove is refused with media_type, not uploaded
// as it is.
func TestStripMetadataRefusesMP4ItCannotFollow(t *testing.T) {
	for name, data := range mp4Refusals() {
		_, err := StripMetadata(data)
		if got := model.ErrorCode(err); got != model.CodeMediaType {
			t.Errorf("%s: StripMetadata = %v, want %s", name, err, model.CodeMediaType)
		}
	}
}

// mp4Refusals are MP4s stripping must refuse, by what is wrong with them
// (the TypeScript SDK's test refuses them too).
func mp4Refusals() map[string][]byte {
	n := phoneM4A(false)
	ftyp := isoBox("ftyp", []byte("M4A "), u32(0), []byte("M4A isommp42"))
	timed := isoBox("moov", isoBox("trak", isoBox("mdia", fullBox("hdlr", 0, u32(0), []byte("meta"), make([]byte, 13)))))
	return map[string][]byte{
		"cut short":             n.data[:len(n.data)-3],
		"box larger than file":  append(bytes.Clone(ftyp), 0, 0, 1, 0, 'm', 'o', 'o', 'v'),
		"no moov":               slices.Concat(ftyp, isoBox("mdat", n.audio)),
		"two moov":              slices.Concat(n.data, isoBox("moov")),
		"unknown top-level box": slices.Concat(n.data, isoBox("XMP_", []byte(voiceNoteLocation))),
		"timed metadata track":  slices.Concat(ftyp, timed),
		"handler cut short":     slices.Concat(ftyp, isoBox("moov", isoBox("trak", isoBox("mdia", isoBox("hdlr", u32(0)))))),
		"second ftyp":           slices.Concat(ftyp, isoBox("ftyp"), n.data[len(ftyp):]),
	}
}

// TestStripMetadataMP4LargeSizeAndTopLevel: a top-level uuid box (XMP)
// and a udta with a 64-bit size are blanked keeping their size fields.
func TestStripMetadataMP4LargeSizeAndTopLevel(t *testing.T) {
	data, large, xmp := largeM4A()
	got, err := StripMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"GPSLatitude", voiceNoteLocation, "\xbe\x7a\xcf\xcb"} {
		if bytes.Contains(got, []byte(secret)) {
			t.Errorf("the stripped file still holds %q", secret)
		}
	}
	at := bytes.Index(data, large)
	if want := slices.Concat(u32(1), []byte("free"), large[8:16], make([]byte, len(large)-16)); !bytes.Equal(got[at:at+len(large)], want) {
		t.Errorf("the 64-bit udta became %q, want %q", got[at:at+len(large)], want)
	}
	at = bytes.Index(data, xmp)
	if want := slices.Concat(xmp[:4], []byte("free"), make([]byte, len(xmp)-8)); !bytes.Equal(got[at:], want) {
		t.Errorf("the uuid box became %q, want %q", got[at:], want)
	}
}

// largeM4A is an M4A whose moov holds a udta with a 64-bit size and
// which ends with a top-level uuid box (XMP), with those two boxes.
func largeM4A() (data, large, xmp []byte) {
	xmp = isoBox("uuid", []byte("\xbe\x7a\xcf\xcb\x97\xa9\x42\xe8\x9c\x71\x99\x94\x91\xe3\xaf\xac"), []byte("exif:GPSLatitude=\"48,51.4018N\""))
	body := qtLoc()
	large = slices.Concat(u32(1), []byte("udta"), []byte{0, 0, 0, 0, 0, 0, 0, byte(16 + len(body))}, body)
	moov := isoBox("moov", fullBox("mvhd", 0, make([]byte, 96)), large)
	return slices.Concat(isoBox("ftyp", []byte("M4A "), u32(0)), moov, xmp), large, xmp
}

// qtLoc is a ©xyz box holding the test location.
func qtLoc() []byte {
	return isoBox("\xa9xyz", u16(len(voiceNoteLocation)), u16(0), []byte(voiceNoteLocation))
}

// FuzzStripMP4: stripping any input that sniffs as MP4 never panics,
// keeps its length and is idempotent.
func FuzzStripMP4(f *testing.F) {
	f.Add(phoneM4A(false).data)
	f.Add(phoneM4A(true).data)
	f.Fuzz(func(t *testing.T, data []byte) {
		if !isMP4(data) {
			return
		}
		once, err := StripMetadata(data)
		if err != nil {
			return
		}
		if len(once) != len(data) {
			t.Fatalf("stripping changed the length: %d, want %d", len(once), len(data))
		}
		twice, err := StripMetadata(once)
		if err != nil {
			t.Fatalf("stripping a stripped file failed: %v", err)
		}
		if !bytes.Equal(twice, once) {
			t.Fatal("stripping is not idempotent")
		}
	})
}

// voiceNoteFile is phoneM4A(true) as a file, for the end-to-end tests;
// TestVoiceNoteFile keeps it the same.
const voiceNoteFile = "testdata/voice.m4a"

// TestVoiceNoteFile: the committed fixture is what phoneM4A builds
// (FIELDSYNC_UPDATE_FIXTURES=1 rewrites it).
func TestVoiceNoteFile(t *testing.T) {
	want := phoneM4A(true).data
	if os.Getenv("FIELDSYNC_UPDATE_FIXTURES") != "" {
		if err := os.WriteFile(voiceNoteFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(voiceNoteFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s is not what phoneM4A builds (%v); rerun with FIELDSYNC_UPDATE_FIXTURES=1", voiceNoteFile, err)
	}
}
