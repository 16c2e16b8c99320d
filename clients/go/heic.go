package fieldsync

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"io"
	"slices"
	"strings"

	"github.com/fieldsync/fieldsync/model"
)

// HEIC photos (issue 16 item 6; iPhones save HEIC by default) are ISO
// base media files: a top-level meta box lists the items (iinf) and where
// their bytes are (iloc: extents in the file, usually inside mdat, or
// inside the meta box's idat). The location and device metadata are
// items of their own: an Exif item (a TIFF structure: GPS IFD, maker
// note, camera serial numbers) and mime items (XMP, which may repeat the
// GPS position as exif:GPSLatitude). Stripping overwrites those items'
// bytes in place with neutral bytes of the same length, so no offset in
// the file moves and every other byte is kept as it was:
//
//   - an Exif item becomes its 4-byte header offset and "Exif\0\0"
//     prefix followed by a minimal TIFF holding at most the Orientation
//     tag, then zeros (or zeros only, if its header is not the usual);
//   - an XMP item becomes an empty XMP packet padded with spaces; any
//     other mime item and any uri item become zeros.
//
// A HEIC's orientation is not in its Exif: the irot and imir item
// properties (in iprp, inside meta) rotate and mirror the image, and
// viewers apply them, not the Exif tag; stripping does not touch them.
//
// It fails closed like the JPEG and PNG stripping: a file whose boxes,
// items or item locations it cannot follow, whose metadata item lies
// outside mdat or idat, or that holds boxes or items it does not know
// as harmless (a moov box, whose udta may carry a QuickTime location; a
// top-level uuid box; an item type outside heicImageItems) is refused
// with model.CodeMediaType; AttachOptions.KeepMetadata uploads it as it
// is.

// maxHEICMeta bounds the meta box read into memory (a phone's is a few
// kilobytes; the image data is in mdat).
const maxHEICMeta = 4 << 20

// maxEXIFRead bounds the bytes of an Exif item read to find its
// orientation.
const maxEXIFRead = 64 << 10

// heicTopLevel are the top-level boxes a HEIC may hold.
var heicTopLevel = []string{"ftyp", "meta", "mdat", "free", "skip"}

// heicImageItems are the item types that hold pixels or describe how
// image items combine; they are kept as they are.
var heicImageItems = []string{"hvc1", "hev1", "av01", "avc1", "jpeg", "vvc1", "j2k1", "unci", "grid", "iovl", "iden", "tmap", "mski"}

// emptyXMP is the XMP packet an XMP item becomes (padded with spaces
// before its end processing instruction).
const (
	emptyXMPStart = "<?xpacket begin=\"\ufeff\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>"
	emptyXMPEnd   = "<?xpacket end=\"w\"?>"
)

// patch overwrites n bytes of a file at off: data, then zeros.
type patch struct {
	off  int64
	n    int64
	data []byte
}

// apply overwrites the part of buf (the file's bytes from base on) that
// the patch covers.
func (p patch) apply(buf []byte, base int64) {
	from, to := max(p.off, base), min(p.off+p.n, base+int64(len(buf)))
	for i := from; i < to; i++ {
		b := byte(0)
		if k := i - p.off; k < int64(len(p.data)) {
			b = p.data[k]
		}
		buf[i-base] = b
	}
}

// applyPatches overwrites buf (the file's bytes from base on) with ps.
func applyPatches(buf []byte, base int64, ps []patch) {
	for _, p := range ps {
		p.apply(buf, base)
	}
}

func badHEIC(why string) error {
	return model.Errorf(model.CodeMediaType, "The photo is a HEIC whose location metadata cannot be removed (%s); it was not uploaded. Attach it keeping its metadata only if its location may be known to every reader.", why)
}

// box is an ISO base media box: its type and where its payload is (in
// the file or in a parent's payload).
type box struct {
	kind       string
	start, end int64 // the payload, after the header
}

// readBox reads the header of the box at off in r (whose boxes end at
// limit).
func readBox(r io.ReaderAt, off, limit int64) (box, error) {
	var h [16]byte
	if off+8 > limit {
		return box{}, badHEIC("a box is cut short")
	}
	if _, err := r.ReadAt(h[:8], off); err != nil {
		return box{}, badHEIC("a box is cut short")
	}
	size, b := int64(binary.BigEndian.Uint32(h[:])), box{kind: string(h[4:8]), start: off + 8}
	switch size {
	case 0:
		size = limit - off
	case 1:
		if off+16 > limit {
			return box{}, badHEIC("a box is cut short")
		}
		if _, err := r.ReadAt(h[8:16], off+8); err != nil {
			return box{}, badHEIC("a box is cut short")
		}
		if size = int64(binary.BigEndian.Uint64(h[8:])); size < 0 {
			return box{}, badHEIC("a box is too large")
		}
		b.start += 8
	}
	if b.kind == "uuid" {
		b.start += 16
	}
	if b.end = off + size; size < b.start-off || b.end > limit || b.end < off {
		return box{}, badHEIC("a box is larger than what holds it")
	}
	return b, nil
}

// children returns the boxes inside [start, end) of r.
func children(r io.ReaderAt, start, end int64) ([]box, error) {
	var out []box
	for off := start; off < end; {
		b, err := readBox(r, off, end)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		off = b.end
	}
	return out, nil
}

// heicItem is an item of iinf with the extents iloc gives it.
type heicItem struct {
	id      uint32
	kind    string // item_type
	content string // a mime item's content type
	method  int    // iloc construction_method: 0 file, 1 idat
	extents []extent
}

// extent is a run of an item's bytes: off is in the file (method 0) or
// in idat's payload (method 1); n == 0 means "to the end".
type extent struct{ off, n int64 }

// heicPatches returns the patches that blank the Exif, XMP and other
// metadata items of the HEIC in r (size bytes), or a media_type error if
// the file cannot be followed.
func heicPatches(r io.ReaderAt, size int64) ([]patch, error) {
	top, err := children(r, 0, size)
	if err != nil {
		return nil, err
	}
	var meta *box
	var mdats []box
	for i, b := range top {
		switch {
		case i == 0 && b.kind != "ftyp":
			return nil, badHEIC("it does not start with ftyp")
		case !slices.Contains(heicTopLevel, b.kind):
			return nil, badHEIC("it holds a " + printable(b.kind) + " box")
		case b.kind == "meta" && meta != nil:
			return nil, badHEIC("it holds two meta boxes")
		case b.kind == "meta":
			meta = &top[i]
		case b.kind == "mdat":
			mdats = append(mdats, b)
		}
	}
	if meta == nil {
		return nil, badHEIC("it has no meta box")
	}
	if meta.end-meta.start > maxHEICMeta {
		return nil, badHEIC("its meta box is too large")
	}
	items, idat, err := heicItems(r, *meta)
	if err != nil {
		return nil, err
	}
	var ps []patch
	for _, it := range items {
		replace, strip, err := itemReplacement(it)
		if err != nil {
			return nil, err
		}
		if !strip {
			continue
		}
		runs, err := itemRuns(it, idat, mdats, size)
		if err != nil {
			return nil, err
		}
		data, err := replace(r, runs)
		if err != nil {
			return nil, err
		}
		ps = append(ps, spread(data, runs)...)
	}
	// By offset, then length: the overlap check below then decides the
	// same for any sort (an empty run at another run's start overlaps
	// nothing), which the TypeScript port (heic.ts) relies on.
	slices.SortFunc(ps, func(a, b patch) int { return cmp.Or(cmp.Compare(a.off, b.off), cmp.Compare(a.n, b.n)) })
	for i := 1; i < len(ps); i++ {
		if ps[i-1].off+ps[i-1].n > ps[i].off {
			return nil, badHEIC("two of its metadata items overlap")
		}
	}
	return ps, nil
}

// printable names a box type in an error sentence without echoing bytes
// that are not letters or digits.
func printable(kind string) string {
	for _, c := range []byte(kind) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != ' ' {
			return "non-standard"
		}
	}
	return "'" + kind + "'"
}

// heicItems parses meta's iinf and iloc (and finds idat) and returns the
// items with their locations.
func heicItems(r io.ReaderAt, meta box) ([]heicItem, box, error) {
	if meta.end-meta.start < 4 {
		return nil, box{}, badHEIC("its meta box is cut short")
	}
	kids, err := children(r, meta.start+4, meta.end) // meta is a full box
	if err != nil {
		return nil, box{}, err
	}
	var iinf, iloc []byte
	idat := box{start: -1}
	for _, k := range kids {
		if k.kind != "iinf" && k.kind != "iloc" && k.kind != "idat" {
			continue
		}
		if k.kind == "idat" {
			if idat.start >= 0 {
				return nil, box{}, badHEIC("it holds two idat boxes")
			}
			idat = k
			continue
		}
		payload := make([]byte, k.end-k.start)
		if _, err := r.ReadAt(payload, k.start); err != nil {
			return nil, box{}, badHEIC("a box is cut short")
		}
		if p := map[string]*[]byte{"iinf": &iinf, "iloc": &iloc}[k.kind]; *p != nil {
			return nil, box{}, badHEIC("it holds two " + k.kind + " boxes")
		} else {
			*p = payload
		}
	}
	if iinf == nil || iloc == nil {
		return nil, box{}, badHEIC("its meta box lacks iinf or iloc")
	}
	items, err := parseIINF(iinf)
	if err != nil {
		return nil, box{}, err
	}
	if err := parseILOC(iloc, items); err != nil {
		return nil, box{}, err
	}
	return items, idat, nil
}

// reader reads big-endian fields from a box's payload; a read past the
// end sets bad and returns zero.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uint(n int) uint64 {
	if n == 0 {
		return 0
	}
	if r.bad || len(r.b) < n || n > 8 {
		r.bad = true
		return 0
	}
	var v uint64
	for _, c := range r.b[:n] {
		v = v<<8 | uint64(c)
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	i := bytes.IndexByte(r.b, 0)
	if r.bad || i < 0 {
		r.bad = true
		return ""
	}
	s := string(r.b[:i])
	r.b = r.b[i+1:]
	return s
}

// parseIINF returns the items an iinf payload lists.
func parseIINF(p []byte) ([]heicItem, error) {
	rd := &reader{b: p}
	version := rd.uint(1)
	rd.uint(3)
	count := rd.uint(2)
	if version > 0 {
		count = count<<16 | rd.uint(2)
	}
	if rd.bad {
		return nil, badHEIC("its iinf box is cut short")
	}
	kids, err := children(bytes.NewReader(rd.b), 0, int64(len(rd.b)))
	if err != nil {
		return nil, err
	}
	if uint64(len(kids)) != count {
		return nil, badHEIC("its iinf box does not hold as many items as it says")
	}
	items := make([]heicItem, 0, len(kids))
	for _, k := range kids {
		if k.kind != "infe" {
			return nil, badHEIC("its iinf box holds a box that is not infe")
		}
		it, err := parseINFE(rd.b[k.start:k.end])
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(items, func(o heicItem) bool { return o.id == it.id }) {
			return nil, badHEIC("two items have the same id")
		}
		items = append(items, it)
	}
	return items, nil
}

// parseINFE returns the item an infe payload describes.
func parseINFE(p []byte) (heicItem, error) {
	rd := &reader{b: p}
	version := rd.uint(1)
	rd.uint(3)
	var it heicItem
	switch version {
	case 0, 1: // item_ID, protection, name, content type: a mime item
		it.id = uint32(rd.uint(2))
		rd.uint(2)
		rd.str()
		it.kind, it.content = "mime", rd.str()
	case 2, 3:
		it.id = uint32(rd.uint(int(version)*2 - 2))
		rd.uint(2)
		it.kind = string(rd.b[:min(4, len(rd.b))])
		rd.uint(4)
		rd.str()
		if it.kind == "mime" {
			it.content = rd.str()
		}
	default:
		return it, badHEIC("an item is described in an unknown way")
	}
	if rd.bad {
		return it, badHEIC("an item's description is cut short")
	}
	return it, nil
}

// parseILOC sets the locations of items from an iloc payload.
func parseILOC(p []byte, items []heicItem) error {
	rd := &reader{b: p}
	version := rd.uint(1)
	rd.uint(3)
	sizes := rd.uint(2)
	offSize, lenSize, baseSize, idxSize := int(sizes>>12), int(sizes>>8&15), int(sizes>>4&15), int(sizes&15)
	if version == 0 {
		idxSize = 0
	}
	for _, s := range []int{offSize, lenSize, baseSize, idxSize} {
		if s != 0 && s != 4 && s != 8 {
			return badHEIC("its iloc box uses a field size it may not")
		}
	}
	if version > 2 {
		return badHEIC("its iloc box is of an unknown version")
	}
	idSize := 2
	if version == 2 {
		idSize = 4
	}
	count := rd.uint(idSize)
	for range count {
		if rd.bad {
			break
		}
		id := uint32(rd.uint(idSize))
		method := 0
		if version > 0 {
			method = int(rd.uint(2) & 15)
		}
		dataRef, base, n := rd.uint(2), rd.uint(baseSize), rd.uint(2)
		var exts []extent
		for range n {
			rd.uint(idxSize)
			off, ln := rd.uint(offSize), rd.uint(lenSize)
			if rd.bad {
				break
			}
			if base+off < base || base+off > 1<<62 || ln > 1<<62 {
				return badHEIC("an item lies outside the file")
			}
			exts = append(exts, extent{int64(base + off), int64(ln)})
		}
		i := slices.IndexFunc(items, func(it heicItem) bool { return it.id == id })
		if i < 0 || items[i].extents != nil || dataRef != 0 {
			return badHEIC("its iloc box names an item iinf does not, twice, or in another file")
		}
		items[i].method, items[i].extents = method, exts
	}
	if rd.bad {
		return badHEIC("its iloc box is cut short")
	}
	return nil
}

// replacer returns the bytes (n of them, or fewer: zeros follow) that
// replace an item whose bytes are the runs of r.
type replacer func(r io.ReaderAt, runs []extent) ([]byte, error)

// itemReplacement says whether item it is stripped, and how.
func itemReplacement(it heicItem) (replacer, bool, error) {
	switch {
	case it.kind == "Exif":
		return exifReplacement, true, nil
	case it.kind == "mime" && isXMP(it.content):
		return xmpReplacement, true, nil
	case it.kind == "mime" || it.kind == "uri ":
		return func(io.ReaderAt, []extent) ([]byte, error) { return nil, nil }, true, nil
	case slices.Contains(heicImageItems, it.kind):
		return nil, false, nil
	}
	return nil, false, badHEIC("it holds an item of a type the SDK does not know as harmless")
}

// isXMP reports whether a mime item's content type is XMP's.
func isXMP(content string) bool {
	media, _, _ := strings.Cut(content, ";")
	return strings.EqualFold(strings.TrimSpace(media), "application/rdf+xml")
}

// itemRuns returns an item's extents as file offsets with their lengths,
// each required to lie inside idat (method 1) or an mdat (method 0).
func itemRuns(it heicItem, idat box, mdats []box, size int64) ([]extent, error) {
	var within []box
	base := int64(0)
	switch it.method {
	case 0:
		within = mdats
	case 1:
		if idat.start < 0 {
			return nil, badHEIC("an item is in an idat box it does not have")
		}
		within, base = []box{idat}, idat.start
	default:
		return nil, badHEIC("a metadata item is built from other items")
	}
	runs := make([]extent, 0, len(it.extents))
	for _, e := range it.extents {
		off, n := base+e.off, e.n
		if e.off > size {
			return nil, badHEIC("an item lies outside the file")
		}
		i := slices.IndexFunc(within, func(b box) bool { return off >= b.start && off <= b.end })
		if i < 0 {
			return nil, badHEIC("a metadata item lies outside mdat and idat")
		}
		if n == 0 {
			n = within[i].end - off
		}
		if n > within[i].end-off {
			return nil, badHEIC("a metadata item lies outside mdat and idat")
		}
		runs = append(runs, extent{off, n})
	}
	return runs, nil
}

// spread cuts data (the new bytes of an item, zeros after it) into one
// patch per run.
func spread(data []byte, runs []extent) []patch {
	ps := make([]patch, 0, len(runs))
	for _, e := range runs {
		k := min(int64(len(data)), e.n)
		ps = append(ps, patch{off: e.off, n: e.n, data: data[:k]})
		data = data[k:]
	}
	return ps
}

// itemHead reads up to limit of an item's first bytes.
func itemHead(r io.ReaderAt, runs []extent, limit int64) ([]byte, int64, error) {
	var head []byte
	total := int64(0)
	for _, e := range runs {
		total += e.n
		if k := min(e.n, limit-int64(len(head))); k > 0 {
			buf := make([]byte, k)
			if _, err := r.ReadAt(buf, e.off); err != nil {
				return nil, 0, badHEIC("an item is cut short")
			}
			head = append(head, buf...)
		}
	}
	return head, total, nil
}

// exifReplacement keeps an Exif item's header (its TIFF offset and
// "Exif\0\0") and writes a minimal TIFF after it: the Orientation tag if
// the original had one other than the default, else no tag at all.
func exifReplacement(r io.ReaderAt, runs []extent) ([]byte, error) {
	head, total, err := itemHead(r, runs, maxEXIFRead)
	if err != nil {
		return nil, err
	}
	if len(head) < 4 {
		return nil, nil
	}
	skip := binary.BigEndian.Uint32(head)
	prefix := head[4:min(int64(len(head)), 4+int64(skip))]
	if skip != 0 && (skip != 6 || string(prefix) != "Exif\x00\x00") {
		return nil, nil
	}
	if t := head[4+len(prefix):]; !bytes.HasPrefix(t, []byte("MM\x00*")) && !bytes.HasPrefix(t, []byte("II*\x00")) {
		return nil, nil // not a TIFF structure: zeros (stripping zeros again gives zeros)
	}
	tiff := orientationEXIF(exifOrientation(head[4+skip:]))
	if tiff == nil {
		tiff = []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0} // no tags
	}
	out := append(append(binary.BigEndian.AppendUint32(nil, skip), prefix...), tiff...)
	if int64(len(out)) > total {
		return nil, nil
	}
	return out, nil
}

// xmpReplacement is an empty XMP packet of the item's length (spaces
// only if the packet does not fit).
func xmpReplacement(_ io.ReaderAt, runs []extent) ([]byte, error) {
	total := int64(0)
	for _, e := range runs {
		total += e.n
	}
	pad := total - int64(len(emptyXMPStart)+len(emptyXMPEnd))
	if pad < 0 || total > maxHEICMeta {
		if total > maxHEICMeta {
			return nil, nil // zeros rather than megabytes of spaces
		}
		return bytes.Repeat([]byte{' '}, int(total)), nil
	}
	return []byte(emptyXMPStart + strings.Repeat(" ", int(pad)) + emptyXMPEnd), nil
}
