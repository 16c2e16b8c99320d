/**
 * OpStore: how a replica keeps each record's ops in the "ops" store, a few
 * values per record rather than one per op, so that a pull page costs an
 * IndexedDB read and write (and, encrypted, one AES-GCM seal) per record
 * it touches instead of per op. Layout 2 (meta "layout" = 2):
 *
 *   ops["<record>/"]        = Chunk: the open chunk, where new ops go,
 *                              and `sealed`, how many full chunks precede it;
 *   ops["<record>/<n>"]     = Chunk: sealed chunk n (1..sealed, 6 digits),
 *                              at least CHUNK ops when sealed.
 *
 * Invariants: a record has stored ops iff its open chunk exists (one read
 * tells a record the device does not hold); an op id is in at most one
 * chunk; a chunk holds each op's id and JSON as stored; ops are
 * listed in op-id order, as layout 1 (one value "<record>/<op id>" per op)
 * listed them. OpsTx caches the chunks a transaction loaded and writes
 * the changed ones back on flush, which the transaction's function must
 * await before it returns.
 */
import { type StorageTx } from "./storage.js";

/** LAYOUT is the layout of the ops store this version writes (meta "layout"). */
export const LAYOUT = 2;

/** CHUNK is how many ops an open chunk takes before it is sealed. */
export const CHUNK = 256;

/**
 * A chunk of one record's ops as stored: ids[i] is the id of the op whose
 * JSON is ops[i] (arrays, not an object keyed by op id: an object with a
 * property per UUID costs the JavaScript engine a hidden class each).
 */
interface Chunk {
  /** Sealed chunks before this one (the open chunk only). */
  sealed?: number;
  ids: string[];
  ops: string[];
}

const toMap = (c: Chunk): Map<string, string> => new Map(c.ids.map((id, i) => [id, c.ops[i]!]));
const toChunk = (m: Map<string, string>, sealed?: number): Chunk => ({ ...(sealed === undefined ? {} : { sealed }), ids: [...m.keys()], ops: [...m.values()] });

const openKey = (record: string): string => record + "/";
const sealedKey = (record: string, n: number): string => record + "/" + String(n).padStart(6, "0");

/** RecordOps is one record's ops as loaded in a transaction. */
export class RecordOps {
  private readonly where = new Map<string, string>();
  private readonly dirty = new Set<string>();

  constructor(
    readonly record: string,
    private readonly chunks: Map<string, Map<string, string>>,
    private sealed: number,
  ) {
    for (const [k, c] of chunks) {
      for (const id of c.keys()) {
        this.where.set(id, k);
      }
    }
  }

  /** size returns how many ops the record holds. */
  get size(): number {
    return this.where.size;
  }

  /** get returns op id's stored JSON, or undefined. */
  get(id: string): string | undefined {
    const k = this.where.get(id);
    return k === undefined ? undefined : this.chunks.get(k)!.get(id);
  }

  /** put stores op id's JSON (in its chunk when held, else in the open chunk). */
  put(id: string, json: string): void {
    let k = this.where.get(id);
    if (k === undefined) {
      k = openKey(this.record);
      this.where.set(id, k);
    }
    let c = this.chunks.get(k);
    if (c === undefined) {
      c = new Map();
      this.chunks.set(k, c);
    }
    c.set(id, json);
    this.dirty.add(k);
  }

  /** delete removes op id (absent: nothing happens). */
  delete(id: string): void {
    const k = this.where.get(id);
    if (k !== undefined) {
      this.chunks.get(k)!.delete(id);
      this.where.delete(id);
      this.dirty.add(k);
    }
  }

  /** clear removes every op of the record. */
  clear(): void {
    for (const id of [...this.where.keys()]) {
      this.delete(id);
    }
  }

  /** all returns the ops' JSON in op-id order. */
  all(): string[] {
    return [...this.where.keys()].sort().map((id) => this.get(id)!);
  }

  /** save writes the changed chunks back: a full open chunk is sealed, an emptied record leaves no key. */
  async save(tx: StorageTx): Promise<void> {
    if (this.dirty.size === 0) {
      return;
    }
    const open = openKey(this.record);
    if (this.where.size === 0) {
      for (const k of this.chunks.keys()) {
        await tx.delete("ops", k);
      }
      this.chunks.clear();
      this.sealed = 0;
      this.dirty.clear();
      return;
    }
    const o = this.chunks.get(open);
    if (o !== undefined && o.size >= CHUNK) {
      this.sealed++;
      const k = sealedKey(this.record, this.sealed);
      this.chunks.set(k, o);
      for (const id of o.keys()) {
        this.where.set(id, k);
      }
      this.chunks.set(open, new Map());
      this.dirty.add(k);
      this.dirty.add(open);
    }
    for (const k of this.dirty) {
      const c = this.chunks.get(k)!;
      if (k === open) {
        await tx.put("ops", k, toChunk(c, this.sealed));
      } else if (c.size === 0) {
        await tx.delete("ops", k);
      } else {
        await tx.put("ops", k, toChunk(c));
      }
    }
    this.dirty.clear();
  }
}

/**
 * OpsTx gives a transaction's functions the records' ops, each loaded once
 * (prefetch loads many in one batch of requests) and written back by flush.
 */
export class OpsTx {
  private readonly promises = new Map<string, Promise<RecordOps>>();
  private readonly ready = new Map<string, RecordOps>();

  constructor(private readonly tx: StorageTx) {}

  /** of returns record's ops (loading them on first use). */
  of(record: string): Promise<RecordOps> {
    let p = this.promises.get(record);
    if (p === undefined) {
      p = load(this.tx, record).then((r) => {
        this.ready.set(record, r);
        return r;
      });
      this.promises.set(record, p);
    }
    return p;
  }

  /** loaded returns record's ops when of has loaded them, else undefined (without loading). */
  loaded(record: string): RecordOps | undefined {
    return this.ready.get(record);
  }

  /** prefetch loads the ops of records at once (one read each; a range read for a record with sealed chunks). */
  async prefetch(records: Iterable<string>): Promise<void> {
    await Promise.all([...records].map((r) => this.of(r)));
  }

  /** flush writes every loaded record's changed chunks. */
  async flush(): Promise<void> {
    for (const p of this.promises.values()) {
      await (await p).save(this.tx);
    }
  }
}

async function load(tx: StorageTx, record: string): Promise<RecordOps> {
  const open = (await tx.get("ops", openKey(record))) as Chunk | undefined;
  const chunks = new Map<string, Map<string, string>>();
  if (open === undefined) {
    return new RecordOps(record, chunks, 0);
  }
  const sealed = open.sealed ?? 0;
  if (sealed > 0) {
    for (const [k, v] of await tx.list("ops", openKey(record))) {
      if (k !== openKey(record)) {
        chunks.set(k, toMap(v as Chunk));
      }
    }
  }
  chunks.set(openKey(record), toMap(open));
  return new RecordOps(record, chunks, sealed);
}

/**
 * migrate rewrites an ops store of layout 1 (one value "<record>/<op id>"
 * per op) as layout 2, in tx; it returns how many ops it moved. Keys of
 * layout 2 (ending in "/" or a 6-digit chunk number) are left alone, so
 * running it twice changes nothing.
 */
export async function migrate(tx: StorageTx): Promise<number> {
  const byRecord = new Map<string, Array<[string, string]>>();
  let n = 0;
  for (const [k, v] of await tx.list("ops")) {
    const slash = k.indexOf("/");
    const id = k.slice(slash + 1);
    if (slash < 0 || id === "" || /^[0-9]{6}$/.test(id)) {
      continue;
    }
    const record = k.slice(0, slash);
    let list = byRecord.get(record);
    if (list === undefined) {
      list = [];
      byRecord.set(record, list);
    }
    list.push([id, v as string]);
    await tx.delete("ops", k);
    n++;
  }
  const ops = new OpsTx(tx);
  for (const [record, list] of byRecord) {
    const r = await ops.of(record);
    for (const [id, json] of list) {
      r.put(id, json);
      if (r.size % CHUNK === 0) {
        await r.save(tx);
      }
    }
  }
  await ops.flush();
  return n;
}
