package fieldsync

import (
	"bytes"
	"io"
	"slices"

	"github.com/fieldsync/fieldsync/model"
)

// Voice notes and videos (issue 16 item 6): an MP4 or M4A (what phones
// record AAC voice notes in) is an ISO base media file like a HEIC, and
// its metadata may carry where it was recorded: a QuickTime ©xyz string
// (ISO 6709, "+48.8577+002.2950/") or a 3GPP loci box in a udta box, the
// Apple key com.apple.quicktime.location.ISO6709 in a meta box
// (keys and ilst), or XMP in a uuid box. The same boxes hold the phone's
// make, model and software, and the recording's title, which voice
// recorders set to the place's name. Stripping blanks every udta, meta
// and uuid box of the file, at the top level or inside the movie's
// containers (mp4Containers), in place: the box keeps its size, its type
// becomes free (which every player skips) and its payload becomes zeros,
// so no offset in the file moves (sample tables point into mdat by
// offset) and every other byte is kept as it was.
//
// It fails closed like the photo stripping: a file whose boxes it cannot
// follow, that has no moov box or two, that holds a top-level box outside
// mp4TopLevel, or a timed metadata track (handler "meta": iPhone videos
// record the location in one, as samples in mdat) is refused with
// model.CodeMediaType; AttachOptions.KeepMetadata uploads it as it is.

// mp4TopLevel are the top-level boxes an MP4 may hold and keeps.
var mp4TopLevel = []string{"ftyp", "moov", "mdat", "free", "skip", "wide", "pdin", "moof", "mfra", "sidx", "styp"}

// mp4Blanked are the boxes stripping blanks wherever it meets them.
var mp4Blanked = []string{"udta", "meta", "uuid"}

// mp4Containers are the boxes whose children stripping looks into.
var mp4Containers = []string{"moov", "trak", "mdia", "minf", "stbl", "edts", "dinf", "mvex", "moof", "traf", "mfra"}

// maxMP4Boxes bounds the boxes read in a file's movie structure (a
// voice note has a few dozen).
const maxMP4Boxes = 100000

func badMP4(why string) error {
	return model.Errorf(model.CodeMediaType, "The file is an MP4 whose location metadata cannot be removed (%s); it was not uploaded. Attach it keeping its metadata only if where it was recorded may be known to every reader.", why)
}

// isMP4 reports whether head sniffs as an MP4 (audio/mp4).
func isMP4(head []byte) bool {
	media, _ := model.SniffMedia(head)
	return media == "audio/mp4"
}

// stripMP4 returns a copy of an MP4 with its metadata boxes blanked in
// place (mp4Patches): of the same length, every other byte unchanged.
func stripMP4(data []byte) ([]byte, error) {
	ps, err := mp4Patches(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(data)
	applyPatches(out, 0, ps)
	return out, nil
}

// mp4Box is a box with the offset of its header.
type mp4Box struct {
	box
	off int64
}

// mp4Children returns the boxes inside [start, end) of r.
func mp4Children(r io.ReaderAt, start, end int64, budget *int) ([]mp4Box, error) {
	var out []mp4Box
	for off := start; off < end; {
		if *budget--; *budget < 0 {
			return nil, badMP4("it holds too many boxes")
		}
		b, err := readBox(r, off, end)
		if err != nil {
			return nil, badMP4("its boxes cannot be followed")
		}
		out = append(out, mp4Box{b, off})
		off = b.end
	}
	return out, nil
}

// mp4Patches returns the patches that blank the metadata boxes of the
// MP4 in r (size bytes), or a media_type error if the file cannot be
// followed.
func mp4Patches(r io.ReaderAt, size int64) ([]patch, error) {
	budget := maxMP4Boxes
	top, err := mp4Children(r, 0, size, &budget)
	if err != nil {
		return nil, err
	}
	moovs := 0
	var ps []patch
	for i, b := range top {
		switch {
		case (i == 0) != (b.kind == "ftyp"):
			return nil, badMP4("it does not start with its one ftyp box")
		case slices.Contains(mp4Blanked, b.kind):
			ps = append(ps, blankBox(b)...)
		case !slices.Contains(mp4TopLevel, b.kind):
			return nil, badMP4("it holds a " + printable(b.kind) + " box")
		case b.kind == "moov":
			moovs++
		}
		if slices.Contains(mp4Containers, b.kind) {
			inner, err := mp4Inner(r, b, &budget)
			if err != nil {
				return nil, err
			}
			ps = append(ps, inner...)
		}
	}
	if moovs != 1 {
		return nil, badMP4("it does not hold exactly one moov box")
	}
	return ps, nil
}

// mp4Inner returns the patches that blank the metadata boxes inside the
// container c, refusing a timed metadata track.
func mp4Inner(r io.ReaderAt, c mp4Box, budget *int) ([]patch, error) {
	kids, err := mp4Children(r, c.start, c.end, budget)
	if err != nil {
		return nil, err
	}
	var ps []patch
	for _, k := range kids {
		switch {
		case slices.Contains(mp4Blanked, k.kind):
			ps = append(ps, blankBox(k)...)
		case k.kind == "hdlr" && c.kind == "mdia":
			var h [12]byte // version and flags, pre_defined, handler_type
			if k.end-k.start < 12 {
				return nil, badMP4("a track's handler is cut short")
			}
			if _, err := r.ReadAt(h[:], k.start); err != nil {
				return nil, badMP4("a track's handler is cut short")
			}
			if string(h[8:12]) == "meta" {
				return nil, badMP4("it holds a timed metadata track")
			}
		case slices.Contains(mp4Containers, k.kind):
			inner, err := mp4Inner(r, k, budget)
			if err != nil {
				return nil, err
			}
			ps = append(ps, inner...)
		}
	}
	return ps, nil
}

// blankBox returns the patches that turn box b into a free box of the
// same size: its type becomes "free" and every byte after its size
// fields (a uuid box's user type included) becomes zero.
func blankBox(b mp4Box) []patch {
	sizes := int64(8) // the 32-bit size and the type
	if h := b.start - b.off; h == 32 || h == 16 && b.kind != "uuid" {
		sizes = 16 // a 64-bit size follows the type
	}
	return []patch{{off: b.off + 4, n: 4, data: []byte("free")}, {off: b.off + sizes, n: b.end - b.off - sizes}}
}
