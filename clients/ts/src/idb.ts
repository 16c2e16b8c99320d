/**
 * IndexedDBStorage: the replica's Storage in a browser's IndexedDB, one
 * database with the stores of STORES (out-of-line string keys). Each
 * read or write is one IndexedDB transaction over every store; a write
 * with durability "strict" is opened with `{durability: "strict"}` and
 * resolves on the transaction's complete event, i.e. once the browser
 * flushed it. A function that throws aborts the transaction.
 */
import { type Durability, type Storage, type StorageTx, STORES, type StoreName } from "./storage.js";

/**
 * The IndexedDB schema version of a replica database. 2: the "files" store
 * of attachments (an upgrade creates the stores missing) and the ops
 * store's layout 2 (opstore.ts): the bump makes every tab still running a
 * version that writes layout 1 close its connection (versionchange) before
 * this one migrates, and refuses that version afterwards (VersionError),
 * so no tab writes the old layout again.
 */
const IDB_VERSION = 2;

/** IndexedDBStorage implements Storage over one IndexedDB database. */
export class IndexedDBStorage implements Storage {
  private constructor(
    private readonly factory: IDBFactory,
    private readonly name: string,
    private db: IDBDatabase | undefined,
  ) {}

  /**
   * open opens (creating it on first use) the database name.
   * @param factory the IDBFactory (globalThis.indexedDB in a browser; fake-indexeddb's under Node).
   */
  static async open(name: string, factory: IDBFactory = globalThis.indexedDB): Promise<IndexedDBStorage> {
    const req = factory.open(name, IDB_VERSION);
    req.onupgradeneeded = () => {
      for (const s of STORES) {
        if (!req.result.objectStoreNames.contains(s)) {
          req.result.createObjectStore(s);
        }
      }
    };
    const db = await done(req);
    const s = new IndexedDBStorage(factory, name, db);
    // Another tab deleting (wiping) or upgrading the database: let it, and
    // become closed here (every later call throws).
    db.onversionchange = () => s.close();
    return s;
  }

  read<T>(fn: (tx: StorageTx) => Promise<T>): Promise<T> {
    return this.run(this.handle().transaction([...STORES], "readonly"), fn);
  }

  write<T>(fn: (tx: StorageTx) => Promise<T>, durability: Durability): Promise<T> {
    return this.run(this.handle().transaction([...STORES], "readwrite", { durability }), fn);
  }

  /**
   * wipe deletes the database. It resolves once the deletion is done or,
   * when another connection (another tab) does not close, once it is
   * blocked: the deletion then stays queued and completes when that
   * connection closes.
   */
  async wipe(): Promise<void> {
    this.close();
    await deleteDatabase(this.factory, this.name);
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }

  private handle(): IDBDatabase {
    if (this.db === undefined) {
      throw new Error("The IndexedDB storage is closed.");
    }
    return this.db;
  }

  private async run<T>(t: IDBTransaction, fn: (tx: StorageTx) => Promise<T>): Promise<T> {
    const finished = new Promise<void>((resolve, reject) => {
      t.oncomplete = () => resolve();
      t.onabort = () => reject(t.error ?? new Error("The IndexedDB transaction was aborted."));
      t.onerror = () => reject(t.error ?? new Error("The IndexedDB transaction failed."));
    });
    finished.catch(() => undefined); // observed below; avoids an unhandled rejection after fn threw
    let out: T;
    try {
      out = await fn(idbTx(t));
    } catch (err) {
      try {
        t.abort();
      } catch {
        // already finished
      }
      throw err;
    }
    await finished;
    return out;
  }
}

function idbTx(t: IDBTransaction): StorageTx {
  const store = (name: StoreName): IDBObjectStore => t.objectStore(name);
  return {
    get: (name, key) => done(store(name).get(key)),
    put: async (name, key, value) => {
      await done(store(name).put(value, key));
    },
    delete: async (name, key) => {
      await done(store(name).delete(key));
    },
    list: async (name, prefix = "", limit) => {
      const range = prefix === "" ? undefined : IDBKeyRange.bound(prefix, prefix + "\uffff", false, false);
      const [keys, values] = await Promise.all([
        done(store(name).getAllKeys(range, limit)),
        done(store(name).getAll(range, limit)),
      ]);
      return keys.map((k, i) => [String(k), values[i]] as [string, unknown]);
    },
    count: (name) => done(store(name).count()),
  };
}

/** done resolves with a request's result. */
/**
 * deleteDatabase deletes database name: "deleted", or "blocked" when a
 * connection (of another tab, the SDK's or the app's) stays open after
 * its versionchange event. A blocked deletion is not cancelled: the
 * browser runs it once the last connection closes (the tab closes).
 * Waiting for it instead would hang a wipe for as long as that tab lives.
 */
export function deleteDatabase(factory: IDBFactory, name: string): Promise<"deleted" | "blocked"> {
  return new Promise((resolve, reject) => {
    const req = factory.deleteDatabase(name);
    req.onsuccess = () => resolve("deleted");
    req.onblocked = () => resolve("blocked");
    req.onerror = () => reject(req.error ?? new Error(`The database ${name} could not be deleted.`));
  });
}

function done<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("The IndexedDB request failed."));
  });
}
