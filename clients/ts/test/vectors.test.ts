// The golden vectors of sync/crdt/testdata, loaded from that directory (the
// format is its README.md): every vector, in the listed order, reversed,
// and 20 seeded random orders with duplicates, must give the expected
// canonical state of every record, byte for byte; and the expected
// history where the vector gives one. Records merged from two partial
// replicas (Record.merge) must equal it too.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { decodeOp, historyOf, JSONReader, materialise, type Op, opJSON, parseJSON, Record, validateOp } from "../src/index.js";
import { goSchema, vectorsDir } from "./go.js";
import { fnv1a32, prng, shuffle } from "./harness.js";

const fileName = /^[0-9]{2}-[a-z0-9]+(-[a-z0-9]+)*\.json$/;
const topKeys = ["description", "expected", "history", "name", "ops"];
const opKeys = ["action", "base", "device", "field", "hlc", "id", "kind", "record", "user", "value"];
const randomOrders = 20;

interface Vector {
  name: string;
  ops: Op[];
  want: Map<string, string>;
  history: Map<string, string>;
}

function loadVector(file: string): Vector {
  const text = readFileSync(join(vectorsDir, file), "utf8");
  const v = parseJSON(text) as { [k: string]: unknown };
  for (const k of Object.keys(v)) {
    assert.ok(topKeys.includes(k), `${file}: unknown key ${k}`);
  }
  assert.equal(v.name, file.replace(/\.json$/, ""), `${file}: name`);
  const rawOps = v.ops as unknown[];
  assert.ok(Array.isArray(rawOps) && rawOps.length > 0, `${file}: ops`);
  // Decode each op from its own text, as from the wire (non-canonical values as written in the file).
  const texts = opTexts(text);
  assert.equal(texts.length, rawOps.length);
  const ops = rawOps.map((raw, i) => {
    assert.deepEqual(Object.keys(raw as object).sort(), opKeys, `${file}: op ${i} keys`);
    const op = decodeOp(texts[i]!);
    validateOp(schema, op);
    return op;
  });
  const kinds = new Map(ops.map((o) => [o.record, o.kind]));
  const want = new Map(Object.entries(v.expected as object).map(([id, s]) => [id, referenceJCS(s)]));
  assert.deepEqual([...want.keys()].sort(), [...kinds.keys()].sort(), `${file}: expected records`);
  const history = new Map(Object.entries((v.history ?? {}) as object).map(([id, h]) => [id, referenceJCS(h)]));
  return { name: v.name as string, ops, want, history };
}

function deliveries(v: Vector): Array<[string, Op[]]> {
  const out: Array<[string, Op[]]> = [
    ["listed", [...v.ops]],
    ["reversed", [...v.ops].reverse()],
  ];
  const rnd = prng(fnv1a32(v.name) ^ 0x5eed);
  for (let k = 0; k < randomOrders; k++) {
    const order = shuffle([...v.ops], rnd);
    const dups = Math.floor(rnd() * (v.ops.length + 1));
    for (let d = 0; d < dups; d++) {
      order.splice(Math.floor(rnd() * (order.length + 1)), 0, v.ops[Math.floor(rnd() * v.ops.length)]!);
    }
    out.push([`random ${k} (seed ${fnv1a32(v.name) ^ 0x5eed})`, order]);
  }
  return out;
}

const schema = goSchema();
const files = readdirSync(vectorsDir).filter((f) => f.endsWith(".json")).sort();

test("the vector directory holds at least 30 well-named vectors", () => {
  assert.ok(files.length >= 30, `only ${files.length} vectors in ${vectorsDir}`);
  for (const f of files) {
    assert.match(f, fileName);
  }
});

for (const file of files) {
  test(`vector ${file}`, () => {
    const v = loadVector(file);
    for (const [order, ops] of deliveries(v)) {
      const records = materialise(schema, ops);
      assert.deepEqual([...records.keys()].sort(), [...v.want.keys()].sort(), `${order}: records`);
      for (const [id, want] of v.want) {
        assert.equal(records.get(id)!.canonical(), want, `${v.name}, ${order}: record ${id}`);
      }
    }
    // Two replicas holding parts of the ops, joined, equal the expected state.
    const rnd = prng(fnv1a32(v.name));
    for (let k = 0; k < 10; k++) {
      const left = new Map<string, Record>();
      const right = new Map<string, Record>();
      for (const op of v.ops) {
        const x = rnd();
        if (x < 0.7) {
          materialise(schema, [op], left);
        }
        if (x >= 0.3) {
          materialise(schema, [op], right);
        }
      }
      for (const [id, r] of right) {
        const l = left.get(id);
        if (l === undefined) {
          left.set(id, r.clone());
        } else {
          l.merge(r);
        }
      }
      for (const [id, want] of v.want) {
        assert.equal(left.get(id)!.canonical(), want, `${v.name}, merge split ${k}: record ${id}`);
      }
    }
    for (const [id, want] of v.history) {
      const got = "[" + historyOf(v.ops.filter((o) => o.record === id)).map(opJSON).join(",") + "]";
      assert.equal(got, want, `${v.name}: history of ${id}`);
    }
  });
}

/**
 * referenceJCS canonicalises an expected state independently of the engine's
 * canonicalJSON, as the vectors' README suggests: JSON.stringify with keys
 * sorted by JavaScript's default order (UTF-16 code units).
 */
function referenceJCS(v: unknown): string {
  if (Array.isArray(v)) {
    return "[" + v.map(referenceJCS).join(",") + "]";
  }
  if (v !== null && typeof v === "object") {
    const o = v as { [k: string]: unknown };
    return "{" + Object.keys(o).sort().map((k) => JSON.stringify(k) + ":" + referenceJCS(o[k])).join(",") + "}";
  }
  return JSON.stringify(v);
}

/** opTexts returns the text of each element of the file's "ops" array, as written. */
function opTexts(text: string): string[] {
  const r = new JSONReader(text);
  const out: string[] = [];
  r.expect("{");
  for (;;) {
    const key = r.string();
    r.expect(":");
    if (key !== "ops") {
      r.value();
    } else {
      r.expect("[");
      for (;;) {
        out.push(r.raw());
        if (r.peek() !== ",") {
          break;
        }
        r.expect(",");
      }
      r.expect("]");
    }
    if (r.peek() !== ",") {
      return out;
    }
    r.expect(",");
  }
}
