// The differential test: random op sets generated here (several replicas
// writing concurrently and syncing now and then, so bases are realistic
// and partial; duplicates; redactions, also before their append; forged
// bases naming other fields, records or ops never sent; equal hlcs;
// non-canonical numbers; non-ASCII and astral strings and keys) are merged
// by the TypeScript engine and by the Go engine (one long-lived
// fieldsync-merge process) in different delivery orders, and the
// canonical states with history must be byte-identical.
//
// FIELDSYNC_DIFF_RUNS sets the number of cases (default 3000),
// FIELDSYNC_DIFF_SEED the seed (default: time). A failure prints the seed,
// fast-check's shrunk counterexample and both lines.
import assert from "node:assert/strict";
import { after, test } from "node:test";

import fc from "fast-check";

import { Clock, decodeOp, type FieldDecl, historyOf, materialise, type Op, Record, type RecordSnapshot, type Schema, validateOp } from "../src/index.js";
import { GoMerger, goSchema } from "./go.js";
import { mergeCase, prng, shuffle } from "./harness.js";

const schema: Schema = goSchema();
const go = new GoMerger();
after(() => go.close());

const runs = Number(process.env.FIELDSYNC_DIFF_RUNS ?? 3000);
const seed = Number(process.env.FIELDSYNC_DIFF_SEED ?? Date.now() % 2 ** 31);

// The devices and users of the golden vectors (testdata/README.md).
const devices = [
  ["3f6c1a2e-8d4b-4e1f-a7c2-1b9e0d5f6a01", "5a1f3c7e-2b4d-4e6f-8a9b-0c1d2e3f4a51"],
  ["5d0c3b8a-9e7f-4a16-b2c4-9d8e7f6a5b06", "b7c1e2d3-8091-4ab4-9f0e-5b6c7d8e9fa6"],
  ["8b2d4e71-1c3a-4f5e-9b6d-2c8a7e4f3b02", "6b2e4d8f-3c5e-4f70-9bac-1d2e3f4a5b62"],
  ["a47e2c90-5d1b-4a3f-8e6c-3b9d0f1a2c03", "7c3d5e9a-4d6f-4081-acbd-2e3f4a5b6c73"],
] as const;

// Raw JSON texts of values, many of them not in canonical form.
const freeStrings = [
  '"Tiranë"', '"Tiran\\u00eb"', '"Tiran\\u00EB"', '"😀 smile"', '"\\ud83d\\ude00 smile"', '"ﬁle"', '"a\\/b"',
  '"two\\nlines"', '"tab\\there"', '"\\u0001ctl"', '"\u2028sep"', '"\\u007f"', '"Shkodër"', '"𝔘nicode"', '""', '"\\"q\\" \\\\"',
];
const elements = ['"Durrës"', '"Durr\\u00ebs"', '"Shkodër"', '"😀"', '"ﬁ"', '"\uFFFD"', '"𝔘"', '"a"', '"Z"', '"é"', '"e\\u0301"', '"\uE000"', '"\u{10FFFF}"'];
const numbers = [
  "17", "17.0", "1.7e1", "1e2", "12.50", "-0", "0.1", "1e21", "1e-7", "123456789012345678", "9007199254740993",
  "5e-324", "1.7976931348623157e308", "-12.5e-3", "100E-2", "0.000001", "1e-400", "4.35", "2e0", "-1.5E+3",
];
const dates = ['"2025-03-10"', '"2024-02-29"', '"2000-02-29"', '"1999-12-31"'];
const countries = ['"AL"', '"XK"', '"DE"', '"MK"'];
const uuids = ["e0a9c0de-1111-4a2b-8c3d-000000000001", "e0a9c0de-1111-4a2b-8c3d-000000000002", "f0a9c0de-1111-4a2b-8c3d-000000000003"];
const entryExtras = ['"😀":1', '"ﬁ":2', '"b":12.50', '"a" : 1e2', '"\\u00e9":"x"', '"nested":{"z":[1.0,"\\u00eb"],"a":null}', '"z":true', '"\uE000":"pua"', '"ab":"2"', '"a\\u0000":3'];

/** One step of a scenario, interpreted by play(). */
type Step =
  | { t: "write"; replica: number; record: number; field: number; pick: number; pick2: number; advance: number; salt: number; twist: number }
  | { t: "sync"; from: number; to: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("write" as const),
      replica: fc.nat(3),
      record: fc.nat(2),
      field: fc.nat(40),
      pick: fc.nat(1000),
      pick2: fc.nat(1000),
      advance: fc.nat(2),
      salt: fc.nat(0xffff),
      twist: fc.nat(19),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("sync" as const), from: fc.nat(3), to: fc.nat(3) }) },
);

const scenarioArb = fc.record({
  replicas: fc.integer({ min: 2, max: 4 }),
  kinds: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2)),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 40 }),
  order: fc.nat(),
  dups: fc.nat(10),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

const kindNames = Object.keys(schema.kinds).sort();
const recordIDs = ["0193f2a1-b2c3-7d4e-8f50-6172839405a6", "0193f2a1-b2c3-7d4e-8f50-6172839405a7", "c193f2a1-b2c3-7d4e-8f50-6172839405a8"];

interface Replica {
  device: string;
  user: string;
  clock: Clock;
  ops: Map<string, string>; // op id -> text
  records: Map<string, Record>;
}

function pickOf<T>(xs: readonly T[], n: number): T {
  return xs[n % xs.length]!;
}

/** valueText returns a raw JSON value for a register set or set add of field f. */
function valueText(kind: string, name: string, f: FieldDecl, pick: number): string {
  if (f.values !== undefined && f.values.length > 0) {
    return JSON.stringify(pickOf(f.values, pick));
  }
  const clearable = name !== "deleted" && schema.kinds[kind]!.scope !== name && f.class === "register";
  if (clearable && pick % 11 === 0) {
    return "null";
  }
  switch (f.type) {
    case "bool":
      return pick % 2 === 0 ? "true" : "false";
    case "number":
      return pickOf(numbers, pick);
    case "date":
      return pickOf(dates, pick);
  }
  if (f.format === "uuid") {
    return JSON.stringify(pickOf(uuids, pick));
  }
  if (f.format === "iso3166_alpha2") {
    return pickOf(countries, pick);
  }
  return f.class === "set" ? pickOf(elements, pick) : pickOf(freeStrings, pick);
}

/** digests are the blob digests attachment entries name. */
const digests = ["0".repeat(64), "ab".repeat(32), "9f".repeat(32)];

function entryText(f: FieldDecl, pick: number, pick2: number): string {
  const members = [`"${f.required?.[0] ?? "text"}" : ${pickOf(freeStrings.filter((s) => s !== '""'), pick)}`];
  if (f.format === "attachment") {
    members[0] = `"digest" : "${pickOf(digests, pick)}"`;
    members.push(`"media_type" : "image/jpeg"`, `"size" : ${1 + (pick % 4096)}`);
  }
  for (let i = 0; i < entryExtras.length; i++) {
    if ((pick2 >> i) & 1) {
      members.push(entryExtras[i]!);
    }
  }
  shuffle(members, prng(pick2));
  return "{ " + members.join(" ,\t") + " }"; // no newline: one case is one NDJSON line
}

/**
 * play interprets a scenario: each replica writes ops against its own view
 * (bases from its own state) and syncs from others now and then. It
 * returns the text of every op written, in writing order.
 */
function play(sc: Scenario, replicaStates: Array<Map<string, Record>> = []): string[] {
  let wall = 1741593600000; // 2025-03-10T08:00:00Z
  const replicas: Replica[] = devices.slice(0, sc.replicas).map(([device, user]) => ({
    device,
    user,
    clock: new Clock(() => wall),
    ops: new Map(),
    records: new Map(),
  }));
  const all: string[] = [];
  const allOps: Op[] = [];
  const receive = (r: Replica, text: string, op: Op) => {
    if (r.ops.has(op.id)) {
      return;
    }
    r.ops.set(op.id, text);
    let rec = r.records.get(op.record);
    if (rec === undefined) {
      rec = new Record(op.record, op.kind);
      r.records.set(op.record, rec);
    }
    rec.apply(schema, op);
  };
  for (const [i, step] of sc.steps.entries()) {
    if (step.t === "sync") {
      const from = replicas[step.from % replicas.length]!;
      const to = replicas[step.to % replicas.length]!;
      for (const text of from.ops.values()) {
        const op = decodeOp(text);
        receive(to, text, op);
        to.clock.update(op.hlc);
      }
      continue;
    }
    wall += step.advance;
    const r = replicas[step.replica % replicas.length]!;
    const text = write(sc, r, step, i, allOps);
    if (text === undefined) {
      continue;
    }
    const op = decodeOp(text);
    validateOp(schema, op);
    receive(r, text, op);
    all.push(text);
    allOps.push(op);
  }
  replicaStates.push(...replicas.map((r) => r.records));
  return all;
}

function write(sc: Scenario, r: Replica, step: Extract<Step, { t: "write" }>, i: number, allOps: Op[]): string | undefined {
  const recordID = recordIDs[step.record]!;
  const kind = kindNames[sc.kinds[step.record]!]!;
  const names = Object.keys(schema.kinds[kind]!.fields).sort();
  const name = pickOf(names, step.field);
  const f = schema.kinds[kind]!.fields[name]!;
  const rec = r.records.get(recordID) ?? new Record(recordID, kind);
  const id = `${step.salt.toString(16).padStart(4, "0")}${(i + 1).toString(16).padStart(4, "0")}-0000-4000-8000-${step.pick.toString(16).padStart(12, "0")}`;
  let hlc = r.clock.now();
  if (step.twist === 7 && allOps.length > 0) {
    hlc = pickOf(allOps, step.pick2).hlc; // an equal hlc (a re-stamp): ties on device and id
  }
  let action: string;
  let value: string;
  let base: string[];
  switch (f.class) {
    case "register":
      action = "set";
      value = valueText(kind, name, f, step.pick);
      base = rec.siblings(name).map((e) => e.op);
      if (step.twist === 1) {
        base = base.slice(1); // a partial base
      }
      break;
    case "set": {
      value = valueText(kind, name, f, step.pick);
      const element = JSON.parse(value) as string;
      if (step.pick2 % 3 === 0) {
        action = "remove";
        base = step.twist === 2 ? [] : rec.liveAdds(name, element);
      } else {
        action = "add";
        base = [];
      }
      break;
    }
    default: {
      const entries = rec.entries(name);
      if (step.pick2 % 4 === 0 && (entries.length > 0 || step.twist < 5)) {
        action = "redact";
        value = "null";
        // Usually an entry this replica sees; sometimes one it has not received, or an unknown id.
        base = [entries.length > 0 && step.twist >= 5 ? pickOf(entries, step.pick).op : step.twist < 3 && allOps.length > 0 ? pickOf(allOps, step.pick).id : uuids[0]!];
      } else {
        action = "append";
        value = entryText(f, step.pick, step.pick2);
        base = [];
      }
    }
  }
  if (action !== "add" && action !== "append" && action !== "redact" && (step.twist === 3 || step.twist === 4) && allOps.length > 0) {
    base = [...base, pickOf(allOps, step.pick2).id]; // a forged base: another field, record or element, maybe
  }
  if (action !== "add" && action !== "append" && action !== "redact" && step.twist === 6) {
    base = [...base, uuids[2]!]; // an op never sent
  }
  base = base.filter((b) => b !== id);
  const spaced = step.twist % 2 === 0 ? " " : "";
  const baseText = step.twist === 8 ? [...base, ...base].reverse() : base;
  return (
    `{"id":"${id}",${spaced}"record":"${recordID}","kind":"${kind}","field":"${name}","action":"${action}",` +
    `"value":${spaced}${value},"base":${JSON.stringify(baseText)},"hlc":"${hlc}","device":"${r.device}","user":"${r.user}"}`
  );
}

/**
 * restored merges the first part of the ops, stores every record as a
 * snapshot through JSON text (as a replica would), restores it, merges the
 * rest and returns the case line, which must equal merging all at once.
 */
function restored(texts: string[], cut: number): string {
  const k = cut % (texts.length + 1);
  const first = materialise(schema, texts.slice(0, k).map((t) => decodeOp(t)));
  const records = new Map([...first].map(([id, r]) => [id, Record.fromSnapshot(JSON.parse(JSON.stringify(r.snapshot())) as RecordSnapshot)]));
  for (const t of texts.slice(k)) {
    const op = decodeOp(t);
    let r = records.get(op.record);
    if (r === undefined) {
      r = new Record(op.record, op.kind);
      records.set(op.record, r);
    }
    r.apply(schema, op);
  }
  const ops = texts.map((t) => decodeOp(t));
  const ids = [...records.keys()].sort();
  const sizes = ids.map((id) => records.get(id)!.size()).join(",");
  return `{"sizes":[${sizes}],"states":[` + ids.map((id) => records.get(id)!.canonical(historyOf(ops.filter((o) => o.record === id)))).join(",") + "]}";
}

/** joined returns the canonical state of each record after Record.merge of every replica's copy. */
function joined(replicas: Array<Map<string, Record>>): Map<string, string> {
  const out = new Map<string, Record>();
  for (const rs of replicas) {
    for (const [id, r] of rs) {
      const j = out.get(id);
      if (j === undefined) {
        out.set(id, r.clone());
      } else {
        j.merge(r);
      }
    }
  }
  return new Map([...out].map(([id, r]) => [id, r.canonical()]));
}

/** canonicalStates merges every op at once and returns each record's canonical state. */
function canonicalStates(texts: string[]): Map<string, string> {
  return new Map([...materialise(schema, texts.map((t) => decodeOp(t)))].map(([id, r]) => [id, r.canonical()]));
}

/** deliver returns a delivery order: a permutation of ops with some duplicates. */
function deliver(ops: string[], seedOf: number, dups: number): string[] {
  const rnd = prng(seedOf);
  const out = shuffle([...ops], rnd);
  for (let d = 0; d < dups && ops.length > 0; d++) {
    out.splice(Math.floor(rnd() * (out.length + 1)), 0, ops[Math.floor(rnd() * ops.length)]!);
  }
  return out;
}

test(`differential: the TypeScript and Go engines merge ${runs} random op sets to byte-identical states (seed ${seed})`, async () => {
  let ops = 0;
  await fc.assert(
    fc.asyncProperty(scenarioArb, async (sc) => {
      const replicaStates: Array<Map<string, Record>> = [];
      const texts = play(sc, replicaStates);
      if (texts.length === 0) {
        return;
      }
      ops += texts.length;
      const mine = mergeCase(schema, deliver(texts, sc.order, sc.dups));
      const again = mergeCase(schema, deliver(texts, sc.order ^ 0x5eed, 0));
      const theirs = await go.merge(deliver(texts, sc.order + 1, sc.dups));
      assert.deepEqual(joined(replicaStates), canonicalStates(texts), "joining the replicas' states (Record.merge) differs from merging all ops");
      assert.equal(restored(deliver(texts, sc.order, sc.dups), sc.order + sc.dups), mine, "a record restored from its snapshot half-way diverges");
      assert.equal(mine, again, "the TypeScript engine depends on the delivery order");
      assert.ok(mine.startsWith(`{"sizes"`), `the TypeScript engine refused a generated op: ${mine}`);
      assert.equal(mine, theirs, "TypeScript and Go states differ");
    }),
    { seed, numRuns: runs, endOnFailure: false },
  ).catch((e: unknown) => {
    throw new Error(`differential test failed with FIELDSYNC_DIFF_SEED=${seed}: ${String(e)}`);
  });
  assert.ok(ops > runs, `only ${ops} ops in ${runs} cases`);
});
