// The hybrid logical clock, as sync/hlc.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Clock, formatTimestamp, HLCError, MAX_TIMESTAMP, parseTimestamp } from "../src/index.js";

test("a timestamp is 16 lowercase hex digits, ms in the high 48 bits", () => {
  assert.equal(formatTimestamp(Date.UTC(2025, 2, 10, 8), 0), "01957f1160000000");
  assert.deepEqual(parseTimestamp("01957f1160000001"), { ms: Date.UTC(2025, 2, 10, 8), counter: 1 });
  assert.equal(formatTimestamp(2 ** 48 + 5, 0xffff), MAX_TIMESTAMP);
  assert.equal(formatTimestamp(-5, 0), "0000000000000000");
  for (const bad of ["01957F1160000000", "01957f116000000", "01957f11600000000", "01957f116000000g", ""]) {
    assert.throws(() => parseTimestamp(bad), HLCError, bad);
  }
});

test("now is strictly increasing even when the wall clock goes back, and carries the counter", () => {
  let wall = 1000;
  const c = new Clock(() => wall);
  const a = c.now();
  wall = 500;
  const b = c.now();
  assert.ok(b > a);
  assert.equal(b, formatTimestamp(1000, 1));
  const full = new Clock(() => 1000, 0, formatTimestamp(1000, 0xffff));
  assert.equal(full.now(), formatTimestamp(1001, 0));
  const max = new Clock(() => 0, 0, MAX_TIMESTAMP);
  assert.equal(max.now(), MAX_TIMESTAMP);
});

test("update returns a timestamp after both the remote and the last one", () => {
  let wall = 1000;
  const c = new Clock(() => wall);
  assert.equal(c.update(formatTimestamp(2000, 7)), formatTimestamp(2000, 8));
  assert.equal(c.update(formatTimestamp(1500, 3)), formatTimestamp(2000, 9));
  wall = 3000;
  assert.equal(c.update(formatTimestamp(2000, 7)), formatTimestamp(3000, 0));
  assert.throws(() => c.update(MAX_TIMESTAMP), (e: unknown) => e instanceof HLCError && e.fault === "overflow");
  assert.equal(c.lastIssued(), formatTimestamp(3000, 0));
});

test("the drift guard refuses a remote timestamp too far ahead and changes nothing", () => {
  const c = new Clock(() => 1000, 60_000);
  c.now();
  assert.throws(() => c.update(formatTimestamp(61_001, 0)), (e: unknown) => e instanceof HLCError && e.fault === "drift");
  assert.equal(c.lastIssued(), formatTimestamp(1000, 0));
  assert.equal(c.update(formatTimestamp(61_000, 0)), formatTimestamp(61_000, 1));
});
