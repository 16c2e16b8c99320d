// Parity with the Go engine beyond merging: the same refusal code for
// every malformed or invalid op, the same country list, the same canonical
// number for any double written any way, and the same order of random
// Unicode set elements (UTF-8 bytes) and object keys (UTF-16 units).
import assert from "node:assert/strict";
import { after, test } from "node:test";

import fc from "fast-check";

import { Clock, formatTimestamp, HLCError, MAX_MILLIS, wellFormed } from "../src/index.js";
import { GoMerger, goSchema } from "./go.js";
import { mergeCase } from "./harness.js";

const schema = goSchema();
const go = new GoMerger();
const goClock = new GoMerger(["-hlc"]);
after(() => Promise.all([go.close(), goClock.close()]));

const seed = Number(process.env.FIELDSYNC_DIFF_SEED ?? Date.now() % 2 ** 31);
const runs = Number(process.env.FIELDSYNC_DIFF_RUNS ?? 3000);

const R = "0193f2a1-b2c3-7d4e-8f50-6172839405a6";
const D = "3f6c1a2e-8d4b-4e1f-a7c2-1b9e0d5f6a01";
const U = "5a1f3c7e-2b4d-4e6f-8a9b-0c1d2e3f4a51";
const A = "8b2d4e71-1c3a-4f5e-9b6d-2c8a7e4f3b02";

/** op writes one op's text with members overridden (raw JSON texts; undefined drops the key). */
function op(over: { [k: string]: string | undefined } = {}, extra = ""): string {
  const m: { [k: string]: string | undefined } = {
    id: `"${A}"`,
    record: `"${R}"`,
    kind: '"identification"',
    field: '"code"',
    action: '"set"',
    value: '"AL-17"',
    base: "[]",
    hlc: '"01957f1160000000"',
    device: `"${D}"`,
    user: `"${U}"`,
    ...over,
  };
  const parts = Object.entries(m)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `"${k}":${v}`);
  return "{" + parts.join(",") + extra + "}";
}

const cases: Array<[string, string[]]> = [
  ["valid", [op()]],
  ["no id", [op({ id: undefined })]],
  ["upper-case id", [op({ id: `"${A.toUpperCase()}"` })]],
  ["no record", [op({ record: undefined })]],
  ["no device", [op({ device: undefined })]],
  ["no user", [op({ user: undefined })]],
  ["empty user", [op({ user: '""' })]],
  ["null user", [op({ user: "null" })]],
  ["numeric id", [op({ id: "17" })]],
  ["no hlc", [op({ hlc: undefined })]],
  ["upper-case hlc", [op({ hlc: '"01957F1160000000"' })]],
  ["short hlc", [op({ hlc: '"01957f116000000"' })]],
  ["numeric hlc", [op({ hlc: "1" })]],
  ["unknown key", [op({}, ',"extra":1')]],
  ["repeated key", [op({}, ',"field":"code"')]],
  ["not an object", ["[1,2]"]],
  ["trailing data", [op() + " x"]],
  ["not JSON", ['{"id":']],
  ["unknown action", [op({ action: '"put"' })]],
  ["empty kind", [op({ kind: '""' })]],
  ["unknown kind", [op({ kind: '"person"' })]],
  ["unknown field", [op({ field: '"linked_records"' })]],
  ["action of another class", [op({ action: '"add"' })]],
  ["no value", [op({ value: undefined })]],
  ["lone surrogate in value", [op({ value: '"\\ud800"' })]],
  ["lone low surrogate in value", [op({ value: '"x\\udc00"' })]],
  ["repeated key in value", [op({ field: '"notes"', action: '"append"', value: '{"text":"a","text":"b"}' })]],
  ["number out of range", [op({ field: '"age_estimate"', value: "1e400" })]],
  ["number underflow", [op({ field: '"age_estimate"', value: "-1e-400" })]],
  ["number for a string", [op({ value: "17" })]],
  ["string for a number", [op({ field: '"age_estimate"', value: '"17"' })]],
  ["bool as string", [op({ field: '"child_presumed"', value: '"true"' })]],
  ["base not an array", [op({ base: '"x"' })]],
  ["base of numbers", [op({ base: "[1]" })]],
  ["base null", [op({ base: "null" })]],
  ["absent base", [op({ base: undefined })]],
  ["base not a UUID", [op({ base: '["x"]' })]],
  ["base names the op itself", [op({ base: `["${A}"]` })]],
  ["add with a base", [op({ field: '"indicators"', action: '"add"', value: '"debt_bondage"', base: `["${D}"]` })]],
  ["add of a retired code", [op({ field: '"indicators"', action: '"add"', value: '"no_such_code"' })]],
  ["remove of a retired code", [op({ field: '"indicators"', action: '"remove"', value: '"no_such_code"' })]],
  ["remove of a number", [op({ field: '"indicators"', action: '"remove"', value: "1" })]],
  ["empty element", [op({ field: '"participants"', kind: '"site_visit"', action: '"add"', value: '""' })]],
  ["redact with two bases", [op({ field: '"notes"', action: '"redact"', value: "null", base: `["${D}","${U}"]` })]],
  ["redact with a value", [op({ field: '"notes"', action: '"redact"', value: '"x"', base: `["${D}"]` })]],
  ["append of a string", [op({ field: '"notes"', action: '"append"', value: '"x"' })]],
  ["append without its required key", [op({ field: '"notes"', action: '"append"', value: '{"txt":"x"}' })]],
  ["append with an empty required key", [op({ field: '"notes"', action: '"append"', value: '{"text":""}' })]],
  ["deleted cleared", [op({ field: '"deleted"', value: "null" })]],
  ["scope cleared", [op({ field: '"team"', value: "null" })]],
  ["other register cleared", [op({ field: '"region"', value: "null" })]],
  ["30 February", [op({ field: '"encounter_date"', value: '"2025-02-30"' })]],
  ["29 February of a leap year", [op({ field: '"encounter_date"', value: '"2024-02-29"' })]],
  ["29 February 1900", [op({ field: '"encounter_date"', value: '"1900-02-29"' })]],
  ["year 0000", [op({ field: '"encounter_date"', value: '"0000-01-01"' })]],
  ["month 13", [op({ field: '"encounter_date"', value: '"2025-13-01"' })]],
  ["date with time", [op({ field: '"encounter_date"', value: '"2025-01-01T00:00"' })]],
  ["code of 64 bytes", [op({ value: JSON.stringify("ë".repeat(32)) })]],
  ["code of 66 bytes", [op({ value: JSON.stringify("ë".repeat(33)) })]],
  ["uuid field with upper case", [op({ field: '"team"', value: `"${D.toUpperCase()}"` })]],
  ["status not allowed", [op({ field: '"status"', value: '"maybe"' })]],
  ["kind mismatch", [op(), op({ id: `"${D}"`, kind: '"site_visit"', field: '"town"' })]],
];

test("every malformed or invalid op gets the same code from both engines", async () => {
  for (const [name, texts] of cases) {
    assert.equal(mergeCase(schema, texts), await go.merge(texts), name);
  }
});

test("both engines accept exactly the same two-letter country codes", async () => {
  const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  let accepted = 0;
  for (const a of letters) {
    for (const b of letters) {
      const texts = [op({ field: '"citizenship"', value: `"${a}${b}"` })];
      const mine = mergeCase(schema, texts);
      assert.equal(mine, await go.merge(texts), `${a}${b}`);
      accepted += mine.startsWith(`{"sizes"`) ? 1 : 0;
    }
  }
  assert.equal(accepted, 250);
});

/** spellings returns ways to write the double x as JSON text. */
function spellings(x: number, pick: number): string {
  const plain = String(x);
  const forms = [
    plain,
    x.toExponential(),
    x.toExponential().replace("e+", "E"),
    x.toExponential(20),
    Math.abs(x) < 1e21 && Math.abs(x) >= 1e-6 ? x.toFixed(Math.min(20, (plain.split(".")[1] ?? "").length + 3)) : plain,
    plain.includes("e") ? plain : plain + (plain.includes(".") ? "000" : ".000"),
  ];
  return forms[pick % forms.length]!.replace(/^(-?)0+(\d)/, "$1$2");
}

test(`both engines canonicalise ${runs} random numbers, written many ways, the same (seed ${seed})`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.nat(), async (x, pick) => {
      const texts = [op({ field: '"age_estimate"', value: spellings(x, pick) })];
      assert.equal(mergeCase(schema, texts), await go.merge(texts));
    }),
    { seed, numRuns: runs },
  );
});

const unicode = fc.oneof(
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 4 }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 4 }),
  fc.constantFrom("😀", "ﬁ", "\uE000", "\uFFFF", "\u{10000}", "\u{10FFFF}", "a", "é", "\u0000", "\u2028", "\u007f"),
);

test(`both engines order random Unicode set elements by UTF-8 bytes and object keys by UTF-16 units (${runs} cases, seed ${seed})`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(unicode, { minLength: 1, maxLength: 8 }), fc.boolean(), async (strs, escape) => {
      const write = (s: string) => (escape ? JSON.stringify(s).replace(/[^\x20-\x7e]/gu, (c) => c.split("").map((u) => "\\u" + u.charCodeAt(0).toString(16).padStart(4, "0")).join("")) : JSON.stringify(s));
      const texts = strs.map((s, i) =>
        op({ id: `"${(i + 1).toString(16).padStart(8, "0")}-0000-4000-8000-000000000000"`, kind: '"site_visit"', field: '"participants"', action: '"add"', value: write(s) }),
      );
      const entry = "{" + [`"text":"x"`, ...strs.filter((s) => s !== "text").map((s, i) => `${write(s)}:${i}`)].join(",") + "}";
      texts.push(op({ id: `"ffffffff-0000-4000-8000-000000000000"`, kind: '"site_visit"', field: '"notes"', action: '"append"', value: entry }));
      assert.equal(mergeCase(schema, texts), await go.merge(texts));
    }),
    { seed, numRuns: runs },
  );
});

const templates = [
  op(),
  op({ field: '"notes"', action: '"append"', value: '{"text":"Tiran\\u00eb","n":[1.50,-0,1e2]}' }),
  op({ field: '"notes"', action: '"redact"', value: "null", base: `["${D}"]` }),
  op({ field: '"indicators"', action: '"add"', value: '"debt_bondage"' }),
  op({ field: '"status"', action: '"set"', value: '"presumed"', base: `["${D}","${U}"]` }),
  op({ field: '"age_estimate"', value: "17.0" }),
  op({ field: '"attachments"', action: '"append"', value: '{"digest":"abababababababababababababababababababababababababababababababab","size":1024,"media_type":"image/jpeg","name":"p.jpg","caption":"id"}' }),
];
const fragments = ['"', "\\", "{", "}", "[", "]", ",", ":", " ", "\t", "\n", "\u0001", "é", "😀", "\\u", "d800", "dc00", "0", "-", "e", ".", "n", "null", "1e999", "A", '"x":1'];

test(`both engines give the same result for ${runs} randomly damaged ops (seed ${seed})`, async () => {
  const edit = fc.tuple(fc.nat(), fc.nat(3), fc.constantFrom(...fragments));
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...templates), fc.array(edit, { minLength: 1, maxLength: 3 }), async (t, edits) => {
      let text = t;
      for (const [pos, kind, frag] of edits) {
        const i = pos % (text.length + 1);
        text = kind === 0 ? text.slice(0, i) + text.slice(i + 1) : kind === 1 ? text.slice(0, i) + frag + text.slice(i) : text.slice(0, i) + frag + text.slice(i + frag.length);
      }
      // Edits at UTF-16 indices can split a surrogate pair; such a text cannot
      // reach Go as the same string (the NDJSON line would carry U+FFFD), and
      // bytes off the wire never hold one.
      fc.pre(wellFormed(text));
      assert.equal(mergeCase(schema, [text]), await go.merge([text]), text);
    }),
    { seed, numRuns: runs },
  );
});

test(`both engines give the same result for ${runs} ops damaged byte by byte, invalid UTF-8 included (seed ${seed})`, async () => {
  const edit = fc.tuple(fc.nat(), fc.nat(2), fc.uint8Array({ minLength: 1, maxLength: 3 }));
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...templates), fc.array(edit, { minLength: 1, maxLength: 3 }), async (t, edits) => {
      let b = Buffer.from(t, "utf8");
      for (const [pos, kind, bytes] of edits) {
        const i = pos % (b.length + 1);
        const frag = Buffer.from(bytes);
        b = kind === 0 ? Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]) : kind === 1 ? Buffer.concat([b.subarray(0, i), frag, b.subarray(i)]) : Buffer.concat([b.subarray(0, i), frag, b.subarray(i + frag.length)]);
      }
      const bytes = new Uint8Array(b);
      assert.equal(mergeCase(schema, [bytes]), await go.merge([bytes]), b.toString("latin1"));
    }),
    { seed, numRuns: runs },
  );
});

test("invalid UTF-8 is refused where Go refuses it: in the value invalid_value, elsewhere invalid_op", async () => {
  const withByte = (t: string, marker: string, byte: number) => {
    const b = Buffer.from(t, "utf8");
    const i = b.indexOf(marker);
    return new Uint8Array(Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]));
  };
  const cases = [
    withByte(op(), "AL-17", 0xff), withByte(op(), "AL-17", 0xc3), withByte(op(), "AL-17", 0xed), withByte(op(), "identification", 0x80),
    withByte(op(), '"value"', 0xff), withByte(op(), "AL-17", 0xf4), new Uint8Array([0xef, 0xbb, 0xbf, ...Buffer.from(op())]),
    new Uint8Array(Buffer.from(op({ value: '"\u00e9 \ud83d\ude00 é 😀"' }))),
  ];
  for (const c of cases) {
    assert.equal(mergeCase(schema, [c]), await go.merge([c]), Buffer.from(c).toString("latin1"));
  }
  assert.match(mergeCase(schema, [cases[0]!]), /invalid_value/);
  assert.match(mergeCase(schema, [cases[3]!]), /invalid_op/);
});

test("attachment entries are checked as Go checks them", async () => {
  const entry = (rest: string) => op({ field: '"attachments"', action: '"append"', value: `{"digest":"abababababababababababababababababababababababababababababababab","media_type":"image/jpeg"${rest}}` });
  const cases = [
    entry(',"size":1'), entry(',"size":0'), entry(',"size":1.5'), entry(',"size":1e300'), entry(',"size":9007199254740994'), entry(',"size":"1"'), entry(""),
    entry(',"size":1,"name":7'), entry(`,"size":1,"caption":"${"é".repeat(128)}"`), entry(`,"size":1,"caption":"${"é".repeat(127)}x"`),
    op({ field: '"attachments"', action: '"append"', value: '{"digest":"AB","size":1,"media_type":"image/jpeg"}' }),
    op({ field: '"attachments"', action: '"append"', value: '{"digest":"abababababababababababababababababababababababababababababababab","size":1,"media_type":"image/svg+xml"}' }),
  ];
  for (const c of cases) {
    assert.equal(mergeCase(schema, [c]), await go.merge([c]), c);
  }
  assert.doesNotMatch(mergeCase(schema, [cases[0]!]), /invalid_value/);
  assert.match(mergeCase(schema, [cases[2]!]), /invalid_value/);
});

test(`the TypeScript Clock issues the same timestamps as sync/hlc for ${runs} random histories (seed ${seed})`, async () => {
  const remote = fc.oneof(
    fc.constant(null),
    fc.tuple(fc.integer({ min: -3000, max: 3000 }), fc.constantFrom(0, 1, 7, 0xfffe, 0xffff)).map(([d, c]) => ({ d, c })),
    fc.constantFrom("ffffffffffffffff", "0000000000000000", "FFFF000000000000", "123", "zzzzzzzzzzzzzzzz"),
  );
  const step = fc.tuple(fc.oneof(fc.integer({ min: -2000, max: 2000 }), fc.constant(0)), remote);
  const start = fc.constantFrom(0, 1_741_593_600_000, MAX_MILLIS - 3);
  await fc.assert(
    fc.asyncProperty(start, fc.constantFrom(0, 1000, 60_000), fc.array(step, { minLength: 1, maxLength: 30 }), async (t0, drift, steps) => {
      let wall = t0;
      const clock = new Clock(() => wall, drift);
      const mine: string[] = [];
      const input: Array<{ wall: number; remote: string | null }> = [];
      for (const [dw, r] of steps) {
        wall = Math.max(0, Math.min(wall + dw, MAX_MILLIS + 5));
        const rs = r === null ? null : typeof r === "string" ? r : formatTimestamp(Math.max(0, wall + r.d), r.c);
        input.push({ wall, remote: rs });
        try {
          mine.push(rs === null ? clock.now() : clock.update(rs));
        } catch (e) {
          if (!(e instanceof HLCError)) {
            throw e;
          }
          mine.push(e.fault);
        }
      }
      assert.equal(JSON.stringify(mine), await goClock.send(JSON.stringify({ max_drift_ms: drift, steps: input })));
    }),
    { seed, numRuns: runs },
  );
});
