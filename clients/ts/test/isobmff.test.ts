// HEIC photos and MP4/M4A voice notes (heic.ts, mp4.ts) against the Go
// SDK's heic.go and mp4.go: the fixtures in test/testdata are the Go
// tests' files (phoneHEIC with its XMP in mdat or idat, phoneM4A with and
// without a track udta, an M4A with a 64-bit udta and a uuid box) with
// clients/go's StripMetadata output beside them (*.stripped.*), and the
// files Go refuses (testdata/refused); the Go test
// TestStripMetadataTypeScriptFixtures keeps them what Go makes now.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import fc from "fast-check";

import { FieldsyncError, stripMetadata } from "../src/index.js";
import { repoRoot } from "./go.js";
import { contains, fixture, GPS } from "./photos.js";

const secrets: Record<string, Array<Uint8Array | string>> = {
  "phone.heic": [GPS, "CANARY", "GPSLatitude"],
  "phone-idat.heic": [GPS, "CANARY", "GPSLatitude"],
  "voice.m4a": ["+48.8577+002.2950/", "com.apple.quicktime.location.ISO6709", "iPhone 15", "Rivoli", "Shelter", "loci"],
  "voice-plain.m4a": ["+48.8577+002.2950/", "com.apple.quicktime.location.ISO6709", "iPhone 15", "Rivoli"],
  "voice-large.m4a": ["+48.8577+002.2950/", "GPSLatitude"],
};

const isRefusal = (e: unknown): boolean => e instanceof FieldsyncError && e.code === "media_type";

for (const [name, secret] of Object.entries(secrets)) {
  test(`stripMetadata removes ${name}'s location and device metadata as the Go SDK does`, () => {
    const input = fixture(name);
    for (const s of secret) {
      assert.ok(contains(input, s), `the fixture lacks ${String(s)}: the test checks nothing`);
    }
    const out = stripMetadata(input);
    for (const s of secret) {
      assert.ok(!contains(out, s), `${String(s)} survives`);
    }
    const ext = name.slice(name.lastIndexOf("."));
    const want = fixture(name.slice(0, -ext.length) + ".stripped" + ext);
    assert.deepEqual(Buffer.from(out), Buffer.from(want), "not the Go SDK's bytes");
    assert.deepEqual(Buffer.from(stripMetadata(out)), Buffer.from(out), "stripping twice changes the file");
    assert.deepEqual(Buffer.from(input), Buffer.from(fixture(name)), "the input was changed in place");
  });
}

test("stripMetadata keeps a HEIC's orientation in its Exif item (6, as the Go SDK's fixture)", () => {
  const out = Buffer.from(stripMetadata(fixture("phone.heic")));
  const at = out.indexOf(Buffer.from("Exif\0\0MM\0*", "latin1"));
  assert.ok(at > 0, "no Exif left: the orientation was lost");
  assert.deepEqual([...out.subarray(at + 16, at + 26)], [0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6]);
});

test("stripMetadata refuses every HEIC and MP4 the Go SDK refuses (media_type)", () => {
  const dir = join(repoRoot, "clients/ts/test/testdata/refused");
  const names = readdirSync(dir);
  assert.ok(names.length >= 13, "the refused fixtures are missing");
  for (const name of names) {
    assert.throws(() => stripMetadata(fixture(join("refused", name))), isRefusal, name);
  }
});

test("stripMetadata refuses a voice note nested deeper than its box budget without overflowing the stack", () => {
  // 120,000 nested trak boxes (each an 8-byte header): Go refuses it (too many boxes); a recursive walk would throw RangeError.
  const depth = 120_000;
  const ftyp = [0, 0, 0, 16, ...new TextEncoder().encode("ftypM4A "), 0, 0, 0, 0];
  const d = new Uint8Array(ftyp.length + 8 * depth);
  d.set(ftyp);
  for (let i = 0; i < depth; i++) {
    const at = ftyp.length + 8 * i;
    new DataView(d.buffer).setUint32(at, d.length - at);
    d.set(new TextEncoder().encode(i === 0 ? "moov" : "trak"), at + 4);
  }
  assert.throws(() => stripMetadata(d), isRefusal);
});

// mutants are the HEIC and M4A fixtures with a few bytes changed (mostly
// in their first 600 bytes, where the boxes that describe them are),
// possibly cut short or extended.
const bases = Object.keys(secrets).map((n) => fixture(n));
const mutant = fc
  .record({
    base: fc.integer({ min: 0, max: bases.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat(600), fc.oneof(fc.constantFrom(0, 1, 8, 0xff), fc.integer({ min: 0, max: 255 }))), { minLength: 1, maxLength: 6 }),
    cut: fc.option(fc.nat(800), { nil: undefined }),
  })
  .map(({ base, edits, cut }) => {
    const b = bases[base]!;
    const d = new Uint8Array(cut === undefined ? b.length : Math.min(cut + 12, b.length + 16));
    d.set(b.subarray(0, d.length));
    for (const [at, v] of edits) {
      if (at >= 12 && at < d.length) {
        d[at] = v; // the ftyp's first 12 bytes kept: the mutant still sniffs as HEIC or MP4
      }
    }
    return d;
  });

test("stripMetadata on mutated HEICs and voice notes: refuses (media_type) or keeps the length, and stripping again changes nothing", () => {
  let stripped = 0;
  fc.assert(
    fc.property(mutant, (d) => {
      let out: Uint8Array;
      try {
        out = stripMetadata(d);
      } catch (e) {
        assert.ok(isRefusal(e), `threw ${String(e)}`);
        return;
      }
      stripped++;
      assert.equal(out.length, d.length);
      assert.deepEqual(Buffer.from(stripMetadata(out)), Buffer.from(out));
    }),
    { numRuns: 4000, seed: 1612 },
  );
  assert.ok(stripped > 400, `only ${stripped} of 4000 mutants were stripped: the property checks little`);
});

test("stripMetadata decides and writes as the Go SDK on its mutants (testdata/mutants.txt)", () => {
  const lines = readFileSync(join(repoRoot, "clients/ts/test/testdata/mutants.txt"), "utf8").trim().split("\n");
  assert.ok(lines.length >= 1000, "the mutants are missing");
  let stripped = 0;
  for (const line of lines) {
    const [base, length, edits, want] = line.split(" ") as [string, string, string, string];
    const d = fixture(base).slice(0, Number(length));
    for (const e of edits.split(",")) {
      const [at, v] = e.split(":").map(Number) as [number, number];
      d[at] = v;
    }
    let got: string;
    try {
      got = createHash("sha256").update(stripMetadata(d)).digest("hex").slice(0, 16);
      stripped++;
    } catch (e) {
      assert.ok(isRefusal(e), `${line}: threw ${String(e)}`);
      got = "refused";
    }
    assert.equal(got, want, line);
  }
  assert.ok(stripped >= 400, `only ${stripped} mutants stripped`);
});
