/**
 * Photo metadata (issue 16 item 6), the TypeScript twin of the Go SDK's
 * clients/go/strip.go, byte for byte: a photo taken at a shelter must not
 * carry the shelter's coordinates, or the phone that took it, to every
 * reader of the record. stripMetadata removes what cameras write beside
 * the pixels, keeping only what is needed to show the picture the right
 * way: colour (JFIF without its thumbnail, ICC profile, Adobe) and the
 * EXIF orientation, kept as a minimal EXIF holding that one tag (rotating
 * the pixels would re-compress a document whose small print matters;
 * browsers honour the tag). Invariants:
 *
 *  - It keeps by a list, never drops by one: a segment or chunk it does
 *    not know as harmless is removed.
 *  - A HEIC photo (iPhones' default) has its Exif, XMP and other metadata
 *    items blanked in place (heic.ts), and an MP4/M4A voice note its udta,
 *    meta and uuid boxes (mp4.ts): same length, orientation kept, as the
 *    Go SDK's heic.go and mp4.go do.
 *  - A JPEG, PNG, HEIC or MP4 it cannot parse is refused (media_type),
 *    never passed on as it is: it fails closed.
 *  - Stripping a stripped file changes nothing; any other file is
 *    returned unchanged.
 */
import { errorf } from "./errors.js";
import { stripHEIC } from "./heic.js";
import { stripMP4 } from "./mp4.js";

/** PNG_SIGNATURE opens every PNG file. */
const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * PNG_KEEP are the PNG chunks kept: the critical ones and those that only
 * say how to render the pixels. Everything else (eXIf, tEXt, iTXt, zTXt,
 * tIME, private chunks) is dropped.
 */
const PNG_KEEP = new Set([
  "IHDR", "PLTE", "IDAT", "IEND", "tRNS", "cHRM", "gAMA", "iCCP", "sBIT", "sRGB",
  "cICP", "mDCV", "cLLI", "bKGD", "hIST", "pHYs", "sPLT", "acTL", "fcTL", "fdAT",
]); // prettier-ignore

const latin1 = (b: Uint8Array): string => String.fromCharCode(...b);
const startsWith = (b: Uint8Array, prefix: Uint8Array | string): boolean => {
  const p = typeof prefix === "string" ? Uint8Array.from(prefix, (c) => c.charCodeAt(0)) : prefix;
  return b.length >= p.length && p.every((x, i) => b[i] === x);
};

/** isJPEG and isPNG tell the two formats stripped by their first bytes. */
export const isJPEG = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0xff && b[1] === 0xd8;
export const isPNG = (b: Uint8Array): boolean => startsWith(b, PNG_SIGNATURE);

/** HEIC_BRANDS and MP4_BRANDS are the ftyp brands the server sniffs as image/heic and audio/mp4 (model.SniffMedia). */
const HEIC_BRANDS = ["heic", "heix", "heim", "heis", "mif1", "msf1"];
const MP4_BRANDS = ["M4A ", "M4B ", "mp42", "mp41", "isom", "iso2", "3gp4", "3gp5"];

/** ftypBrand is the major brand of an ISO base media file as model.SniffMedia reads it ("" if it sniffs as another type first). */
const ftypBrand = (b: Uint8Array): string =>
  b.length >= 12 && latin1(b.subarray(4, 8)) === "ftyp" && !startsWith(b, "OggS") && !startsWith(b, "\x1a\x45\xdf\xa3") ? latin1(b.subarray(8, 12)) : "";

/** isHEIC and isMP4 tell a HEIC photo and an MP4 (audio/mp4) by their ftyp box's major brand, as the server sniffs them. */
export const isHEIC = (b: Uint8Array): boolean => HEIC_BRANDS.includes(ftypBrand(b));
export const isMP4 = (b: Uint8Array): boolean => MP4_BRANDS.includes(ftypBrand(b));

const badJPEG = (): Error => errorf("media_type", "The photo is not a well-formed JPEG, so its location metadata cannot be removed; it was not attached.");
const badPNG = (): Error => errorf("media_type", "The picture is not a well-formed PNG, so its metadata cannot be removed; it was not attached.");

/**
 * stripMetadata returns data without the location and device metadata of
 * a JPEG or PNG photo: for a JPEG every APPn segment except JFIF (without
 * its thumbnail), an ICC profile and Adobe's, every comment, and anything
 * after the end of the image; for a PNG every chunk outside PNG_KEEP and
 * anything after IEND. An EXIF orientation other than the default is kept
 * as a minimal EXIF with that one tag. A HEIC has its metadata items and
 * an MP4 its udta, meta and uuid boxes blanked in place (same length).
 * Any other data is returned unchanged. A file that starts like a JPEG,
 * PNG, HEIC or MP4 but cannot be parsed throws FieldsyncError media_type.
 */
export function stripMetadata(data: Uint8Array): Uint8Array {
  if (isJPEG(data)) {
    return stripJPEG(data);
  }
  if (isPNG(data)) {
    return stripPNG(data);
  }
  if (isHEIC(data)) {
    return stripHEIC(data);
  }
  if (isMP4(data)) {
    return stripMP4(data);
  }
  return data;
}

/** A JPEG segment: its marker and bytes (for a start of scan, the entropy-coded data after it too). */
interface Segment {
  marker: number;
  raw: Uint8Array;
}

const payload = (s: Segment): Uint8Array => (s.raw.length < 4 ? new Uint8Array(0) : s.raw.subarray(4));

function stripJPEG(data: Uint8Array): Uint8Array {
  const segs = jpegSegments(data);
  let orientation = 0;
  const kept: Segment[] = [];
  for (const s of segs) {
    if (s.marker === 0xe1 && orientation === 0) {
      const p = payload(s);
      orientation = exifOrientation(startsWith(p, "Exif\0\0") ? p.subarray(6) : p);
    }
    const k = jpegKeep(s);
    if (k !== undefined) {
      kept.push(k);
    }
  }
  let exif = orientationEXIF(orientation);
  const parts: Uint8Array[] = [new Uint8Array([0xff, 0xd8])];
  for (const [i, s] of kept.entries()) {
    if (exif !== undefined && (i > 0 || s.marker !== 0xe0)) {
      const n = exif.length + 8;
      parts.push(new Uint8Array([0xff, 0xe1, (n >> 8) & 0xff, n & 0xff, 0x45, 0x78, 0x69, 0x66, 0, 0]), exif);
      exif = undefined;
    }
    parts.push(s.raw);
  }
  return concat(parts);
}

/** jpegSegments splits data (which starts with SOI) into its segments up to and including EOI. */
function jpegSegments(data: Uint8Array): Segment[] {
  const segs: Segment[] = [];
  let pos = 2;
  for (;;) {
    if (pos >= data.length || data[pos] !== 0xff) {
      throw badJPEG();
    }
    while (pos < data.length && data[pos] === 0xff) {
      pos++;
    }
    if (pos >= data.length) {
      throw badJPEG();
    }
    const m = data[pos]!;
    const start = pos - 1;
    pos++;
    if (m === 0xd9) {
      segs.push({ marker: m, raw: data.subarray(start, pos) });
      return segs;
    }
    if ((m >= 0xd0 && m <= 0xd7) || m === 0x01) {
      segs.push({ marker: m, raw: data.subarray(start, pos) });
      continue;
    }
    if (m === 0x00 || m === 0xd8) {
      throw badJPEG();
    }
    if (pos + 2 > data.length) {
      throw badJPEG();
    }
    let end = pos + ((data[pos]! << 8) | data[pos + 1]!);
    if (end < pos + 2 || end > data.length) {
      throw badJPEG();
    }
    if (m === 0xda) {
      end = scanEnd(data, end);
      if (end < 0) {
        throw badJPEG();
      }
    }
    segs.push({ marker: m, raw: data.subarray(start, end) });
    pos = end;
  }
}

/** scanEnd returns the index of the marker ending the entropy-coded data from i, or -1. */
function scanEnd(data: Uint8Array, i: number): number {
  for (; i + 1 < data.length; i++) {
    if (data[i] !== 0xff) {
      continue;
    }
    const b = data[i + 1]!;
    if (b !== 0x00 && (b < 0xd0 || b > 0xd7)) {
      return i;
    }
    i++;
  }
  return -1;
}

/** jpegKeep returns the segment to keep in place of s, if any. */
function jpegKeep(s: Segment): Segment | undefined {
  const p = payload(s);
  if (s.marker === 0xe0 && startsWith(p, "JFIF\0") && p.length >= 14) {
    return { marker: s.marker, raw: concat([new Uint8Array([0xff, 0xe0, 0x00, 0x10]), p.subarray(0, 12), new Uint8Array([0, 0])]) };
  }
  if (s.marker === 0xe2) {
    return startsWith(p, "ICC_PROFILE\0") ? s : undefined;
  }
  if (s.marker === 0xee) {
    return startsWith(p, "Adobe") ? s : undefined;
  }
  if ((s.marker >= 0xe0 && s.marker <= 0xef) || s.marker === 0xfe) {
    return undefined;
  }
  return s;
}

/** exifOrientation returns the Orientation tag (1 to 8) of a TIFF structure's first IFD, or 0. */
export function exifOrientation(tiff: Uint8Array): number {
  if (tiff.length < 8) {
    return 0;
  }
  const order = latin1(tiff.subarray(0, 2));
  if (order !== "II" && order !== "MM") {
    return 0;
  }
  const le = order === "II";
  const v = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  if (v.getUint16(2, le) !== 42) {
    return 0;
  }
  const ifd = v.getUint32(4, le);
  if (ifd + 2 > tiff.length) {
    return 0;
  }
  const n = v.getUint16(ifd, le);
  for (let e = ifd + 2; e + 12 <= tiff.length && e < ifd + 2 + 12 * n; e += 12) {
    if (v.getUint16(e, le) === 0x0112 && v.getUint16(e + 2, le) === 3) {
      const o = v.getUint16(e + 8, le);
      return o >= 1 && o <= 8 ? o : 0;
    }
  }
  return 0;
}

/** orientationEXIF returns a big-endian TIFF structure whose only tag is Orientation o (undefined for none or 1). */
export function orientationEXIF(o: number): Uint8Array | undefined {
  if (o < 2 || o > 8) {
    return undefined;
  }
  // prettier-ignore
  return new Uint8Array([
    0x4d, 0x4d, 0, 42, 0, 0, 0, 8, // header, first IFD at 8
    0, 1, // one entry
    0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, o, 0, 0, // Orientation, SHORT, 1, o
    0, 0, 0, 0, // no next IFD
  ]);
}

function stripPNG(data: Uint8Array): Uint8Array {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const chunks: Array<{ kind: string; raw: Uint8Array }> = [];
  let orientation = 0;
  for (let pos = PNG_SIGNATURE.length; ; ) {
    if (pos + 12 > data.length) {
      throw badPNG();
    }
    const end = pos + 12 + v.getUint32(pos);
    if (end > data.length) {
      throw badPNG();
    }
    const c = { kind: latin1(data.subarray(pos + 4, pos + 8)), raw: data.subarray(pos, end) };
    if (chunks.length === 0 && c.kind !== "IHDR") {
      throw badPNG();
    }
    if (c.kind === "eXIf" && orientation === 0) {
      orientation = exifOrientation(c.raw.subarray(8, c.raw.length - 4));
    } else if (PNG_KEEP.has(c.kind)) {
      chunks.push(c);
    } else if (c.kind.charCodeAt(0) >= 0x41 && c.kind.charCodeAt(0) <= 0x5a) {
      throw badPNG(); // an unknown critical chunk
    }
    pos = end;
    if (c.kind === "IEND") {
      break;
    }
  }
  const parts: Uint8Array[] = [PNG_SIGNATURE];
  for (const [i, c] of chunks.entries()) {
    parts.push(c.raw);
    const exif = orientationEXIF(orientation);
    if (i === 0 && exif !== undefined) {
      parts.push(pngChunk("eXIf", exif));
    }
  }
  return concat(parts);
}

/** pngChunk returns a chunk of kind holding body, with its CRC. */
export function pngChunk(kind: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, body.length);
  out.set(Uint8Array.from(kind, (c) => c.charCodeAt(0)), 4);
  out.set(body, 8);
  v.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

let crcTable: Uint32Array | undefined;

/** crc32 is the IEEE CRC-32 of PNG chunks. */
function crc32(b: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) {
        c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const x of b) {
    c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** concat joins byte arrays into one. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
