package model

import (
	"bytes"
	"slices"
)

// FieldAttachments is the log field whose entries name uploaded files
// (blobs) by digest: each entry is {"digest", "size", "media_type",
// "name", "caption"}. Redacting an entry is how a file is removed.
const FieldAttachments = "attachments"

// FormatAttachment marks a log field whose entries name blobs (see
// FieldAttachments); sync/crdt checks each entry with CheckAttachment.
const FormatAttachment Format = "attachment"

// MaxAttachmentName bounds an attachment entry's file name and caption, in
// bytes.
const MaxAttachmentName = 255

// AttachmentTypes are the media types a blob may have, sniffed from its
// bytes by the server: photos and scans (JPEG, PNG, HEIC, PDF) and the
// audio containers phones record (WebM/Opus, MP4/AAC, Ogg). Nothing
// scriptable (SVG, HTML) is ever accepted.
var AttachmentTypes = []string{"image/jpeg", "image/png", "image/heic", "application/pdf", "audio/webm", "audio/mp4", "audio/ogg"}

// AllowedAttachmentType reports whether t is in AttachmentTypes.
func AllowedAttachmentType(t string) bool { return slices.Contains(AttachmentTypes, t) }

// SniffMedia names the media type of a file from its first bytes (at
// least 12 are needed for the ISO base media formats), among
// AttachmentTypes; anything else (SVG, HTML, scripts, unknown) is refused
// with CodeMediaType. The server sniffs every completed upload with it,
// and the SDKs name an attachment's type with it, so both agree.
func SniffMedia(head []byte) (string, error) {
	ftyp := len(head) >= 12 && string(head[4:8]) == "ftyp"
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg", nil
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png", nil
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return "application/pdf", nil
	case bytes.HasPrefix(head, []byte("OggS")):
		return "audio/ogg", nil
	case bytes.HasPrefix(head, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return "audio/webm", nil
	case ftyp && slices.Contains(heicBrands, string(head[8:12])):
		return "image/heic", nil
	case ftyp && slices.Contains(mp4AudioBrands, string(head[8:12])):
		return "audio/mp4", nil
	}
	return "", Errorf(CodeMediaType, "The file is not of an allowed type (%v, sniffed from its bytes).", AttachmentTypes)
}

// heicBrands are the major brands of an ftyp box that sniff as HEIC.
var heicBrands = []string{"heic", "heix", "heim", "heis", "mif1", "msf1"}

// mp4AudioBrands are the major brands that sniff as MP4 audio.
var mp4AudioBrands = []string{"M4A ", "M4B ", "mp42", "mp41", "isom", "iso2", "3gp4", "3gp5"}

// ValidDigest reports whether d is a SHA-256 digest in lowercase hex.
func ValidDigest(d string) bool {
	if len(d) != 64 {
		return false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// attachmentsOf is the attachments log of a kind: written by the field
// team (a visitor too: write without read), redacted by supervisors.
func attachmentsOf() *Field {
	f := logOf(fieldTeam, "digest", "media_type")
	f.Format = FormatAttachment
	return f
}
