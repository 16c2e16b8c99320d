/**
 * SyncClient: the sync loop of a Replica against a fieldsync server, with
 * the Go SDK's semantics (clients/go: sync.go, push.go, pull.go, auth.go,
 * transport.go). Invariants:
 *
 *  - sync pushes the outbox in batches (by count and bytes), then pulls
 *    until the server has no more, and repeats (at most 3 rounds) while
 *    local writes arrived meanwhile.
 *  - Network failures, 5xx and 429 are retried with exponential backoff
 *    and jitter (raised to Retry-After) until maxAttempts attempts in a
 *    row made no progress; every attempt resumes where the last stopped.
 *  - An op leaves the outbox only when the server answered it; a push
 *    refused as a whole for its content is halved until the culprit
 *    travels alone, and that op is quarantined.
 *  - 401 token_expired (or unauthorized, account_disabled) without wipe
 *    refreshes the session once per request; a refused refresh ends the
 *    session (LoginRequiredError) and keeps every local data.
 *  - An error with `wipe` (token_reused, device_revoked, grant_expired,
 *    account_disabled...) erases the replica (unsynced changes included,
 *    on purpose) and sync throws WipedError.
 *  - 410 resync_required (or invalid_cursor) pulls everything again from
 *    an empty cursor; the outbox is untouched.
 *
 *  - With a FileQueue (attachments, files.ts), the files queued are
 *    uploaded before each push batch, and an op whose file is still
 *    queued is never pushed: the server never holds an entry before the
 *    file it names.
 *
 * fetch is injectable (tests use a fake); push bodies of 1 KiB or more are
 * gzipped with CompressionStream when the platform has it.
 */
import { decodeOp, type Op, opJSON } from "./op.js";
import { parseJSON, utf8Text } from "./json.js";
import { NotLoggedInError, type Page, type Pending, type PushResult, type Replica, type Session, type User } from "./replica.js";
import { type Schema } from "./schema.js";

/** ApiError is an error response of the server: {"error":{"code","message","wipe"?}}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly wipe: boolean,
    readonly retryAfterMs: number,
  ) {
    super(`The server answered ${status} ${code}: ${message}`);
    this.name = "ApiError";
  }

  /** temporary reports whether the same request may succeed later (5xx, 429). */
  get temporary(): boolean {
    return this.status >= 500 || this.status === 429;
  }
}

/** TransportError: the exchange broke (network, cut response, garbled body); retrying is safe. */
export class TransportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransportError";
  }
}

/** WipedError: the server ordered a wipe and the replica was erased; open a new one and log in. */
export class WipedError extends Error {
  /**
   * @param reason the server's wipe order, or the device's own reason
   * (code "out_of_contact", "wrong_pin" or "wiped": a wipe asked by the app
   * or another tab).
   */
  constructor(readonly reason: ApiError | { code: string; message: string }) {
    super(`This device's local data was wiped: ${reason.code}.`, { cause: reason });
    this.name = "WipedError";
  }
}

/** LoginRequiredError: the session ended (refresh refused); local data and outbox are kept. */
export class LoginRequiredError extends Error {
  constructor(options?: { cause?: unknown }) {
    super("The session ended; log in again to sync.", options);
    this.name = "LoginRequiredError";
  }
}

/** The fetch this client calls (globalThis.fetch, or a fake in tests). */
export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/**
 * FileQueue is what the sync loop needs of the attachments queued with
 * their ops (files.ts's Files implements it).
 */
export interface FileQueue {
  /** upload uploads every queued file, calling sent(n) each time the server acknowledges n more bytes. */
  upload(client: SyncClient, sent: (n: number) => void): Promise<void>;
  /** queued returns those of the op ids whose file is still queued. */
  queued(ops: string[]): Promise<Set<string>>;
}

/** SyncOptions configures a SyncClient. */
export interface SyncOptions {
  /** The server's base URL, e.g. "https://fieldsync.example:8443". */
  server: string;
  fetch?: Fetch;
  /** Ops per push (default 500, server maximum 1000). */
  pushBatch?: number;
  /** Op JSON bytes per push beyond the first op (default 1 MiB). */
  pushBytes?: number;
  /** Ops per pull page (default 1000). */
  pullLimit?: number;
  /** Attempts in a row without progress before sync gives up (default 5). */
  maxAttempts?: number;
  /** Backoff: the n-th retry waits a random time in [d/2, d], d = min(maxMs, baseMs·2ⁿ). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** sleep and random are injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Gzip push bodies (default: when CompressionStream exists). */
  compress?: boolean;
  /** The device name shown to administrators. */
  deviceName?: string;
  /** Called whenever the server answered 2xx (the device keeps its last contact for the self-wipe). */
  onContact?: () => void;
  /**
   * Runs a token refresh exclusively among the clients sharing this
   * replica's storage (Device: a Web Lock across tabs); the refresh reads
   * the stored session again first, so a token another tab rotated is
   * used rather than refreshed twice (token_reused wipes).
   */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The attachments queued with their ops, uploaded before the ops that name them are pushed. */
  files?: FileQueue;
}

/** SyncReport says what one sync did. */
export interface SyncReport {
  pushed: number;
  pulled: number;
  quarantined: number;
  resynced: boolean;
}

const MAX_ROUNDS = 3;
const EVENTS = "/v1/sync/events";
/** How long the event stream may stay silent before it counts as dead (the server's keep-alive is every 25 s). */
const STREAM_IDLE_MS = 75_000;
const PUSH_COMPRESS_MIN = 1024;
/** ACK_DROPS_BATCH is the most record ids one purge acknowledgement carries (the server's default max ops). */
const ACK_DROPS_BATCH = 1000;
const WHOLE_REQUEST_CODES = new Set(["body_too_large", "too_many_ops", "too_deep", "invalid_json"]);

/** SyncClient syncs one Replica with the server. */
export class SyncClient {
  private readonly o: Required<Omit<SyncOptions, "deviceName" | "files">> & { deviceName: string; files?: FileQueue };
  private running: Promise<SyncReport> | undefined;
  private refreshing: Promise<void> | undefined;
  private report: SyncReport = { pushed: 0, pulled: 0, quarantined: 0, resynced: false };

  constructor(
    readonly replica: Replica,
    o: SyncOptions,
  ) {
    this.o = {
      server: o.server.replace(/\/+$/, ""),
      fetch: o.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      pushBatch: o.pushBatch ?? 500,
      pushBytes: o.pushBytes ?? 1 << 20,
      pullLimit: o.pullLimit ?? 1000,
      maxAttempts: o.maxAttempts ?? 5,
      backoffBaseMs: o.backoffBaseMs ?? 500,
      backoffMaxMs: o.backoffMaxMs ?? 60_000,
      sleep: o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      random: o.random ?? Math.random,
      compress: o.compress ?? typeof CompressionStream !== "undefined",
      deviceName: o.deviceName ?? "",
      onContact: o.onContact ?? (() => {}),
      exclusive: o.exclusive ?? ((fn) => fn()),
      files: o.files,
    };
  }

  /**
   * login signs username in on this device (registering it at first use)
   * and stores the session durably. A replica belongs to one user.
   */
  async login(username: string, password: string): Promise<User> {
    const body = { username, password, device_id: this.replica.device, device_name: this.o.deviceName || undefined };
    const tr = await this.finish(this.retry(() => this.call("POST", "/v1/auth/login", JSON.stringify(body), false).then((v) => ({ value: v, progress: 0 }))));
    const t = tr as { access_token: string; refresh_token: string; device_id: string; user: User; team_names?: { [id: string]: string } };
    if (t.device_id !== this.replica.device) {
      throw new Error(`The server registered device ${t.device_id}, not this device ${this.replica.device}.`);
    }
    const old = this.replica.session?.user;
    if (old !== undefined && old.id !== t.user.id) {
      throw new Error(`This replica belongs to user ${old.username}; ${t.user.username} cannot use it.`);
    }
    await this.replica.setSession({ access_token: t.access_token, refresh_token: t.refresh_token, user: t.user, team_names: t.team_names });
    return t.user;
  }

  /** fetchSchema fetches GET /v1/schema and stores it in the replica for offline use. */
  async fetchSchema(): Promise<Schema> {
    const s = (await this.finish(this.call("GET", "/v1/schema", undefined, true))) as Schema;
    await this.replica.setSchema(s);
    return s;
  }

  /**
   * sync pushes the outbox and pulls to quiescence (see the module
   * comment). Concurrent calls share one run. It throws WipedError after a
   * wipe, LoginRequiredError when the session ended, and the last error
   * when attempts ran out.
   */
  sync(): Promise<SyncReport> {
    if (this.running === undefined) {
      this.running = this.syncRetrying().finally(() => (this.running = undefined));
    }
    return this.running;
  }

  private async syncRetrying(): Promise<SyncReport> {
    this.report = { pushed: 0, pulled: 0, quarantined: 0, resynced: false };
    await this.finish(this.retry(async () => ({ value: undefined, progress: await this.syncOnce() })));
    await this.replica.markSynced();
    return this.report;
  }

  /** delay returns the wait before retry n (0 for the first). */
  delay(n: number): number {
    const d = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** Math.min(n, 40));
    const half = d / 2;
    return Math.round(half + this.o.random() * (d - half));
  }

  private async retry<T>(attempt: () => Promise<{ value: T; progress: number }>): Promise<T> {
    let failures = 0;
    for (;;) {
      let progressed = 0;
      try {
        const r = await attempt();
        return r.value;
      } catch (err) {
        if (!transient(err)) {
          throw err;
        }
        progressed = err instanceof Interrupted ? err.progress : 0;
        const cause = err instanceof Interrupted ? err.cause : err;
        if (progressed > 0) {
          failures = 0;
        }
        failures++;
        if (failures >= this.o.maxAttempts) {
          throw cause;
        }
        let d = this.delay(failures - 1);
        if (cause instanceof ApiError && cause.retryAfterMs > d) {
          d = Math.min(cause.retryAfterMs, 10 * this.o.backoffMaxMs);
        }
        await this.o.sleep(d);
      }
    }
  }

  private async finish<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      const e = err instanceof Interrupted ? (err.cause as unknown) : err;
      if (e instanceof ApiError && e.wipe) {
        await this.replica.wipe();
        throw new WipedError(e);
      }
      throw e;
    }
  }

  /** syncOnce is one attempt; a transient failure carries the progress made (Interrupted). */
  private async syncOnce(): Promise<number> {
    let progress = 0;
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        progress += await this.push();
        progress += await this.pull();
        if ((await this.replica.outboxSize()) === 0) {
          break;
        }
      }
      await this.acknowledgeDrops();
    } catch (err) {
      if (err instanceof Interrupted) {
        throw new Interrupted(err.cause, progress + err.progress);
      }
      if (transient(err) && progress > 0) {
        throw new Interrupted(err, progress);
      }
      throw err;
    }
    return progress;
  }

  /**
   * acknowledgeDrops tells the server which records pulls' drops deleted
   * here (POST /v1/sync/purges: it records the ones retention erased, so
   * an operator sees which devices still hold them), and forgets each
   * batch once acknowledged; a failed acknowledgement is sent again at the
   * next sync.
   */
  private async acknowledgeDrops(): Promise<void> {
    for (;;) {
      const ids = await this.replica.droppedToAcknowledge(ACK_DROPS_BATCH);
      if (ids.length === 0) {
        return;
      }
      await this.call("POST", "/v1/sync/purges", JSON.stringify({ records: ids }), true);
      await this.replica.forgetDropped(ids);
    }
  }

  private async push(): Promise<number> {
    let maxOps = this.o.pushBatch;
    let answered = 0;
    let stalled = 0;
    for (;;) {
      answered += await this.uploadFiles(answered);
      let batch = await this.replica.outboxBatch(maxOps, this.o.pushBytes);
      if (batch.length === 0) {
        return answered;
      }
      const held = this.o.files === undefined ? new Set<string>() : await this.o.files.queued(batch.map((p) => p.op.id));
      const cut = batch.findIndex((p) => held.has(p.op.id));
      if (cut >= 0) {
        batch = batch.slice(0, cut); // an op whose file was queued after the upload above: upload it first
        if (batch.length === 0) {
          if (++stalled > 2) {
            throw new Error("A queued file was not uploaded, so the op naming it is held back.");
          }
          continue;
        }
      }
      stalled = 0;
      let res: { results: PushResult[]; server_hlc: string };
      try {
        res = (await this.call("POST", "/v1/sync/push", pushBody(batch), true)) as typeof res;
      } catch (err) {
        if (err instanceof ApiError && WHOLE_REQUEST_CODES.has(err.code)) {
          if (batch.length > 1) {
            maxOps = Math.max(1, Math.floor(batch.length / 2));
            continue;
          }
          await this.replica.quarantineOne(batch[0]!, err.code, err.message);
          this.report.quarantined++;
          answered++;
          continue;
        }
        if (answered > 0 && transient(err)) {
          throw new Interrupted(err, answered);
        }
        throw err;
      }
      const rejected = res.results.filter((r) => r.status !== "applied" && r.status !== "duplicate").length;
      const n = await this.replica.applyResults(batch, res.results ?? [], res.server_hlc ?? "");
      answered += n;
      this.report.pushed += n - rejected;
      this.report.quarantined += rejected;
      if (n === 0) {
        throw new TransportError(`The server answered none of the ${batch.length} ops pushed.`);
      }
    }
  }

  /** uploadFiles uploads the queued files and returns the bytes acknowledged (pushed: the progress before). */
  private async uploadFiles(pushed: number): Promise<number> {
    let sent = 0;
    try {
      await this.o.files?.upload(this, (n) => (sent += n));
    } catch (err) {
      if (sent + pushed > 0 && transient(err)) {
        throw new Interrupted(err, sent + pushed);
      }
      throw err;
    }
    return sent;
  }

  private async pull(): Promise<number> {
    let received = 0;
    let resynced = false;
    let cursor = await this.replica.cursor();
    let next: Promise<Page> | undefined;
    for (;;) {
      let page: Page;
      try {
        page = await (next ?? this.fetchPage(cursor));
      } catch (err) {
        next = undefined;
        if (err instanceof ApiError && (err.code === "resync_required" || err.code === "invalid_cursor") && cursor !== "" && !resynced) {
          await this.replica.startResync();
          resynced = true;
          this.report.resynced = true;
          cursor = "";
          continue;
        }
        if (received > 0 && transient(err)) {
          throw new Interrupted(err, received);
        }
        throw err;
      }
      // The next page is fetched while this one is stored (its cursor is
      // the answer's, not the stored one); it is applied only after this
      // page's transaction, which alone advances the stored cursor.
      next = page.more ? this.fetchPage(page.cursor) : undefined;
      next?.catch(() => undefined); // awaited in the next turn, or dropped with this page's failure
      await this.replica.applyPage(page);
      received += page.ops.length + page.drop.length;
      this.report.pulled += page.ops.length;
      cursor = page.cursor;
      if (!page.more) {
        return received;
      }
    }
  }

  private async fetchPage(cursor: string): Promise<Page> {
    let path = `/v1/sync/pull?limit=${this.o.pullLimit}`;
    if (cursor !== "") {
      path += "&cursor=" + encodeURIComponent(cursor);
    }
    const body = (await this.call("GET", path, undefined, true, true)) as { [k: string]: unknown };
    const ops: Op[] = [];
    const json: string[] = [];
    for (const raw of (body.ops as unknown[] | null) ?? []) {
      try {
        const op = decodeOp(raw);
        // Encoded here, while the previous page's writes are stored.
        const enc = opJSON(op);
        ops.push(op);
        json.push(enc);
      } catch {
        // an op this version cannot decode is skipped, as the Go SDK does
      }
    }
    return {
      ops,
      json,
      cursor: typeof body.cursor === "string" ? body.cursor : "",
      more: body.more === true,
      drop: Array.isArray(body.drop) ? (body.drop as string[]) : [],
      erased: Array.isArray(body.erased) ? (body.erased as string[]) : [],
      server: typeof body.server_hlc === "string" ? body.server_hlc : "",
    };
  }

  /**
   * call sends one request and returns its decoded JSON answer (see send
   * for authentication).
   */
  private async call(method: string, path: string, body: string | undefined, authed: boolean, strict = false): Promise<unknown> {
    const resp = await this.send(method, path, body, authed);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await resp.arrayBuffer());
    } catch (err) {
      throw new TransportError(`${method} ${path}: the answer was cut short.`, { cause: err });
    }
    try {
      return strict ? parseJSON(utf8Text(bytes)) : JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      throw new TransportError(`${method} ${path}: the answer does not decode.`, { cause: err });
    }
  }

  /**
   * send sends one request and returns a 2xx response with its body
   * unread; any other status throws ApiError. With authed, a 401
   * token_expired, unauthorized or account_disabled (without wipe)
   * refreshes the session once and retries once.
   */
  private async send(method: string, path: string, body: string | Uint8Array | undefined, authed: boolean, signal?: AbortSignal, extra: { [k: string]: string } = {}): Promise<Response> {
    const encoded = body === undefined ? undefined : typeof body === "string" ? await this.encodeBody(path, body) : { bytes: body, gzip: false, binary: true };
    for (let attempt = 0; ; attempt++) {
      const token = authed ? this.token() : "";
      const headers: { [k: string]: string } = { Accept: path === EVENTS ? "text/event-stream" : "application/json", "Accept-Encoding": "gzip" };
      if (token !== "") {
        headers.Authorization = "Bearer " + token;
      }
      if (encoded !== undefined) {
        headers["Content-Type"] = "binary" in encoded ? "application/offset+octet-stream" : "application/json";
        if (encoded.gzip) {
          headers["Content-Encoding"] = "gzip";
        }
      }
      Object.assign(headers, extra);
      let resp: Response;
      try {
        resp = await this.o.fetch(this.o.server + path, { method, headers, body: encoded?.bytes as BodyInit | undefined, signal });
      } catch (err) {
        throw new TransportError(`${method} ${path}: ${(err as Error).message}`, { cause: err });
      }
      if (resp.status >= 200 && resp.status < 300) {
        this.o.onContact();
        return resp;
      }
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await resp.arrayBuffer());
      } catch (err) {
        throw new TransportError(`${method} ${path}: the answer was cut short.`, { cause: err });
      }
      const e = apiError(resp, bytes);
      if (authed && attempt === 0 && e.status === 401 && !e.wipe && ["token_expired", "unauthorized", "account_disabled"].includes(e.code)) {
        await this.refresh(token);
        continue;
      }
      throw e;
    }
  }

  /**
   * request sends one authenticated request (a string body as JSON, bytes
   * as application/offset+octet-stream) with extra headers and returns
   * the 2xx response with its body unread; any other status throws
   * ApiError, after a wipe order WipedError (the replica erased), as sync
   * does. Attachments' uploads and downloads (files.ts) use it.
   */
  request(method: string, path: string, body?: string | Uint8Array, headers?: { [k: string]: string }, signal?: AbortSignal): Promise<Response> {
    return this.finish(this.send(method, path, body, true, signal, headers));
  }

  /** json is request's answer decoded as JSON. */
  async json(method: string, path: string, body?: string): Promise<unknown> {
    const resp = await this.request(method, path, body);
    try {
      return JSON.parse(await resp.text());
    } catch (err) {
      throw new TransportError(`${method} ${path}: the answer does not decode.`, { cause: err });
    }
  }

  /** wait sleeps ms with the client's sleep (injectable in tests). */
  wait(ms: number): Promise<void> {
    return this.o.sleep(ms);
  }

  /** attempts is the client's maxAttempts. */
  get attempts(): number {
    return this.o.maxAttempts;
  }

  /**
   * events opens the live stream GET /v1/sync/events (read with fetch: an
   * EventSource cannot send the Authorization header), with the same
   * re-authentication as every request, and calls onEvent with "connected"
   * once open and with each event's name ("changes"...). It resolves when
   * the server says "shutdown" or signal aborts, and throws
   * TransportError when the stream breaks, ends or stays silent longer
   * than idleMs (the server sends a keep-alive every 25 s); a wipe order
   * wipes the replica and throws WipedError, as sync does.
   */
  async events(onEvent: (event: string) => void, signal?: AbortSignal, idleMs = STREAM_IDLE_MS): Promise<void> {
    const ctl = new AbortController();
    const abort = (): void => ctl.abort(signal?.reason);
    signal?.addEventListener("abort", abort);
    let idle: ReturnType<typeof setTimeout> | undefined;
    const alive = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => ctl.abort(new TransportError("The event stream stayed silent too long.")), idleMs);
    };
    try {
      await this.finish(this.readEvents(onEvent, ctl.signal, alive));
    } catch (err) {
      if (signal?.aborted) {
        return;
      }
      throw err;
    } finally {
      clearTimeout(idle);
      signal?.removeEventListener("abort", abort);
    }
  }

  private async readEvents(onEvent: (event: string) => void, signal: AbortSignal, alive: () => void): Promise<void> {
    alive();
    const resp = await this.send("GET", EVENTS, undefined, true, signal);
    if (resp.body === null) {
      throw new TransportError("The event stream has no body.");
    }
    onEvent("connected");
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    const sse = new SSEParser();
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<string>;
        try {
          chunk = await reader.read();
        } catch (err) {
          throw new TransportError(`The event stream broke: ${(err as Error).message}`, { cause: err });
        }
        if (chunk.done) {
          throw new TransportError("The event stream ended.");
        }
        alive();
        for (const ev of sse.push(chunk.value)) {
          if (ev === "shutdown") {
            return;
          }
          onEvent(ev);
        }
      }
    } finally {
      reader.cancel().catch(() => undefined);
    }
  }

  private token(): string {
    const s = this.replica.session;
    if (s?.access_token === undefined || s.access_token === "") {
      throw s === undefined ? new NotLoggedInError() : new LoginRequiredError();
    }
    return s.access_token;
  }

  /**
   * refresh exchanges the refresh token for a new pair after failed (the
   * token refused) expired. One refresh at a time: the sync and the live
   * stream may both meet an expired token, and a refresh token sent twice
   * is token_reused, which wipes the device.
   */
  private refresh(failed: string): Promise<void> {
    this.refreshing ??= this.o.exclusive(() => this.refreshOnce(failed)).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async refreshOnce(failed: string): Promise<void> {
    await this.replica.reload();
    const s = this.replica.session;
    if (s === undefined) {
      throw new LoginRequiredError();
    }
    if (s.access_token !== failed) {
      return; // refreshed meanwhile
    }
    if (s.refresh_token === undefined || s.refresh_token === "") {
      throw new LoginRequiredError();
    }
    let tr: { access_token: string; refresh_token: string; user: User; team_names?: { [id: string]: string } };
    try {
      tr = (await this.call("POST", "/v1/auth/refresh", JSON.stringify({ refresh_token: s.refresh_token }), false)) as typeof tr;
    } catch (err) {
      if (transient(err) || (err instanceof ApiError && err.wipe)) {
        throw err;
      }
      await this.replica.setSession({ user: s.user, team_names: s.team_names });
      throw new LoginRequiredError({ cause: err });
    }
    await this.replica.setSession({ access_token: tr.access_token, refresh_token: tr.refresh_token, user: tr.user, team_names: tr.team_names ?? s.team_names });
  }

  private async encodeBody(path: string, body: string): Promise<{ bytes: Uint8Array; gzip: boolean }> {
    const bytes = new TextEncoder().encode(body);
    if (!this.o.compress || path !== "/v1/sync/push" || bytes.length < PUSH_COMPRESS_MIN) {
      return { bytes, gzip: false };
    }
    return { bytes: await gzip(bytes), gzip: true };
  }
}

/** Interrupted carries a transient failure and the progress made before it. */
class Interrupted extends Error {
  constructor(
    override readonly cause: unknown,
    readonly progress: number,
  ) {
    super((cause as Error).message);
  }
}

function transient(err: unknown): boolean {
  if (err instanceof Interrupted) {
    return true;
  }
  return err instanceof TransportError || (err instanceof ApiError && err.temporary);
}

function apiError(resp: Response, bytes: Uint8Array): ApiError {
  let code = resp.status === 429 ? "rate_limited" : "internal";
  let message = resp.statusText || `HTTP ${resp.status}`;
  let wipe = false;
  try {
    const b = JSON.parse(new TextDecoder().decode(bytes)) as { error?: { code?: string; message?: string; wipe?: boolean } };
    if (typeof b.error?.code === "string" && b.error.code !== "") {
      code = b.error.code;
      message = b.error.message ?? "";
      wipe = b.error.wipe === true;
    }
  } catch {
    // not the error shape: keep the status
  }
  const ra = Number(resp.headers.get("Retry-After"));
  return new ApiError(resp.status, code, message, wipe, Number.isFinite(ra) && ra > 0 ? ra * 1000 : 0);
}

/** pushBody is {"ops":[...]} from the stored op JSON, without re-encoding. */
function pushBody(batch: Pending[]): string {
  return `{"ops":[${batch.map((p) => p.raw).join(",")}]}`;
}

/** gzip compresses bytes with CompressionStream. */
async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * SSEParser splits a text/event-stream into events (WHATWG HTML §9.2):
 * lines end with LF, CR or CRLF; a blank line dispatches the event named
 * by its "event:" field ("message" when none); comments (":") and data
 * are ignored (fieldsync's events carry nothing the client needs).
 */
export class SSEParser {
  private buf = "";
  private event = "";
  private fields = false;

  /** push feeds text and returns the names of the events it completed. */
  push(text: string): string[] {
    this.buf += text;
    const out: string[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (m === null || (m[0] === "\r" && m.index === this.buf.length - 1)) {
        return out; // a lone CR at the end may be half of a CRLF
      }
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      if (line === "") {
        if (this.fields) {
          out.push(this.event === "" ? "message" : this.event);
        }
        this.event = "";
        this.fields = false;
        continue;
      }
      if (line.startsWith(":")) {
        continue;
      }
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) {
        value = value.slice(1);
      }
      if (name === "event") {
        this.event = value;
        this.fields = true;
      } else if (name === "data") {
        this.fields = true;
      }
    }
  }
}
