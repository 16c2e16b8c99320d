/**
 * Encryption at rest: EncryptedStorage wraps a Storage (IndexedDB in a
 * browser) so that every value it holds (record states, ops, the outbox,
 * the quarantine, the session and its tokens, the schema, the cursor) is
 * stored as AES-GCM ciphertext (a Uint8Array value, an attachment's chunk,
 * as its bytes; anything else as JSON) under a data key that exists in clear only
 * in memory, as a non-extractable WebCrypto key, while the vault is
 * unlocked. Invariants:
 *
 *  - At rest the data key exists only wrapped (AES-KW) by a key derived
 *    from the user's PIN (PBKDF2-SHA-256, 600,000 iterations by default,
 *    a random 16-byte salt), in the keyring entry of the same database.
 *    Without the PIN the stored bytes are ciphertext; a wrong PIN fails
 *    the key unwrap's integrity check (WrongPinError) and changes nothing
 *    but the failure counter.
 *  - Each value is encrypted with a fresh 96-bit IV and the store and key
 *    as additional data, so a value moved to another key does not decrypt.
 *    Keys (record and op ids, outbox sequence numbers) are not encrypted.
 *  - Locked (or never unlocked), every read and write throws LockedError;
 *    lock() forgets the data key. changePin re-wraps the same data key:
 *    nothing is re-encrypted, the old wrapping is overwritten in one
 *    strict transaction.
 *  - wipe() first deletes the keyring in its own strict transaction (the
 *    ciphertext is unreadable from then on, even if deleting the database
 *    is delayed), then deletes the database.
 *  - A transaction is all or nothing and isolated: WebCrypto is
 *    asynchronous and an IndexedDB transaction commits as soon as it waits
 *    on anything else, so a write runs its function against an overlay
 *    (reads decrypt committed values, writes are buffered), then encrypts
 *    the buffer and commits it in one transaction of the inner storage.
 *    Writes hold an exclusive Web Lock on the database's name and reads a
 *    shared one, so tabs of one origin never interleave (one outbox,
 *    never a lost update); no lock is taken inside another, so no
 *    deadlock.
 */
import { type LockManager } from "./locks.js";
import { type Durability, type Storage, type StorageTx, type StoreName } from "./storage.js";

/** LockedError: the replica is locked; unlock it with the PIN first. */
export class LockedError extends Error {
  constructor() {
    super("The device is locked; unlock it with the PIN to read or write.");
    this.name = "LockedError";
  }
}

/** WrongPinError: the PIN given does not unwrap the data key. */
export class WrongPinError extends Error {
  constructor(readonly failures: number) {
    super("The PIN is wrong.");
    this.name = "WrongPinError";
  }
}

/** The vault's state: no key yet (new), locked, unlocked, or wiped. */
export type VaultState = "new" | "locked" | "unlocked" | "wiped";

/** The keyring as stored, in clear, in the meta store under KEYRING. */
export interface Keyring {
  v: 1;
  /** PBKDF2 salt and iteration count of the PIN-derived wrapping key. */
  salt: Uint8Array;
  iterations: number;
  /** The data key wrapped with AES-KW. */
  wrapped: Uint8Array;
  /** Wrong PINs in a row. */
  failures: number;
  /** When the device last heard from the server (Unix ms); 0 for never. */
  contact: number;
  /** When the keyring was made (Unix ms). */
  created: number;
}

/** The meta key of the keyring; keys starting with NUL are the vault's own and never listed. */
export const KEYRING = "\u0000keyring";

/** The default PBKDF2 iteration count (OWASP's 2023 figure for PBKDF2-HMAC-SHA256). */
export const DEFAULT_PIN_ITERATIONS = 600_000;

/** The shortest PIN accepted. */
export const MIN_PIN_LENGTH = 4;

interface Envelope {
  iv: Uint8Array;
  ct: Uint8Array;
  /** Set when the plaintext is a Uint8Array's bytes (attachments' chunks) rather than JSON. */
  bin?: true;
}

/** VaultOptions configures EncryptedStorage.open. */
export interface VaultOptions {
  /** The name of the Web Lock that serialises transactions (one per database). */
  lockName: string;
  locks: LockManager;
  /** PBKDF2 iterations for a new keyring or a changed PIN (default DEFAULT_PIN_ITERATIONS). */
  iterations?: number;
  /** WebCrypto (default globalThis.crypto). */
  crypto?: Crypto;
  /** Wall clock in Unix ms (default Date.now). */
  now?: () => number;
}

/** EncryptedStorage is a Storage whose values are encrypted under a PIN-wrapped key. */
export class EncryptedStorage implements Storage {
  private key: CryptoKey | undefined;
  private keyring: Keyring | undefined;
  private wiped = false;
  private readonly subtle: SubtleCrypto;
  private readonly crypto: Crypto;
  private readonly iterations: number;
  private readonly now: () => number;

  private constructor(
    readonly inner: Storage,
    private readonly o: VaultOptions,
  ) {
    this.crypto = o.crypto ?? globalThis.crypto;
    this.subtle = this.crypto.subtle;
    this.iterations = o.iterations ?? DEFAULT_PIN_ITERATIONS;
    this.now = o.now ?? Date.now;
  }

  /** open reads the keyring of inner (if any): the vault starts "new" or "locked". */
  static async open(inner: Storage, o: VaultOptions): Promise<EncryptedStorage> {
    const s = new EncryptedStorage(inner, o);
    s.keyring = (await inner.read((tx) => tx.get("meta", KEYRING))) as Keyring | undefined;
    return s;
  }

  /** state says whether a key exists and whether it is in memory. */
  get state(): VaultState {
    if (this.wiped) {
      return "wiped";
    }
    if (this.keyring === undefined) {
      return "new";
    }
    return this.key === undefined ? "locked" : "unlocked";
  }

  /** lastContact returns when the device last heard from the server (Unix ms; 0: never), readable while locked. */
  get lastContact(): number {
    return this.keyring?.contact ?? 0;
  }

  /** created returns when the keyring was made (Unix ms; 0 before setup). */
  get created(): number {
    return this.keyring?.created ?? 0;
  }

  /** failures returns the wrong PINs in a row. */
  get failures(): number {
    return this.keyring?.failures ?? 0;
  }

  /** setup makes the data key and wraps it with pin; the vault is unlocked afterwards. */
  async setup(pin: string): Promise<void> {
    checkPin(pin);
    await this.refresh();
    if (this.state !== "new") {
      throw new Error("This device already has a key; unlock it with its PIN.");
    }
    const dek = await this.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
    const salt = this.crypto.getRandomValues(new Uint8Array(16));
    const kek = await this.pinKey(pin, salt, this.iterations);
    const wrapped = new Uint8Array(await this.subtle.wrapKey("raw", dek, kek, "AES-KW"));
    const now = this.now();
    const k: Keyring = { v: 1, salt, iterations: this.iterations, wrapped, failures: 0, contact: now, created: now };
    await this.updateKeyring((cur) => {
      if (cur !== undefined) {
        throw new Error("This device already has a key; unlock it with its PIN.");
      }
      return k;
    });
    this.key = await this.unwrap(k, kek, false);
  }

  /** refresh reads the keyring again (another tab may have set it up or changed the PIN). */
  async refresh(): Promise<void> {
    if (!this.wiped) {
      this.keyring = (await this.inner.read((tx) => tx.get("meta", KEYRING))) as Keyring | undefined;
    }
  }

  /** unlock unwraps the data key with pin; a wrong PIN throws WrongPinError (and counts it). */
  async unlock(pin: string): Promise<void> {
    await this.refresh();
    const k = this.mustKeyring();
    let key: CryptoKey;
    try {
      key = await this.unwrap(k, await this.pinKey(pin, k.salt, k.iterations), false);
    } catch (err) {
      if (err instanceof WrongPinError) {
        throw new WrongPinError(await this.countFailure());
      }
      throw err;
    }
    if (k.failures !== 0) {
      await this.updateKeyring((cur) => cur && { ...cur, failures: 0 });
    }
    this.key = key;
  }

  /** lock forgets the data key: reads and writes throw LockedError until unlock. */
  lock(): void {
    this.key = undefined;
  }

  /** changePin re-wraps the data key under newPin (a fresh salt); oldPin must be right. */
  async changePin(oldPin: string, newPin: string): Promise<void> {
    checkPin(newPin);
    await this.refresh();
    const k = this.mustKeyring();
    let dek: CryptoKey;
    try {
      dek = await this.unwrap(k, await this.pinKey(oldPin, k.salt, k.iterations), true);
    } catch (err) {
      if (err instanceof WrongPinError) {
        throw new WrongPinError(await this.countFailure());
      }
      throw err;
    }
    const salt = this.crypto.getRandomValues(new Uint8Array(16));
    const kek = await this.pinKey(newPin, salt, this.iterations);
    const wrapped = new Uint8Array(await this.subtle.wrapKey("raw", dek, kek, "AES-KW"));
    const next: Keyring = { ...k, salt, iterations: this.iterations, wrapped, failures: 0 };
    await this.updateKeyring((cur) => {
      if (cur === undefined || !sameBytes(cur.wrapped, k.wrapped)) {
        throw new Error("The PIN was changed or the device wiped meanwhile (another tab); try again.");
      }
      return { ...next, contact: Math.max(cur.contact, next.contact) };
    });
    this.key = await this.unwrap(next, kek, false);
  }

  /** touchContact records that the server answered now (kept in clear: it is checked before unlock). */
  async touchContact(at: number): Promise<void> {
    const k = this.keyring;
    if (k === undefined || this.wiped || at <= k.contact) {
      return;
    }
    await this.updateKeyring((cur) => cur && (at > cur.contact ? { ...cur, contact: at } : cur), "relaxed");
  }

  /** rawCount counts the keys of store under prefix without decrypting (works while locked). */
  async rawCount(store: StoreName, prefix = ""): Promise<number> {
    if (this.wiped) {
      return 0;
    }
    const entries = await this.inner.read((tx) => tx.list(store, prefix));
    return entries.filter(([k]) => !k.startsWith("\u0000")).length;
  }

  read<T>(fn: (tx: StorageTx) => Promise<T>): Promise<T> {
    return this.o.locks.request(this.o.lockName, { mode: "shared" }, () => fn(this.overlay(false)));
  }

  write<T>(fn: (tx: StorageTx) => Promise<T>, durability: Durability): Promise<T> {
    return this.o.locks.request(this.o.lockName, { mode: "exclusive" }, async () => {
      const tx = this.overlay(true);
      const out = await fn(tx);
      await this.commit(tx, durability);
      return out;
    });
  }

  /** wipe deletes the keyring (crypto-shredding every value), then the inner storage. */
  async wipe(): Promise<void> {
    this.key = undefined;
    if (this.wiped) {
      return;
    }
    this.wiped = true;
    this.keyring = undefined;
    try {
      await this.inner.write((tx) => tx.delete("meta", KEYRING), "strict");
    } catch {
      // already gone or closed: the database deletion below erases it
    }
    await this.inner.wipe();
  }

  close(): void {
    this.key = undefined;
    this.inner.close();
  }

  private mustKeyring(): Keyring {
    if (this.wiped) {
      throw new Error("The device was wiped.");
    }
    if (this.keyring === undefined) {
      throw new Error("This device has no key yet; set a PIN first.");
    }
    return this.keyring;
  }

  /**
   * updateKeyring replaces the stored keyring by fn(the stored one) in one
   * transaction of the inner storage: other tabs update it too (a PIN
   * change, a contact time, a failure count), and an update from a stale
   * copy would undo theirs (or, for two setups at once, replace the key
   * the other tab already encrypted with).
   */
  private async updateKeyring(fn: (cur: Keyring | undefined) => Keyring | undefined, durability: Durability = "strict"): Promise<void> {
    this.keyring = await this.inner.write(async (tx) => {
      const cur = (await tx.get("meta", KEYRING)) as Keyring | undefined;
      const next = fn(cur);
      if (next !== undefined && next !== cur) {
        await tx.put("meta", KEYRING, next);
      }
      return next;
    }, durability);
  }

  /** countFailure adds a wrong PIN to the stored count and returns it. */
  private async countFailure(): Promise<number> {
    await this.updateKeyring((cur) => cur && { ...cur, failures: cur.failures + 1 });
    return this.keyring?.failures ?? 0;
  }

  private async pinKey(pin: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
    const base = await this.subtle.importKey("raw", new TextEncoder().encode(pin.normalize("NFC")), "PBKDF2", false, ["deriveKey"]);
    return this.subtle.deriveKey({ name: "PBKDF2", salt: salt as BufferSource, iterations, hash: "SHA-256" }, base, { name: "AES-KW", length: 256 }, false, [
      "wrapKey",
      "unwrapKey",
    ]);
  }

  private async unwrap(k: Keyring, kek: CryptoKey, extractable: boolean): Promise<CryptoKey> {
    try {
      return await this.subtle.unwrapKey("raw", k.wrapped as BufferSource, kek, "AES-KW", { name: "AES-GCM", length: 256 }, extractable, ["encrypt", "decrypt"]);
    } catch {
      throw new WrongPinError(k.failures);
    }
  }

  private dataKey(): CryptoKey {
    if (this.wiped) {
      throw new Error("The device was wiped.");
    }
    if (this.key === undefined) {
      throw new LockedError();
    }
    return this.key;
  }

  private async encrypt(store: StoreName, key: string, payload: Buffered, dek: CryptoKey): Promise<Envelope> {
    const iv = this.crypto.getRandomValues(new Uint8Array(12));
    const bin = payload instanceof Uint8Array;
    const plain = bin ? payload : new TextEncoder().encode(payload);
    const ct = await this.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(store, key, bin) }, dek, plain as BufferSource);
    return bin ? { iv, ct: new Uint8Array(ct), bin } : { iv, ct: new Uint8Array(ct) };
  }

  private async decrypt(store: StoreName, key: string, stored: unknown, dek: CryptoKey): Promise<unknown> {
    const e = stored as Envelope;
    if (e === null || typeof e !== "object" || !(e.iv instanceof Uint8Array) || !(e.ct instanceof Uint8Array)) {
      throw new Error(`The stored value ${store}/${key} is not encrypted; the database is damaged.`);
    }
    let plain: ArrayBuffer;
    try {
      plain = await this.subtle.decrypt({ name: "AES-GCM", iv: e.iv as BufferSource, additionalData: aad(store, key, e.bin === true) }, dek, e.ct as BufferSource);
    } catch {
      throw new Error(`The stored value ${store}/${key} does not decrypt; the database is damaged.`);
    }
    return e.bin === true ? new Uint8Array(plain) : JSON.parse(new TextDecoder().decode(plain));
  }

  private overlay(writable: boolean): OverlayTx {
    const dek = this.dataKey();
    return new OverlayTx(
      this.inner,
      writable,
      (store, key, v) => this.decrypt(store, key, v, dek),
    );
  }

  private async commit(tx: OverlayTx, durability: Durability): Promise<void> {
    const dek = this.dataKey();
    const puts = await Promise.all(
      tx.puts().map(async ([store, key, value]) => [store, key, await this.encrypt(store, key, value, dek)] as const),
    );
    const dels = tx.deletes();
    if (puts.length === 0 && dels.length === 0) {
      return;
    }
    // Every request is issued at once (IndexedDB runs a transaction's
    // requests in order): awaiting each would cost a round trip per value.
    await this.inner.write(
      (t) => Promise.all([...puts.map(([store, key, env]) => t.put(store, key, env)), ...dels.map(([store, key]) => t.delete(store, key))]),
      durability,
    );
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkPin(pin: string): void {
  if ([...pin.normalize("NFC")].length < MIN_PIN_LENGTH) {
    throw new Error(`A PIN has at least ${MIN_PIN_LENGTH} characters.`);
  }
}

/**
 * Buffered is a write held until commit: a value as its JSON text (a copy
 * the caller cannot change), or bytes (a file's chunk) copied as they are.
 */
type Buffered = string | Uint8Array;

/** buffer copies value for the write buffer. */
function buffer(value: unknown): Buffered {
  return value instanceof Uint8Array ? value.slice() : (JSON.stringify(value) ?? "null");
}

/** unbuffer gives a buffered write back as a fresh value. */
function unbuffer(b: Buffered): unknown {
  return typeof b === "string" ? JSON.parse(b) : b.slice();
}

/** aad is a value's additional data: its store and key, and for bytes a mark (so the bin flag cannot be flipped). */
function aad(store: StoreName, key: string, bin = false): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(store + "\u0000" + key + (bin ? "\u0000bin" : ""));
}

/**
 * OverlayTx is a transaction of EncryptedStorage: reads see the buffered
 * writes over the committed, decrypted values; writes are buffered (as
 * structured clones) until commit. The gets issued in one turn of the
 * event loop (a prefetch of many keys) share one read transaction of the
 * inner storage.
 */
class OverlayTx implements StorageTx {
  /** Buffered writes as the JSON text they are encrypted as (a copy, as IndexedDB's put takes). */
  private readonly put_ = new Map<StoreName, Map<string, Buffered>>();
  private readonly del_ = new Map<StoreName, Set<string>>();
  private batch: Array<{ store: StoreName; key: string; resolve: (v: unknown) => void; reject: (e: unknown) => void }> | undefined;

  constructor(
    private readonly inner: Storage,
    private readonly writable: boolean,
    private readonly open: (store: StoreName, key: string, stored: unknown) => Promise<unknown>,
  ) {}

  async get(store: StoreName, key: string): Promise<unknown> {
    if (this.del_.get(store)?.has(key)) {
      return undefined;
    }
    const p = this.put_.get(store);
    if (p?.has(key)) {
      return unbuffer(p.get(key)!);
    }
    const raw = await this.rawGet(store, key);
    return raw === undefined ? undefined : this.open(store, key, raw);
  }

  /** rawGet reads key's stored value, in the read transaction of every get of this turn. */
  private rawGet(store: StoreName, key: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.batch === undefined) {
        const b: NonNullable<OverlayTx["batch"]> = [];
        this.batch = b;
        queueMicrotask(() => {
          this.batch = undefined;
          // inner.read may throw at once (a closed database): a rejection too.
          Promise.resolve()
            .then(() => this.inner.read((tx) => Promise.all(b.map((g) => tx.get(g.store, g.key)))))
            .then(
              (vs) => b.forEach((g, i) => g.resolve(vs[i])),
              (err) => b.forEach((g) => g.reject(err)),
            );
        });
      }
      this.batch.push({ store, key, resolve, reject });
    });
  }

  async put(store: StoreName, key: string, value: unknown): Promise<void> {
    this.mustWrite(key);
    this.del_.get(store)?.delete(key);
    mapOf(this.put_, store, () => new Map()).set(key, buffer(value));
  }

  async delete(store: StoreName, key: string): Promise<void> {
    this.mustWrite(key);
    this.put_.get(store)?.delete(key);
    mapOf(this.del_, store, () => new Set()).add(key);
  }

  async list(store: StoreName, prefix = "", limit = Infinity): Promise<Array<[string, unknown]>> {
    const puts = this.put_.get(store) ?? new Map<string, Buffered>();
    const dels = this.del_.get(store) ?? new Set<string>();
    const exact = puts.size === 0 && dels.size === 0 && Number.isFinite(limit);
    const raw = await this.inner.read((tx) => tx.list(store, prefix, exact ? limit : undefined));
    const merged = new Map<string, { raw?: unknown; value?: Buffered }>();
    for (const [k, v] of raw) {
      if (!k.startsWith("\u0000") && !dels.has(k)) {
        merged.set(k, { raw: v });
      }
    }
    for (const [k, v] of puts) {
      if (k.startsWith(prefix)) {
        merged.set(k, { value: v });
      }
    }
    const keys = [...merged.keys()].sort().slice(0, limit);
    return Promise.all(
      keys.map(async (k) => {
        const e = merged.get(k)!;
        return [k, "raw" in e ? await this.open(store, k, e.raw) : unbuffer(e.value!)] as [string, unknown];
      }),
    );
  }

  async count(store: StoreName): Promise<number> {
    return (await this.list(store)).length;
  }

  /** puts returns the buffered writes. */
  puts(): Array<[StoreName, string, Buffered]> {
    const out: Array<[StoreName, string, Buffered]> = [];
    for (const [s, m] of this.put_) {
      for (const [k, v] of m) {
        out.push([s, k, v]);
      }
    }
    return out;
  }

  /** deletes returns the buffered deletions. */
  deletes(): Array<[StoreName, string]> {
    const out: Array<[StoreName, string]> = [];
    for (const [s, keys] of this.del_) {
      for (const k of keys) {
        out.push([s, k]);
      }
    }
    return out;
  }

  private mustWrite(key: string): void {
    if (!this.writable) {
      throw new Error("A read transaction cannot write.");
    }
    if (key.startsWith("\u0000")) {
      throw new Error("Keys starting with NUL belong to the vault.");
    }
  }
}

function mapOf<K, V>(m: Map<K, V>, k: K, make: () => V): V {
  let v = m.get(k);
  if (v === undefined) {
    v = make();
    m.set(k, v);
  }
  return v;
}
