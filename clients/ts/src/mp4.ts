/**
 * Voice notes (issue 16 item 6), the TypeScript twin of the Go SDK's
 * clients/go/mp4.go, byte for byte: an MP4 or M4A (what phones record AAC
 * voice notes in) may carry where it was recorded (a QuickTime ©xyz
 * string or a 3GPP loci box in udta, Apple's location key in meta, XMP in
 * a uuid box), with the phone's make and model and a title that recorders
 * set to the place's name. Stripping blanks every udta, meta and uuid box,
 * at the top level or inside the movie's containers, in place: the box
 * keeps its size, its type becomes free and its payload zeros, so no
 * offset moves (sample tables point into mdat) and every other byte is
 * kept. It fails closed: a file whose boxes it cannot follow, with no moov
 * or two, a top-level box outside TOP_LEVEL or a timed metadata track
 * (iPhone videos record the location in one) throws FieldsyncError
 * media_type.
 */
import { errorf, type FieldsyncError } from "./errors.js";
import { type Box, latin1, type Patch, patched, readBox } from "./heic.js";

const TOP_LEVEL = ["ftyp", "moov", "mdat", "free", "skip", "wide", "pdin", "moof", "mfra", "sidx", "styp"];
const BLANKED = ["udta", "meta", "uuid"];
const CONTAINERS = ["moov", "trak", "mdia", "minf", "stbl", "edts", "dinf", "mvex", "moof", "traf", "mfra"];
/** MAX_BOXES bounds the boxes read in a file's movie structure. */
const MAX_BOXES = 100000;

const bad = (why: string): FieldsyncError =>
  errorf("media_type", `The file is an MP4 whose location metadata cannot be removed (${why}); it was not attached. Attach it with keepMetadata only if where it was recorded may be known to every reader.`);

/** stripMP4 returns a copy of an MP4 with its metadata boxes blanked in place. */
export function stripMP4(d: Uint8Array): Uint8Array {
  const budget = { n: MAX_BOXES };
  const ps: Patch[] = [];
  let moovs = 0;
  for (const [i, b] of kids(d, 0, d.length, budget).entries()) {
    if ((i === 0) !== (b.kind === "ftyp")) {
      throw bad("it does not start with its one ftyp box");
    } else if (BLANKED.includes(b.kind)) {
      ps.push(...blank(b));
    } else if (!TOP_LEVEL.includes(b.kind)) {
      throw bad("it holds a box it does not know");
    } else if (b.kind === "moov") {
      moovs++;
    }
    if (CONTAINERS.includes(b.kind)) {
      inner(d, b, budget, ps);
    }
  }
  if (moovs !== 1) {
    throw bad("it does not hold exactly one moov box");
  }
  return patched(d, ps);
}

function kids(d: Uint8Array, start: number, end: number, budget: { n: number }): Box[] {
  const out: Box[] = [];
  for (let off = start; off < end; ) {
    if (--budget.n < 0) {
      throw bad("it holds too many boxes");
    }
    let b: Box;
    try {
      b = readBox(d, off, end);
    } catch {
      throw bad("its boxes cannot be followed");
    }
    out.push(b);
    off = b.end;
  }
  return out;
}

/**
 * inner adds to ps the patches that blank the metadata boxes inside
 * container c, refusing a timed metadata track. It walks with a stack, not
 * recursion: a file may nest containers as deep as MAX_BOXES allows, and
 * any order of the walk decides the same (every box is read and checked).
 */
function inner(d: Uint8Array, c: Box, budget: { n: number }, ps: Patch[]): void {
  const todo = [c];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    for (const k of kids(d, p.start, p.end, budget)) {
      if (BLANKED.includes(k.kind)) {
        ps.push(...blank(k));
      } else if (k.kind === "hdlr" && p.kind === "mdia") {
        if (k.end - k.start < 12) {
          throw bad("a track's handler is cut short");
        }
        if (latin1(d.subarray(k.start + 8, k.start + 12)) === "meta") {
          throw bad("it holds a timed metadata track");
        }
      } else if (CONTAINERS.includes(k.kind)) {
        todo.push(k);
      }
    }
  }
}

/** blank turns box b into a free box of the same size: its size fields kept, type "free", zeros after. */
function blank(b: Box): Patch[] {
  const h = b.start - b.off;
  const sizes = h === 32 || (h === 16 && b.kind !== "uuid") ? 16 : 8;
  return [
    { off: b.off + 4, n: 4, data: Uint8Array.of(0x66, 0x72, 0x65, 0x65) },
    { off: b.off + sizes, n: b.end - b.off - sizes },
  ];
}
