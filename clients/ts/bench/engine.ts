// A figure, not a test: decode, validate and merge 100,000 ops (1,000
// identification records of 100 ops each: registers with concurrent
// writes, indicator adds and removes, notes and redactions) the way a fresh
// device materialises its first pull, then write every canonical state.
// Run: npm run bench (prints JSON; never asserted).
import { performance } from "node:perf_hooks";

import { decodeOp, materialise, type Op, parseJSON, type Schema, validateOp } from "../src/index.js";
import { goSchema } from "../test/go.js";

const records = Number(process.env.FIELDSYNC_BENCH_RECORDS ?? 1000);
const perRecord = 100;
const schema: Schema = goSchema();
const device = "3f6c1a2e-8d4b-4e1f-a7c2-1b9e0d5f6a01";
const user = "5a1f3c7e-2b4d-4e6f-8a9b-0c1d2e3f4a51";
const codes = ["debt_bondage", "documents_withheld", "isolation", "threats"].filter((c) => JSON.stringify(schema).includes(`"${c}"`));

function hex(n: number, w: number): string {
  return n.toString(16).padStart(w, "0");
}

// The pull response body, as text, like a device receives it.
const parts: string[] = [];
let n = 0;
for (let r = 0; r < records; r++) {
  const record = `0193f2a1-b2c3-7d4e-8f50-${hex(r, 12)}`;
  let lastStatus = "";
  let lastNote = "";
  for (let k = 0; k < perRecord; k++) {
    n++;
    const id = `00000000-0000-4000-8000-${hex(n, 12)}`;
    const hlc = hex(0x01957f1160000000 / 65536 + n, 12) + "0000";
    let field = "notes";
    let action = "append";
    let value = JSON.stringify({ text: `Visit ${k}: met near the bus station; says the employer keeps her passport. Ë😀` });
    let base: string[] = [];
    if (k % 5 === 0) {
      field = "status";
      action = "set";
      value = JSON.stringify(["potential", "presumed"][k % 2]);
      base = lastStatus === "" || k % 3 === 0 ? [] : [lastStatus];
      lastStatus = id;
    } else if (k % 5 === 1 && codes.length > 0) {
      field = "indicators";
      action = "add";
      value = JSON.stringify(codes[k % codes.length]);
    } else if (k % 10 === 9 && lastNote !== "") {
      action = "redact";
      value = "null";
      base = [lastNote];
    } else {
      lastNote = id;
    }
    parts.push(JSON.stringify({ id, record, kind: "identification", field, action, value: JSON.parse(value), base, hlc, device, user }));
  }
}
const body = `{"ops":[${parts.join(",")}]}`;

const b0 = performance.now();
JSON.parse(body);
const baselineParse = performance.now() - b0;

const t0 = performance.now();
const parsed = parseJSON(body) as { ops: unknown[] };
const t1 = performance.now();
const ops: Op[] = parsed.ops.map((o) => {
  const op = decodeOp(o);
  validateOp(schema, op);
  return op;
});
const t2 = performance.now();
const state = materialise(schema, ops);
const t3 = performance.now();
let bytes = 0;
for (const r of state.values()) {
  bytes += r.canonical().length;
}
const t4 = performance.now();
const snaps = [...state.values()].map((r) => JSON.stringify(r.snapshot()));
const t5 = performance.now();

console.log(
  JSON.stringify(
    {
      node: process.version,
      ops: ops.length,
      records: state.size,
      body_bytes: body.length,
      json_parse_baseline_ms: Math.round(baselineParse),
      parse_ms: Math.round(t1 - t0),
      decode_validate_ms: Math.round(t2 - t1),
      merge_ms: Math.round(t3 - t2),
      canonical_ms: Math.round(t4 - t3),
      snapshot_ms: Math.round(t5 - t4),
      total_ms: Math.round(t5 - t0),
      ops_per_s: Math.round(ops.length / ((t4 - t0) / 1000)),
      canonical_bytes: bytes,
      snapshot_bytes: snaps.reduce((a, s) => a + s.length, 0),
    },
    null,
    1,
  ),
);
