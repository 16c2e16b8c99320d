// Shared by the tests: the TypeScript twin of fieldsync-merge's case
// result, and a small seeded PRNG.
import { decodeOp, FieldsyncError, historyOf, type Op, Record, type Schema, validateOp } from "../src/index.js";

/**
 * mergeCase is what fieldsync-merge does, with the TypeScript engine: apply
 * the ops in order to empty records; the line holds the records' sizes and
 * canonical states with history, sorted by id, or the first refusal.
 */
export function mergeCase(s: Schema, texts: Array<string | Uint8Array>): string {
  const records = new Map<string, Record>();
  const ops = new Map<string, Op[]>();
  for (const [i, text] of texts.entries()) {
    try {
      const op = decodeOp(text);
      validateOp(s, op);
      let r = records.get(op.record);
      if (r === undefined) {
        r = new Record(op.record, op.kind);
        records.set(op.record, r);
      }
      r.apply(s, op);
      ops.set(op.record, [...(ops.get(op.record) ?? []), op]);
    } catch (e) {
      if (e instanceof FieldsyncError) {
        return `{"error":{"code":${JSON.stringify(e.code)},"op":${i}}}`;
      }
      throw e;
    }
  }
  const ids = [...records.keys()].sort();
  const sizes = ids.map((id) => records.get(id)!.size()).join(",");
  return `{"sizes":[${sizes}],"states":[` + ids.map((id) => records.get(id)!.canonical(historyOf(ops.get(id)!))).join(",") + "]}";
}

/** prng returns a seeded generator of floats in [0, 1) (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** fnv1a32 hashes s (UTF-16 code units), to seed a PRNG from a name. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** shuffle permutes xs in place with rnd (Fisher-Yates). */
export function shuffle<T>(xs: T[], rnd: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
