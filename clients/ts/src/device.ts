/**
 * Device: the SDK's API for a web app, one object per tab over one
 * IndexedDB database, built from the parts below it: the encrypted
 * storage (vault.ts), the replica, the sync client and the locks.
 * Invariants:
 *
 *  - Every value at rest is encrypted under a PIN-wrapped key; locked (by
 *    lock(), after idleLockMs without activity, or in another tab), the
 *    device refuses reads and writes with LockedError and forgets its
 *    replica (and with it the session's tokens) until unlock(pin).
 *  - A device out of contact with the server for more than wipeAfterDays
 *    wipes itself when opened or unlocked (WipedError "out_of_contact");
 *    so does one given maxPinAttempts wrong PINs in a row ("wrong_pin").
 *  - wipe() destroys the key first (crypto-shredding), then every store
 *    the SDK and the app wrote: IndexedDB databases, Cache Storage,
 *    localStorage, service worker registrations (wipeScope "origin", the
 *    default), or only the SDK's database and the names listed ("sdk").
 *    A database deletion blocked by another tab's open connection does
 *    not hold the wipe up: it stays queued and completes when that tab
 *    closes its connection or goes away.
 *  - Many tabs, one outbox: every tab writes through the same database
 *    (transactions serialised by a Web Lock, so no write is lost); one tab
 *    at a time (the holder of the leader Web Lock) runs the sync loop and
 *    the live stream; every tab hears of changed records over a
 *    BroadcastChannel. Locks are never taken inside one another in a
 *    different order (leader → sync run → storage), so no deadlock.
 *  - The leader syncs at start, after local writes (any tab), on the
 *    window's `online` event, when the page becomes visible, on every
 *    "changes" event of the live stream (and each time it connects), and
 *    every syncIntervalMs; failures back off with jitter.
 *
 * Every platform object is injectable (tests run under Node with
 * fake-indexeddb, LocalLocks, fake timers and event targets).
 */
import { type Edit } from "./write.js";
import { type LockManager, defaultLocks } from "./locks.js";
import { type Op } from "./op.js";
import { type Record } from "./record.js";
import { deleteDatabase, IndexedDBStorage } from "./idb.js";
import { type AttachOptions, type Attached, Files, type UploadProgress } from "./files.js";
import { NotLoggedInError, type Rejected, Replica, type User } from "./replica.js";
import { type Schema } from "./schema.js";
import { type Storage } from "./storage.js";
import { ApiError, type Fetch, LoginRequiredError, SyncClient, type SyncOptions, type SyncReport, TransportError, WipedError } from "./sync.js";
import { DEFAULT_PIN_ITERATIONS, EncryptedStorage, LockedError, type VaultState, WrongPinError } from "./vault.js";

/** The timer functions the device uses (setTimeout/clearTimeout by default; fakes in tests). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The part of BroadcastChannel the device uses. */
export interface Channel {
  postMessage(message: unknown): void;
  onmessage: ((ev: { data: unknown }) => void) | null;
  close(): void;
}

/** The part of CacheStorage (`caches`) a wipe uses. */
export interface CacheStorageLike {
  keys(): Promise<string[]>;
  delete(name: string): Promise<boolean>;
}

/** The part of Web Storage (`localStorage`) a wipe uses. */
export interface WebStorageLike {
  readonly length: number;
  key(index: number): string | null;
  removeItem(key: string): void;
  clear(): void;
}

/** The part of `navigator.storage` the device uses. */
export interface StorageManagerLike {
  persist(): Promise<boolean>;
  persisted(): Promise<boolean>;
}

/** The part of `navigator` the device uses. */
export interface NavigatorLike {
  onLine?: boolean;
  storage?: StorageManagerLike;
  serviceWorker?: { getRegistrations(): Promise<ReadonlyArray<{ unregister(): Promise<boolean> }>> };
}

/** An event target with the visibility of a document. */
export interface DocumentLike extends EventTarget {
  readonly visibilityState?: string;
}

/** DeviceOptions configures Device.open. Only server is required. */
export interface DeviceOptions {
  /** The server's base URL (HTTPS, or localhost: WebCrypto and Web Locks need a secure context). */
  server: string;
  /** The IndexedDB database (default "fieldsync"); its name also names the locks and the channel. */
  name?: string;
  /** This device's id (a UUID); by default made at setup and kept (encrypted). */
  device?: string;
  /** Lock after this long without activity (calls to the device, touch()); default 5 min, 0: never. */
  idleLockMs?: number;
  /** Wipe when opened or unlocked this long after the server last answered; default 14 days, 0: never. */
  wipeAfterDays?: number;
  /** Wipe after this many wrong PINs in a row; default 10, 0: never. */
  maxPinAttempts?: number;
  /** PBKDF2 iterations for the PIN (default 600,000; lower only in tests). */
  pinIterations?: number;
  /** "origin" (default): a wipe deletes every database, cache and localStorage key of the origin; "sdk": only the SDK's database and the names below. */
  wipeScope?: "origin" | "sdk";
  /** With wipeScope "sdk": other IndexedDB databases, Cache Storage caches and localStorage keys the app wrote. */
  databases?: string[];
  cacheNames?: string[];
  localStorageKeys?: string[];
  /** Keep a live stream (GET /v1/sync/events) open while leading (default true). */
  live?: boolean;
  /** Sync at least this often while leading (default 5 min). */
  syncIntervalMs?: number;
  /** More options of the sync client (batches, backoff, fetch...). */
  sync?: Partial<SyncOptions>;
  fetch?: Fetch;
  /** Platform objects (defaults: the globals of a browser). */
  indexedDB?: IDBFactory;
  locks?: LockManager;
  /** Makes the tabs' channel (default: new BroadcastChannel(name)); null for none. */
  channel?: ((name: string) => Channel) | null;
  window?: EventTarget;
  document?: DocumentLike;
  navigator?: NavigatorLike;
  caches?: CacheStorageLike;
  localStorage?: WebStorageLike;
  crypto?: Crypto;
  now?: () => number;
  timers?: Timers;
  /** Bytes of downloaded attachments kept on the device (default 64 MiB), and bytes per upload request (default 1 MiB). */
  fileCacheBytes?: number;
  uploadChunk?: number;
  /** Open this storage instead of IndexedDB (tests, or a replica that must not outlive the page). */
  storage?: Storage;
}

/** DeviceStatus is what a device shows about itself. */
export interface DeviceStatus {
  /** "new" (no PIN yet), "locked", "unlocked" or "wiped". */
  state: VaultState;
  locked: boolean;
  /** The browser's idea of the network (navigator.onLine and online/offline events). */
  online: boolean;
  /** Whether this tab runs the sync loop, and whether its live stream is connected. */
  leader: boolean;
  live: boolean;
  /** Whether a sync is running in this tab. */
  syncing: boolean;
  /** Local writes not yet answered by the server, and rejected ones kept for the user (known while locked too). */
  outbox: number;
  quarantine: number;
  /** Attached files waiting to be uploaded (known while locked too), and the upload under way. */
  uploads: number;
  upload?: UploadProgress;
  /** When a sync last completed (ISO 8601; undefined while locked or never). */
  lastSync?: string;
  /** When the server last answered (ISO 8601), what the self-wipe counts from. */
  lastContact?: string;
  /** navigator.storage.persist()'s answer: true persisted, false "the browser may delete this data", undefined unknown. */
  persisted?: boolean;
  /** The user of this replica (undefined before login or while locked). */
  user?: User;
  /** Whether a session is held (false: log in again to sync; nothing is lost). */
  loggedIn: boolean;
  /** The last sync failure's message, until a sync succeeds. */
  error?: string;
  /** Why the device was wiped, once it was. */
  wiped?: string;
}

type Message = { t: "changed"; ids: string[] } | { t: "poke" } | { t: "lock" } | { t: "wiped"; code: string } | { t: "keyring" } | { t: "session" };

const DAY_MS = 86_400_000;
const CONTACT_EVERY_MS = 60_000;

/** Device is the SDK's API for one tab; see the module comment. */
export class Device {
  private replica: Replica | undefined;
  private client: SyncClient | undefined;
  private files: Files | undefined;
  private readonly subscribers = new Set<(ids: string[]) => void>();
  private readonly statusListeners = new Set<(s: DeviceStatus) => void>();
  private readonly wakers = new Set<() => void>();
  private poked = false;
  private channel: Channel | undefined;
  private idle: unknown;
  private leading: AbortController | undefined;
  private started = false;
  private closed = false;
  private online: boolean;
  private leader = false;
  private liveOn = false;
  private syncing = false;
  private error: string | undefined;
  private wipedCode: string | undefined;
  private persisted: boolean | undefined;
  private contactWritten = 0;
  private readonly timers: Timers;
  private readonly now: () => number;
  private readonly locks: LockManager;
  private readonly removeListeners: Array<() => void> = [];

  private constructor(
    private readonly o: DeviceOptions & { name: string },
    private readonly vault: EncryptedStorage,
  ) {
    this.timers = o.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) };
    this.now = o.now ?? Date.now;
    this.locks = o.locks ?? defaultLocks();
    this.online = this.nav()?.onLine ?? true;
  }

  /**
   * open opens (creating it on first use) the device's database. It throws
   * WipedError("out_of_contact") after wiping a device out of contact for
   * longer than wipeAfterDays; open again for a fresh one.
   */
  static async open(options: DeviceOptions): Promise<Device> {
    const o = { ...options, name: options.name ?? "fieldsync" };
    const inner = o.storage ?? (await IndexedDBStorage.open(o.name, o.indexedDB ?? globalThis.indexedDB));
    const locks = o.locks ?? defaultLocks();
    const vault = await EncryptedStorage.open(inner, {
      lockName: `fieldsync-db:${o.name}`,
      locks,
      iterations: o.pinIterations ?? DEFAULT_PIN_ITERATIONS,
      crypto: o.crypto,
      now: o.now,
    });
    const d = new Device(o, vault);
    await d.checkContact();
    d.listen();
    d.persisted = await d.nav()?.storage?.persisted().catch(() => undefined);
    return d;
  }

  /** state is "new" (no PIN yet), "locked", "unlocked" or "wiped". */
  get state(): VaultState {
    return this.wipedCode !== undefined ? "wiped" : this.vault.state;
  }

  /** setup sets the first PIN of a new device (making its data key); the device is unlocked afterwards. */
  async setup(pin: string): Promise<void> {
    this.mustLive();
    await this.vault.setup(pin);
    this.post({ t: "keyring" });
    await this.opened();
  }

  /**
   * unlock unlocks the device with pin. A wrong PIN throws WrongPinError
   * (err.failures counts them); the maxPinAttempts-th in a row wipes and
   * throws WipedError("wrong_pin"); a device out of contact too long wipes
   * and throws WipedError("out_of_contact").
   */
  async unlock(pin: string): Promise<void> {
    this.mustLive();
    await this.vault.refresh();
    await this.checkContact();
    try {
      await this.vault.unlock(pin);
    } catch (err) {
      const max = this.o.maxPinAttempts ?? 10;
      if (err instanceof WrongPinError && max > 0 && err.failures >= max) {
        await this.wipe("wrong_pin");
        throw new WipedError({ code: "wrong_pin", message: `The PIN was wrong ${err.failures} times in a row.` });
      }
      throw err;
    }
    await this.opened();
  }

  /** lock forgets the key and the replica (locking every tab): reads and writes throw LockedError until unlock. */
  lock(): void {
    this.lockHere();
    this.post({ t: "lock" });
  }

  /** changePin re-wraps the key under newPin (oldPin must be right). */
  async changePin(oldPin: string, newPin: string): Promise<void> {
    this.mustLive();
    await this.vault.changePin(oldPin, newPin);
    this.post({ t: "keyring" });
    this.touch();
  }

  /**
   * local returns the unlocked device's replica, for the reads this API
   * does not offer: every record and the outbox in one transaction, the
   * schema kept for offline use, the session's user and team names, the
   * device id. Reading through it is no activity for the idle lock (an
   * app redrawing after a background sync must not keep the device
   * unlocked); write through write(), so that the sync loop and the other
   * tabs hear of it. It throws LockedError while locked.
   */
  get local(): Replica {
    this.mustLive();
    return this.mustReplica();
  }

  /** touch counts as activity for the idle lock (call it on user input). */
  touch(): void {
    this.timers.clearTimeout(this.idle);
    this.idle = undefined;
    const ms = this.o.idleLockMs ?? 5 * 60_000;
    if (ms > 0 && this.vault.state === "unlocked" && !this.closed) {
      this.idle = this.timers.setTimeout(() => this.lock(), ms);
    }
  }

  /** login signs username in on this device (once; the session is kept, encrypted). */
  async login(username: string, password: string): Promise<User> {
    const user = await this.guard(async () => this.mustClient().login(username, password));
    this.post({ t: "session" });
    this.poke();
    return user;
  }

  /** fetchSchema fetches GET /v1/schema and keeps it for offline use. */
  fetchSchema(): Promise<Schema> {
    return this.guard(async () => this.mustClient().fetchSchema());
  }

  /** get returns the local state of record id, or undefined. */
  get(id: string): Promise<Record | undefined> {
    return this.guard(async () => this.mustReplica().get(id));
  }

  /** ids returns the ids of the local records, sorted. */
  ids(): Promise<string[]> {
    return this.guard(async () => this.mustReplica().ids());
  }

  /** ops returns the stored ops of record id. */
  ops(id: string): Promise<Op[]> {
    return this.guard(async () => this.mustReplica().ops(id));
  }

  /**
   * write applies edits to record id (kind: its kind) as new ops, stored
   * durably and queued in one transaction; once it resolves, tell the user
   * the change is saved. It throws FieldsyncError (the server's code) and
   * changes nothing when an edit is refused.
   */
  async write(id: string, kind: string, edits: Edit[]): Promise<Op[]> {
    const ops = await this.guard(async () => this.mustReplica().write(id, kind, edits));
    this.post({ t: "poke" });
    this.poke();
    return ops;
  }

  /**
   * attach attaches file to record id: the attachments entry (SHA-256
   * digest, size, media type, name, caption) is written and the file
   * queued in one transaction, and the sync loop uploads the file before
   * it pushes the entry (see files.ts). A JPEG or PNG loses its location
   * and device metadata first (orientation kept) unless keepMetadata.
   */
  async attach(id: string, file: Blob | Uint8Array, options: AttachOptions = {}): Promise<Attached> {
    const a = await this.guard(async () => this.mustFiles().attach(id, file, options));
    this.post({ t: "poke" });
    this.poke();
    return a;
  }

  /**
   * fetch returns the file digest attached to record id while a live entry
   * of it names it: from the device, or downloaded on demand (resuming a
   * cut download) into the bounded cache. It throws FieldsyncError
   * not_found when no live entry names it.
   */
  fetch(id: string, digest: string): Promise<Blob> {
    return this.guard(async () => this.mustFiles().fetch(this.mustClient(), id, digest));
  }

  /** quarantine returns the ops the server rejected, with its code and message, oldest first. */
  quarantine(): Promise<Rejected[]> {
    return this.guard(async () => this.mustReplica().quarantine());
  }

  /** dismiss removes quarantined ops for good (all or nothing). */
  async dismiss(ids: string[]): Promise<void> {
    await this.guard(async () => this.mustReplica().dismiss(ids));
  }

  /** fix resends a quarantined op as a new op (new id, current base) with edit's changes; see Replica.fix. */
  async fix(opId: string, edit: Partial<Edit> = {}): Promise<Op> {
    const op = await this.guard(async () => this.mustReplica().fix(opId, edit));
    this.post({ t: "poke" });
    this.poke();
    return op;
  }

  /** subscribe calls fn with the ids of changed records (in this tab or another); it returns the unsubscribe function. */
  subscribe(fn: (ids: string[]) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** onStatus calls fn with the new status whenever it may have changed; it returns the unsubscribe function. */
  onStatus(fn: (s: DeviceStatus) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  /** status returns the device's state (outbox and quarantine sizes are known while locked too). */
  async status(): Promise<DeviceStatus> {
    const st: DeviceStatus = {
      state: this.state,
      locked: this.state !== "unlocked",
      online: this.online,
      leader: this.leader,
      live: this.liveOn,
      syncing: this.syncing,
      outbox: 0,
      quarantine: 0,
      uploads: 0,
      persisted: this.persisted,
      loggedIn: false,
      error: this.error,
      wiped: this.wipedCode,
    };
    if (this.state === "wiped") {
      return st;
    }
    const contact = this.vault.lastContact;
    st.lastContact = contact > 0 ? new Date(contact).toISOString() : undefined;
    st.outbox = await this.vault.rawCount("outbox", "q/");
    st.quarantine = await this.vault.rawCount("quarantine");
    st.uploads = await this.vault.rawCount("files", "u/");
    st.upload = this.files?.progress;
    const r = this.replica;
    if (r !== undefined && this.vault.state === "unlocked") {
      st.lastSync = await r.lastSync().catch(() => undefined);
      st.user = r.session?.user;
      st.loggedIn = (r.session?.refresh_token ?? "") !== "";
    }
    return st;
  }

  /**
   * sync syncs now, in this tab (one sync at a time across tabs). It throws
   * as SyncClient.sync does; after a wipe order it wipes everything and
   * throws WipedError.
   */
  async sync(): Promise<SyncReport> {
    return this.guard(() => this.runSync());
  }

  /**
   * start runs the sync loop: this tab competes for leadership (one leader
   * per database), and the leader syncs on the triggers of the module
   * comment and keeps the live stream open. stop() or close() ends it.
   */
  start(): void {
    if (this.started || this.closed) {
      return;
    }
    this.started = true;
    this.lead();
  }

  /** stop ends this tab's sync loop (another tab may take over). */
  stop(): void {
    this.started = false;
    this.leading?.abort();
    this.leading = undefined;
  }

  /** close stops everything and releases the database (the tab is going away). */
  close(): void {
    this.stop();
    this.closed = true;
    this.timers.clearTimeout(this.idle);
    for (const rm of this.removeListeners.splice(0)) {
      rm();
    }
    this.channel?.close();
    this.channel = undefined;
    this.replica = undefined;
    this.client = undefined;
    this.files = undefined;
    this.vault.close();
  }

  /**
   * wipe destroys the key (the data is unreadable from then on), then every
   * store (see wipeScope), and tells the other tabs; the device is "wiped"
   * afterwards. It resolves with how long it took (ms, the device clock).
   */
  async wipe(code = "wiped"): Promise<number> {
    const t0 = this.now();
    this.wipedCode ??= code;
    this.stop();
    this.timers.clearTimeout(this.idle);
    this.post({ t: "wiped", code: this.wipedCode });
    this.replica = undefined;
    this.client = undefined;
    this.files = undefined;
    await this.vault.wipe();
    await this.wipeOthers();
    this.emit();
    return this.now() - t0;
  }

  private async wipeOthers(): Promise<void> {
    const g = globalThis as { caches?: CacheStorageLike; localStorage?: WebStorageLike };
    const idb = this.o.indexedDB ?? globalThis.indexedDB;
    const caches = this.o.caches ?? g.caches;
    const ls = this.o.localStorage ?? g.localStorage;
    const origin = (this.o.wipeScope ?? "origin") === "origin";
    const dbs = origin && idb?.databases !== undefined ? (await idb.databases()).map((d) => d.name ?? "") : (this.o.databases ?? []);
    // A deletion blocked by another tab's open connection resolves
    // "blocked" and completes when that tab lets go (see deleteDatabase).
    await Promise.all(dbs.filter((n) => n !== "").map((n) => deleteDatabase(idb, n)));
    if (caches !== undefined) {
      const names = origin ? await caches.keys() : (this.o.cacheNames ?? []);
      await Promise.all(names.map((n) => caches.delete(n)));
    }
    if (ls !== undefined) {
      if (origin) {
        ls.clear();
      } else {
        for (const k of this.o.localStorageKeys ?? []) {
          ls.removeItem(k);
        }
      }
    }
    if (origin) {
      const regs = (await this.nav()?.serviceWorker?.getRegistrations().catch(() => [])) ?? [];
      await Promise.all(regs.map((r) => r.unregister().catch(() => false)));
    }
  }

  /** opened builds the replica and client after setup or unlock. */
  private async opened(): Promise<void> {
    let device = this.o.device;
    const stored = (await this.vault.read((tx) => tx.get("meta", "device"))) as string | undefined;
    if (stored === undefined) {
      device ??= (this.o.crypto ?? globalThis.crypto).randomUUID();
      await this.vault.write((tx) => tx.put("meta", "device", device), "strict");
    } else {
      device = stored;
    }
    const replica = await Replica.open({ storage: this.vault, device, now: this.o.now });
    replica.onChange = (ids) => {
      this.notify(ids);
      this.post({ t: "changed", ids });
    };
    this.replica = replica;
    this.files = new Files(replica, this.vault, { cacheBytes: this.o.fileCacheBytes, uploadChunk: this.o.uploadChunk, crypto: this.o.crypto, onProgress: () => this.emit() });
    this.client = new SyncClient(replica, {
      files: this.files,
      server: this.o.server,
      fetch: this.o.fetch,
      ...this.o.sync,
      onContact: () => this.contact(),
      exclusive: (fn) => this.locks.request(`fieldsync-auth:${this.o.name}`, {}, fn),
    });
    if (this.persisted !== true) {
      this.persisted = await this.nav()
        ?.storage?.persist()
        .catch(() => undefined);
    }
    this.touch();
    this.emit();
    if (this.started && this.leading === undefined) {
      this.lead();
    }
    this.poke();
  }

  private lockHere(): void {
    if (this.vault.state !== "unlocked") {
      return;
    }
    this.vault.lock();
    this.replica = undefined;
    this.client = undefined;
    this.files = undefined;
    this.timers.clearTimeout(this.idle);
    this.leading?.abort();
    this.leading = undefined;
    this.emit();
  }

  private async checkContact(): Promise<void> {
    const days = this.o.wipeAfterDays ?? 14;
    const contact = this.vault.lastContact;
    if (days > 0 && contact > 0 && this.now() - contact > days * DAY_MS) {
      await this.wipe("out_of_contact");
      throw new WipedError({ code: "out_of_contact", message: `The server has not been reached for more than ${days} days.` });
    }
  }

  private contact(): void {
    const now = this.now();
    if (now - this.contactWritten < CONTACT_EVERY_MS) {
      return;
    }
    this.contactWritten = now;
    void this.vault.touchContact(now).catch(() => undefined);
  }

  /** guard runs an API call: activity for the idle lock, and a server's wipe order wipes everything. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    this.mustLive();
    this.touch();
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WipedError) {
        await this.wipe(err.reason.code);
      }
      throw err;
    }
  }

  private mustLive(): void {
    if (this.wipedCode !== undefined) {
      throw new WipedError({ code: this.wipedCode, message: "This device was wiped." });
    }
    if (this.closed) {
      throw new Error("The device is closed.");
    }
  }

  private mustReplica(): Replica {
    if (this.replica === undefined) {
      if (this.vault.state === "new") {
        throw new Error("This device has no PIN yet; call setup(pin) first.");
      }
      throw new LockedError();
    }
    return this.replica;
  }

  private mustFiles(): Files {
    this.mustReplica();
    return this.files!;
  }

  private mustClient(): SyncClient {
    this.mustReplica();
    return this.client!;
  }

  private async runSync(): Promise<SyncReport> {
    const client = this.mustClient();
    return this.locks.request(`fieldsync-sync:${this.o.name}`, {}, async () => {
      this.syncing = true;
      this.emit();
      try {
        await client.replica.reload(); // another tab may have logged in or rotated the tokens
        const r = await client.sync();
        this.error = undefined;
        return r;
      } catch (err) {
        this.error = (err as Error).message;
        throw err;
      } finally {
        this.syncing = false;
        this.emit();
      }
    });
  }

  /** lead competes for the leader lock and, once held, runs the loops until stopped or locked. */
  private lead(): void {
    if (this.vault.state !== "unlocked" || this.leading !== undefined) {
      return;
    }
    const ctl = new AbortController();
    this.leading = ctl;
    this.locks
      .request(`fieldsync-leader:${this.o.name}`, { signal: ctl.signal }, async () => {
        this.leader = true;
        this.emit();
        try {
          await this.replica?.reload();
          await Promise.all([this.syncLoop(ctl.signal), this.o.live === false ? undefined : this.liveLoop(ctl.signal)]);
        } finally {
          this.leader = false;
          this.liveOn = false;
          this.emit();
        }
      })
      .catch(() => undefined);
  }

  private async syncLoop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let wait = this.o.syncIntervalMs ?? 5 * 60_000;
      if (this.online && this.loggedIn()) {
        try {
          await this.runSync();
          failures = 0;
        } catch (err) {
          if (err instanceof WipedError) {
            await this.wipe(err.reason.code);
            return;
          }
          if (err instanceof LoginRequiredError || err instanceof NotLoggedInError || err instanceof LockedError) {
            wait = Infinity; // until a login or unlock pokes
          } else {
            wait = this.client?.delay(failures) ?? wait;
            failures++;
          }
        }
      }
      await this.sleep(wait, signal, failures === 0);
    }
  }

  private async liveLoop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const client = this.client;
      if (client === undefined || !this.online || !this.loggedIn()) {
        await this.sleep(Infinity, signal, true);
        continue;
      }
      try {
        await client.events((ev) => {
          if (ev === "connected") {
            failures = 0;
            this.liveOn = true;
            this.emit();
          }
          this.poke(); // connected: catch up on what was missed; changes: pull
        }, signal);
      } catch (err) {
        if (err instanceof WipedError) {
          await this.wipe(err.reason.code);
          return;
        }
        if (err instanceof LoginRequiredError || err instanceof NotLoggedInError) {
          this.liveOn = false;
          this.emit();
          await this.sleep(Infinity, signal, true);
          continue;
        }
        if (!(err instanceof TransportError || (err instanceof ApiError && err.temporary))) {
          this.liveOn = false;
          this.emit();
          return; // live mode unavailable (e.g. a route this role may not use): the interval remains
        }
      }
      this.liveOn = false;
      this.emit();
      await this.sleep(client.delay(failures), signal, false);
      failures++;
    }
  }

  private loggedIn(): boolean {
    return (this.replica?.session?.refresh_token ?? "") !== "";
  }

  /** sleep waits ms, until signal aborts, or (with wakeable) until a poke. */
  private sleep(ms: number, signal: AbortSignal, wakeable: boolean): Promise<void> {
    if (signal.aborted) {
      return Promise.resolve();
    }
    if (wakeable && this.poked) {
      this.poked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer: unknown;
      const done = (): void => {
        this.timers.clearTimeout(timer);
        this.wakers.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      if (Number.isFinite(ms)) {
        timer = this.timers.setTimeout(done, ms);
      }
      if (wakeable) {
        this.wakers.add(done);
      }
      signal.addEventListener("abort", done);
    });
  }

  /** poke wakes the leader's loops; a poke while they are busy is kept for their next wait (pokes coalesce). */
  private poke(): void {
    if (this.wakers.size === 0) {
      this.poked = true;
      return;
    }
    for (const w of [...this.wakers]) {
      w();
    }
  }

  private notify(ids: string[]): void {
    for (const fn of this.subscribers) {
      try {
        fn(ids);
      } catch {
        // a subscriber's failure is its own
      }
    }
    this.emit();
  }

  private emit(): void {
    if (this.statusListeners.size === 0) {
      return;
    }
    void this.status()
      .then((s) => {
        for (const fn of this.statusListeners) {
          fn(s);
        }
      })
      .catch(() => undefined);
  }

  private post(m: Message): void {
    try {
      this.channel?.postMessage(m);
    } catch {
      // a closed channel: nobody to tell
    }
  }

  private async receive(m: Message): Promise<void> {
    switch (m.t) {
      case "changed":
        this.notify(m.ids);
        if (this.leader) {
          this.poke();
        }
        break;
      case "poke":
        this.poke();
        break;
      case "lock":
        this.lockHere();
        break;
      case "keyring":
        await this.vault.refresh();
        this.emit();
        break;
      case "session":
        await this.replica?.reload().catch(() => undefined);
        this.poke();
        break;
      case "wiped":
        this.wipedCode ??= m.code;
        this.stop();
        this.replica = undefined;
        this.client = undefined;
        this.files = undefined;
        this.vault.close();
        this.emit();
        break;
    }
  }

  private listen(): void {
    const make = this.o.channel === undefined ? (typeof BroadcastChannel === "undefined" ? undefined : (n: string) => new BroadcastChannel(n) as unknown as Channel) : this.o.channel;
    if (make !== null && make !== undefined) {
      this.channel = make(`fieldsync:${this.o.name}`);
      this.channel.onmessage = (ev) => void this.receive(ev.data as Message).catch(() => undefined);
    }
    const g = globalThis as { window?: EventTarget; document?: DocumentLike };
    const win = this.o.window ?? g.window;
    const doc = this.o.document ?? g.document;
    this.on(win, "online", () => {
      this.online = true;
      this.emit();
      this.poke();
    });
    this.on(win, "offline", () => {
      this.online = false;
      this.emit();
    });
    this.on(doc, "visibilitychange", () => {
      if (doc?.visibilityState === "visible") {
        this.poke();
      }
    });
  }

  private on(target: EventTarget | undefined, type: string, fn: () => void): void {
    if (target === undefined) {
      return;
    }
    target.addEventListener(type, fn);
    this.removeListeners.push(() => target.removeEventListener(type, fn));
  }

  private nav(): NavigatorLike | undefined {
    return this.o.navigator ?? (globalThis as unknown as { navigator?: NavigatorLike }).navigator;
  }
}
