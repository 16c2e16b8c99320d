package model

import "slices"

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
