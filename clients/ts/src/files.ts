/**
 * Files: attachments (issue 16 item 7) on a replica, the Go SDK's
 * attach.go, upload.go and fetch.go for the browser. Invariants:
 *
 *  - attach writes the attachments entry's op and queues the file's bytes
 *    in one strict transaction: the file travels with the op that names
 *    it, across reloads. A JPEG or PNG is stripped of its location and
 *    device metadata first (strip.ts) unless keepMetadata; the digest is
 *    the SHA-256 (WebCrypto) of the bytes queued.
 *  - Every byte at rest is in the "files" store, in values of at most
 *    FILE_CHUNK bytes (a 25 MB photo is a hundred values, never one), so
 *    it goes through the replica's storage like every other value (under
 *    a Device: EncryptedStorage, AES-GCM).
 *  - The sync loop (FileQueue) uploads every queued file before each push
 *    batch and never pushes an op whose file is still queued. An upload's
 *    id is kept durably once created; after a cut or a reload the upload
 *    resumes at the offset the server acknowledged (HEAD), never from
 *    zero. A file the server refuses for good (digest_mismatch,
 *    media_type, blob_too_large, forbidden...) moves its op to the
 *    quarantine with the server's code and leaves the queue.
 *  - fetch serves a file only while a live entry of the record as held
 *    here names it; it downloads on demand (a cut download resumes with
 *    Range at the bytes kept), checks the digest, and keeps the file in a
 *    cache bounded in bytes, evicting the least recently used files.
 *  - A record's files (queued or cached) are deleted with the record when
 *    a pull drops it (dropFiles, from the replica's drop), and with
 *    everything else on a wipe.
 *
 * Keys of the "files" store: u/<record>/<digest> a queued upload,
 * b/<record>/<digest>/<n> its chunks; c/<record>/<digest> a cached file,
 * d/<record>/<digest>/<n> its chunks (n: 8 hex digits).
 */
import { errorf } from "./errors.js";
import { type Op } from "./op.js";
import { type Record } from "./record.js";
import { type Replica } from "./replica.js";
import { type Storage, type StorageTx } from "./storage.js";
import { isHEIC, isJPEG, isMP4, isPNG, stripMetadata } from "./strip.js";
import { ApiError, type FileQueue, type SyncClient, TransportError } from "./sync.js";

/** FILE_CHUNK is the bytes of one stored value of a file. */
export const FILE_CHUNK = 256 * 1024;

/** DEFAULT_UPLOAD_CHUNK is the bytes per PATCH (the Go SDK's DefaultUploadChunk). */
export const DEFAULT_UPLOAD_CHUNK = 1 << 20;

/** DEFAULT_FILE_CACHE is the bytes of downloaded files kept (the Go SDK's DefaultFileCache). */
export const DEFAULT_FILE_CACHE = 64 << 20;

/** The media types an attachment may have (Go: model.AttachmentTypes). */
export const ATTACHMENT_TYPES: readonly string[] = ["image/jpeg", "image/png", "image/heic", "application/pdf", "audio/webm", "audio/mp4", "audio/ogg"];

/** AttachOptions describe a file given to attach. */
export interface AttachOptions {
  /** The file's media type (default: sniffed for JPEG, PNG and PDF, else the Blob's type); the server sniffs again. */
  mediaType?: string;
  /** The entry's file name (default: a File's name) and caption. */
  fileName?: string;
  caption?: string;
  /** Attach a photo as given, with its camera's metadata (default false: stripped). */
  keepMetadata?: boolean;
}

/** Attached is what attach wrote: the entry's op (the op a redaction names) and the file as the entry names it. */
export interface Attached {
  op: string;
  digest: string;
  size: number;
  media_type: string;
}

/** FilesOptions configures Files. */
export interface FilesOptions {
  /** Bytes of downloaded files kept (default DEFAULT_FILE_CACHE). */
  cacheBytes?: number;
  /** Bytes per upload request (default DEFAULT_UPLOAD_CHUNK). */
  uploadChunk?: number;
  /** Called when an upload's progress changed. */
  onProgress?: () => void;
  crypto?: Crypto;
}

/** UploadProgress is the upload under way: its file's acknowledged bytes and size. */
export interface UploadProgress {
  digest: string;
  sent: number;
  size: number;
}

/** A queued upload (u/ key). */
interface Queued {
  request: { size: number; digest: string; team?: string; action_week?: string };
  /** The ops whose entries name the file. */
  ops: string[];
  media_type: string;
  /** The server's upload id once created. */
  upload?: string;
}

/** A cached file (c/ key): its size, the bytes held, whether verified, and its last use. */
interface Cached {
  size: number;
  have: number;
  done: boolean;
  used: number;
  media_type: string;
}

const chunkKey = (prefix: string, record: string, digest: string, n: number): string => `${prefix}/${record}/${digest}/${n.toString(16).padStart(8, "0")}`;
const chunks = (size: number): number => Math.ceil(size / FILE_CHUNK);

/** Files queues, uploads and fetches the attachments of one replica. */
export class Files implements FileQueue {
  private readonly cacheBytes: number;
  private readonly uploadChunk: number;
  private current: UploadProgress | undefined;

  constructor(
    readonly replica: Replica,
    private readonly storage: Storage,
    private readonly o: FilesOptions = {},
  ) {
    this.cacheBytes = o.cacheBytes ?? DEFAULT_FILE_CACHE;
    this.uploadChunk = o.uploadChunk ?? DEFAULT_UPLOAD_CHUNK;
  }

  /**
   * attach appends to record id's attachments log an entry naming file
   * (digest, size, media type, name, caption) and queues the file in the
   * same transaction (see the module comment). It throws FieldsyncError
   * (changing nothing) for a record not held here, a kind without an
   * attachments log, a record whose scope is unset, a photo that cannot be
   * parsed or a type outside ATTACHMENT_TYPES (media_type).
   */
  async attach(id: string, file: Blob | Uint8Array, o: AttachOptions = {}): Promise<Attached> {
    let data = file instanceof Uint8Array ? file : new Uint8Array(await file.arrayBuffer());
    if (o.keepMetadata !== true) {
      data = stripMetadata(data);
    }
    const media = o.mediaType ?? sniff(data) ?? (file instanceof Uint8Array ? "" : file.type);
    if (!ATTACHMENT_TYPES.includes(media)) {
      throw errorf("media_type", `The file is not of an allowed type (${ATTACHMENT_TYPES.join(" ")}); name its media type if it is one.`);
    }
    const digest = await sha256(this.o.crypto ?? globalThis.crypto, data);
    const name = o.fileName ?? (file as { name?: unknown }).name;
    const entry = {
      digest,
      size: data.length,
      media_type: media,
      ...(typeof name === "string" && name !== "" ? { name } : {}),
      ...(o.caption !== undefined && o.caption !== "" ? { caption: o.caption } : {}),
    };
    const r = await this.replica.get(id);
    if (r === undefined) {
      throw errorf("not_found", `There is no record ${id} on this device.`);
    }
    const kind = this.replica.schema.kinds[r.kind];
    const field = Object.keys(kind?.fields ?? {}).find((f) => kind!.fields[f]!.format === "attachment");
    if (kind === undefined || field === undefined) {
      throw errorf("unknown_field", `Records of kind ${JSON.stringify(r.kind)} have no attachments.`);
    }
    const queue = async (tx: StorageTx, rec: Record, ops: Op[]): Promise<void> => {
      const scope = kind.scope === undefined ? undefined : rec.value(kind.scope);
      if (typeof scope !== "string" || scope === "") {
        throw errorf("invalid_value", "A file can only be attached to a record whose team or action week is set.");
      }
      const key = `u/${id}/${digest}`;
      const prev = (await tx.get("files", key)) as Queued | undefined;
      const q: Queued = prev ?? { request: { size: data.length, digest, ...(kind.scope === "action_week" ? { action_week: scope } : { team: scope }) }, ops: [], media_type: media };
      q.ops.push(ops[0]!.id);
      if (prev === undefined) {
        for (let n = 0; n < chunks(data.length); n++) {
          await tx.put("files", chunkKey("b", id, digest, n), data.slice(n * FILE_CHUNK, (n + 1) * FILE_CHUNK));
        }
      }
      await tx.put("files", key, q);
    };
    const [op] = await this.replica.write(id, r.kind, [{ field, action: "append", value: entry }], queue);
    this.o.onProgress?.();
    return { op: op!.id, digest, size: data.length, media_type: media };
  }

  /** queued returns those of ops whose file is still queued (FileQueue). */
  async queued(ops: string[]): Promise<Set<string>> {
    const want = new Set(ops);
    const all = await this.storage.read((tx) => tx.list("files", "u/"));
    return new Set(all.flatMap(([, q]) => (q as Queued).ops.filter((op) => want.has(op))));
  }

  /** progress returns the upload under way, if any. */
  get progress(): UploadProgress | undefined {
    return this.current === undefined ? undefined : { ...this.current };
  }

  /**
   * upload uploads every queued file (FileQueue; the sync loop calls it
   * before each push batch). A transient failure throws: the sync loop's
   * next attempt resumes at the acknowledged offset.
   */
  async upload(client: SyncClient, sent: (n: number) => void): Promise<void> {
    const queued = await this.storage.read((tx) => tx.list("files", "u/"));
    for (const [key, value] of queued) {
      const q = value as Queued;
      try {
        await this.uploadOne(client, key, q, sent);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404 && q.upload !== undefined) {
          // The upload expired at the server: the next attempt starts it again.
          delete q.upload;
          await this.storage.write((tx) => tx.put("files", key, q), "strict");
          throw new TransportError("The upload expired at the server; it starts again.", { cause: err });
        }
        if (err instanceof ApiError && err.code === "upload_offset") {
          throw new TransportError("The server does not hold the whole file yet; the upload resumes at its offset.", { cause: err });
        }
        if (!(err instanceof ApiError) || err.temporary || err.status === 401) {
          throw err;
        }
        // Refused for good: the ops naming the file go to the quarantine
        // with the server's code; the queued bytes are deleted with them.
        for (const [i, op] of q.ops.entries()) {
          const last = i === q.ops.length - 1;
          await this.replica.quarantineOp(op, err.code, `The server refused the attached file: ${err.message}`, last ? (tx) => dropQueued(tx, key) : undefined);
        }
      } finally {
        this.current = undefined;
        this.o.onProgress?.();
      }
    }
  }

  private async uploadOne(client: SyncClient, key: string, q: Queued, sent: (n: number) => void): Promise<void> {
    const [, record, digest] = key.split("/") as [string, string, string];
    const size = q.request.size;
    let offset = 0;
    if (q.upload !== undefined) {
      try {
        offset = await acknowledged(client, q.upload);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) {
          throw err;
        }
        q.upload = undefined; // expired at the server: start again
      }
    }
    this.current = { digest, sent: offset, size };
    this.o.onProgress?.();
    if (q.upload === undefined) {
      const up = (await client.json("POST", "/v1/uploads", JSON.stringify(q.request))) as { id: string; offset?: number; complete?: boolean };
      if (up.complete === true) {
        sent(size);
        await this.storage.write((tx) => dropQueued(tx, key), "strict");
        return;
      }
      q.upload = up.id;
      offset = up.offset ?? 0;
      await this.storage.write((tx) => tx.put("files", key, q), "strict");
    }
    let conflicts = 0;
    while (offset < size) {
      const end = Math.min(offset + this.uploadChunk, size);
      const body = await this.readRange("b", record, digest, offset, end);
      let next: number;
      try {
        const resp = await client.request("PATCH", `/v1/uploads/${q.upload}`, body, { "Upload-Offset": String(offset) });
        next = Number(resp.headers.get("Upload-Offset"));
        await resp.arrayBuffer().catch(() => undefined);
      } catch (err) {
        if (err instanceof ApiError && err.code === "upload_offset" && ++conflicts <= 3) {
          offset = await acknowledged(client, q.upload);
          continue;
        }
        throw err;
      }
      if (!Number.isSafeInteger(next) || next <= offset || next > size) {
        throw new TransportError(`PATCH /v1/uploads/${q.upload}: the answer holds no new Upload-Offset.`);
      }
      sent(next - offset);
      offset = next;
      conflicts = 0;
      this.current = { digest, sent: offset, size };
      this.o.onProgress?.();
    }
    await client.json("POST", `/v1/uploads/${q.upload}/complete`);
    await this.storage.write((tx) => dropQueued(tx, key), "strict");
  }

  /** readRange reads bytes [from, to) of a stored file (prefix "b": queued, "d": cached). */
  private readRange(prefix: string, record: string, digest: string, from: number, to: number): Promise<Uint8Array> {
    return this.storage.read(async (tx) => {
      const out = new Uint8Array(to - from);
      for (let n = Math.floor(from / FILE_CHUNK); n * FILE_CHUNK < to; n++) {
        const c = (await tx.get("files", chunkKey(prefix, record, digest, n))) as Uint8Array | undefined;
        if (c === undefined) {
          throw new Error(`Chunk ${n} of file ${digest} is missing; the database is damaged.`);
        }
        const start = Math.max(from, n * FILE_CHUNK);
        const stop = Math.min(to, n * FILE_CHUNK + c.length);
        out.set(c.subarray(start - n * FILE_CHUNK, stop - n * FILE_CHUNK), start - from);
      }
      return out;
    });
  }

  /**
   * fetch returns the file digest attached to record id while a live
   * entry of the record as held here names it (otherwise it drops any
   * cached copy and throws FieldsyncError not_found): a file still queued
   * here from its queue, a cached one from the cache, others downloaded
   * (resuming a cut download with Range), checked against the digest and
   * kept within the cache's bound.
   */
  async fetch(client: SyncClient, id: string, digest: string): Promise<Blob> {
    if (!/^[0-9a-f]{64}$/.test(digest)) {
      throw errorf("invalid_value", "A file is named by its SHA-256 digest in lowercase hex.");
    }
    const r = await this.replica.get(id);
    const entry = r === undefined ? undefined : liveEntry(this.replica, r, digest);
    if (entry === undefined) {
      await this.storage.write((tx) => dropFile(tx, id, digest), "relaxed");
      throw errorf("not_found", "No live attachment entry of this record names that file.");
    }
    const q = (await this.storage.read((tx) => tx.get("files", `u/${id}/${digest}`))) as Queued | undefined;
    if (q !== undefined) {
      return new Blob([(await this.readRange("b", id, digest, 0, q.request.size)) as BlobPart], { type: entry.media_type });
    }
    const ck = `c/${id}/${digest}`;
    let c = (await this.storage.read((tx) => tx.get("files", ck))) as Cached | undefined;
    if (c?.done !== true) {
      c = await this.download(client, id, digest, c ?? { size: entry.size, have: 0, done: false, used: 0, media_type: entry.media_type });
    }
    const data = await this.readRange("d", id, digest, 0, c.size);
    await this.storage.write((tx) => this.use(tx, ck), "relaxed");
    return new Blob([data as BlobPart], { type: c.media_type });
  }

  /** download downloads the rest of a file into the cache, resuming at c.have, and verifies it. */
  private async download(client: SyncClient, id: string, digest: string, c: Cached): Promise<Cached> {
    const ck = `c/${id}/${digest}`;
    const path = `/v1/records/${id}/attachments/${digest}`;
    let failures = 0;
    while (c.have < c.size) {
      const before = c.have;
      try {
        const resp = await client.request("GET", path, undefined, c.have > 0 ? { Range: `bytes=${c.have}-` } : {});
        if (c.have > 0 && resp.status !== 206) {
          c.have = 0; // the range was not honoured: the body is the whole file
        }
        c = await this.receive(resp, ck, id, digest, c);
      } catch (err) {
        if (!(err instanceof TransportError || (err instanceof ApiError && err.temporary))) {
          throw err;
        }
        c = ((await this.storage.read((tx) => tx.get("files", ck))) as Cached | undefined) ?? c; // the chunks stored before the cut
        failures = c.have > before ? 1 : failures + 1;
        if (failures >= client.attempts) {
          throw err;
        }
        await client.wait(client.delay(failures - 1));
      }
    }
    const data = await this.readRange("d", id, digest, 0, c.size);
    if ((await sha256(this.o.crypto ?? globalThis.crypto, data)) !== digest) {
      await this.storage.write((tx) => dropFile(tx, id, digest), "relaxed");
      throw new TransportError("The file received does not match its digest.");
    }
    c.done = true;
    await this.storage.write((tx) => tx.put("files", ck, c), "relaxed");
    return c;
  }

  /** receive stores a download's body in chunks from c.have on, each with the bytes held. */
  private async receive(resp: Response, ck: string, id: string, digest: string, c: Cached): Promise<Cached> {
    if (resp.body === null) {
      throw new TransportError("The file's answer has no body.");
    }
    const reader = resp.body.getReader();
    let pending: Uint8Array[] = [];
    let held = 0;
    const flush = async (): Promise<void> => {
      const chunk = new Uint8Array(held);
      let at = 0;
      for (const p of pending) {
        chunk.set(p, at);
        at += p.length;
      }
      const n = c.have / FILE_CHUNK;
      c = { ...c, have: c.have + held };
      const next = c;
      await this.storage.write(async (tx) => {
        await tx.put("files", chunkKey("d", id, digest, n), chunk);
        await tx.put("files", ck, next);
      }, "relaxed");
      pending = [];
      held = 0;
    };
    try {
      for (;;) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (err) {
          throw new TransportError(`The download of file ${digest} was cut.`, { cause: err });
        }
        if (r.done) {
          break;
        }
        let bytes = r.value;
        while (bytes.length > 0) {
          const take = Math.min(bytes.length, FILE_CHUNK - held);
          pending.push(bytes.subarray(0, take));
          held += take;
          bytes = bytes.subarray(take);
          if (c.have + held > c.size) {
            throw new TransportError(`The file ${digest} is longer than its entry says.`);
          }
          if (held === FILE_CHUNK) {
            await flush();
          }
        }
      }
      if (held > 0 && c.have + held === c.size) {
        await flush();
      }
      if (c.have < c.size) {
        throw new TransportError(`The download of file ${digest} ended early.`);
      }
      return c;
    } finally {
      reader.cancel().catch(() => undefined);
    }
  }

  /** use marks the cached file ck as the most recently used and evicts the least recently used files beyond the bound. */
  private async use(tx: StorageTx, ck: string): Promise<void> {
    const all = (await tx.list("files", "c/")).map(([k, v]) => [k, v as Cached] as const);
    const mine = all.find(([k]) => k === ck)?.[1];
    if (mine === undefined) {
      return;
    }
    mine.used = Math.max(0, ...all.map(([, v]) => v.used)) + 1;
    await tx.put("files", ck, mine);
    let total = all.reduce((n, [, v]) => n + v.have, 0);
    for (const [k, v] of all.sort((a, b) => a[1].used - b[1].used)) {
      if (total <= this.cacheBytes) {
        break;
      }
      const [, record, digest] = k.split("/") as [string, string, string];
      await dropFile(tx, record, digest);
      total -= v.have;
    }
  }

  /** cachedBytes returns the bytes the cache holds (tests). */
  async cachedBytes(): Promise<number> {
    const all = await this.storage.read((tx) => tx.list("files", "c/"));
    return all.reduce((n, [, v]) => n + (v as Cached).have, 0);
  }
}

/** acknowledged asks the server (HEAD) how many bytes of upload id it holds. */
async function acknowledged(client: SyncClient, id: string): Promise<number> {
  const resp = await client.request("HEAD", `/v1/uploads/${id}`);
  const n = Number(resp.headers.get("Upload-Offset"));
  if (resp.headers.get("Upload-Offset") === null || !Number.isSafeInteger(n) || n < 0) {
    throw new TransportError(`HEAD /v1/uploads/${id}: the answer holds no Upload-Offset.`);
  }
  return n;
}

/** liveEntry returns the live (unredacted) attachment entry of r naming digest, if any. */
function liveEntry(replica: Replica, r: Record, digest: string): { size: number; media_type: string } | undefined {
  const kind = replica.schema.kinds[r.kind];
  for (const [name, f] of Object.entries(kind?.fields ?? {})) {
    if (f.format !== "attachment") {
      continue;
    }
    for (const e of r.entries(name)) {
      if (e.redacted === true) {
        continue;
      }
      const v = JSON.parse(e.value) as { digest?: string; size?: number; media_type?: string } | null;
      if (v?.digest === digest && typeof v.size === "number") {
        return { size: v.size, media_type: v.media_type ?? "" };
      }
    }
  }
  return undefined;
}

/** dropQueued deletes a queued upload (key u/<record>/<digest>) and its chunks. */
async function dropQueued(tx: StorageTx, key: string): Promise<void> {
  const q = (await tx.get("files", key)) as Queued | undefined;
  if (q === undefined) {
    return;
  }
  const [, record, digest] = key.split("/") as [string, string, string];
  for (let n = 0; n < chunks(q.request.size); n++) {
    await tx.delete("files", chunkKey("b", record, digest, n));
  }
  await tx.delete("files", key);
}

/** dropFile deletes the cached file digest of record (and its chunks). */
async function dropFile(tx: StorageTx, record: string, digest: string): Promise<void> {
  const ck = `c/${record}/${digest}`;
  const c = (await tx.get("files", ck)) as Cached | undefined;
  if (c === undefined) {
    return;
  }
  for (let n = 0; n < chunks(c.have); n++) {
    await tx.delete("files", chunkKey("d", record, digest, n));
  }
  await tx.delete("files", ck);
}

/**
 * dropFiles deletes every file of record id, queued or cached, in tx:
 * the replica calls it when a pull drops the record (access lost, or
 * erased by retention).
 */
export async function dropFiles(tx: StorageTx, id: string): Promise<void> {
  for (const [k] of await tx.list("files", `u/${id}/`)) {
    await dropQueued(tx, k);
  }
  for (const [k] of await tx.list("files", `c/${id}/`)) {
    await dropFile(tx, id, k.slice(`c/${id}/`.length));
  }
}

/** sniff names the media type of the photos and scans the SDK recognises (the Go SDK's sniffLocal). */
function sniff(data: Uint8Array): string | undefined {
  if (isJPEG(data) && data[2] === 0xff) {
    return "image/jpeg";
  }
  if (isPNG(data)) {
    return "image/png";
  }
  if (data.length >= 5 && String.fromCharCode(...data.subarray(0, 5)) === "%PDF-") {
    return "application/pdf";
  }
  if (isHEIC(data)) {
    return "image/heic";
  }
  return isMP4(data) ? "audio/mp4" : undefined;
}

/** sha256 returns the SHA-256 of data in lowercase hex (WebCrypto: one call, the whole file in memory). */
async function sha256(crypto: Crypto, data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data as BufferSource));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}
