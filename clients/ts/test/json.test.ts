// Canonical JSON (RFC 8785) and the two string orders, without Go.
import assert from "node:assert/strict";
import { test } from "node:test";

import fc from "fast-check";

import { canonicalJSON, canonicalText, compareUTF16, compareUTF8, JSONError, parseJSON, utf8, utf8Length } from "../src/index.js";

test("numbers are written as ECMAScript writes them (RFC 8785 §3.2.2.3)", () => {
  const table: Array<[string, string]> = [
    ["17.0", "17"], ["1.7e1", "17"], ["1e2", "100"], ["12.50", "12.5"], ["-0", "0"], ["-0.0e5", "0"],
    ["1e21", "1e+21"], ["1e20", "100000000000000000000"], ["1e-7", "1e-7"], ["0.000001", "0.000001"],
    ["9007199254740993", "9007199254740992"], ["5e-324", "5e-324"], ["1e-400", "0"], ["100E-2", "1"],
    ["1.7976931348623157e308", "1.7976931348623157e+308"], ["0.1", "0.1"], ["-1.5E+3", "-1500"],
    ["123456789012345678901234567890", "1.2345678901234568e+29"], ["4.35", "4.35"], ["0.30000000000000004", "0.30000000000000004"],
  ];
  for (const [text, want] of table) {
    assert.equal(canonicalText(text), want, text);
  }
  assert.throws(() => canonicalText("1e400"), JSONError);
  assert.throws(() => canonicalJSON(Number.NaN), JSONError);
});

test("strings escape only quote, backslash and control characters; everything else is UTF-8 as is", () => {
  assert.equal(canonicalText('"\\u00eb\\u00EB\\/\\b\\t\\n\\f\\r\\u0001\\u001f\\u007f\\u2028\\ud83d\\ude00\\""'), '"ëë/\\b\\t\\n\\f\\r\\u0001\\u001f\u007f\u2028😀\\""');
});

test("object keys sort by UTF-16 code units, not by UTF-8 bytes", () => {
  // U+1F600 is D83D DE00 in UTF-16 (before U+FB01) but F0 9F 98 80 in UTF-8 (after EF AC 81).
  const got = canonicalText('{"ﬁ":1,"😀":2,"\\ue000":3,"b":4,"é":5,"a\\u0000":6,"a":7}');
  assert.equal(got, '{"a":7,"a\\u0000":6,"b":4,"é":5,"😀":2,"\ue000":3,"ﬁ":1}');
});

test("set elements compare by UTF-8 bytes, which JavaScript's default sort gets wrong for astral characters", () => {
  const xs = ["😀", "ﬁ", "\uE000", "z", "é", "\u{10FFFF}", "\uFFFF", "𝔘"];
  assert.deepEqual([...xs].sort(compareUTF8), ["z", "é", "\uE000", "ﬁ", "\uFFFF", "𝔘", "😀", "\u{10FFFF}"]);
  assert.deepEqual([...xs].sort(compareUTF16), ["z", "é", "𝔘", "😀", "\u{10FFFF}", "\uE000", "ﬁ", "\uFFFF"]);
});

test("compareUTF8 equals comparing the UTF-8 bytes (property)", () => {
  const str = fc.string({ unit: "grapheme", maxLength: 6 });
  fc.assert(
    fc.property(str, str, (a, b) => {
      assert.equal(compareUTF8(a, b), Math.sign(Buffer.compare(utf8(a), utf8(b))));
      assert.equal(utf8Length(a), utf8(a).length);
    }),
    { numRuns: 2000 },
  );
});

test("canonical form is a fixed point and parses back to the same value (property)", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const c = canonicalJSON(v);
      assert.equal(canonicalText(c), c);
      assert.equal(canonicalJSON(JSON.parse(c)), c);
    }),
    { numRuns: 1000 },
  );
});

test("parseJSON refuses what Go's decoder refuses", () => {
  const bad: Array<[string, string]> = [
    ['{"a":1,"a":2}', "duplicate"], ['[{"a":{"b":1,"b":1}}]', "duplicate"], ['"\\ud800"', "surrogate"], ['"\\udc00x"', "surrogate"],
    ['"\\ud800\\u0041"', "surrogate"], ['"a\u0001"', "syntax"], ["01", "syntax"], ["+1", "syntax"], ["1.", "syntax"], [".5", "syntax"],
    ["[1,]", "syntax"], ["{'a':1}", "syntax"], ["nul", "syntax"], ['"\\x"', "syntax"], ["1 2", "syntax"], ["", "syntax"],
  ];
  for (const [text, fault] of bad) {
    assert.throws(() => parseJSON(text), (e: unknown) => e instanceof JSONError && e.fault === fault, text);
  }
  const proto = parseJSON('{"__proto__":{"x":1}}') as { [k: string]: unknown };
  assert.deepEqual(Object.keys(proto), ["__proto__"]);
  assert.equal(canonicalJSON(proto), '{"__proto__":{"x":1}}');
});
