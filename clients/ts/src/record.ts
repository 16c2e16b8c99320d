/**
 * The merged state of a record: a function of the set of ops received for
 * it, whatever their order and however often each arrived (DESIGN §4, the
 * rules of Go's sync/crdt package comment):
 *
 *  1. register (set): siblings are the set ops no other op of the field
 *     names in its base; the shown value is the greatest sibling by (hlc,
 *     device, op), the others are conflicts, greatest first; with no
 *     sibling left (forged bases naming each other) it shows
 *     {"value":null}.
 *  2. set (add, remove): an element is present while some add of it is not
 *     named in the base of a remove of that element (add wins; a remove
 *     with an empty base changes nothing). Values sorted by UTF-8 bytes.
 *  3. log (append, redact): entries sorted by (hlc, device, op); a redacted
 *     entry keeps its place, its value becomes null, and it names the user
 *     of the greatest redact naming it, even one that arrived first.
 *  4. deleted is an ordinary register shown at the top level.
 *  5. The record's hlc is the greatest hlc of its ops.
 *
 * apply costs O(size of the field's state), never O(history). merge is the
 * state-based join and equals applying the union of both replicas' ops.
 * canonical() is the served state in RFC 8785 form: replicas holding the
 * same ops hold byte-identical canonical state, equal to the Go engine's.
 */
import { errorf } from "./errors.js";
import { type Timestamp, ZERO_TIMESTAMP } from "./hlc.js";
import { canonicalString, compareUTF16, compareUTF8, type JSONValue, parseJSON, utf8Length } from "./json.js";
import { compareKeys, type Op, opJSON, stringOf } from "./op.js";
import { FIELD_DELETED, type FieldClass, fieldOf, type Schema } from "./schema.js";

/** One op's contribution to a field: a register sibling or a log entry. */
export interface Entry {
  op: string;
  /** Canonical JSON text of the value ("null" when redacted). */
  value: string;
  hlc: Timestamp;
  device: string;
  user: string;
  /** Set on a log entry some redact names. */
  redacted?: boolean;
  /** The user of the greatest redact naming this log entry. */
  redactedBy?: string;
}

/** A redact op's key and author, kept for its target. */
export interface Redaction {
  hlc: Timestamp;
  device: string;
  op: string;
  user: string;
}

// Size accounting, the same constants as Go's sync/crdt size.go, so that a
// device refuses record_too_large exactly where the server would.
const entryCost = 128;
const idCost = 40;
const elementCost = 8;
const redactionCost = 128;

function entryOf(op: Op): Entry {
  return { op: op.id, value: op.value, hlc: op.hlc, device: op.device, user: op.user };
}

function costOfEntry(e: Entry): number {
  return entryCost + utf8Length(e.value);
}

/** greater reports whether a sorts before b greatest first by (hlc, device, op). */
function greater(a: Entry, b: Entry): boolean {
  return compareKeys(b.hlc, b.device, b.op, a.hlc, a.device, a.op) < 0;
}

/** The state of one field under its merge class. */
interface Field {
  readonly cls: FieldClass;
  apply(op: Op): boolean;
  merge(other: Field): void;
  clone(): Field;
  json(): string;
  size(): number;
  growth(op: Op): number;
  snapshot(): FieldSnapshot;
}

/**
 * The stored form of a record's full internal state (not only what is
 * served): siblings, superseded ids, per-element adds and removes, log
 * entries and redactions, so a replica updates a record without replaying
 * its history. It is plain JSON data (structured-clone and JSON.stringify
 * safe), deterministic (every list sorted), and restores to a record whose
 * later merges, canonical state and size equal the original's.
 */
export interface RecordSnapshot {
  v: 1;
  id: string;
  kind: string;
  hlc: Timestamp;
  fields: { [name: string]: FieldSnapshot };
}

/** The stored form of one field (see RecordSnapshot). */
export type FieldSnapshot =
  | { class: "register"; siblings: Entry[]; superseded: string[] }
  | { class: "set"; elements: Array<[element: string, live: string[], removed: string[]]> }
  | { class: "log"; entries: Entry[]; redactions: Array<[target: string, redaction: Redaction]> };

class RegisterField implements Field {
  readonly cls = "register";
  /** Greatest first: siblings[0] is the shown value. */
  siblings: Entry[] = [];
  /** Every op id named in a base of this field, received or not. */
  superseded = new Set<string>();
  private bytes = 0;

  apply(op: Op): boolean {
    let changed = false;
    for (const id of op.base) {
      if (this.supersede(id)) {
        changed = true;
      }
    }
    if (this.superseded.has(op.id) || this.has(op.id)) {
      return changed;
    }
    this.insert(entryOf(op));
    return true;
  }

  private supersede(id: string): boolean {
    if (this.superseded.has(id)) {
      return false;
    }
    this.superseded.add(id);
    this.bytes += idCost;
    const i = this.siblings.findIndex((e) => e.op === id);
    if (i >= 0) {
      this.bytes -= costOfEntry(this.siblings[i]!);
      this.siblings.splice(i, 1);
    }
    return true;
  }

  has(id: string): boolean {
    return this.siblings.some((e) => e.op === id);
  }

  private insert(e: Entry): void {
    let i = 0;
    while (i < this.siblings.length && greater(this.siblings[i]!, e)) {
      i++;
    }
    this.siblings.splice(i, 0, e);
    this.bytes += costOfEntry(e);
  }

  merge(other: Field): void {
    const o = other as RegisterField;
    for (const id of o.superseded) {
      this.supersede(id);
    }
    for (const e of o.siblings) {
      if (!this.superseded.has(e.op) && !this.has(e.op)) {
        this.insert({ ...e });
      }
    }
  }

  clone(): Field {
    const c = new RegisterField();
    c.siblings = this.siblings.map((e) => ({ ...e }));
    c.superseded = new Set(this.superseded);
    c.bytes = this.bytes;
    return c;
  }

  json(): string {
    const [shown, ...others] = this.siblings;
    if (shown === undefined) {
      return '{"value":null}';
    }
    const conflicts = others.length > 0 ? `"conflicts":[${others.map((e) => `{${members(e)}}`).join(",")}],` : "";
    return `{${conflicts}${members(shown)}}`;
  }

  size(): number {
    return this.bytes;
  }

  growth(op: Op): number {
    let g = 0;
    for (const id of op.base) {
      if (this.superseded.has(id)) {
        continue;
      }
      g += idCost;
      const e = this.siblings.find((x) => x.op === id);
      if (e !== undefined) {
        g -= costOfEntry(e);
      }
    }
    if (this.superseded.has(op.id) || this.has(op.id)) {
      return g;
    }
    return g + entryCost + utf8Length(op.value);
  }

  recount(): void {
    this.bytes = this.superseded.size * idCost + this.siblings.reduce((n, e) => n + costOfEntry(e), 0);
  }

  snapshot(): FieldSnapshot {
    return { class: "register", siblings: this.siblings.map(copyEntry), superseded: [...this.superseded].sort() };
  }
}

/** members writes device, hlc, op, user, value (keys sorted). */
function members(e: Entry): string {
  return `"device":${canonicalString(e.device)},"hlc":"${e.hlc}","op":${canonicalString(e.op)},"user":${canonicalString(e.user)},"value":${e.value}`;
}

/** An element of a set: the add ops no remove named, and the add ids removes named. */
interface Element {
  live: Set<string>;
  removed: Set<string>;
}

class SetField implements Field {
  readonly cls = "set";
  elems = new Map<string, Element>();
  private bytes = 0;

  element(name: string): Element {
    let e = this.elems.get(name);
    if (e === undefined) {
      e = { live: new Set(), removed: new Set() };
      this.elems.set(name, e);
      this.bytes += elementCost + utf8Length(name);
    }
    return e;
  }

  apply(op: Op): boolean {
    const e = this.element(stringOf(op.value) ?? "");
    if (op.action === "remove") {
      let changed = false;
      for (const id of op.base) {
        if (this.remove(e, id)) {
          changed = true;
        }
      }
      return changed;
    }
    return this.add(e, op.id);
  }

  private add(e: Element, id: string): boolean {
    if (e.removed.has(id) || e.live.has(id)) {
      return false;
    }
    e.live.add(id);
    this.bytes += idCost;
    return true;
  }

  private remove(e: Element, id: string): boolean {
    if (e.removed.has(id)) {
      return false;
    }
    e.removed.add(id);
    this.bytes += idCost;
    if (e.live.delete(id)) {
      this.bytes -= idCost;
    }
    return true;
  }

  /** present returns the present elements sorted by UTF-8 bytes. */
  present(): string[] {
    const out: string[] = [];
    for (const [name, e] of this.elems) {
      if (e.live.size > 0) {
        out.push(name);
      }
    }
    return out.sort(compareUTF8);
  }

  merge(other: Field): void {
    for (const [name, oe] of (other as SetField).elems) {
      const e = this.element(name);
      for (const id of oe.removed) {
        this.remove(e, id);
      }
      for (const id of oe.live) {
        this.add(e, id);
      }
    }
  }

  clone(): Field {
    const c = new SetField();
    for (const [name, e] of this.elems) {
      c.elems.set(name, { live: new Set(e.live), removed: new Set(e.removed) });
    }
    c.bytes = this.bytes;
    return c;
  }

  json(): string {
    return `{"values":[${this.present().map(canonicalString).join(",")}]}`;
  }

  size(): number {
    return this.bytes;
  }

  growth(op: Op): number {
    if (op.action !== "add") {
      return 0;
    }
    const name = stringOf(op.value) ?? "";
    const e = this.elems.get(name);
    if (e === undefined) {
      return elementCost + utf8Length(name) + idCost;
    }
    return e.live.has(op.id) || e.removed.has(op.id) ? 0 : idCost;
  }

  recount(): void {
    this.bytes = 0;
    for (const [name, e] of this.elems) {
      this.bytes += elementCost + utf8Length(name) + (e.live.size + e.removed.size) * idCost;
    }
  }

  snapshot(): FieldSnapshot {
    const elements: Array<[string, string[], string[]]> = [...this.elems]
      .sort(([a], [b]) => compareUTF8(a, b))
      .map(([name, e]) => [name, [...e.live].sort(), [...e.removed].sort()]);
    return { class: "set", elements };
  }
}

class LogField implements Field {
  readonly cls = "log";
  /** In (hlc, device, op) order. */
  entries: Entry[] = [];
  /** Append op id → the greatest redact naming it (kept before the append arrives). */
  redactions = new Map<string, Redaction>();
  private ids = new Set<string>();
  private bytes = 0;

  apply(op: Op): boolean {
    if (op.action === "redact") {
      return this.redact(op.base[0]!, { hlc: op.hlc, device: op.device, op: op.id, user: op.user });
    }
    return this.append(entryOf(op));
  }

  private position(e: Entry): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const x = this.entries[mid]!;
      if (compareKeys(x.hlc, x.device, x.op, e.hlc, e.device, e.op) < 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  append(e: Entry): boolean {
    if (this.ids.has(e.op)) {
      return false;
    }
    this.ids.add(e.op);
    const r = this.redactions.get(e.op);
    if (r !== undefined) {
      erase(e, r.user);
    }
    this.entries.splice(this.position(e), 0, e);
    this.bytes += costOfEntry(e);
    return true;
  }

  redact(target: string, r: Redaction): boolean {
    const old = this.redactions.get(target);
    if (old !== undefined && compareKeys(old.hlc, old.device, old.op, r.hlc, r.device, r.op) >= 0) {
      return false;
    }
    if (old === undefined) {
      this.bytes += redactionCost;
    }
    this.redactions.set(target, r);
    for (const e of this.entries) {
      if (e.op === target) {
        this.bytes -= utf8Length(e.value);
        erase(e, r.user);
        this.bytes += utf8Length(e.value);
      }
    }
    return true;
  }

  merge(other: Field): void {
    const o = other as LogField;
    for (const [target, r] of o.redactions) {
      this.redact(target, r);
    }
    for (const e of o.entries) {
      const c = { ...e };
      const r = this.redactions.get(c.op);
      if (r !== undefined) {
        erase(c, r.user);
      }
      this.append(c);
    }
  }

  clone(): Field {
    const c = new LogField();
    c.entries = this.entries.map((e) => ({ ...e }));
    c.redactions = new Map(this.redactions);
    c.ids = new Set(this.ids);
    c.bytes = this.bytes;
    return c;
  }

  json(): string {
    const parts = this.entries.map((e) => {
      const red = e.redacted ? `"redacted":true,"redacted_by":${canonicalString(e.redactedBy ?? "")}` : `"redacted":false`;
      return `{"device":${canonicalString(e.device)},"hlc":"${e.hlc}","op":${canonicalString(e.op)},${red},"user":${canonicalString(e.user)},"value":${e.value}}`;
    });
    return `{"entries":[${parts.join(",")}]}`;
  }

  size(): number {
    return this.bytes;
  }

  growth(op: Op): number {
    if (op.action !== "append") {
      return 0;
    }
    return this.redactions.has(op.id) ? entryCost + 4 : entryCost + utf8Length(op.value);
  }

  /** recount sets the size and the id index from the state (after a restore). */
  recount(): void {
    this.bytes = this.redactions.size * redactionCost + this.entries.reduce((n, e) => n + costOfEntry(e), 0);
    this.ids = new Set(this.entries.map((e) => e.op));
  }

  snapshot(): FieldSnapshot {
    const redactions: Array<[string, Redaction]> = [...this.redactions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([t, r]) => [t, { ...r }]);
    return { class: "log", entries: this.entries.map(copyEntry), redactions };
  }
}

/** copyEntry copies e without undefined members (a stored entry is plain JSON). */
function copyEntry(e: Entry): Entry {
  const c: Entry = { op: e.op, value: e.value, hlc: e.hlc, device: e.device, user: e.user };
  if (e.redacted) {
    c.redacted = true;
    c.redactedBy = e.redactedBy ?? "";
  }
  return c;
}

/** restoreField rebuilds a field from its snapshot, checking its shape; it throws on a damaged one. */
function restoreField(name: string, f: FieldSnapshot): Field {
  const bad = () => new Error(`The snapshot of field ${JSON.stringify(name)} is damaged.`);
  switch (f?.class) {
    case "register": {
      const r = new RegisterField();
      r.siblings = checkEntries(f.siblings, bad);
      r.superseded = new Set(checkStrings(f.superseded, bad));
      r.recount();
      return r;
    }
    case "set": {
      const s = new SetField();
      if (!Array.isArray(f.elements)) {
        throw bad();
      }
      for (const el of f.elements) {
        if (!Array.isArray(el) || typeof el[0] !== "string") {
          throw bad();
        }
        s.elems.set(el[0], { live: new Set(checkStrings(el[1], bad)), removed: new Set(checkStrings(el[2], bad)) });
      }
      s.recount();
      return s;
    }
    case "log": {
      const l = new LogField();
      l.entries = checkEntries(f.entries, bad);
      if (!Array.isArray(f.redactions)) {
        throw bad();
      }
      for (const rd of f.redactions) {
        const r = Array.isArray(rd) ? rd[1] : undefined;
        if (!Array.isArray(rd) || typeof rd[0] !== "string" || r === undefined || r === null || ![r.hlc, r.device, r.op, r.user].every((x) => typeof x === "string")) {
          throw bad();
        }
        l.redactions.set(rd[0], { hlc: r.hlc, device: r.device, op: r.op, user: r.user });
      }
      l.recount();
      return l;
    }
  }
  throw bad();
}

function checkStrings(xs: unknown, bad: () => Error): string[] {
  if (!Array.isArray(xs) || !xs.every((x) => typeof x === "string")) {
    throw bad();
  }
  return xs as string[];
}

function checkEntries(es: unknown, bad: () => Error): Entry[] {
  if (!Array.isArray(es)) {
    throw bad();
  }
  return es.map((e: Entry) => {
    if (e === null || typeof e !== "object" || ![e.op, e.value, e.hlc, e.device, e.user].every((x) => typeof x === "string")) {
      throw bad();
    }
    return copyEntry(e);
  });
}

function erase(e: Entry, by: string): void {
  e.value = "null";
  e.redacted = true;
  e.redactedBy = by;
}

function newField(c: FieldClass): Field {
  switch (c) {
    case "set":
      return new SetField();
    case "log":
      return new LogField();
  }
  return new RegisterField();
}

/** Record is the merged state of one record (see the module comment). */
export class Record {
  /** The greatest hlc of any op received. */
  hlc: Timestamp = ZERO_TIMESTAMP;
  private fields = new Map<string, Field>();

  constructor(
    readonly id: string,
    readonly kind: string,
  ) {}

  /**
   * apply merges a decoded, validated op of this record. An op of another
   * record or kind is refused (FieldsyncError invalid_op, kind_mismatch)
   * and changes nothing. It reports whether the state changed.
   */
  apply(s: Schema, op: Op): boolean {
    if (op.record !== this.id) {
      throw errorf("invalid_op", `The op belongs to record ${op.record}, not ${this.id}.`);
    }
    if (op.kind !== this.kind) {
      throw errorf("kind_mismatch", `Record ${this.id} is a ${this.kind}; an op cannot write to it as a ${op.kind}.`);
    }
    let f = this.fields.get(op.field);
    const known = f !== undefined;
    if (f === undefined) {
      f = newField(fieldOf(s, op.kind, op.field).class);
      this.fields.set(op.field, f);
    }
    let changed = f.apply(op);
    if (op.hlc > this.hlc) {
      this.hlc = op.hlc;
      changed = true;
    }
    return changed || !known;
  }

  /** deleted reports the shown value of the deleted register. */
  get deleted(): boolean {
    const f = this.fields.get(FIELD_DELETED);
    return f instanceof RegisterField && f.siblings[0]?.value === "true";
  }

  /** fieldNames returns the names of the fields received so far, sorted. */
  fieldNames(): string[] {
    return [...this.fields.keys()].sort(compareUTF16);
  }

  /** value returns the shown value of register name, parsed (undefined when absent or without sibling). */
  value(name: string): JSONValue | undefined {
    const f = this.fields.get(name);
    const shown = f instanceof RegisterField ? f.siblings[0] : undefined;
    return shown === undefined ? undefined : parseJSON(shown.value);
  }

  /** siblings returns the siblings of register name, shown value first (copies). */
  siblings(name: string): Entry[] {
    const f = this.fields.get(name);
    return f instanceof RegisterField ? f.siblings.map((e) => ({ ...e })) : [];
  }

  /** elements returns the present elements of set name, sorted by UTF-8 bytes. */
  elements(name: string): string[] {
    const f = this.fields.get(name);
    return f instanceof SetField ? f.present() : [];
  }

  /** liveAdds returns the ids of the adds of element that no remove named: the base of a remove of it. */
  liveAdds(name: string, element: string): string[] {
    const f = this.fields.get(name);
    const e = f instanceof SetField ? f.elems.get(element) : undefined;
    return e === undefined ? [] : [...e.live].sort();
  }

  /** entries returns the entries of log name in (hlc, device, op) order (copies). */
  entries(name: string): Entry[] {
    const f = this.fields.get(name);
    return f instanceof LogField ? f.entries.map((e) => ({ ...e })) : [];
  }

  /** conflicts returns the names of the registers (deleted included) holding more than one sibling, sorted. */
  conflicts(): string[] {
    return this.fieldNames().filter((n) => {
      const f = this.fields.get(n);
      return f instanceof RegisterField && f.siblings.length > 1;
    });
  }

  /** size returns the size of the state in bytes, as Go's Record.Size (what max_record_bytes bounds). */
  size(): number {
    let n = 0;
    for (const f of this.fields.values()) {
      n += f.size();
    }
    return n;
  }

  /** clone returns a deep copy. */
  clone(): Record {
    const c = new Record(this.id, this.kind);
    c.hlc = this.hlc;
    for (const [name, f] of this.fields) {
      c.fields.set(name, f.clone());
    }
    return c;
  }

  /** snapshot returns the record's full state as plain, deterministic JSON data (see RecordSnapshot). */
  snapshot(): RecordSnapshot {
    const fields: { [name: string]: FieldSnapshot } = {};
    for (const name of this.fieldNames()) {
      const f = this.fields.get(name)!.snapshot();
      if (name === "__proto__") {
        Object.defineProperty(fields, name, { value: f, enumerable: true, writable: true, configurable: true });
      } else {
        fields[name] = f;
      }
    }
    return { v: 1, id: this.id, kind: this.kind, hlc: this.hlc, fields };
  }

  /** fromSnapshot restores a record from snapshot(); it throws an Error on an unknown version or a damaged snapshot. */
  static fromSnapshot(s: RecordSnapshot): Record {
    if (s === null || typeof s !== "object" || s.v !== 1 || typeof s.id !== "string" || typeof s.kind !== "string" || typeof s.hlc !== "string") {
      throw new Error("The record snapshot is damaged or of an unknown version.");
    }
    const r = new Record(s.id, s.kind);
    r.hlc = s.hlc;
    for (const [name, f] of Object.entries(s.fields ?? {})) {
      r.fields.set(name, restoreField(name, f));
    }
    return r;
  }

  /**
   * merge joins other's state into this one, as if this replica had
   * received every op other received. Both must be the same record.
   */
  merge(other: Record): void {
    if (other.id !== this.id || other.kind !== this.kind) {
      throw errorf("kind_mismatch", `Cannot merge record ${other.id} (${other.kind}) into ${this.id} (${this.kind}).`);
    }
    if (other.hlc > this.hlc) {
      this.hlc = other.hlc;
    }
    for (const [name, of] of other.fields) {
      const f = this.fields.get(name);
      if (f === undefined) {
        this.fields.set(name, of.clone());
      } else {
        f.merge(of);
      }
    }
  }

  /**
   * canonical returns the state as GET /v1/records/{id} serves it, in RFC
   * 8785 form; with history (the record's ops, sorted and erased by the
   * caller, see historyOf) it includes "history".
   */
  canonical(history?: Op[]): string {
    const fields = this.fieldNames()
      .filter((n) => n !== FIELD_DELETED)
      .map((n) => `${canonicalString(n)}:${this.fields.get(n)!.json()}`);
    const hist = history === undefined ? "" : `,"history":[${history.map(opJSON).join(",")}]`;
    return `{"deleted":${this.deleted},"fields":{${fields.join(",")}}${hist},"hlc":"${this.hlc}","id":${canonicalString(this.id)},"kind":${canonicalString(this.kind)}}`;
  }

  /** state returns the served state as a plain object (JSON.parse of canonical()). */
  state(): JSONValue {
    return parseJSON(this.canonical());
  }

  /**
   * checkLimits reports whether op may be applied under the schema's record
   * limits, as Go's crdt.CheckLimits: an append to a full log, or an op
   * growing the record past max_record_bytes, throws record_too_large;
   * redact, remove and writes to size-exempt fields are never refused.
   * The record is not changed.
   */
  checkLimits(s: Schema, op: Op): void {
    const decl = fieldOf(s, op.kind, op.field);
    if (this.kind !== op.kind || decl.size_exempt || op.action === "redact" || op.action === "remove") {
      return;
    }
    const lim = s.limits ?? { max_log_entries: 0, max_entry_bytes: 0, max_record_bytes: 0 };
    const f = this.fields.get(op.field) ?? newField(decl.class);
    if (op.action === "append" && lim.max_log_entries > 0 && this.entries(op.field).length >= lim.max_log_entries) {
      throw errorf(
        "record_too_large",
        `A record's ${JSON.stringify(op.field)} holds at most ${lim.max_log_entries} entries (max_log_entries) and this one is full; write further entries to a new record.`,
      );
    }
    const g = f.growth(op);
    if (lim.max_record_bytes > 0 && g > 0 && this.size() + g > lim.max_record_bytes) {
      throw errorf(
        "record_too_large",
        `A record holds at most ${lim.max_record_bytes} bytes (max_record_bytes) and this op would grow this one past that; write further entries to a new record.`,
      );
    }
  }
}

/**
 * historyOf returns a record's history as ?history=true serves it: every
 * distinct op once, sorted by (hlc, device, id), the value of every append
 * named by a redact of the same record and field erased.
 */
export function historyOf(ops: Iterable<Op>): Op[] {
  const byID = new Map<string, Op>();
  const erased = new Set<string>();
  for (const op of ops) {
    if (!byID.has(op.id)) {
      byID.set(op.id, op);
    }
    if (op.action === "redact") {
      for (const id of op.base) {
        erased.add(`${op.record}\u0000${op.field}\u0000${id}`);
      }
    }
  }
  const out = [...byID.values()].map((op) =>
    op.action === "append" && erased.has(`${op.record}\u0000${op.field}\u0000${op.id}`) ? { ...op, value: "null" } : op,
  );
  return out.sort((a, b) => compareKeys(a.hlc, a.device, a.id, b.hlc, b.device, b.id));
}

/**
 * materialise merges ops (decoded and validated) into one Record per
 * record id, creating each with the kind of its first op. It throws as
 * Record.apply does.
 */
export function materialise(s: Schema, ops: Iterable<Op>, into = new Map<string, Record>()): Map<string, Record> {
  for (const op of ops) {
    let r = into.get(op.record);
    if (r === undefined) {
      r = new Record(op.record, op.kind);
      into.set(op.record, r);
    }
    r.apply(s, op);
  }
  return into;
}
