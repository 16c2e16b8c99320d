/**
 * @fieldsync/client: fieldsync's merge engine in TypeScript, a second,
 * byte-for-byte implementation of DESIGN §4 (the Go engine is sync/crdt):
 * the hybrid logical clock, ops (strict decoding and schema validation),
 * register/set/log merge with redaction, record state and RFC 8785
 * canonical JSON (pure: no I/O, no clock but the injected one, no
 * randomness); and on top of it the local replica (Replica, Storage,
 * IndexedDBStorage, EncryptedStorage), the sync loop (SyncClient) and the
 * web app's API (Device). See README.md for the API.
 */
export { errorf, FieldsyncError, type ErrorCode } from "./errors.js";
export {
  Clock,
  compareTimestamps,
  formatTimestamp,
  HLCError,
  type HLCParts,
  isTimestamp,
  MAX_COUNTER,
  MAX_MILLIS,
  MAX_TIMESTAMP,
  parseTimestamp,
  type Timestamp,
  ZERO_TIMESTAMP,
} from "./hlc.js";
export {
  canonicalJSON,
  canonicalNumber,
  canonicalString,
  canonicalText,
  compareUTF16,
  compareUTF8,
  firstInvalidUTF8,
  JSONError,
  JSONReader,
  type JSONValue,
  parseJSON,
  utf8,
  utf8Length,
  utf8Text,
  wellFormed,
} from "./json.js";
export {
  compareKeys,
  compareOps,
  decodeOp,
  MAX_BASE,
  type Op,
  opJSON,
  redactedOp,
  sameContent,
  sortOps,
  stringOf,
  validateOp,
  validDate,
  validID,
} from "./op.js";
export { type Entry, type FieldSnapshot, historyOf, materialise, Record, type RecordSnapshot, type Redaction } from "./record.js";
export {
  type Action,
  classAllows,
  FIELD_DELETED,
  type FieldClass,
  type FieldDecl,
  fieldOf,
  type KindDecl,
  type RecordLimits,
  type Schema,
  type ValueType,
} from "./schema.js";
export { isCountry } from "./countries.js";
export { type Edit, type Stamp, writeOp } from "./write.js";
export { type Durability, MemoryStorage, type Storage, type StorageTx, STORES, type StoreName } from "./storage.js";
export { IndexedDBStorage } from "./idb.js";
export {
  NotLoggedInError,
  type Page,
  type Pending,
  type PushResult,
  type Rejected,
  Replica,
  type ReplicaOptions,
  type Session,
  type User,
  writesWithoutReading,
} from "./replica.js";
export {
  ApiError,
  type Fetch,
  LoginRequiredError,
  SSEParser,
  SyncClient,
  type SyncOptions,
  type FileQueue,
  type SyncReport,
  TransportError,
  WipedError,
} from "./sync.js";
export {
  type AttachOptions,
  type Attached,
  ATTACHMENT_TYPES,
  DEFAULT_FILE_CACHE,
  DEFAULT_UPLOAD_CHUNK,
  dropFiles,
  FILE_CHUNK,
  Files,
  type FilesOptions,
  type UploadProgress,
} from "./files.js";
export { stripMetadata } from "./strip.js";
export { defaultLocks, LocalLocks, type LockManager, type LockOptions } from "./locks.js";
export {
  DEFAULT_PIN_ITERATIONS,
  EncryptedStorage,
  KEYRING,
  type Keyring,
  LockedError,
  MIN_PIN_LENGTH,
  type VaultOptions,
  type VaultState,
  WrongPinError,
} from "./vault.js";
export {
  type CacheStorageLike,
  type Channel,
  Device,
  type DeviceOptions,
  type DeviceStatus,
  type DocumentLike,
  type NavigatorLike,
  type StorageManagerLike,
  type Timers,
  type WebStorageLike,
} from "./device.js";
