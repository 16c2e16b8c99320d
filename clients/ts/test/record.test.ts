// The record state API, without Go: Unicode orders in served state,
// idempotence, refusals, the bases a writer needs, and record limits.
import assert from "node:assert/strict";
import { test } from "node:test";

import { decodeOp, FieldsyncError, type Op, Record, type Schema, validateOp, writeOp } from "../src/index.js";
import { goSchema } from "./go.js";

const schema = goSchema();
const R = "0193f2a1-b2c3-7d4e-8f50-6172839405a6";
const D = "3f6c1a2e-8d4b-4e1f-a7c2-1b9e0d5f6a01";
const U = "5a1f3c7e-2b4d-4e6f-8a9b-0c1d2e3f4a51";

let n = 0;
function op(kind: string, field: string, action: string, value: unknown, base: string[] = [], s: Schema = schema): Op {
  n++;
  const o = decodeOp({
    id: `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`,
    record: R, kind, field, action, value, base,
    hlc: `01957f11600${n.toString(16).padStart(5, "0")}`, device: D, user: U,
  });
  validateOp(s, o);
  return o;
}

test("set values are served in UTF-8 byte order, log entry keys in UTF-16 order", () => {
  const r = new Record(R, "action_week");
  for (const town of ["😀", "ﬁ", "Durrës", "\uE000", "Z"]) {
    r.apply(schema, op("action_week", "towns", "add", town));
  }
  assert.deepEqual(r.elements("towns"), ["Durrës", "Z", "\uE000", "ﬁ", "😀"]);
  assert.match(r.canonical(), /"towns":\{"values":\["Durrës","Z","\uE000","ﬁ","😀"\]\}/);
  const v = new Record(R, "site_visit");
  v.apply(schema, op("site_visit", "notes", "append", { text: "x", "ﬁ": 1, "😀": 2, "\uE000": 3 }));
  assert.match(v.canonical(), /"value":\{"text":"x","😀":2,"\uE000":3,"ﬁ":1\}/);
});

test("applying an op again changes nothing; an op of another record or kind is refused", () => {
  const r = new Record(R, "identification");
  const a = op("identification", "status", "set", "potential");
  assert.equal(r.apply(schema, a), true);
  const before = r.canonical();
  assert.equal(r.apply(schema, a), false);
  assert.equal(r.canonical(), before);
  assert.throws(() => r.apply(schema, { ...a, record: D }), (e: unknown) => e instanceof FieldsyncError && e.code === "invalid_op");
  assert.throws(() => r.apply(schema, { ...a, kind: "site_visit" }), (e: unknown) => e instanceof FieldsyncError && e.code === "kind_mismatch");
  assert.equal(r.canonical(), before);
});

test("a writer's bases come from the state: siblings for set, live adds for remove", () => {
  const r = new Record(R, "identification");
  const a = op("identification", "status", "set", "potential");
  const b = op("identification", "status", "set", "presumed");
  r.apply(schema, a);
  r.apply(schema, b);
  assert.deepEqual(r.conflicts(), ["status"]);
  assert.deepEqual(r.siblings("status").map((e) => e.op), [b.id, a.id]);
  r.apply(schema, op("identification", "status", "set", "identified", r.siblings("status").map((e) => e.op)));
  assert.deepEqual(r.conflicts(), []);
  assert.equal(r.value("status"), "identified");
  const add1 = op("identification", "indicators", "add", "debt_bondage");
  const add2 = op("identification", "indicators", "add", "debt_bondage");
  r.apply(schema, add1);
  r.apply(schema, add2);
  assert.deepEqual(r.liveAdds("indicators", "debt_bondage"), [add1.id, add2.id].sort());
  r.apply(schema, op("identification", "indicators", "remove", "debt_bondage", [add1.id]));
  assert.deepEqual(r.elements("indicators"), ["debt_bondage"]); // add2 was not seen: it wins
  r.apply(schema, op("identification", "indicators", "remove", "debt_bondage", [add2.id]));
  assert.deepEqual(r.elements("indicators"), []);
});

test("checkLimits refuses a full log and a record past its bytes, never a redact or an exempt field", () => {
  const small: Schema = { ...schema, limits: { max_log_entries: 2, max_entry_bytes: 65536, max_record_bytes: 1000 } };
  const r = new Record(R, "identification");
  for (let i = 0; i < 2; i++) {
    const a = op("identification", "notes", "append", { text: "x" }, [], small);
    r.checkLimits(small, a);
    r.apply(small, a);
  }
  const third = op("identification", "notes", "append", { text: "x" }, [], small);
  assert.throws(() => r.checkLimits(small, third), (e: unknown) => e instanceof FieldsyncError && e.code === "record_too_large");
  r.checkLimits(small, op("identification", "notes", "redact", null, [r.entries("notes")[0]!.op], small));
  const big = op("identification", "consent", "append", { scope: "x".repeat(800) }, [], small);
  assert.throws(() => r.checkLimits(small, big), (e: unknown) => e instanceof FieldsyncError && e.code === "record_too_large");
  r.checkLimits(small, op("identification", "status", "set", "presumed", [], small));
  assert.equal(r.size(), 2 * (128 + '{"text":"x"}'.length));
});

test("clone is deep and merge joins two replicas", () => {
  const a = new Record(R, "identification");
  a.apply(schema, op("identification", "code", "set", "Ë-1"));
  const b = a.clone();
  const x = op("identification", "notes", "append", { text: "😀" });
  b.apply(schema, x);
  assert.equal(a.entries("notes").length, 0);
  a.apply(schema, op("identification", "notes", "redact", null, [x.id]));
  a.merge(b);
  const e = a.entries("notes")[0]!;
  assert.equal(e.redacted, true);
  assert.equal(e.value, "null");
  assert.equal(b.entries("notes")[0]!.redacted, undefined);
});

test("a snapshot is plain JSON, restores the same record, and a damaged one is refused", () => {
  const r = new Record(R, "identification");
  const x = op("identification", "notes", "append", { text: "x" });
  r.apply(schema, x);
  r.apply(schema, op("identification", "indicators", "add", "debt_bondage"));
  r.apply(schema, op("identification", "notes", "redact", null, [D]));
  const text = JSON.stringify(r.snapshot());
  assert.equal(JSON.stringify(Record.fromSnapshot(JSON.parse(text)).snapshot()), text);
  const back = Record.fromSnapshot(JSON.parse(text));
  assert.equal(back.canonical(), r.canonical());
  assert.equal(back.size(), r.size());
  assert.equal(back.apply(schema, x), false, "a known append applied to a restored record must change nothing");
  for (const damaged of [null, {}, { ...JSON.parse(text), v: 2 }, { ...JSON.parse(text), fields: { notes: { class: "log", entries: [{}], redactions: [] } } },
    { ...JSON.parse(text), fields: { notes: { class: "log", entries: [], redactions: [null] } } }, { ...JSON.parse(text), fields: { x: { class: "tree" } } }]) {
    assert.throws(() => Record.fromSnapshot(damaged as never), Error, JSON.stringify(damaged));
  }
});

test("writeOp takes the base from the replica's state and refuses what the server would", () => {
  const r = new Record(R, "identification");
  let k = 0x100;
  const stamp = () => {
    k++;
    return { id: `00000000-0000-4000-8000-${k.toString(16).padStart(12, "0")}`, hlc: `01957f11601${k.toString(16).padStart(5, "0")}`, device: D, user: U };
  };
  const write = (edit: Parameters<typeof writeOp>[2]) => {
    const o = writeOp(schema, r, edit, stamp());
    r.apply(schema, o);
    return o;
  };
  const a = write({ field: "status", action: "set", value: "potential" });
  assert.deepEqual(a.base, []);
  const b = write({ field: "status", action: "set", value: "presumed" });
  assert.deepEqual(b.base, [a.id]);
  const add = write({ field: "indicators", action: "add", value: "debt_bondage" });
  const rm = write({ field: "indicators", action: "remove", value: "debt_bondage" });
  assert.deepEqual(rm.base, [add.id]);
  const note = write({ field: "notes", action: "append", value: { text: "Ë 😀" } });
  const red = write({ field: "notes", action: "redact", target: note.id });
  assert.deepEqual(red.base, [note.id]);
  assert.equal(red.value, "null");
  assert.equal(r.entries("notes")[0]!.redacted, true);
  const before = r.canonical();
  for (const [edit, code] of [
    [{ field: "status", action: "set", value: "maybe" }, "invalid_value"],
    [{ field: "linked_records", action: "add", value: "x" }, "unknown_field"],
    [{ field: "notes", action: "redact" }, "invalid_op"],
    [{ field: "deleted", action: "set", value: null }, "invalid_value"],
  ] as const) {
    assert.throws(() => writeOp(schema, r, edit as never, stamp()), (e: unknown) => e instanceof FieldsyncError && e.code === code, JSON.stringify(edit));
  }
  assert.equal(r.canonical(), before);
});
