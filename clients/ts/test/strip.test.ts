// Photo metadata stripping (strip.ts) against the Go SDK's: the fixtures
// in test/testdata are the Go test's phone photos (EXIF with GPS and
// maker, XMP, IPTC, comments, text chunks, trailers, each holding
// "CANARY") with clients/go's StripMetadata output beside them
// (*.stripped.*); the TypeScript port must produce the same bytes.
import assert from "node:assert/strict";
import { test } from "node:test";

import { FieldsyncError, stripMetadata } from "../src/index.js";
import { contains, fixture, GPS } from "./photos.js";

for (const name of ["phone-1.jpg", "phone-6.jpg", "phone-6.png", "phone-3.png"]) {
  test(`stripMetadata removes ${name}'s location and device metadata as the Go SDK does`, () => {
    const input = fixture(name);
    assert.ok(contains(input, GPS) && contains(input, "CANARY"), "the fixture carries no metadata: the test checks nothing");
    const out = stripMetadata(input);
    assert.ok(!contains(out, GPS), "GPS survives");
    assert.ok(!contains(out, "CANARY"), "maker, XMP, comments or trailer survive");
    const ext = name.slice(name.lastIndexOf("."));
    const want = fixture(name.slice(0, -ext.length) + ".stripped" + ext);
    assert.deepEqual(Buffer.from(out), Buffer.from(want), "not the Go SDK's bytes");
    assert.deepEqual(Buffer.from(stripMetadata(out)), Buffer.from(out), "stripping twice changes the file");
  });
}

test("stripMetadata keeps a non-default orientation as a minimal EXIF", () => {
  const out = stripMetadata(fixture("phone-6.jpg"));
  // APP1 "Exif\0\0" "MM\0*" ... Orientation (0x0112) SHORT 1 = 6
  const exif = Buffer.from(out).indexOf(Buffer.from("Exif\0\0MM\0*", "latin1"));
  assert.ok(exif > 0, "no EXIF left: the orientation was lost");
  assert.deepEqual([...out.subarray(exif + 16, exif + 26)], [0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6]);
  assert.ok(!contains(stripMetadata(fixture("phone-1.jpg")), "Exif"), "the default orientation needs no EXIF");
});

test("stripMetadata refuses a photo it cannot parse (media_type) and passes other files unchanged", () => {
  for (const bad of [fixture("phone-6.jpg").subarray(0, 300), fixture("phone-6.png").subarray(0, 60)]) {
    assert.throws(
      () => stripMetadata(bad),
      (e: unknown) => e instanceof FieldsyncError && e.code === "media_type",
    );
  }
  const pdf = new TextEncoder().encode("%PDF-1.7\nCANARY");
  assert.equal(stripMetadata(pdf), pdf);
});

