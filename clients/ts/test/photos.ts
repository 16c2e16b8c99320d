// The phone photos of test/testdata: the Go SDK test's fixtures (EXIF
// with GPS and maker, XMP, IPTC, comments, text chunks, trailers, each
// holding "CANARY") and clients/go's StripMetadata output (*.stripped.*).
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { repoRoot } from "./go.js";

const dir = join(repoRoot, "clients/ts/test/testdata");
/** fixture returns the bytes of test/testdata/name. */
export const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(dir, name)));

/** gpsRationals is the latitude the fixtures carry (48° 51' 24.11") as little-endian TIFF rationals. */
export const GPS = new Uint8Array(new Uint32Array([48, 1, 51, 1, 2411, 100]).buffer);

/** contains reports whether hay holds needle. */
export function contains(hay: Uint8Array, needle: Uint8Array | string): boolean {
  const n = typeof needle === "string" ? new TextEncoder().encode(needle) : needle;
  return Buffer.from(hay).indexOf(Buffer.from(n)) >= 0;
}

