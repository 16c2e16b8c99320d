/**
 * Replica: the device's local copy (records, their ops, the outbox, the
 * quarantine, the session and the sync cursor) on a Storage. Invariants:
 *
 *  - A local write stores its ops, the record's new state, the clock and
 *    the outbox entries in one transaction with durability "strict": once
 *    write resolves, the change survives a crash and will be pushed.
 *  - An op leaves the outbox only when the server answered it (applied,
 *    duplicate: it takes the server's hlc and user; rejected: it moves to
 *    the quarantine and out of the local state) or when a pull delivered
 *    it; nothing but a wipe drops it silently.
 *  - A record's stored state is always the merge of its stored ops; a
 *    record whose ops changed other than by a new op (re-stamped,
 *    quarantined, redacted) is rebuilt from them.
 *  - Each pull page (ops, drops, cursor) is applied in one transaction.
 *
 * Store layout: records[id] = RecordSnapshot; ops: each record's ops in a
 * few chunks (opstore.ts, layout 2; open migrates layout 1, a value per
 * op, in one transaction); outbox["q/<seq>"] = op JSON and outbox["i/<op id>"] = seq;
 * quarantine["<seq>"] = StoredRejected; meta: session, cursor, clock,
 * seq, schema, last_sync, resync, layout, and "resync/<id>" marks.
 */
import { FieldsyncError } from "./errors.js";
import { Clock, type Timestamp } from "./hlc.js";
import { decodeOp, type Op, opJSON, redactedOp } from "./op.js";
import { materialise, Record } from "./record.js";
import { type Schema } from "./schema.js";
import { type Storage, type StorageTx, type StoreName } from "./storage.js";
import { type Edit, writeOp } from "./write.js";
import { dropFiles } from "./files.js";
import { LAYOUT, migrate, OpsTx, type RecordOps } from "./opstore.js";
import { type JSONValue } from "./json.js";

/** The user as the server serves it (api.User). */
export interface User {
  id: string;
  username: string;
  role: string;
  teams: string[];
  action_week?: string;
  valid_until?: string;
  created_at?: string;
}

/** Session is what login and refresh leave; the user outlives the tokens. */
export interface Session {
  access_token?: string;
  refresh_token?: string;
  user: User;
  team_names?: { [id: string]: string };
}

/** Rejected is an op the server refused, kept for the user with its reason. */
export interface Rejected {
  /** The op as written on this device. */
  op: Op;
  /** The server's code and sentence (forbidden for a record this device lost before sending). */
  code: string;
  message: string;
  /** When the device learned of it (ISO 8601, device clock). */
  at: string;
}

interface StoredRejected {
  op: string;
  code: string;
  message: string;
  at: string;
}

/** Pending is one outbox entry on its way to the server. */
export interface Pending {
  seq: number;
  raw: string;
  op: Op;
}

/** A push result (sync/protocol.Result). */
export interface PushResult {
  id: string;
  status: "applied" | "duplicate" | "rejected" | string;
  hlc?: string;
  code?: string;
  message?: string;
}

/** A decoded pull page. */
export interface Page {
  ops: Op[];
  /** json[i], when given, is opJSON(ops[i]) (encoded ahead, while another page is stored). */
  json?: string[];
  cursor: string;
  more: boolean;
  drop: string[];
  /** erased is the subset of drop that the server's retention erased. */
  erased?: string[];
  server: string;
}

/** NotLoggedInError: writing needs the user of a login on this device. */
export class NotLoggedInError extends Error {
  constructor() {
    super("Nobody has logged in on this device yet; log in once before writing.");
    this.name = "NotLoggedInError";
  }
}

/** ReplicaOptions configures Replica.open. */
export interface ReplicaOptions {
  storage: Storage;
  /** This device's id (a UUID, kept by the app; the server registers it at login). */
  device: string;
  /** The schema (GET /v1/schema); when absent, the one stored by setSchema is used. */
  schema?: Schema;
  /** Wall clock in Unix ms (default Date.now). */
  now?: () => number;
  /** Refuse pulled timestamps further ahead than this (0: no guard). */
  maxDriftMs?: number;
  /** New op ids (default crypto.randomUUID). */
  newId?: () => string;
}

const SEQ_DIGITS = 15;
const seqKey = (seq: number): string => String(seq).padStart(SEQ_DIGITS, "0");
/** WriteHook runs inside a write's transaction with the record as written and the new ops. */
export type WriteHook = (tx: StorageTx, record: Record, ops: Op[]) => Promise<void>;

/** DROPPED prefixes the meta keys of records drops deleted, until the server is told. */
const DROPPED = "dropped/";

/** Replica is the local replica of one device and user. */
export class Replica {
  /** Called after every committed change with the ids of the records it touched. */
  onChange: (records: string[]) => void = () => {};
  /**
   * pullTimings adds up where applyPage spends its time, for benchmarks:
   * reading what a page needs (with any decryption), merging and encoding
   * (JavaScript, queueing the writes), and writing until the transaction
   * committed (with any encryption).
   */
  readonly pullTimings = { pages: 0, readMs: 0, mergeMs: 0, writeMs: 0 };
  private wiped = false;

  private constructor(
    readonly storage: Storage,
    readonly device: string,
    private schemaValue: Schema | undefined,
    readonly clock: Clock,
    private nextSeq: number,
    private sessionValue: Session | undefined,
    private readonly now: () => number,
    private readonly newId: () => string,
  ) {}

  /** open loads the replica's clock, sequence, session and schema from storage. */
  static async open(o: ReplicaOptions): Promise<Replica> {
    const now = o.now ?? Date.now;
    if ((await o.storage.read((tx) => tx.get("meta", "layout"))) !== LAYOUT) {
      await o.storage.write(async (tx) => {
        if ((await tx.get("meta", "layout")) !== LAYOUT) {
          await migrate(tx);
          await tx.put("meta", "layout", LAYOUT);
        }
      }, "strict");
    }
    const [clock, seq, session, schema] = await o.storage.read(async (tx) => [
      (await tx.get("meta", "clock")) as Timestamp | undefined,
      (await tx.get("meta", "seq")) as number | undefined,
      (await tx.get("meta", "session")) as Session | undefined,
      (await tx.get("meta", "schema")) as Schema | undefined,
    ]);
    return new Replica(
      o.storage,
      o.device,
      o.schema ?? schema,
      new Clock(now, o.maxDriftMs ?? 0, clock),
      seq ?? 1,
      session,
      now,
      o.newId ?? (() => crypto.randomUUID()),
    );
  }

  /** schema returns the schema in use; it throws before one was given or stored. */
  get schema(): Schema {
    if (this.schemaValue === undefined) {
      throw new Error("The replica has no schema yet; fetch GET /v1/schema once online.");
    }
    return this.schemaValue;
  }

  /** setSchema stores s for offline use and uses it from now on. */
  async setSchema(s: Schema): Promise<void> {
    await this.storage.write((tx) => tx.put("meta", "schema", s), "strict");
    this.schemaValue = s;
  }

  /** session returns the stored session (undefined before the first login). */
  get session(): Session | undefined {
    return this.sessionValue;
  }

  /** setSession stores s durably before it is used (a rotated refresh token never lives only in memory). */
  async setSession(s: Session): Promise<void> {
    await this.storage.write((tx) => tx.put("meta", "session", s), "strict");
    this.sessionValue = s;
  }

  /**
   * write applies edits to record id (kind: its kind, for a new record) as
   * new ops, stored, merged and queued in one strict transaction, and
   * returns them. It throws FieldsyncError (the code the server would give)
   * and changes nothing when an edit is refused. also, if given, runs in
   * the same transaction with the record as written and its new ops (an
   * attachment queues its file there: files.ts).
   */
  async write(id: string, kind: string, edits: Edit[], also?: WriteHook): Promise<Op[]> {
    const user = this.sessionValue?.user.id;
    if (user === undefined || user === "") {
      throw new NotLoggedInError();
    }
    const ops = await this.storage.write((tx) => this.writeTx(tx, id, kind, edits, user, also), "strict");
    this.onChange([id]);
    return ops;
  }

  /**
   * fix resends the quarantined op opId as a new op (a new id, the base of
   * the record's current state), with edit's changes (e.g. a corrected
   * value) over the rejected op's field, action and value. The new op is
   * queued and the quarantine entry removed in one strict transaction, so
   * the rejected change is never lost: it is either still quarantined or
   * on its way again. It throws (changing nothing) when opId is not
   * quarantined or the fixed op is refused locally.
   */
  async fix(opId: string, edit: Partial<Edit> = {}): Promise<Op> {
    const user = this.sessionValue?.user.id;
    if (user === undefined || user === "") {
      throw new NotLoggedInError();
    }
    let record = "";
    const op = await this.storage.write(async (tx) => {
      let found: { key: string; op: Op } | undefined;
      for (const [k, v] of await tx.list("quarantine")) {
        const q = decodeOp((v as StoredRejected).op);
        if (q.id === opId) {
          found = { key: k, op: q };
        }
      }
      if (found === undefined) {
        throw new Error(`The op ${opId} is not in the quarantine.`);
      }
      const q = found.op;
      record = q.record;
      const e: Edit = { field: q.field, action: q.action, ...(q.action === "redact" ? { target: q.base[0] } : { value: JSON.parse(q.value) as JSONValue }), ...edit };
      const [out] = await this.writeTx(tx, q.record, q.kind, [e], user);
      await tx.delete("quarantine", found.key);
      return out!;
    }, "strict");
    this.onChange([record]);
    return op;
  }

  /** writeTx makes, merges, stores and queues the ops of edits in tx; sequence and clock are read from tx (other tabs write too). */
  private async writeTx(tx: StorageTx, id: string, kind: string, edits: Edit[], user: string, also?: WriteHook): Promise<Op[]> {
    const [storedSeq, storedClock] = [(await tx.get("meta", "seq")) as number | undefined, (await tx.get("meta", "clock")) as string | undefined];
    if (storedClock !== undefined && storedClock > this.clock.lastIssued()) {
      this.observe(storedClock);
    }
    const r = (await loadRecord(tx, id)) ?? new Record(id, kind);
    if (r.kind !== kind) {
      throw new FieldsyncError("kind_mismatch", `Record ${id} is a ${r.kind}; it cannot be written as a ${kind}.`);
    }
    const out: Op[] = [];
    for (const e of edits) {
      const op = writeOp(this.schema, r, e, { id: this.newId(), hlc: this.clock.now(), device: this.device, user });
      r.apply(this.schema, op);
      out.push(op);
    }
    await also?.(tx, r, out);
    let seq = Math.max(this.nextSeq, storedSeq ?? 1);
    const ops = new OpsTx(tx);
    const stored = await ops.of(id);
    for (const op of out) {
      const raw = opJSON(op);
      stored.put(op.id, raw);
      await tx.put("outbox", "q/" + seqKey(seq), raw);
      await tx.put("outbox", "i/" + op.id, seq);
      seq++;
    }
    await ops.flush();
    await tx.put("records", id, r.snapshot());
    await tx.put("meta", "seq", seq);
    await tx.put("meta", "clock", this.clock.lastIssued());
    this.nextSeq = seq;
    return out;
  }

  /** reload reads the session and schema again (another tab may have logged in or fetched the schema). */
  async reload(): Promise<void> {
    const [session, schema] = await this.storage.read(async (tx) => [(await tx.get("meta", "session")) as Session | undefined, (await tx.get("meta", "schema")) as Schema | undefined]);
    this.sessionValue = session;
    if (schema !== undefined) {
      this.schemaValue = schema;
    }
  }

  /** get returns the local state of record id, or undefined. */
  get(id: string): Promise<Record | undefined> {
    return this.storage.read((tx) => loadRecord(tx, id));
  }

  /** ids returns the ids of the local records, sorted. */
  async ids(): Promise<string[]> {
    const entries = await this.storage.read((tx) => tx.list("records"));
    return entries.map(([k]) => k);
  }

  /** ops returns the stored ops of record id (as the server stamped them once acknowledged). */
  ops(id: string): Promise<Op[]> {
    return this.storage.read((tx) => loadOps(new OpsTx(tx), id));
  }

  /** outboxSize returns how many ops wait to be pushed. */
  async outboxSize(): Promise<number> {
    const entries = await this.storage.read((tx) => tx.list("outbox", "q/"));
    return entries.length;
  }

  /** quarantine returns the rejected ops, oldest first. */
  async quarantine(): Promise<Rejected[]> {
    const entries = await this.storage.read((tx) => tx.list("quarantine"));
    return entries.map(([, v]) => {
      const s = v as StoredRejected;
      return { op: decodeOp(s.op), code: s.code, message: s.message, at: s.at };
    });
  }

  /**
   * dismiss removes the quarantined ops ids for good (the user gave up on
   * them). Nothing is removed unless every id is quarantined.
   */
  async dismiss(ids: string[]): Promise<void> {
    await this.storage.write(async (tx) => {
      const entries = await tx.list("quarantine");
      const want = new Set(ids);
      const keys: string[] = [];
      for (const [k, v] of entries) {
        const id = decodeOp((v as StoredRejected).op).id;
        if (want.delete(id)) {
          keys.push(k);
        }
      }
      if (want.size > 0) {
        throw new Error(`The op ${[...want][0]} is not in the quarantine.`);
      }
      for (const k of keys) {
        await tx.delete("quarantine", k);
      }
    }, "strict");
  }

  /** cursor returns the stored pull cursor. */
  async cursor(): Promise<string> {
    return ((await this.storage.read((tx) => tx.get("meta", "cursor"))) as string | undefined) ?? "";
  }

  /** lastSync returns when the last sync completed (ISO 8601), or undefined. */
  lastSync(): Promise<string | undefined> {
    return this.storage.read((tx) => tx.get("meta", "last_sync")) as Promise<string | undefined>;
  }

  /** markSynced records that a sync completed now. */
  async markSynced(): Promise<void> {
    await this.storage.write((tx) => tx.put("meta", "last_sync", new Date(this.now()).toISOString()), "relaxed");
  }

  /** outboxBatch returns the oldest outbox entries: at most maxOps, and beyond the first at most maxBytes of op JSON. */
  outboxBatch(maxOps: number, maxBytes: number): Promise<Pending[]> {
    return this.storage.read(async (tx) => {
      const entries = await tx.list("outbox", "q/", maxOps);
      const out: Pending[] = [];
      let size = 0;
      for (const [k, v] of entries) {
        const raw = v as string;
        if (out.length > 0 && size + raw.length + 1 > maxBytes) {
          break;
        }
        size += raw.length + 1;
        out.push({ seq: Number(k.slice(2)), raw, op: decodeOp(raw) });
      }
      return out;
    });
  }

  /**
   * applyResults applies a push's per-op results in one transaction:
   * applied and duplicate ops leave the outbox and take the server's hlc
   * and user (the record is rebuilt when they changed); rejected ones move
   * to the quarantine. It returns how many ops were answered.
   */
  async applyResults(batch: Pending[], results: PushResult[], serverHLC: string): Promise<number> {
    const byID = new Map(results.map((r) => [r.id, r]));
    const user = this.sessionValue?.user.id ?? "";
    const touched = new Set<string>();
    const answered = await this.storage.write(async (tx) => {
      this.observe(serverHLC);
      const ops = new OpsTx(tx);
      const stale = new Set<string>();
      let n = 0;
      for (const p of batch) {
        const r = byID.get(p.op.id);
        if (r === undefined || (await tx.get("outbox", "i/" + p.op.id)) === undefined) {
          continue;
        }
        n++;
        if (r.status === "applied" || r.status === "duplicate") {
          await dequeue(tx, p.seq, p.op.id);
          if (await restamp(ops, p.op, r.hlc, user)) {
            stale.add(p.op.record);
          }
        } else if (r.code === "record_erased") {
          // Retention erased the record at the server: nothing of it may
          // stay here, and the op can never be stored there.
          await dequeue(tx, p.seq, p.op.id);
          await this.dropRecord(tx, ops, p.op.record, touched, true);
          stale.delete(p.op.record);
        } else {
          await this.quarantineTx(tx, ops, p, r.code || "internal", r.message ?? "", stale);
        }
      }
      await this.rebuild(tx, ops, stale, touched);
      await this.forgetUnreadable(tx, ops, batch, touched);
      await ops.flush();
      await tx.put("meta", "clock", this.clock.lastIssued());
      return n;
    }, "strict");
    this.changed(touched);
    return answered;
  }

  /** quarantineOne moves one outbox entry to the quarantine (a push refused as a whole for it). */
  async quarantineOne(p: Pending, code: string, message: string): Promise<void> {
    const touched = new Set<string>();
    await this.storage.write(async (tx) => {
      const stale = new Set<string>();
      const ops = new OpsTx(tx);
      await this.quarantineTx(tx, ops, p, code, message, stale);
      await this.rebuild(tx, ops, stale, touched);
      await ops.flush();
    }, "strict");
    this.changed(touched);
  }

  /**
   * applyPage stores and merges a pull page, then its drops (records this
   * device lost: deleted, their unsent ops quarantined as forbidden), the
   * cursor, and at the end of a resync the removal of the records it did
   * not deliver, in one transaction.
   */
  async applyPage(p: Page): Promise<void> {
    const touched = new Set<string>();
    const t = this.pullTimings;
    let mark = performance.now();
    const lap = (): number => {
      const prev = mark;
      mark = performance.now();
      return mark - prev;
    };
    await this.storage.write(async (raw) => {
      const tx = pipelined(raw);
      const ops = new OpsTx(tx);
      await this.prefetchPage(tx, ops, p.ops);
      t.readMs += lap();
      const resyncing = (await tx.get("meta", "resync")) === true;
      const stale = new Set<string>();
      const dirty = new Map<string, Record>();
      // A record's writes are queued as soon as the page has no more ops
      // of it, so IndexedDB stores them while the rest of the page merges.
      const last = new Map(p.ops.map((op, i) => [op.record, i]));
      let newest = "";
      for (let i = 0; i < p.ops.length; i++) {
        const op = p.ops[i]!;
        newest = op.hlc > newest ? op.hlc : newest;
        const enc = p.json?.[i] ?? opJSON(op);
        // Most ops are of a record whose ops are loaded and whose state is
        // already in dirty: they merge without awaiting (a microtask hop
        // per await and op cost the cold first pull of a fresh device).
        const held = op.device === this.device ? undefined : ops.loaded(op.record);
        const known = dirty.get(op.record);
        if (held !== undefined && known !== undefined) {
          if (this.hold(held, op, enc, stale)) {
            this.merge(known, op, stale);
          }
        } else {
          await this.receive(tx, ops, op, enc, stale, dirty);
        }
        const r = dirty.get(op.record);
        if (last.get(op.record) === i && r !== undefined && !stale.has(op.record)) {
          await tx.put("records", op.record, r.snapshot());
          await (await ops.of(op.record)).save(tx);
          touched.add(op.record);
          dirty.delete(op.record);
        }
      }
      if (resyncing) {
        for (const id of new Set(p.ops.map((op) => op.record))) {
          await tx.delete("meta", "resync/" + id);
        }
      }
      for (const [id, r] of dirty) {
        if (!stale.has(id)) {
          await tx.put("records", id, r.snapshot());
          touched.add(id);
        }
      }
      await this.rebuild(tx, ops, stale, touched);
      this.observe(newest);
      this.observe(p.server);
      await tx.put("meta", "clock", this.clock.lastIssued());
      const erased = new Set(p.erased ?? []);
      for (const id of p.drop) {
        await this.dropRecord(tx, ops, id, touched, erased.has(id));
      }
      await tx.put("meta", "cursor", p.cursor);
      if (!p.more && resyncing) {
        await this.endResync(tx, ops, touched);
      }
      await ops.flush();
      t.mergeMs += lap();
      await tx.flush();
    }, "relaxed");
    t.writeMs += lap();
    t.pages++;
    this.changed(touched);
  }

  /**
   * prefetchPage reads in one batch what applyPage will look up for ops:
   * each record's ops (one read of its open chunk; a record without one
   * is not held, every record of a fresh device), the state of the records
   * held, and the outbox entries of this device's own ops. A pull page
   * thus costs about a read and two writes per record, not per op.
   */
  private async prefetchPage(tx: Pipelined, ops: OpsTx, page: Op[]): Promise<void> {
    const records = [...new Set(page.map((op) => op.record))];
    await Promise.all([ops.prefetch(records), tx.prefetch("outbox", page.filter((op) => op.device === this.device).map((op) => "i/" + op.id))]);
    const held: string[] = [];
    const fresh: string[] = [];
    for (const r of records) {
      ((await ops.of(r)).size > 0 ? held : fresh).push(r);
    }
    tx.absent("records", fresh);
    await tx.prefetch("records", held);
  }

  /**
   * startResync prepares a pull from an empty cursor (410 resync_required):
   * every local record is marked, the full pull unmarks what it delivers,
   * and its last page removes the records still marked (unless they have
   * ops in the outbox). The marks are durable.
   */
  async startResync(): Promise<void> {
    await this.storage.write(async (tx) => {
      for (const [id] of await tx.list("records")) {
        await tx.put("meta", "resync/" + id, true);
      }
      await tx.put("meta", "resync", true);
      await tx.put("meta", "cursor", "");
    }, "strict");
  }

  /** wipe erases every store of the replica; it is unusable afterwards. */
  async wipe(): Promise<void> {
    this.wiped = true;
    this.sessionValue = undefined;
    await this.storage.wipe();
  }

  /** isWiped reports whether wipe ran. */
  get isWiped(): boolean {
    return this.wiped;
  }

  private async receive(tx: StorageTx, ops: OpsTx, op: Op, enc: string, stale: Set<string>, dirty: Map<string, Record>): Promise<void> {
    if (op.device === this.device) {
      const seq = (await tx.get("outbox", "i/" + op.id)) as number | undefined;
      if (seq !== undefined) {
        await dequeue(tx, seq, op.id);
      }
    }
    if (!this.hold(await ops.of(op.record), op, enc, stale)) {
      return;
    }
    let r = dirty.get(op.record);
    if (r === undefined) {
      r = (await loadRecord(tx, op.record)) ?? new Record(op.record, op.kind);
      dirty.set(op.record, r);
    }
    this.merge(r, op, stale);
  }

  /**
   * hold stores a received op's JSON enc among the record's ops (and the
   * redacted form of the op a redaction targets); it reports whether the
   * op is still to be merged into the record's state: not when it was
   * held already as is, nor when the record is to be rebuilt (stale).
   */
  private hold(held: RecordOps, op: Op, enc: string, stale: Set<string>): boolean {
    const stored = held.get(op.id);
    if (stored === enc) {
      return false;
    }
    held.put(op.id, enc);
    if (op.action === "redact" && op.base[0] !== undefined) {
      const target = held.get(op.base[0]);
      if (target !== undefined) {
        held.put(op.base[0], opJSON(redactedOp(decodeOp(target))));
      }
    }
    if (stored !== undefined || stale.has(op.record)) {
      stale.add(op.record);
      return false;
    }
    return true;
  }

  /** merge applies op to r; an op r cannot merge marks the record stale. */
  private merge(r: Record, op: Op, stale: Set<string>): void {
    try {
      r.apply(this.schema, op);
    } catch {
      // An op this version cannot merge (unknown field, other kind): it is
      // stored, and the record is rebuilt from what merges.
      stale.add(op.record);
    }
  }

  /**
   * forgetUnreadable removes the records of batch this user writes without
   * reading (a visitor's identifications, DESIGN §6) once the server has
   * every op of them: the server will never serve them back, and a lost
   * phone must not keep them. Later writes to such a record go out with
   * an empty base (the device no longer knows its state, as intended).
   */
  private async forgetUnreadable(tx: StorageTx, ops: OpsTx, batch: Pending[], touched: Set<string>): Promise<void> {
    const user = this.sessionValue?.user;
    if (user === undefined) {
      return;
    }
    const done = new Set<string>();
    for (const p of batch) {
      if (done.has(p.op.record) || !writesWithoutReading(user, p.op.kind)) {
        continue;
      }
      done.add(p.op.record);
      if ((await outboxOf(tx, p.op.record)).length === 0) {
        await deleteRecord(tx, ops, p.op.record);
        touched.add(p.op.record);
      }
    }
  }

  private async quarantineTx(tx: StorageTx, ops: OpsTx, p: Pending, code: string, message: string, stale: Set<string>): Promise<void> {
    await dequeue(tx, p.seq, p.op.id);
    const q: StoredRejected = { op: p.raw, code, message, at: new Date(this.now()).toISOString() };
    await tx.put("quarantine", seqKey(p.seq), q);
    const held = await ops.of(p.op.record);
    if (held.get(p.op.id) !== undefined) {
      held.delete(p.op.id);
      stale.add(p.op.record);
    }
  }

  /**
   * dropRecord deletes a record the device lost access to, with all its
   * ops; its unsent ops go to the quarantine as forbidden, for the user to
   * see what did not reach the server. A record retention erased leaves
   * nothing behind: its unsent ops are deleted too (the server refuses
   * them, record_erased). Either is remembered until acknowledged
   * (POST /v1/sync/purges at the end of the sync).
   */
  private async dropRecord(tx: StorageTx, ops: OpsTx, id: string, touched: Set<string>, erased = false): Promise<void> {
    for (const p of await outboxOf(tx, id)) {
      if (erased) {
        await dequeue(tx, p.seq, p.op.id);
      } else {
        await this.quarantineTx(tx, ops, p, "forbidden", "You no longer have access to this record; this change was not sent.", new Set());
      }
    }
    await tx.put("meta", DROPPED + id, true);
    await deleteRecord(tx, ops, id);
    await dropFiles(tx, id);
    touched.add(id);
  }

  /**
   * quarantineOp moves the queued op opId to the quarantine with code and
   * message (an attachment whose file the server refused for good:
   * files.ts); also runs in the same transaction. Nothing happens when
   * opId is no longer queued.
   */
  async quarantineOp(opId: string, code: string, message: string, also?: (tx: StorageTx) => Promise<void>): Promise<void> {
    const touched = new Set<string>();
    await this.storage.write(async (tx) => {
      const seq = (await tx.get("outbox", "i/" + opId)) as number | undefined;
      const raw = seq === undefined ? undefined : ((await tx.get("outbox", "q/" + seqKey(seq))) as string | undefined);
      if (seq !== undefined && raw !== undefined) {
        const ops = new OpsTx(tx);
        const stale = new Set<string>();
        await this.quarantineTx(tx, ops, { seq, op: decodeOp(raw), raw }, code, message, stale);
        await this.rebuild(tx, ops, stale, touched);
        await ops.flush();
      }
      await also?.(tx);
    }, "strict");
    this.changed(touched);
  }

  /** droppedToAcknowledge returns up to limit records drops deleted that the server has not been told of. */
  async droppedToAcknowledge(limit: number): Promise<string[]> {
    const entries = await this.storage.read((tx) => tx.list("meta", DROPPED, limit));
    return entries.map(([k]) => k.slice(DROPPED.length));
  }

  /** forgetDropped forgets acknowledged drops. */
  async forgetDropped(ids: string[]): Promise<void> {
    await this.storage.write(async (tx) => {
      for (const id of ids) {
        await tx.delete("meta", DROPPED + id);
      }
    }, "relaxed");
  }

  private async endResync(tx: StorageTx, ops: OpsTx, touched: Set<string>): Promise<void> {
    for (const [k] of await tx.list("meta", "resync/")) {
      const id = k.slice("resync/".length);
      await tx.delete("meta", k);
      if ((await outboxOf(tx, id)).length === 0) {
        await deleteRecord(tx, ops, id);
        touched.add(id);
      }
    }
    await tx.delete("meta", "resync");
  }

  /** rebuild recomputes the stale records from their stored ops (deleting those left with none). */
  private async rebuild(tx: StorageTx, held: OpsTx, stale: Set<string>, touched: Set<string>): Promise<void> {
    for (const id of stale) {
      const ops = await loadOps(held, id);
      touched.add(id);
      if (ops.length === 0) {
        await tx.delete("records", id);
        continue;
      }
      const rs = new Map<string, Record>();
      for (const op of ops) {
        try {
          materialise(this.schema, [op], rs);
        } catch {
          // not mergeable by this version; kept in ops
        }
      }
      const r = rs.get(id);
      if (r === undefined) {
        await tx.delete("records", id);
      } else {
        await tx.put("records", id, r.snapshot());
      }
    }
  }

  private observe(ts: string): void {
    if (ts === "") {
      return;
    }
    try {
      this.clock.update(ts);
    } catch {
      // a drifting or malformed remote clock is not the device's problem
    }
  }

  private changed(touched: Set<string>): void {
    if (touched.size > 0) {
      this.onChange([...touched].sort());
    }
  }
}

/**
 * writesWithoutReading reports whether user writes records of kind without
 * being able to read them back (sync/access.CanRead): a visitor's
 * identifications.
 */
export function writesWithoutReading(user: User, kind: string): boolean {
  return user.role === "visitor" && kind === "identification";
}

async function loadRecord(tx: StorageTx, id: string): Promise<Record | undefined> {
  const s = await tx.get("records", id);
  return s === undefined ? undefined : Record.fromSnapshot(s as ReturnType<Record["snapshot"]>);
}

async function loadOps(ops: OpsTx, id: string): Promise<Op[]> {
  return (await ops.of(id)).all().map((v) => decodeOp(v));
}

async function dequeue(tx: StorageTx, seq: number, id: string): Promise<void> {
  await tx.delete("outbox", "q/" + seqKey(seq));
  await tx.delete("outbox", "i/" + id);
}

async function outboxOf(tx: StorageTx, record: string): Promise<Pending[]> {
  const out: Pending[] = [];
  for (const [k, v] of await tx.list("outbox", "q/")) {
    const op = decodeOp(v as string);
    if (op.record === record) {
      out.push({ seq: Number(k.slice(2)), raw: v as string, op });
    }
  }
  return out;
}

async function deleteRecord(tx: StorageTx, ops: OpsTx, id: string): Promise<void> {
  (await ops.of(id)).clear();
  await tx.delete("records", id);
}

/** restamp gives the stored copy of an acknowledged op the server's hlc and user; it reports a change. */
async function restamp(ops: OpsTx, sent: Op, hlc: string | undefined, user: string): Promise<boolean> {
  const held = await ops.of(sent.record);
  const raw = held.get(sent.id);
  if (raw === undefined) {
    return false;
  }
  const op = decodeOp(raw);
  let changed = false;
  if (hlc !== undefined && /^[0-9a-f]{16}$/.test(hlc) && hlc !== op.hlc) {
    op.hlc = hlc;
    changed = true;
  }
  if (user !== "" && op.user !== user) {
    op.user = user;
    changed = true;
  }
  if (changed) {
    held.put(sent.id, opJSON(op));
  }
  return changed;
}

/** Pipelined is a transaction whose reads of prefetched keys and whose writes do not wait for IndexedDB. */
interface Pipelined extends StorageTx {
  /** prefetch reads keys of store in one batch and returns their values. */
  prefetch(store: StoreName, keys: string[]): Promise<unknown[]>;
  /** absent notes that keys of store are known not to exist (they read as absent without a request). */
  absent(store: StoreName, keys: string[]): void;
  /** flush waits for every queued write. */
  flush(): Promise<void>;
}

/**
 * pipelined wraps a transaction for applyPage: the keys it prefetches (in
 * one batch of requests) and the keys it writes are read from memory, and
 * writes are queued without waiting for each (IndexedDB runs a
 * transaction's requests in order); list, count and flush wait for them.
 * Awaiting each request in turn cost a round trip to the browser's
 * storage process per op: a fresh browser pulled 100,000 ops 2.6× slower
 * than the Go SDK this way against 12.6× before (sdk_bench_test.go).
 */
function pipelined(tx: StorageTx): Pipelined {
  const cache = new Map<string, unknown>();
  let pending: Promise<void>[] = [];
  const ck = (s: string, k: string): string => s + "\u0000" + k;
  const flush = async (): Promise<void> => {
    const p = pending;
    pending = [];
    await Promise.all(p);
  };
  const queue = (w: Promise<void>): void => {
    w.catch(() => undefined); // flush (or the aborted transaction) reports it
    pending.push(w);
  };
  return {
    get: async (s, k) => (cache.has(ck(s, k)) ? cache.get(ck(s, k)) : tx.get(s, k)),
    put: async (s, k, v) => {
      cache.set(ck(s, k), v);
      queue(tx.put(s, k, v));
    },
    delete: async (s, k) => {
      cache.set(ck(s, k), undefined);
      queue(tx.delete(s, k));
    },
    list: async (s, prefix, limit) => {
      await flush();
      return tx.list(s, prefix, limit);
    },
    count: async (s) => {
      await flush();
      return tx.count(s);
    },
    prefetch: async (s, keys) => {
      const vs = await Promise.all(keys.map((k) => tx.get(s, k)));
      keys.forEach((k, i) => cache.set(ck(s, k), vs[i]));
      return vs;
    },
    absent: (s, keys) => {
      for (const k of keys) {
        cache.set(ck(s, k), undefined);
      }
    },
    flush,
  };
}
