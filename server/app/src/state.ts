/**
 * The app's session on this device: the SDK's replica (IndexedDB) and sync
 * client, the records held in memory for the screens (the search index by
 * code is kept here, in memory only), and what the status bar shows.
 * Invariants:
 *
 *  - Every write goes through Replica.write (one strict IndexedDB
 *    transaction): once a write resolves the app may say "saved".
 *  - Nothing leaves the device but through SyncClient.sync; the app calls
 *    sync only when asked, on `online`, on becoming visible, after a write
 *    when the browser says it is online, and every minute while online.
 *  - A visitor's identification is removed from the device once the server
 *    has every op of it (write without read: the server never sends it
 *    back), never before.
 *  - A wipe order from the server, and logout, leave nothing: the replica's
 *    database, the app's other storage and its caches are deleted.
 */
import { T } from "./strings.js";
import {
  IndexedDBStorage,
  LoginRequiredError,
  Record,
  Replica,
  type Rejected,
  type Schema,
  SyncClient,
  type SyncReport,
  WipedError,
  type Edit,
} from "@fieldsync/client";

/** The IndexedDB database of the replica. */
export const DB_NAME = "fieldsync-app";
/** localStorage keys: the device id (not a secret) and the last username (for the login form). */
const DEVICE_KEY = "fieldsync.app.device";
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
  message: string;
  messageKind: "info" | "error" | "";
}

/** App holds the replica and client of the logged-in user. */
export class App {
  /** Records of every kind on the device, by id (in memory, rebuilt after each change). */
  records = new Map<string, Record>();
  /** Ids of records with ops not yet sent. */
  unsentRecords = new Set<string>();
  /** Ids of records with a refused op. */
  rejectedRecords = new Set<string>();
  /** The refused ops. */
  rejected: Rejected[] = [];
  /** How many identifications this visitor sent and the device forgot. */
  visitorSent = 0;
  status: Status = { online: navigator.onLine, unsynced: 0, lastSync: undefined, rejected: 0, persisted: undefined, syncing: false, message: "", messageKind: "" };
  /** Called whenever records or status change. */
  onUpdate: () => void = () => {};
  /** Called when the device was wiped or logged out (with the sentence to show). */
  onGone: (why: string) => void = () => {};
  /** Called when the session ended and a login is needed (data kept). */
  onLoginRequired: () => void = () => {};

  private constructor(
    readonly replica: Replica,
    readonly client: SyncClient,
  ) {}

  /** hasDevice reports whether this browser holds a replica (someone logged in and did not log out). */
  static hasDevice(): boolean {
    return localStorage.getItem(DEVICE_KEY) !== null;
  }

  /** open opens the replica of this browser (creating the device id on first use). */
  static async open(server: string): Promise<App> {
    let device = localStorage.getItem(DEVICE_KEY);
    if (device === null) {
      device = crypto.randomUUID();
      localStorage.setItem(DEVICE_KEY, device);
    }
    const storage = await IndexedDBStorage.open(DB_NAME);
    const replica = await Replica.open({ storage, device });
    const client = new SyncClient(replica, { server, maxAttempts: 2, backoffBaseMs: 500, deviceName: deviceName() });
    const app = new App(replica, client);
    replica.onChange = () => void app.reload();
    return app;
  }

  /** user returns the logged-in user, if any. */
  get user() {
    return this.replica.session?.user;
  }

  /** schema returns the stored schema, if fetched once. */
  get schema(): Schema | undefined {
    try {
      return this.replica.schema;
    } catch {
      return undefined;
    }
  }

  /** indicators returns the served catalogue's indicators. */
  get indicators(): Indicator[] {
    const c = this.schema?.indicator_catalogue as { indicators?: Indicator[] } | undefined;
    return c?.indicators ?? [];
  }

  /** login logs username in, fetches the schema and syncs once. */
  async login(username: string, password: string): Promise<void> {
    await this.client.login(username, password);
    await this.client.fetchSchema();
    this.status.persisted = await persist();
    await this.reload();
    await this.sync();
  }

  /** reload reads every record, the outbox and the quarantine into memory. */
  async reload(): Promise<void> {
    const s = this.replica.storage;
    if (this.replica.isWiped) {
      return;
    }
    const [recs, outbox] = await s.read(async (tx) => [await tx.list("records"), await tx.list("outbox", "q/")]);
    const records = new Map<string, Record>();
    for (const [id, snap] of recs) {
      records.set(id, Record.fromSnapshot(snap as Parameters<typeof Record.fromSnapshot>[0]));
    }
    const sent = await this.noteSent(records);
    const unsent = new Set<string>();
    for (const [, raw] of outbox) {
      unsent.add((JSON.parse(raw as string) as { record: string }).record);
    }
    this.rejected = await this.replica.quarantine();
    this.rejectedRecords = new Set(this.rejected.map((r) => r.op.record));
    this.records = records;
    this.unsentRecords = unsent;
    this.visitorSent = sent;
    this.status.unsynced = outbox.length;
    this.status.rejected = this.rejected.length;
    this.status.lastSync = await this.replica.lastSync();
    this.status.online = navigator.onLine;
    if (this.status.persisted === undefined) {
      this.status.persisted = await persisted();
    }
    this.onUpdate();
  }

  /**
   * noteSent records, for a visitor, the identifications shown before that
   * records no longer holds: the SDK forgets each once the server has all
   * its ops (the visitor may write it but never read it back). The ids are
   * kept as a set, so two reloads never count one twice; it returns how
   * many there are.
   */
  private async noteSent(records: Map<string, Record>): Promise<number> {
    const gone = this.user?.role !== "visitor" ? [] : [...this.records].filter(([id, r]) => r.kind === "identification" && !records.has(id)).map(([id]) => id);
    if (gone.length === 0) {
      return this.replica.storage.read(async (tx) => (((await tx.get("meta", SENT_KEY)) as string[] | undefined) ?? []).length);
    }
    return this.replica.storage.write(async (tx) => {
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

  /** write stores edits of record id durably (refused locally with the server's reason). */
  async write(id: string, kind: string, edits: Edit[]): Promise<void> {
    await this.replica.write(id, kind, edits);
    await this.reload();
    if (navigator.onLine) {
      setTimeout(() => void this.sync(), 300);
    }
  }

  /**
   * sync sends and receives; a wipe order clears the device, an ended
   * session asks for a login, anything else is said in plain words and the
   * changes stay on the device.
   */
  sync(): Promise<SyncReport | undefined> {
    if (this.running === undefined) {
      this.running = this.syncOnce().finally(() => (this.running = undefined));
    }
    return this.running;
  }

  private running: Promise<SyncReport | undefined> | undefined;

  private async syncOnce(): Promise<SyncReport | undefined> {
    if (this.replica.isWiped) {
      return undefined;
    }
    this.status.syncing = true;
    this.onUpdate();
    try {
      const r = await this.client.sync();
      this.setMessage("", "");
      return r;
    } catch (e) {
      if (e instanceof WipedError) {
        await this.clearDevice();
        this.onGone("wiped");
        return undefined;
      }
      if (e instanceof LoginRequiredError) {
        this.onLoginRequired();
        return undefined;
      }
      this.setMessage("sync-failed", "error", e);
      return undefined;
    } finally {
      this.status.syncing = false;
      if (!this.replica.isWiped) {
        await this.reload();
      }
    }
  }

  /** lastError is the message key of the last failure, for the status bar. */
  lastError: unknown;

  private setMessage(message: string, kind: Status["messageKind"], err?: unknown): void {
    this.status.message = message;
    this.status.messageKind = kind;
    this.lastError = err;
  }

  /**
   * call sends one request to the API with the session's token (for the
   * screens that work online only, such as devices); a 401 syncs once,
   * which refreshes the token or carries out a wipe order, and retries.
   * (The SDK should grow an authenticated request of its own.)
   */
  async call(method: string, path: string): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const token = this.replica.session?.access_token ?? "";
      const resp = await fetch(path, { method, headers: { Accept: "application/json", Authorization: "Bearer " + token } });
      const body = (await resp.json().catch(() => ({}))) as { error?: { message?: string } };
      if (resp.status === 401 && attempt === 0) {
        await this.sync();
        if (this.replica.isWiped) {
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
    await this.replica.dismiss([opId]);
    await this.reload();
  }

  /**
   * logout syncs first; with changes still unsent it refuses (returns
   * their count) unless force. Then it clears the device.
   */
  async logout(force: boolean): Promise<number> {
    if (this.status.unsynced > 0 && navigator.onLine) {
      await this.sync();
    }
    if (this.replica.isWiped) {
      return 0;
    }
    const left = await this.replica.outboxSize();
    if (left > 0 && !force) {
      return left;
    }
    await this.clearDevice();
    this.onGone("logout");
    return 0;
  }

  /** clearDevice deletes every store of the origin the app wrote: IndexedDB, caches, localStorage. */
  async clearDevice(): Promise<void> {
    if (!this.replica.isWiped) {
      await this.replica.wipe();
    }
    await clearBrowserStorage();
  }
}

/** clearBrowserStorage deletes every IndexedDB database, cache and web storage of the origin. */
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

/** persist asks the browser to keep this origin's storage; it returns the answer. */
async function persist(): Promise<boolean | undefined> {
  try {
    return (await navigator.storage?.persist?.()) ?? undefined;
  } catch {
    return undefined;
  }
}

async function persisted(): Promise<boolean | undefined> {
  try {
    return (await navigator.storage?.persisted?.()) ?? undefined;
  } catch {
    return undefined;
  }
}

/** deviceName names this browser for the administrators' device list. */
function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrom(e|ium)\//.test(ua) ? "Chromium" : /Safari\//.test(ua) ? "Safari" : "browser";
  return `${browser} (field app)`;
}
