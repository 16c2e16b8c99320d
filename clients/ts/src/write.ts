/**
 * Writing: the op a replica writes for one user edit, with the base DESIGN
 * §4 prescribes taken from the replica's current state of the record:
 * for set, the field's siblings; for remove, the live adds of that
 * element; for redact, the one append it erases; for add and append,
 * nothing. The op is decoded (normal form), validated against the schema
 * and checked against the record limits, so it is refused locally with
 * the code the server would give; it is not applied (the caller applies it
 * and queues it in one transaction).
 */
import { errorf } from "./errors.js";
import { type Timestamp } from "./hlc.js";
import { type JSONValue } from "./json.js";
import { decodeOp, type Op, validateOp } from "./op.js";
import { Record } from "./record.js";
import { type Action, type Schema } from "./schema.js";

/** One user edit of one field. */
export interface Edit {
  field: string;
  action: Action;
  /** The new value (set), the element (add, remove) or the entry (append); absent for redact. */
  value?: JSONValue;
  /** For redact: the id of the append to erase. */
  target?: string;
}

/** Who and when: the op's id, timestamp (Clock.now()), device and user. */
export interface Stamp {
  id: string;
  hlc: Timestamp;
  device: string;
  user: string;
}

/**
 * writeOp returns the op for edit on record (its current state on this
 * replica; a new Record for a record not written yet). It throws
 * FieldsyncError (unknown_field, invalid_value, invalid_op,
 * record_too_large, ...) and changes nothing.
 */
export function writeOp(s: Schema, record: Record, edit: Edit, stamp: Stamp): Op {
  let base: string[] = [];
  switch (edit.action) {
    case "set":
      base = record.siblings(edit.field).map((e) => e.op);
      break;
    case "remove":
      if (typeof edit.value !== "string") {
        throw errorf("invalid_value", `The element of ${JSON.stringify(edit.field)} must be a string.`);
      }
      base = record.liveAdds(edit.field, edit.value);
      break;
    case "redact":
      if (edit.target === undefined) {
        throw errorf("invalid_op", "A redact op names exactly one append op in its base.");
      }
      base = [edit.target];
      break;
  }
  const op = decodeOp({
    id: stamp.id,
    record: record.id,
    kind: record.kind,
    field: edit.field,
    action: edit.action,
    value: edit.action === "redact" ? null : (edit.value ?? null),
    base,
    hlc: stamp.hlc,
    device: stamp.device,
    user: stamp.user,
  });
  validateOp(s, op);
  record.checkLimits(s, op);
  return op;
}
