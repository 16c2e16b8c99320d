/**
 * The one error type of the engine, mirroring Go's model.Error: a code from
 * DESIGN §5's list and a sentence. Codes are the wire codes, so a device
 * refuses locally with the same code the server would.
 */
export class FieldsyncError extends Error {
  /** The error code, e.g. "invalid_value". */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "FieldsyncError";
    this.code = code;
  }
}

/** The codes the engine raises (a subset of DESIGN §5's codes). */
export type ErrorCode =
  | "invalid_op"
  | "invalid_id"
  | "invalid_hlc"
  | "invalid_value"
  | "unknown_kind"
  | "unknown_field"
  | "kind_mismatch"
  | "record_too_large"
  | "media_type"
  | "not_found";

/** errorf builds a FieldsyncError. */
export function errorf(code: ErrorCode, message: string): FieldsyncError {
  return new FieldsyncError(code, message);
}
