/**
 * Ops: the one thing replicas exchange (DESIGN §4), decoded and validated
 * exactly as sync/crdt DecodeOp and Validate do, with the same error codes.
 *
 * A decoded Op is normalised: value is canonical JSON text (RFC 8785),
 * "null" when absent; base is sorted by byte order, without duplicates.
 * Ops are totally ordered by (hlc, device, id), each compared as strings.
 */
import { isCountry } from "./countries.js";
import { errorf, FieldsyncError } from "./errors.js";
import { isTimestamp, type Timestamp } from "./hlc.js";
import { canonicalJSON, canonicalString, JSONError, JSONReader, type JSONValue, parseJSON, utf8Length, utf8Text, wellFormed } from "./json.js";
import { type Action, classAllows, FIELD_DELETED, type FieldDecl, fieldOf, type Schema } from "./schema.js";

/** An op in normal form. */
export interface Op {
  id: string;
  record: string;
  kind: string;
  field: string;
  action: Action;
  /** The value as canonical JSON text ("null" for none). */
  value: string;
  /** The op ids this op supersedes, sorted, without duplicates. */
  base: string[];
  hlc: Timestamp;
  device: string;
  /** The author, set by the server ("" until then). */
  user: string;
}

/** The most op ids one op may supersede. */
export const MAX_BASE = 1024;

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** validID reports whether s is a UUID in canonical lowercase form (model.ValidID). */
export function validID(s: unknown): s is string {
  return typeof s === "string" && uuid.test(s);
}

const monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** validDate reports whether s is a date written YYYY-MM-DD that exists (model.ValidDate). */
export function validDate(s: string): boolean {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(s);
  if (m === null) {
    return false;
  }
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12) {
    return false;
  }
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = mo === 2 && leap ? 29 : (monthDays[mo - 1] ?? 0);
  return d >= 1 && d <= days;
}

/** compareKeys compares two (hlc, device, op id) keys: the one order of ops, siblings and entries. */
export function compareKeys(ah: string, ad: string, aid: string, bh: string, bd: string, bid: string): number {
  if (ah !== bh) {
    return ah < bh ? -1 : 1;
  }
  if (ad !== bd) {
    return ad < bd ? -1 : 1;
  }
  return aid < bid ? -1 : aid > bid ? 1 : 0;
}

/** compareOps orders ops by (hlc, device, id). */
export function compareOps(a: Op, b: Op): number {
  return compareKeys(a.hlc, a.device, a.id, b.hlc, b.device, b.id);
}

/** sortOps sorts ops in place by (hlc, device, id): the order of a record's history. */
export function sortOps(ops: Op[]): Op[] {
  return ops.sort(compareOps);
}

/** opJSON writes op as canonical JSON (keys sorted, no whitespace), as Go's Op.AppendJSON. */
export function opJSON(op: Op): string {
  return (
    `{"action":${canonicalString(op.action)},"base":[${op.base.map(canonicalString).join(",")}],` +
    `"device":${canonicalString(op.device)},"field":${canonicalString(op.field)},"hlc":"${op.hlc}",` +
    `"id":${canonicalString(op.id)},"kind":${canonicalString(op.kind)},"record":${canonicalString(op.record)},` +
    `"user":${canonicalString(op.user)},"value":${op.value === "" ? "null" : op.value}}`
  );
}

/** redactedOp returns a copy of op with its value erased, as a redacted append is served. */
export function redactedOp(op: Op): Op {
  return { ...op, value: "null" };
}

/**
 * sameContent reports whether a re-sent op carries the same record, kind,
 * field, action, value and base as the stored one (hlc and user are not
 * compared; nor is the value when the stored copy was redacted).
 */
export function sameContent(stored: Op, sent: Op, storedRedacted: boolean): boolean {
  if (
    stored.record !== sent.record ||
    stored.kind !== sent.kind ||
    stored.field !== sent.field ||
    stored.action !== sent.action ||
    stored.base.length !== sent.base.length ||
    stored.base.some((id, i) => id !== sent.base[i])
  ) {
    return false;
  }
  return storedRedacted || (stored.value || "null") === (sent.value || "null");
}

const opKeys = new Set(["id", "record", "kind", "field", "action", "value", "base", "hlc", "device", "user"]);

/** The members of an op as read, before their checks. */
type Members = Map<string, JSONValue>;

/**
 * decodeOp parses one op strictly, as Go's crdt.DecodeOp: from its bytes
 * (UTF-8; invalid UTF-8 refused as Go refuses it), its JSON text (repeated
 * keys, lone surrogates and syntax errors are caught) or an already parsed
 * object. Unknown keys are refused; ids must be
 * canonical UUIDs, hlc 16 lowercase hex digits; value is canonicalised,
 * base sorted and deduplicated. It does not consult the schema (validateOp
 * does). It throws FieldsyncError with codes invalid_op, invalid_id,
 * invalid_hlc or invalid_value.
 */
export function decodeOp(input: string | Uint8Array | unknown): Op {
  const w =
    typeof input === "string" ? readMembers(input) : input instanceof Uint8Array ? readMembers(utf8Text(input)) : objectMembers(input);
  const op = { base: [] as string[], value: "null" } as Op;
  decodeIDs(op, w);
  decodeHLC(op, w);
  decodeNames(op, w);
  decodeBase(op, w);
  decodeValue(op, w);
  return op;
}

function unknownKey(name: string): FieldsyncError {
  return errorf("invalid_op", `An op has no key ${JSON.stringify(name)}; the keys are id, record, kind, field, action, value, base, hlc, device and user.`);
}

function readMembers(text: string): Members {
  const r = new JSONReader(text);
  const w: Members = new Map();
  if (r.peek() !== "{") {
    throw errorf("invalid_op", "An op must be a JSON object.");
  }
  try {
    r.expect("{");
    if (r.peek() === "}") {
      r.expect("}");
      r.end();
      return w;
    }
    for (;;) {
      if (r.peek() !== '"') {
        throw new JSONError("syntax", "Expected a key.");
      }
      const name = r.string();
      if (w.has(name)) {
        throw errorf("invalid_op", "A key appears twice in the op, or the op is not valid JSON.");
      }
      if (!opKeys.has(name)) {
        throw unknownKey(name);
      }
      r.expect(":");
      w.set(name, readMember(r, name));
      if (r.peek() === ",") {
        r.expect(",");
        continue;
      }
      r.expect("}");
      break;
    }
    r.end();
  } catch (e) {
    if (e instanceof JSONError) {
      throw errorf("invalid_op", "The op is not a valid JSON object.");
    }
    throw e;
  }
  return w;
}

/** readMember reads one member's value; a value that is JSON but cannot be canonical is invalid_value. */
function readMember(r: JSONReader, name: string): JSONValue {
  try {
    return r.value();
  } catch (e) {
    if (e instanceof JSONError && name === "value" && (e.fault === "duplicate" || e.fault === "surrogate")) {
      throw errorf("invalid_value", 'The op\'s "value" cannot be represented in canonical JSON (invalid UTF-8, a lone surrogate or a repeated key).');
    }
    if (e instanceof JSONError) {
      throw errorf("invalid_op", `The op's ${JSON.stringify(name)} is not valid JSON.`);
    }
    throw e;
  }
}

function objectMembers(input: unknown): Members {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw errorf("invalid_op", "An op must be a JSON object.");
  }
  const w: Members = new Map();
  for (const [name, v] of Object.entries(input)) {
    if (!opKeys.has(name)) {
      throw unknownKey(name);
    }
    if (v !== undefined) {
      w.set(name, v as JSONValue);
    }
  }
  return w;
}

function decodeIDs(op: Op, w: Members): void {
  for (const key of ["id", "record", "device", "user"] as const) {
    const optional = key === "user";
    if (!w.has(key) && optional) {
      op.user = "";
      continue;
    }
    const s: unknown = w.get(key);
    if (!validID(s) && !(optional && s === "")) {
      throw errorf("invalid_id", `The op's ${JSON.stringify(key)} must be a UUID in canonical lowercase form.`);
    }
    op[key] = s as string;
  }
}

function decodeHLC(op: Op, w: Members): void {
  const s = w.get("hlc");
  if (!isTimestamp(s)) {
    throw errorf("invalid_hlc", 'The op\'s "hlc" must be a string of 16 lowercase hex digits.');
  }
  op.hlc = s;
}

const actions = new Set<string>(["set", "add", "remove", "append", "redact"]);

function decodeNames(op: Op, w: Members): void {
  for (const key of ["kind", "field", "action"] as const) {
    const s = w.get(key);
    if (typeof s !== "string" || s === "" || !wellFormed(s)) {
      throw errorf("invalid_op", `The op's ${JSON.stringify(key)} must be a non-empty string.`);
    }
    if (key === "action") {
      if (!actions.has(s)) {
        throw errorf("invalid_op", `The op's action ${JSON.stringify(s)} is not one of set, add, remove, append, redact.`);
      }
      op.action = s as Action;
    } else {
      op[key] = s;
    }
  }
}

function decodeBase(op: Op, w: Members): void {
  const b = w.get("base");
  op.base = [];
  if (b === undefined || b === null) {
    return;
  }
  if (!Array.isArray(b) || !b.every((x) => typeof x === "string" || x === null)) {
    throw errorf("invalid_op", 'The op\'s "base" must be an array of op ids.');
  }
  if (b.length > MAX_BASE) {
    throw errorf("invalid_op", `The op's "base" names ${b.length} ops; at most ${MAX_BASE} are allowed.`);
  }
  for (const id of b) {
    if (!validID(id)) {
      throw errorf("invalid_op", `The op's "base" holds ${JSON.stringify(id ?? "")}, which is not a canonical lowercase UUID.`);
    }
  }
  op.base = [...new Set(b as string[])].sort();
}

function decodeValue(op: Op, w: Members): void {
  if (!w.has("value")) {
    op.value = "null";
    return;
  }
  try {
    op.value = canonicalJSON(w.get("value"));
  } catch (e) {
    if (e instanceof JSONError) {
      throw errorf("invalid_value", 'The op\'s "value" cannot be represented in canonical JSON (numbers must be finite doubles, strings valid UTF-8).');
    }
    throw e;
  }
}

/**
 * validateOp checks a decoded op against the schema, as Go's crdt.Validate:
 * kind and field exist, the action belongs to the field's class, the base
 * has the shape the action needs, the value has the field's type, format
 * and allowed values. It throws FieldsyncError (unknown_kind,
 * unknown_field, invalid_op, invalid_value).
 */
export function validateOp(s: Schema, op: Op): void {
  const f = fieldOf(s, op.kind, op.field);
  if (!classAllows(f.class, op.action)) {
    throw errorf("invalid_op", `The field ${JSON.stringify(op.field)} is a ${f.class}; ${JSON.stringify(op.action)} is not one of its actions.`);
  }
  checkBase(op);
  checkValue(s, op, f);
}

function checkBase(op: Op): void {
  if ((op.action === "add" || op.action === "append") && op.base.length !== 0) {
    throw errorf("invalid_op", `An ${op.action} op supersedes nothing; its base must be empty.`);
  }
  if (op.action === "redact" && op.base.length !== 1) {
    throw errorf("invalid_op", "A redact op names exactly one append op in its base.");
  }
  if (op.base.includes(op.id)) {
    throw errorf("invalid_op", "An op cannot name itself in its base.");
  }
}

/** stringOf returns the string a canonical JSON value holds, or undefined. */
export function stringOf(value: string): string | undefined {
  if (value.length < 2 || value[0] !== '"') {
    return undefined;
  }
  return value.indexOf("\\") < 0 ? value.slice(1, -1) : (parseJSON(value) as string);
}

function checkValue(s: Schema, op: Op, f: FieldDecl): void {
  const size = utf8Length(op.value);
  if (size > f.max_bytes) {
    throw errorf("invalid_value", `The value of ${JSON.stringify(op.field)} is ${size} bytes; at most ${f.max_bytes} are allowed.`);
  }
  switch (op.action) {
    case "redact":
      if (op.value !== "null") {
        throw errorf("invalid_value", "A redact op carries no value.");
      }
      return;
    case "set":
      if (op.value === "null") {
        return checkClearable(s, op, f);
      }
      break;
    case "remove":
      if (stringOf(op.value) === undefined) {
        throw errorf("invalid_value", `The element of ${JSON.stringify(op.field)} must be a string.`);
      }
      return;
    case "append":
      return checkEntry(op, f);
  }
  checkScalar(op, f);
}

function checkClearable(s: Schema, op: Op, f: FieldDecl): void {
  if (op.field === FIELD_DELETED || s.kinds[op.kind]?.scope === op.field) {
    throw errorf("invalid_value", `The field ${JSON.stringify(op.field)} cannot be cleared; it needs a ${f.type}.`);
  }
}

function wrongType(op: Op, f: FieldDecl): FieldsyncError {
  return errorf("invalid_value", `The value of ${JSON.stringify(op.field)} must be a ${f.type}.`);
}

function checkScalar(op: Op, f: FieldDecl): void {
  const v = op.value;
  switch (f.type) {
    case "bool":
      if (v !== "true" && v !== "false") {
        throw wrongType(op, f);
      }
      return;
    case "number":
      if (!(v[0] === "-" || (v[0]! >= "0" && v[0]! <= "9"))) {
        throw wrongType(op, f);
      }
      return;
    case "date": {
      const d = stringOf(v);
      if (d === undefined || !validDate(d)) {
        throw errorf("invalid_value", `The value of ${JSON.stringify(op.field)} must be a date written YYYY-MM-DD.`);
      }
      return;
    }
    case "string": {
      const str = stringOf(v);
      if (str === undefined) {
        throw wrongType(op, f);
      }
      return checkString(op, f, str);
    }
  }
  throw wrongType(op, f);
}

function checkString(op: Op, f: FieldDecl, s: string): void {
  if (f.format === "uuid" && !validID(s)) {
    throw errorf("invalid_value", `The value of ${JSON.stringify(op.field)} must be a UUID in canonical lowercase form.`);
  }
  if (f.format === "iso3166_alpha2" && !isCountry(s)) {
    throw errorf("invalid_value", `The value of ${JSON.stringify(op.field)} must be an ISO 3166-1 alpha-2 country code such as "AL".`);
  }
  if (f.values !== undefined && f.values.length > 0 && !f.values.includes(s)) {
    throw errorf("invalid_value", `${JSON.stringify(s)} is not an allowed value of ${JSON.stringify(op.field)}.`);
  }
  if (f.class === "set" && s === "") {
    throw errorf("invalid_value", `An element of ${JSON.stringify(op.field)} cannot be empty.`);
  }
}

function checkEntry(op: Op, f: FieldDecl): void {
  const entry = op.value[0] === "{" ? (parseJSON(op.value) as Record<string, JSONValue>) : undefined;
  if (entry === undefined) {
    throw errorf("invalid_value", `An entry of ${JSON.stringify(op.field)} must be a JSON object.`);
  }
  for (const key of f.required ?? []) {
    const v = Object.prototype.hasOwnProperty.call(entry, key) ? entry[key] : undefined;
    if (typeof v !== "string" || v === "") {
      throw errorf("invalid_value", `An entry of ${JSON.stringify(op.field)} needs ${JSON.stringify(key)} as a non-empty string.`);
    }
  }
  if (f.format === "attachment") {
    checkAttachment(op, entry);
  }
}

/** The media types an attachment may have (Go: model.AttachmentTypes). */
const attachmentTypes = ["image/jpeg", "image/png", "image/heic", "application/pdf", "audio/webm", "audio/mp4", "audio/ogg"];

/** checkAttachment is Go's crdt checkAttachment: an entry naming a blob. */
function checkAttachment(op: Op, entry: Record<string, JSONValue>): void {
  const field = JSON.stringify(op.field);
  if (!/^[0-9a-f]{64}$/.test(entry["digest"] as string)) {
    throw errorf("invalid_value", `The digest of an entry of ${field} must be a SHA-256 digest in lowercase hex.`);
  }
  const size = Object.prototype.hasOwnProperty.call(entry, "size") ? entry["size"] : undefined;
  if (typeof size !== "number" || size < 1 || size > 2 ** 53 || !Number.isInteger(size)) {
    throw errorf("invalid_value", `The size of an entry of ${field} must be a positive whole number of bytes.`);
  }
  if (!attachmentTypes.includes(entry["media_type"] as string)) {
    throw errorf("invalid_value", `The media type of an entry of ${field} must be one of [${attachmentTypes.join(" ")}].`);
  }
  for (const key of ["name", "caption"]) {
    if (!Object.prototype.hasOwnProperty.call(entry, key)) {
      continue;
    }
    const v = entry[key];
    if (typeof v !== "string" || new TextEncoder().encode(v).length > 255) {
      throw errorf("invalid_value", `The ${key} of an entry of ${field} must be a string of at most 255 bytes.`);
    }
  }
}
