/**
 * HEIC photos (issue 16 item 6), the TypeScript twin of the Go SDK's
 * clients/go/heic.go, byte for byte. A HEIC is an ISO base media file: a
 * top-level meta box lists the items (iinf) and where their bytes are
 * (iloc: in mdat, or in the meta box's idat). Location and device
 * metadata are items of their own (Exif: GPS IFD, maker note; XMP mime
 * items). Stripping overwrites those items in place with neutral bytes of
 * the same length, so no offset moves and every other byte is kept:
 *
 *  - an Exif item keeps its 4-byte header offset and "Exif\0\0" prefix
 *    followed by a minimal TIFF holding at most the Orientation tag, then
 *    zeros (zeros only if its header is not the usual);
 *  - an XMP item becomes an empty XMP packet padded with spaces; any other
 *    mime item and any uri item become zeros.
 *
 * The image's rotation lives in the irot/imir properties, which are kept.
 * It fails closed: a file whose boxes, items or item locations it cannot
 * follow, whose metadata item lies outside mdat or idat, or that holds a
 * box or item it does not know as harmless throws FieldsyncError
 * media_type. The box reader and patches are shared with mp4.ts.
 */
import { errorf, type FieldsyncError } from "./errors.js";
import { concat, exifOrientation, orientationEXIF } from "./strip.js";

/** MAX_META bounds the meta box (Go: maxHEICMeta). */
const MAX_META = 4 << 20;
/** MAX_EXIF_READ bounds the bytes of an Exif item read to find its orientation. */
const MAX_EXIF_READ = 64 << 10;

const TOP_LEVEL = ["ftyp", "meta", "mdat", "free", "skip"];
const IMAGE_ITEMS = ["hvc1", "hev1", "av01", "avc1", "jpeg", "vvc1", "j2k1", "unci", "grid", "iovl", "iden", "tmap", "mski"];

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const XMP_START = utf8('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"/>');
const XMP_END = utf8('<?xpacket end="w"?>');

export const latin1 = (b: Uint8Array): string => String.fromCharCode(...b);

/** A patch overwrites n bytes at off: data, then zeros. */
export interface Patch {
  off: number;
  n: number;
  data?: Uint8Array;
}

/** patched returns a copy of data with ps applied. */
export function patched(data: Uint8Array, ps: Patch[]): Uint8Array {
  const out = data.slice();
  for (const p of ps) {
    const to = Math.min(p.off + p.n, out.length);
    for (let i = p.off; i < to; i++) {
      const k = i - p.off;
      out[i] = p.data !== undefined && k < p.data.length ? p.data[k]! : 0;
    }
  }
  return out;
}

const bad = (why: string): FieldsyncError =>
  errorf("media_type", `The photo is a HEIC whose location metadata cannot be removed (${why}); it was not attached. Attach it with keepMetadata only if its location may be known to every reader.`);

/** A box: its type, the offset of its header, and its payload [start, end). */
export interface Box {
  kind: string;
  off: number;
  start: number;
  end: number;
}

const u32 = (d: Uint8Array, i: number): number => ((d[i]! << 24) | (d[i + 1]! << 16) | (d[i + 2]! << 8) | d[i + 3]!) >>> 0;

/** readBox reads the header of the box at off in d (whose boxes end at limit). */
export function readBox(d: Uint8Array, off: number, limit: number): Box {
  if (off + 8 > limit || off + 8 > d.length) {
    throw bad("a box is cut short");
  }
  let size = u32(d, off);
  const b: Box = { kind: latin1(d.subarray(off + 4, off + 8)), off, start: off + 8, end: 0 };
  if (size === 0) {
    size = limit - off;
  } else if (size === 1) {
    if (off + 16 > limit || off + 16 > d.length) {
      throw bad("a box is cut short");
    }
    if (d[off + 8]! >= 0x80) {
      throw bad("a box is too large");
    }
    size = u32(d, off + 8) * 2 ** 32 + u32(d, off + 12); // above 2^53 it is far larger than any limit anyway
    b.start += 8;
  }
  if (b.kind === "uuid") {
    b.start += 16;
  }
  b.end = off + size;
  if (size < b.start - off || b.end > limit) {
    throw bad("a box is larger than what holds it");
  }
  return b;
}

/** children returns the boxes inside [start, end) of d. */
export function children(d: Uint8Array, start: number, end: number): Box[] {
  const out: Box[] = [];
  for (let off = start; off < end; ) {
    const b = readBox(d, off, end);
    out.push(b);
    off = b.end;
  }
  return out;
}

/** An item of iinf with the extents iloc gives it (off in the file, or in idat for method 1; n 0: to the end). */
interface Item {
  id: number;
  kind: string;
  content: Uint8Array;
  method: number;
  extents?: Array<{ off: number; n: number }>;
}

/** stripHEIC returns a copy of a HEIC with its metadata items blanked in place. */
export function stripHEIC(d: Uint8Array): Uint8Array {
  return patched(d, heicPatches(d));
}

function heicPatches(d: Uint8Array): Patch[] {
  const top = children(d, 0, d.length);
  let meta: Box | undefined;
  const mdats: Box[] = [];
  for (const [i, b] of top.entries()) {
    if (i === 0 && b.kind !== "ftyp") {
      throw bad("it does not start with ftyp");
    } else if (!TOP_LEVEL.includes(b.kind)) {
      throw bad("it holds a box it does not know");
    } else if (b.kind === "meta" && meta !== undefined) {
      throw bad("it holds two meta boxes");
    } else if (b.kind === "meta") {
      meta = b;
    } else if (b.kind === "mdat") {
      mdats.push(b);
    }
  }
  if (meta === undefined) {
    throw bad("it has no meta box");
  }
  if (meta.end - meta.start > MAX_META) {
    throw bad("its meta box is too large");
  }
  const [items, idat] = heicItems(d, meta);
  const ps: Patch[] = [];
  for (const it of items) {
    const replace = replacement(it);
    if (replace === undefined) {
      continue;
    }
    const runs = itemRuns(it, idat, mdats, d.length);
    let data = replace(d, runs);
    for (const e of runs) {
      const k = Math.min(data.length, e.n);
      ps.push({ off: e.off, n: e.n, data: data.subarray(0, k) });
      data = data.subarray(k);
    }
  }
  ps.sort((a, b) => a.off - b.off || a.n - b.n);
  for (let i = 1; i < ps.length; i++) {
    if (ps[i - 1]!.off + ps[i - 1]!.n > ps[i]!.off) {
      throw bad("two of its metadata items overlap");
    }
  }
  return ps;
}

/** heicItems parses meta's iinf and iloc (and finds idat). */
function heicItems(d: Uint8Array, meta: Box): [Item[], Box | undefined] {
  if (meta.end - meta.start < 4) {
    throw bad("its meta box is cut short");
  }
  let iinf: Uint8Array | undefined;
  let iloc: Uint8Array | undefined;
  let idat: Box | undefined;
  for (const k of children(d, meta.start + 4, meta.end)) {
    if (k.kind === "idat") {
      if (idat !== undefined) {
        throw bad("it holds two idat boxes");
      }
      idat = k;
    } else if (k.kind === "iinf" || k.kind === "iloc") {
      if ((k.kind === "iinf" ? iinf : iloc) !== undefined) {
        throw bad(`it holds two ${k.kind} boxes`);
      }
      const p = d.subarray(k.start, k.end);
      k.kind === "iinf" ? (iinf = p) : (iloc = p);
    }
  }
  if (iinf === undefined || iloc === undefined) {
    throw bad("its meta box lacks iinf or iloc");
  }
  const items = parseIINF(iinf);
  parseILOC(iloc, items);
  return [items, idat];
}

/** Reader reads big-endian fields; a read past the end sets bad and returns zero. */
class Reader {
  bad = false;
  constructor(public b: Uint8Array) {}
  big(n: number): bigint {
    if (n === 0) {
      return 0n;
    }
    if (this.bad || this.b.length < n || n > 8) {
      this.bad = true;
      return 0n;
    }
    let v = 0n;
    for (const c of this.b.subarray(0, n)) {
      v = (v << 8n) | BigInt(c);
    }
    this.b = this.b.subarray(n);
    return v;
  }
  uint(n: number): number {
    return Number(this.big(n));
  }
  str(): Uint8Array {
    const i = this.b.indexOf(0);
    if (this.bad || i < 0) {
      this.bad = true;
      return new Uint8Array(0);
    }
    const s = this.b.subarray(0, i);
    this.b = this.b.subarray(i + 1);
    return s;
  }
}

function parseIINF(p: Uint8Array): Item[] {
  const rd = new Reader(p);
  const version = rd.uint(1);
  rd.uint(3);
  let count = rd.uint(2);
  if (version > 0) {
    count = count * 65536 + rd.uint(2);
  }
  if (rd.bad) {
    throw bad("its iinf box is cut short");
  }
  const kids = children(rd.b, 0, rd.b.length);
  if (kids.length !== count) {
    throw bad("its iinf box does not hold as many items as it says");
  }
  const items: Item[] = [];
  for (const k of kids) {
    if (k.kind !== "infe") {
      throw bad("its iinf box holds a box that is not infe");
    }
    const it = parseINFE(rd.b.subarray(k.start, k.end));
    if (items.some((o) => o.id === it.id)) {
      throw bad("two items have the same id");
    }
    items.push(it);
  }
  return items;
}

function parseINFE(p: Uint8Array): Item {
  const rd = new Reader(p);
  const version = rd.uint(1);
  rd.uint(3);
  const it: Item = { id: 0, kind: "", content: new Uint8Array(0), method: 0 };
  if (version <= 1) {
    it.id = rd.uint(2);
    rd.uint(2);
    rd.str();
    it.kind = "mime";
    it.content = rd.str();
  } else if (version <= 3) {
    it.id = rd.uint(version * 2 - 2);
    rd.uint(2);
    it.kind = latin1(rd.b.subarray(0, 4));
    rd.uint(4);
    rd.str();
    if (it.kind === "mime") {
      it.content = rd.str();
    }
  } else {
    throw bad("an item is described in an unknown way");
  }
  if (rd.bad) {
    throw bad("an item's description is cut short");
  }
  return it;
}

function parseILOC(p: Uint8Array, items: Item[]): void {
  const rd = new Reader(p);
  const version = rd.uint(1);
  rd.uint(3);
  const sizes = rd.uint(2);
  const [offSize, lenSize, baseSize] = [sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15];
  const idxSize = version === 0 ? 0 : sizes & 15;
  if ([offSize, lenSize, baseSize, idxSize].some((s) => s !== 0 && s !== 4 && s !== 8)) {
    throw bad("its iloc box uses a field size it may not");
  }
  if (version > 2) {
    throw bad("its iloc box is of an unknown version");
  }
  const idSize = version === 2 ? 4 : 2;
  const count = rd.uint(idSize);
  for (let c = 0; c < count && !rd.bad; c++) {
    const id = rd.uint(idSize);
    const method = version > 0 ? rd.uint(2) & 15 : 0;
    const dataRef = rd.uint(2);
    const base = rd.big(baseSize);
    const n = rd.uint(2);
    const exts: Array<{ off: number; n: number }> = [];
    for (let e = 0; e < n; e++) {
      rd.big(idxSize);
      const off = rd.big(offSize);
      const ln = rd.big(lenSize);
      if (rd.bad) {
        break;
      }
      // Go adds in uint64 and refuses a wrapped sum: the same as refusing a sum of 2^64 or more.
      if (base + off >= 1n << 64n || base + off > 1n << 62n || ln > 1n << 62n) {
        throw bad("an item lies outside the file");
      }
      exts.push({ off: Number(base + off), n: Number(ln) });
    }
    const it = items.find((x) => x.id === id);
    if (it === undefined || it.extents !== undefined || dataRef !== 0) {
      throw bad("its iloc box names an item iinf does not, twice, or in another file");
    }
    it.method = method;
    it.extents = exts.length > 0 ? exts : undefined; // Go's nil slice: an entry without extents may be named again
  }
  if (rd.bad) {
    throw bad("its iloc box is cut short");
  }
}

type Replacer = (d: Uint8Array, runs: Array<{ off: number; n: number }>) => Uint8Array;

/** replacement says how item it is stripped (undefined: kept as it is). */
function replacement(it: Item): Replacer | undefined {
  if (it.kind === "Exif") {
    return exifReplacement;
  }
  if (it.kind === "mime" && isXMP(it.content)) {
    return xmpReplacement;
  }
  if (it.kind === "mime" || it.kind === "uri ") {
    return () => new Uint8Array(0);
  }
  if (IMAGE_ITEMS.includes(it.kind)) {
    return undefined;
  }
  throw bad("it holds an item of a type the SDK does not know as harmless");
}

/** GO_SPACE is what Go's strings.TrimSpace trims (unicode.IsSpace). */
const GO_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/** isXMP reports whether a mime item's content type (bytes) is XMP's, as Go's isXMP decides. */
function isXMP(content: Uint8Array): boolean {
  const media = new TextDecoder("utf-8", { ignoreBOM: true }).decode(content).split(";")[0]!.replace(GO_SPACE, "");
  return media.replace(/[A-Z]/g, (c) => c.toLowerCase()) === "application/rdf+xml";
}

/** itemRuns returns an item's extents as file offsets, each inside idat (method 1) or an mdat (method 0). */
function itemRuns(it: Item, idat: Box | undefined, mdats: Box[], size: number): Array<{ off: number; n: number }> {
  let within: Box[];
  let base = 0;
  if (it.method === 0) {
    within = mdats;
  } else if (it.method === 1) {
    if (idat === undefined) {
      throw bad("an item is in an idat box it does not have");
    }
    [within, base] = [[idat], idat.start];
  } else {
    throw bad("a metadata item is built from other items");
  }
  return (it.extents ?? []).map((e) => {
    const off = base + e.off;
    if (e.off > size) {
      throw bad("an item lies outside the file");
    }
    const w = within.find((b) => off >= b.start && off <= b.end);
    const n = w === undefined ? 0 : e.n === 0 ? w.end - off : e.n;
    if (w === undefined || n > w.end - off) {
      throw bad("a metadata item lies outside mdat and idat");
    }
    return { off, n };
  });
}

/** exifReplacement keeps an Exif item's header and writes a minimal TIFF (its orientation, if not the default) after it. */
function exifReplacement(d: Uint8Array, runs: Array<{ off: number; n: number }>): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  let got = 0;
  for (const e of runs) {
    total += e.n;
    const k = Math.min(e.n, MAX_EXIF_READ - got);
    if (k > 0) {
      parts.push(d.subarray(e.off, e.off + k));
      got += k;
    }
  }
  const head = concat(parts);
  if (head.length < 4) {
    return new Uint8Array(0);
  }
  const skip = u32(head, 0);
  const prefix = head.subarray(4, Math.min(head.length, 4 + skip));
  if (skip !== 0 && (skip !== 6 || latin1(prefix) !== "Exif\0\0")) {
    return new Uint8Array(0);
  }
  const t = latin1(head.subarray(4 + prefix.length, 8 + prefix.length));
  if (t !== "MM\0*" && t !== "II*\0") {
    return new Uint8Array(0); // not a TIFF structure: zeros
  }
  const tiff = orientationEXIF(exifOrientation(head.subarray(4 + skip))) ?? new Uint8Array([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0]);
  const out = concat([head.subarray(0, 4), prefix, tiff]);
  return out.length > total ? new Uint8Array(0) : out;
}

/** xmpReplacement is an empty XMP packet of the item's length (spaces only if it does not fit, zeros if huge). */
function xmpReplacement(_: Uint8Array, runs: Array<{ off: number; n: number }>): Uint8Array {
  const total = runs.reduce((s, e) => s + e.n, 0);
  const pad = total - XMP_START.length - XMP_END.length;
  if (total > MAX_META) {
    return new Uint8Array(0);
  }
  if (pad < 0) {
    return new Uint8Array(total).fill(0x20);
  }
  return concat([XMP_START, new Uint8Array(pad).fill(0x20), XMP_END]);
}
