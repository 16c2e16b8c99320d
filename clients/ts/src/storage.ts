/**
 * Storage: what the local replica needs from a database, declared here by
 * its user (the replica) so that IndexedDB in a browser and a Map in a
 * unit test are interchangeable. Invariants every implementation keeps:
 *
 *  - A transaction is all or nothing: a function passed to read or write
 *    that throws leaves every store as it was.
 *  - write(fn, "strict") resolves only once the transaction is durable
 *    (IndexedDB's `durability: "strict"`): a write the user was told is
 *    saved survives a crash or a closed tab.
 *  - Values are structured-clone data (plain objects, arrays, strings,
 *    numbers, booleans, null), or a Uint8Array alone (the "files" store's
 *    chunks of attachments); keys are strings, listed in code-unit order.
 *  - A transaction's function only awaits the transaction's own calls
 *    (IndexedDB commits a transaction as soon as it has nothing pending).
 */

/** The stores of a replica. */
export type StoreName = "records" | "ops" | "outbox" | "quarantine" | "meta" | "files";

/** Every store, in the order they are created and wiped. */
export const STORES: readonly StoreName[] = ["records", "ops", "outbox", "quarantine", "meta", "files"];

/** One transaction over every store. */
export interface StorageTx {
  /** get returns the value under key, or undefined. */
  get(store: StoreName, key: string): Promise<unknown>;
  /** put stores value under key. */
  put(store: StoreName, key: string, value: unknown): Promise<void>;
  /** delete removes key (absent: nothing happens). */
  delete(store: StoreName, key: string): Promise<void>;
  /** list returns the entries whose key starts with prefix ("" for all), in key order, at most limit of them. */
  list(store: StoreName, prefix?: string, limit?: number): Promise<Array<[string, unknown]>>;
  /** count returns how many keys the store holds. */
  count(store: StoreName): Promise<number>;
}

/** Durability of a write: "strict" for writes the user is told are saved. */
export type Durability = "strict" | "relaxed";

/** Storage is a transactional key-value database of the stores of STORES. */
export interface Storage {
  /** read runs fn in a read-only transaction. */
  read<T>(fn: (tx: StorageTx) => Promise<T>): Promise<T>;
  /** write runs fn in a read-write transaction and resolves once it is committed with durability. */
  write<T>(fn: (tx: StorageTx) => Promise<T>, durability: Durability): Promise<T>;
  /** wipe erases every store and the database itself; the Storage is unusable afterwards. */
  wipe(): Promise<void>;
  /** close releases the database. */
  close(): void;
}

/**
 * MemoryStorage keeps the stores in Maps: for tests and for a replica that
 * must not outlive the page. A write's function works on copies, which
 * replace the stores only when it returns, so a throw changes nothing.
 */
export class MemoryStorage implements Storage {
  private stores = new Map<StoreName, Map<string, unknown>>(STORES.map((s) => [s, new Map()]));
  private wiped = false;
  /** strictWrites counts the writes committed with durability "strict" (tests check it). */
  strictWrites = 0;
  /** chain serialises transactions, as IndexedDB does for overlapping ones. */
  private chain: Promise<unknown> = Promise.resolve();

  read<T>(fn: (tx: StorageTx) => Promise<T>): Promise<T> {
    return this.serial(() => fn(memoryTx(this.live(), false)));
  }

  write<T>(fn: (tx: StorageTx) => Promise<T>, durability: Durability): Promise<T> {
    return this.serial(async () => {
      const copy = new Map([...this.live()].map(([k, v]) => [k, new Map(v)] as const));
      const out = await fn(memoryTx(copy, true));
      this.stores = copy;
      if (durability === "strict") {
        this.strictWrites++;
      }
      return out;
    });
  }

  async wipe(): Promise<void> {
    await this.serial(async () => {
      this.stores = new Map(STORES.map((s) => [s, new Map()]));
      this.wiped = true;
    });
  }

  close(): void {}

  /** size returns how many keys store holds (tests). */
  size(store: StoreName): number {
    return this.stores.get(store)?.size ?? 0;
  }

  private live(): Map<StoreName, Map<string, unknown>> {
    if (this.wiped) {
      throw new Error("The storage was wiped.");
    }
    return this.stores;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

function memoryTx(stores: Map<StoreName, Map<string, unknown>>, writable: boolean): StorageTx {
  const store = (name: StoreName): Map<string, unknown> => stores.get(name)!;
  const mustWrite = (): void => {
    if (!writable) {
      throw new Error("A read transaction cannot write.");
    }
  };
  return {
    get: async (name, key) => structuredClone(store(name).get(key)),
    put: async (name, key, value) => {
      mustWrite();
      store(name).set(key, structuredClone(value));
    },
    delete: async (name, key) => {
      mustWrite();
      store(name).delete(key);
    },
    list: async (name, prefix = "", limit = Infinity) => {
      const keys = [...store(name).keys()].filter((k) => k.startsWith(prefix)).sort();
      return keys.slice(0, limit).map((k) => [k, structuredClone(store(name).get(k))] as [string, unknown]);
    },
    count: async (name) => store(name).size,
  };
}
