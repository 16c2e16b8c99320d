/**
 * The app's session on this device: the SDK's Device (an encrypted replica
 * in IndexedDB, its sync loop, its lock and self-wipe), the records held in
 * memory for the screens while unlocked (the search index by code is kept
 * here, in memory only), and what the status bar shows. Invariants:
 *
 *  - Every value at rest is encrypted (Device over EncryptedStorage, a
 *    non-extractable key wrapped by the PIN); while locked the app holds
 *    no record in memory and shows the lock screen only.
 *  - Every write goes through Device.write (one strict IndexedDB
 *    transaction): once a write resolves the app may say "saved".
 *  - Nothing leaves the device but through the Device's sync: its loop
 *    (one tab leads) syncs after writes, on `online`, on becoming
 *    visible, on the live stream's news and every minute; "Sync now"
 *    syncs in this tab.
 *  - A visitor's identification is removed from the device by the SDK
 *    once the server has every op of it (write without read), never
 *    before; the app counts the ones it saw go.
 *  - A wipe (the server's order, too many wrong PINs, too long out of
 *    contact, logout) leaves nothing: the Device deletes the key first,
 *    then every database, cache, localStorage key and service worker of
 *    the origin; the app clears sessionStorage too, and opens no new
 *    database until the next login.
 */
import { IDLE_DEFAULT_MS, idleLockMs, MAX_PIN_ATTEMPTS, WIPE_AFTER_DAYS } from "./lock.js";
import { T } from "./strings.js";
import {
  Device,
  type DeviceStatus,
  type Edit,
  LockedError,
  LoginRequiredError,
  NotLoggedInError,
  Record,
  type Rejected,
  type Replica,
  type Schema,
  type SyncReport,
  WipedError,
  WrongPinError,
} from "@fieldsync/client";

/** The IndexedDB database of the replica. */
export const DB_NAME = "fieldsync-app";
/** meta keys the app adds to the replica's storage. */
const SENT_KEY = "app/visitor_sent_ids";

/** Indicator is one entry of the served catalogue. */
export interface Indicator {
  code: string;
  dimension: string;
  audiences: string[];
  label: string;
}

/** Status is what the always-visible bar shows. */
export interface Status {
  online: boolean;
  unsynced: number;
  lastSync: string | undefined;
  rejected: number;
  persisted: boolean | undefined;
  syncing: boolean;
}

/** App holds the Device of this browser and what the screens show of it. */
export class App {
  /** Records of every kind on the device, by id (in memory while unlocked, rebuilt after each change). */
  records = new Map<string, Record>();
  /** Ids of records with ops not yet sent. */
  unsentRecords = new Set<string>();
  /** Ids of the ops not yet sent (an attachment entry's file is uploaded just before its op). */
  unsentOps = new Set<string>();
  /** Ids of records with a refused op. */
  rejectedRecords = new Set<string>();
  /** The refused ops. */
  rejected: Rejected[] = [];
  /** How many identifications this visitor sent and the device forgot. */
  visitorSent = 0;
  status: Status = { online: navigator.onLine, unsynced: 0, lastSync: undefined, rejected: 0, persisted: undefined, syncing: false };
  /** Called whenever records change. */
  onUpdate: () => void = () => {};
  /** Called when only the status (bar) changed. */
  onStatus: () => void = () => {};
  /** Called when the device locked itself (idle time, another tab, "Lock"). */
  onLock: () => void = () => {};
  /** Called once when the device was wiped or logged out, with the reason's code ("logout", "wrong_pin", "out_of_contact", or the server's). */
  onGone: (why: string) => void = () => {};
  /** Called when the session ended and a login is needed (data kept). */
  onLoginRequired: () => void = () => {};

  private gone = false;
  private wasUnlocked = false;
  private syncingHere = false;
  private syncingAnywhere = false;
  private loginAsked = false;
  private idleMs: number;

  private constructor(
    private device: Device,
    private readonly server: string,
  ) {
    this.idleMs = idleLockMs();
  }

  /**
   * open opens this browser's device (creating its database on first use).
   * It throws WipedError("out_of_contact") after the device wiped itself
   * for having been out of contact too long.
   */
  static async open(server: string): Promise<App> {
    const app = new App(await openDevice(server, idleLockMs()), server);
    app.watch();
    return app;
  }

  /** state is the device's: "new" (no PIN yet), "locked", "unlocked" or "wiped". */
  get state(): string {
    return this.device.state;
  }

  /** replica is the unlocked device's replica (it throws while locked). */
  get replica(): Replica {
    return this.device.local;
  }

  /** touch tells the device the user is active (the idle lock starts again). */
  touch(): void {
    if (this.device.state === "unlocked") {
      this.device.touch();
    }
  }

  /** lock locks the device (every tab). */
  lock(): void {
    this.device.lock();
  }

  /** setup sets the first PIN of a new device (the device is unlocked afterwards). */
  async setup(pin: string): Promise<void> {
    await this.device.setup(pin);
  }

  /**
   * unlock unlocks with pin; it answers "" when unlocked, a sentence for a
   * wrong PIN. Too many wrong PINs, or too long out of contact, wipe the
   * device (onGone tells) and it answers "".
   */
  async unlock(pin: string): Promise<string> {
    try {
      await this.device.unlock(pin);
      this.wasUnlocked = true;
      return "";
    } catch (e) {
      if (e instanceof WrongPinError) {
        return T.pinWrong(MAX_PIN_ATTEMPTS - e.failures);
      }
      if (e instanceof WipedError) {
        await this.leave(e.reason.code);
        return "";
      }
      return String((e as Error).message);
    }
  }

  /** unsent counts the changes not sent yet (known while locked). */
  async unsent(): Promise<number> {
    return (await this.device.status()).outbox;
  }

  /** erase deletes everything on the device at the user's request, without the PIN. */
  async erase(): Promise<void> {
    await this.leave("erased");
  }

  /** changePin changes the PIN; it answers "" when done, or the sentence saying why not. */
  async changePin(oldPin: string, newPin: string): Promise<string> {
    try {
      await this.device.changePin(oldPin, newPin);
      return "";
    } catch (e) {
      return e instanceof WrongPinError ? T.pinChangeWrong : String((e as Error).message);
    }
  }

  /** watch follows the device: changed records, status, lock, wipe. */
  private watch(): void {
    this.device.subscribe(() => void this.reload());
    this.device.onStatus((s) => void this.statusChanged(s));
  }

  private async statusChanged(s: DeviceStatus): Promise<void> {
    if (s.state === "wiped") {
      await this.leave(s.wiped ?? "wiped");
      return;
    }
    if (s.state === "locked") {
      if (this.wasUnlocked) {
        this.wasUnlocked = false;
        this.forget();
        await this.reopenIfIdleChanged();
        this.onLock();
      }
      return;
    }
    if (s.state !== "unlocked") {
      return;
    }
    this.wasUnlocked = true;
    const finished = this.syncingAnywhere && !s.syncing;
    this.syncingAnywhere = s.syncing;
    this.status.syncing = this.syncingHere || s.syncing;
    this.status.persisted = s.persisted;
    this.status.online = s.online;
    if (s.user !== undefined && !s.loggedIn && !this.loginAsked) {
      this.loginAsked = true;
      this.onLoginRequired();
    }
    if (finished) {
      await this.reload();
    } else {
      this.onStatus();
    }
  }

  /** forget drops what was decrypted into memory (the device locked). */
  private forget(): void {
    this.records = new Map();
    this.unsentRecords = new Set();
    this.unsentOps = new Set();
    this.rejectedRecords = new Set();
    this.rejected = [];
  }

  /** reopenIfIdleChanged opens the device again (locked) when the idle-time preference changed. */
  private async reopenIfIdleChanged(): Promise<void> {
    const ms = idleLockMs();
    if (ms === this.idleMs) {
      return;
    }
    this.idleMs = ms;
    this.device.close();
    this.device = await openDevice(this.server, ms);
    this.watch();
  }

  /** leave ends this device's life once: wiped (by the Device) or logged out. */
  private async leave(code: string): Promise<void> {
    if (this.gone) {
      return;
    }
    this.gone = true;
    this.forget();
    if (this.device.state !== "wiped") {
      await this.device.wipe(code);
    }
    this.device.close();
    await clearBrowserStorage();
    this.onGone(code);
  }

  /** user returns the logged-in user, if any (none while locked). */
  get user() {
    try {
      return this.device.local.session?.user;
    } catch {
      return undefined;
    }
  }

  /** schema returns the stored schema, if fetched once. */
  get schema(): Schema | undefined {
    try {
      return this.device.local.schema;
    } catch {
      return undefined;
    }
  }

  /** indicators returns the served catalogue's indicators. */
  get indicators(): Indicator[] {
    const c = this.schema?.indicator_catalogue as { indicators?: Indicator[] } | undefined;
    return c?.indicators ?? [];
  }

  /** login logs username in (the device is unlocked), fetches the schema and starts the sync loop. */
  async login(username: string, password: string): Promise<void> {
    await this.device.login(username, password);
    this.loginAsked = false;
    await this.device.fetchSchema();
    await this.reload();
    this.start();
  }

  /** start runs the device's sync loop in this tab (one tab leads; the others follow). */
  start(): void {
    this.device.start();
  }

  /** reload reads every record, the outbox and the quarantine into memory (nothing while locked). */
  async reload(): Promise<void> {
    let r: Replica;
    try {
      r = this.device.local;
    } catch {
      return;
    }
    let recs: Array<[string, unknown]>;
    let outbox: Array<[string, unknown]>;
    let rejected: Rejected[];
    let sent: number;
    let lastSync: string | undefined;
    try {
      [recs, outbox] = await r.storage.read(async (tx) => [await tx.list("records"), await tx.list("outbox", "q/")]);
      const records = new Map<string, Record>();
      for (const [id, snap] of recs) {
        records.set(id, Record.fromSnapshot(snap as Parameters<typeof Record.fromSnapshot>[0]));
      }
      sent = await this.noteSent(r, records);
      rejected = await r.quarantine();
      lastSync = await r.lastSync();
      if (this.device.state !== "unlocked") {
        return;
      }
      this.records = records;
    } catch (e) {
      if (e instanceof LockedError || this.device.state !== "unlocked") {
        return; // locked (or wiped) meanwhile: nothing to show
      }
      throw e;
    }
    const unsent = new Set<string>();
    const unsentOps = new Set<string>();
    for (const [, raw] of outbox) {
      const op = JSON.parse(raw as string) as { id: string; record: string };
      unsent.add(op.record);
      unsentOps.add(op.id);
    }
    this.unsentOps = unsentOps;
    this.rejected = rejected;
    this.rejectedRecords = new Set(rejected.map((q) => q.op.record));
    this.unsentRecords = unsent;
    this.visitorSent = sent;
    this.status.unsynced = outbox.length;
    this.status.rejected = rejected.length;
    this.status.lastSync = lastSync;
    this.status.online = navigator.onLine;
    this.onUpdate();
  }

  /**
   * noteSent records, for a visitor, the identifications shown before that
   * records no longer holds: the SDK forgets each once the server has all
   * its ops (the visitor may write it but never read it back). The ids are
   * kept as a set (encrypted, in the replica), so two reloads never count
   * one twice; it returns how many there are.
   */
  private async noteSent(r: Replica, records: Map<string, Record>): Promise<number> {
    const gone = r.session?.user.role !== "visitor" ? [] : [...this.records].filter(([id, x]) => x.kind === "identification" && !records.has(id)).map(([id]) => id);
    if (gone.length === 0) {
      return r.storage.read(async (tx) => (((await tx.get("meta", SENT_KEY)) as string[] | undefined) ?? []).length);
    }
    return r.storage.write(async (tx) => {
      const sent = new Set(((await tx.get("meta", SENT_KEY)) as string[] | undefined) ?? []);
      const before = sent.size;
      for (const id of gone) {
        sent.add(id);
      }
      if (sent.size !== before) {
        await tx.put("meta", SENT_KEY, [...sent]);
      }
      return sent.size;
    }, "relaxed");
  }

  /** write stores edits of record id durably (refused locally with the server's reason); the sync loop sends them. */
  async write(id: string, kind: string, edits: Edit[]): Promise<void> {
    await this.device.write(id, kind, edits);
    await this.reload();
  }

  /**
   * attach attaches file to record id with its caption (the SDK strips a
   * photo's location and device metadata and queues the file with its
   * entry; the sync loop uploads it before the entry). It throws the SDK's
   * FieldsyncError when the file is refused.
   */
  async attach(id: string, file: File, caption: string): Promise<void> {
    await this.device.attach(id, file, { fileName: file.name, ...(caption !== "" ? { caption } : {}) });
    await this.reload();
  }

  /** fetchFile returns the file digest of record id: from the device, or downloaded now (see Device.fetch). */
  fetchFile(id: string, digest: string): Promise<Blob> {
    return this.device.fetch(id, digest);
  }

  /**
   * sync sends and receives now, in this tab; a wipe order clears the
   * device, an ended session asks for a login, anything else is said in
   * plain words and the changes stay on the device.
   */
  sync(): Promise<SyncReport | undefined> {
    if (this.running === undefined) {
      this.running = this.syncOnce().finally(() => (this.running = undefined));
    }
    return this.running;
  }

  private running: Promise<SyncReport | undefined> | undefined;

  private async syncOnce(): Promise<SyncReport | undefined> {
    if (this.device.state !== "unlocked") {
      return undefined;
    }
    this.syncingHere = true;
    this.status.syncing = true;
    this.onStatus();
    try {
      const r = await this.device.sync();
      this.lastError = undefined;
      return r;
    } catch (e) {
      if (e instanceof WipedError) {
        await this.leave(e.reason.code);
        return undefined;
      }
      if (e instanceof LoginRequiredError || e instanceof NotLoggedInError) {
        this.loginAsked = true;
        this.onLoginRequired();
        return undefined;
      }
      if (!(e instanceof LockedError)) {
        this.lastError = e;
      }
      return undefined;
    } finally {
      this.syncingHere = false;
      this.status.syncing = this.syncingAnywhere;
      await this.reload();
      this.onStatus();
    }
  }

  /** lastError is the last failure of a sync started here, for the message line. */
  lastError: unknown;

  /**
   * call sends one request to the API with the session's token (for the
   * screens that work online only, such as devices); a 401 syncs once,
   * which refreshes the token or carries out a wipe order, and retries.
   */
  async call(method: string, path: string): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const token = this.replica.session?.access_token ?? "";
      const resp = await fetch(path, { method, headers: { Accept: "application/json", Authorization: "Bearer " + token } });
      const body = (await resp.json().catch(() => ({}))) as { error?: { message?: string } };
      if (resp.status === 401 && attempt === 0) {
        await this.sync();
        if (this.gone) {
          throw new Error(T.wiped);
        }
        continue;
      }
      if (!resp.ok) {
        throw new Error(body.error?.message ?? `HTTP ${resp.status}`);
      }
      return body;
    }
  }

  /** dismiss removes a refused change's notice. */
  async dismiss(opId: string): Promise<void> {
    await this.device.dismiss([opId]);
    await this.reload();
  }

  /**
   * logout syncs first; with changes still unsent it refuses (returns
   * their count) unless force. Then it wipes the device.
   */
  async logout(force: boolean): Promise<number> {
    if (this.status.unsynced > 0 && navigator.onLine) {
      await this.sync();
    }
    if (this.gone) {
      return 0;
    }
    const left = (await this.device.status()).outbox;
    if (left > 0 && !force) {
      return left;
    }
    await this.leave("logout");
    return 0;
  }
}

/** openDevice opens the app's Device with its options (see lock.ts for the lock and self-wipe). */
function openDevice(server: string, idleMs: number): Promise<Device> {
  return Device.open({
    server,
    name: DB_NAME,
    idleLockMs: idleMs > 0 ? idleMs : IDLE_DEFAULT_MS,
    wipeAfterDays: WIPE_AFTER_DAYS,
    maxPinAttempts: MAX_PIN_ATTEMPTS,
    syncIntervalMs: 60_000,
    sync: { maxAttempts: 2, backoffBaseMs: 500, deviceName: deviceName() },
  });
}

/** clearBrowserStorage deletes every IndexedDB database, cache and web storage of the origin (after the Device's wipe: sessionStorage and anything left). */
export async function clearBrowserStorage(): Promise<void> {
  localStorage.clear();
  sessionStorage.clear();
  if (typeof indexedDB.databases === "function") {
    for (const d of await indexedDB.databases()) {
      if (d.name !== undefined) {
        await new Promise<void>((resolve) => {
          const req = indexedDB.deleteDatabase(d.name as string);
          req.onsuccess = req.onerror = req.onblocked = () => resolve();
        });
      }
    }
  }
  if ("caches" in self) {
    for (const k of await caches.keys()) {
      await caches.delete(k);
    }
  }
}

/** deviceName names this browser for the administrators' device list. */
function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrom(e|ium)\//.test(ua) ? "Chromium" : /Safari\//.test(ua) ? "Safari" : "browser";
  return `${browser} (field app)`;
}
