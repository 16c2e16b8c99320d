// A fake fieldsync server behind a fake fetch, for the sync loop's unit
// tests: push (re-stamping, rejecting by field, duplicates), pull with an
// index cursor, drops, login and refresh, and scripted answers that take
// precedence (errors, wipes, 410).
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";

import { Clock, decodeOp, type Op, opJSON } from "../src/index.js";

/** A request as the fake saw it. */
export interface Seen {
  method: string;
  path: string;
  headers: { [k: string]: string };
  body: string;
  /** The body's bytes (an upload's chunk). */
  raw: Buffer;
  gzip: boolean;
}

/** A scripted answer: return a Response to answer, undefined to let the fake answer. */
export type Script = (req: Seen) => Response | undefined;

export const USER = { id: "0b5c4c64-2a3e-4c1d-9f0e-000000000001", username: "worker.north", role: "field_worker", teams: [] as string[] };

export function json(status: number, body: unknown, headers: { [k: string]: string } = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

export function apiErr(status: number, code: string, wipe = false): Response {
  return json(status, { error: { code, message: `Refused: ${code}.`, ...(wipe ? { wipe: true } : {}) } });
}

export class FakeServer {
  log: Op[] = [];
  seen: Seen[] = [];
  scripts: Script[] = [];
  /** A script consulted on every request, before scripts. */
  always: Script | undefined;
  /** Re-stamp every pushed op with the server clock. */
  restamp = false;
  /** Reject pushed ops of this field with forbidden. */
  rejectField = "";
  /** Drops served by the next pull. */
  drops: string[] = [];
  /** The subset of drops retention erased (served as "erased"). */
  erased: string[] = [];
  /** Records retention erased: pushed ops of them are rejected record_erased. */
  erasedRecords = new Set<string>();
  /** The record ids devices acknowledged (POST /v1/sync/purges), in order. */
  acknowledged: string[] = [];
  /** Cursors older than this are answered 410 resync_required. */
  minCursor = 0;
  /** The schema served at GET /v1/schema. */
  schema: unknown;
  /** The user login and refresh answer with. */
  user: { id: string; username: string; role: string; teams: string[] } = USER;
  access = "access-1";
  refresh = "refresh-1";
  private tokenN = 1;
  readonly clock = new Clock(() => 1_900_000_000_000);
  /** Uploads by id: the request and the bytes acknowledged. */
  uploads = new Map<string, { size: number; digest: string; data: Buffer }>();
  /** Completed blobs by digest. */
  blobs = new Map<string, Buffer>();
  /** Complete answers 415 media_type (the server's sniffing refuses the bytes). */
  refuseMedia = false;
  private uploadN = 0;
  /** The open event streams (GET /v1/sync/events). */
  streams: Array<ReadableStreamDefaultController<Uint8Array>> = [];

  readonly fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const u = new URL(url);
    const headers = (init.headers ?? {}) as { [k: string]: string };
    let bytes = init.body === undefined || init.body === null ? Buffer.alloc(0) : Buffer.from(init.body as Uint8Array);
    const gzip = headers["Content-Encoding"] === "gzip";
    if (gzip) {
      bytes = gunzipSync(bytes);
    }
    const req: Seen = { method: init.method ?? "GET", path: u.pathname + u.search, headers, body: bytes.toString("utf8"), raw: bytes, gzip };
    this.seen.push(req);
    const a = this.always?.(req);
    if (a !== undefined) {
      return a;
    }
    for (;;) {
      const s = this.scripts.shift();
      if (s === undefined) {
        break;
      }
      const r = s(req);
      if (r !== undefined) {
        return r;
      }
    }
    return this.answer(req, u, init.signal ?? undefined);
  };

  private answer(req: Seen, u: URL, signal?: AbortSignal): Response {
    if (u.pathname === "/v1/auth/login") {
      const b = JSON.parse(req.body) as { device_id: string };
      return json(200, { access_token: this.access, refresh_token: this.refresh, token_type: "Bearer", expires_in: 900, device_id: b.device_id, user: this.user });
    }
    if (u.pathname === "/v1/auth/refresh") {
      const b = JSON.parse(req.body) as { refresh_token: string };
      if (b.refresh_token !== this.refresh) {
        return apiErr(401, "unauthorized");
      }
      this.tokenN++;
      this.access = `access-${this.tokenN}`;
      this.refresh = `refresh-${this.tokenN}`;
      return json(200, { access_token: this.access, refresh_token: this.refresh, device_id: "", user: this.user });
    }
    if (req.headers.Authorization !== "Bearer " + this.access) {
      return apiErr(401, "token_expired");
    }
    if (u.pathname === "/v1/sync/push") {
      return this.push(req);
    }
    if (u.pathname === "/v1/sync/pull") {
      return this.pull(u);
    }
    if (u.pathname === "/v1/sync/purges" && req.method === "POST") {
      const b = JSON.parse(req.body) as { records: string[] };
      this.acknowledged.push(...b.records);
      return json(200, { acknowledged: b.records.length });
    }
    if (u.pathname === "/v1/schema" && this.schema !== undefined) {
      return json(200, this.schema);
    }
    if (u.pathname === "/v1/sync/events") {
      return this.events(signal);
    }
    if (u.pathname.startsWith("/v1/uploads")) {
      return this.upload(req, u.pathname);
    }
    const att = /^\/v1\/records\/[^/]+\/attachments\/([0-9a-f]{64})$/.exec(u.pathname);
    if (att !== null && this.blobs.has(att[1]!)) {
      const blob = this.blobs.get(att[1]!)!;
      const range = /^bytes=(\d+)-$/.exec(req.headers.Range ?? "");
      if (range !== null) {
        const from = Number(range[1]);
        return new Response(new Uint8Array(blob.subarray(from)), { status: 206, headers: { "Content-Range": `bytes ${from}-${blob.length - 1}/${blob.length}` } });
      }
      return new Response(new Uint8Array(blob), { status: 200 });
    }
    return apiErr(404, "not_found");
  }

  private upload(req: Seen, path: string): Response {
    const parts = path.split("/"); // "", v1, uploads, id?, complete?
    if (parts.length === 3 && req.method === "POST") {
      const b = JSON.parse(req.body) as { size: number; digest: string };
      if (this.blobs.has(b.digest)) {
        return json(200, { id: "", offset: b.size, size: b.size, complete: true });
      }
      const id = `00000000-0000-4000-8000-${String(++this.uploadN).padStart(12, "0")}`;
      this.uploads.set(id, { size: b.size, digest: b.digest, data: Buffer.alloc(0) });
      return json(201, { id, offset: 0, size: b.size });
    }
    const up = this.uploads.get(parts[3] ?? "");
    if (up === undefined) {
      return apiErr(404, "not_found");
    }
    const at = { "Upload-Offset": String(up.data.length), "Upload-Length": String(up.size) };
    if (parts.length === 4 && req.method === "HEAD") {
      return new Response(null, { status: 204, headers: at });
    }
    if (parts.length === 4 && req.method === "PATCH") {
      if (Number(req.headers["Upload-Offset"]) !== up.data.length) {
        return new Response(JSON.stringify({ error: { code: "upload_offset", message: "Resume at the acknowledged offset." } }), { status: 409, headers: at });
      }
      up.data = Buffer.concat([up.data, req.raw]);
      return new Response(null, { status: 204, headers: { "Upload-Offset": String(up.data.length) } });
    }
    if (parts[4] === "complete" && req.method === "POST") {
      this.uploads.delete(parts[3]!);
      if (createHash("sha256").update(up.data).digest("hex") !== up.digest) {
        return apiErr(422, "digest_mismatch");
      }
      if (this.refuseMedia) {
        return apiErr(415, "media_type");
      }
      this.blobs.set(up.digest, up.data);
      return json(200, { digest: up.digest, size: up.size, media_type: "image/jpeg" });
    }
    return apiErr(404, "not_found");
  }

  private push(req: Seen): Response {
    const body = JSON.parse(req.body) as { ops: unknown[] };
    const results = body.ops.map((raw) => {
      const op = decodeOp(JSON.stringify(raw));
      const known = this.log.find((o) => o.id === op.id);
      if (known !== undefined) {
        return { id: op.id, status: "duplicate", hlc: known.hlc };
      }
      if (this.erasedRecords.has(op.record)) {
        return { id: op.id, status: "rejected", code: "record_erased", message: "This record was erased by the retention rules; it cannot be written." };
      }
      if (op.field === this.rejectField) {
        return { id: op.id, status: "rejected", code: "forbidden", message: "A field worker cannot write this field." };
      }
      const stored = { ...op, user: this.user.id, hlc: this.restamp ? this.clock.now() : op.hlc };
      this.log.push(stored);
      return { id: op.id, status: "applied", hlc: stored.hlc };
    });
    return json(200, { results, server_hlc: this.clock.now() });
  }

  private pull(u: URL): Response {
    const cursor = Number(u.searchParams.get("cursor") ?? "0");
    if (u.searchParams.has("cursor") && cursor < this.minCursor) {
      return apiErr(410, "resync_required");
    }
    const limit = Number(u.searchParams.get("limit"));
    const page = this.log.slice(cursor, cursor + limit);
    const end = cursor + page.length;
    const drop = end >= this.log.length ? this.drops.splice(0) : [];
    const erased = drop.length > 0 ? this.erased.splice(0) : [];
    const readable = page.filter((o) => this.user.role !== "visitor" || o.kind !== "identification"); // write without read
    const text = `{"ops":[${readable.map(opJSON).join(",")}],"cursor":"${end}","more":${end < this.log.length},"drop":${JSON.stringify(drop)},"erased":${JSON.stringify(erased)},"server_hlc":"${this.clock.now()}"}`;
    return new Response(text, { status: 200 });
  }

  private events(signal?: AbortSignal): Response {
    let ctl!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        ctl = c;
      },
    });
    this.streams.push(ctl);
    signal?.addEventListener("abort", () => {
      this.streams = this.streams.filter((c) => c !== ctl);
      try {
        ctl.error(signal.reason);
      } catch {
        // closed already
      }
    });
    ctl.enqueue(new TextEncoder().encode(": connected\n\n"));
    return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
  }

  /** emit sends text on every open event stream. */
  emit(text: string): void {
    for (const c of this.streams) {
      c.enqueue(new TextEncoder().encode(text));
    }
  }

  /** endStreams closes every open event stream (the server went away). */
  endStreams(): void {
    for (const c of this.streams.splice(0)) {
      c.close();
    }
  }

  /** count returns how many requests went to path (prefix). */
  count(path: string): number {
    return this.seen.filter((s) => s.path.startsWith(path)).length;
  }
}
