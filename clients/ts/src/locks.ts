/**
 * Locks: the part of the Web Locks API (`navigator.locks`) the SDK uses,
 * declared by its users (the encrypted storage and the device's sync
 * leadership), and LocalLocks, an in-process implementation for runtimes
 * without Web Locks (Node) and for tests, where several "tabs" in one
 * process share one LocalLocks. Invariants of both:
 *
 *  - An exclusive lock is held by one holder at a time; shared locks by
 *    many, never together with an exclusive one.
 *  - Requests for a name are granted in arrival order (an exclusive request
 *    waits behind earlier shared ones and blocks later ones), so no
 *    request starves.
 *  - The lock is released when the callback's promise settles.
 */

/** LockOptions are the options of LockManager.request the SDK uses. */
export interface LockOptions {
  mode?: "exclusive" | "shared";
  /** Grant now or call back with null. */
  ifAvailable?: boolean;
  /** Abort a request still waiting (it rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** LockManager is `navigator.locks` as the SDK uses it. */
export interface LockManager {
  request<T>(name: string, options: LockOptions, callback: (lock: unknown) => Promise<T> | T): Promise<T>;
}

interface Waiter {
  shared: boolean;
  grant: () => void;
}

interface NameState {
  exclusive: boolean;
  shared: number;
  queue: Waiter[];
}

/** LocalLocks is an in-process LockManager (FIFO, exclusive and shared modes). */
export class LocalLocks implements LockManager {
  private readonly names = new Map<string, NameState>();

  request<T>(name: string, options: LockOptions, callback: (lock: unknown) => Promise<T> | T): Promise<T> {
    const st = this.state(name);
    const shared = options.mode === "shared";
    const free = st.queue.length === 0 && !st.exclusive && (shared || st.shared === 0);
    if (options.ifAvailable === true && !free) {
      return Promise.resolve().then(() => callback(null));
    }
    return new Promise<void>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(options.signal.reason);
        return;
      }
      const w: Waiter = { shared, grant: resolve };
      st.queue.push(w);
      options.signal?.addEventListener("abort", () => {
        const i = st.queue.indexOf(w);
        if (i >= 0) {
          st.queue.splice(i, 1);
          reject(options.signal!.reason);
          this.pump(name, st);
        }
      });
      this.pump(name, st);
    }).then(async () => {
      try {
        return await callback({ name, mode: shared ? "shared" : "exclusive" });
      } finally {
        if (shared) {
          st.shared--;
        } else {
          st.exclusive = false;
        }
        this.pump(name, st);
      }
    });
  }

  /** held reports whether name is held in any mode (tests). */
  held(name: string): boolean {
    const st = this.names.get(name);
    return st !== undefined && (st.exclusive || st.shared > 0);
  }

  private state(name: string): NameState {
    let st = this.names.get(name);
    if (st === undefined) {
      st = { exclusive: false, shared: 0, queue: [] };
      this.names.set(name, st);
    }
    return st;
  }

  private pump(name: string, st: NameState): void {
    while (st.queue.length > 0 && !st.exclusive) {
      const w = st.queue[0]!;
      if (!w.shared && st.shared > 0) {
        break;
      }
      st.queue.shift();
      if (w.shared) {
        st.shared++;
      } else {
        st.exclusive = true;
      }
      w.grant();
    }
    if (st.queue.length === 0 && !st.exclusive && st.shared === 0) {
      this.names.delete(name);
    }
  }
}

/** defaultLocks returns navigator.locks where the platform has it, else one process-wide LocalLocks. */
export function defaultLocks(): LockManager {
  const nav = (globalThis as { navigator?: { locks?: LockManager } }).navigator;
  if (nav?.locks !== undefined) {
    return nav.locks;
  }
  processLocks ??= new LocalLocks();
  return processLocks;
}

let processLocks: LocalLocks | undefined;
