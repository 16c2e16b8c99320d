/**
 * The schema as served at GET /v1/schema (Go: model.Schema). The engine
 * reads only what merging and validating need: each field's class, type,
 * format, allowed values, required entry keys and size bounds, each kind's
 * scope, and the record limits. Keep the served JSON as it came; the types
 * below name the members the engine uses.
 */
import { errorf } from "./errors.js";

/** A field's merge class. */
export type FieldClass = "register" | "set" | "log";

/** What an op does to its field. */
export type Action = "set" | "add" | "remove" | "append" | "redact";

/** The JSON type of a field's values (set: one element; log: one entry). */
export type ValueType = "string" | "number" | "bool" | "date" | "object";

/** One field's declaration. */
export interface FieldDecl {
  class: FieldClass;
  type: ValueType;
  /** "uuid" or "iso3166_alpha2" for strings with a format; "attachment" for a log whose entries name blobs. */
  format?: string;
  /** The closed list of allowed values, if any. */
  values?: string[];
  writers: string[];
  change_writers?: string[];
  restricted_values?: Record<string, string[]>;
  redactors?: string[];
  /** Keys a log entry must hold as non-empty strings. */
  required?: string[];
  /** The largest value in bytes of canonical JSON. */
  max_bytes: number;
  /** Writes to this field are never refused for the record's size. */
  size_exempt?: boolean;
}

/** One kind's declaration. */
export interface KindDecl {
  /** The field that scopes a record of this kind, if any. */
  scope?: string;
  fields: Record<string, FieldDecl>;
}

/** How large one record may grow (0: no limit). */
export interface RecordLimits {
  max_log_entries: number;
  max_entry_bytes: number;
  max_record_bytes: number;
}

/** The schema served at GET /v1/schema. */
export interface Schema {
  version: number;
  kinds: Record<string, KindDecl>;
  indicator_catalogue?: unknown;
  limits?: RecordLimits;
}

/** The name of the deleted register every kind has. */
export const FIELD_DELETED = "deleted";

/** classAllows reports whether action belongs to class c. */
export function classAllows(c: FieldClass, action: Action): boolean {
  switch (c) {
    case "register":
      return action === "set";
    case "set":
      return action === "add" || action === "remove";
    case "log":
      return action === "append" || action === "redact";
  }
  return false;
}

/** fieldOf returns the declaration of kind.field or throws unknown_kind / unknown_field. */
export function fieldOf(s: Schema, kind: string, field: string): FieldDecl {
  const k = Object.prototype.hasOwnProperty.call(s.kinds, kind) ? s.kinds[kind] : undefined;
  if (k === undefined) {
    throw errorf("unknown_kind", `There is no record kind ${JSON.stringify(kind)}.`);
  }
  const f = Object.prototype.hasOwnProperty.call(k.fields, field) ? k.fields[field] : undefined;
  if (f === undefined) {
    throw errorf("unknown_field", `Records of kind ${JSON.stringify(kind)} have no field ${JSON.stringify(field)}.`);
  }
  return f;
}
