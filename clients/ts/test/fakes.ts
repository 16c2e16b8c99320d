// Fakes of the browser platform for the Device tests under Node: timers
// advanced by hand, Cache Storage, localStorage, navigator.storage, a
// document with a visibility state, and a wait for asynchronous effects.

/** FakeTimers runs timeouts only when advanced (never on the wall clock). */
export class FakeTimers {
  now = 1_800_000_000_000;
  private next = 1;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  readonly timers = {
    setTimeout: (fn: () => void, ms: number): unknown => {
      const id = this.next++;
      this.pending.set(id, { at: this.now + ms, fn });
      return id;
    },
    clearTimeout: (h: unknown): void => {
      this.pending.delete(h as number);
    },
  };

  readonly clock = (): number => this.now;

  /** advance moves the clock by ms and runs the timeouts that fell due, in order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.pending].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) {
        break;
      }
      this.pending.delete(due[0]);
      this.now = Math.max(this.now, due[1].at);
      due[1].fn();
    }
    this.now = end;
  }

  /** size returns how many timeouts are pending. */
  get size(): number {
    return this.pending.size;
  }
}

/** FakeCaches is a CacheStorage of names only. */
export class FakeCaches {
  readonly names = new Set<string>();
  async keys(): Promise<string[]> {
    return [...this.names];
  }
  async delete(name: string): Promise<boolean> {
    return this.names.delete(name);
  }
  async open(name: string): Promise<void> {
    this.names.add(name);
  }
}

/** FakeLocalStorage is a Web Storage over a Map. */
export class FakeLocalStorage {
  readonly m = new Map<string, string>();
  get length(): number {
    return this.m.size;
  }
  key(i: number): string | null {
    return [...this.m.keys()][i] ?? null;
  }
  getItem(k: string): string | null {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.m.set(k, v);
  }
  removeItem(k: string): void {
    this.m.delete(k);
  }
  clear(): void {
    this.m.clear();
  }
}

/** FakeDocument is an event target with a settable visibility state. */
export class FakeDocument extends EventTarget {
  visibilityState = "visible";
  show(): void {
    this.visibilityState = "visible";
    this.dispatchEvent(new Event("visibilitychange"));
  }
  hide(): void {
    this.visibilityState = "hidden";
    this.dispatchEvent(new Event("visibilitychange"));
  }
}

/** fakeNavigator answers persist() with granted and counts the requests. */
export function fakeNavigator(granted: boolean, onLine = true) {
  const n = {
    onLine,
    persistCalls: 0,
    storage: {
      persist: async () => {
        n.persistCalls++;
        return granted;
      },
      persisted: async () => false,
    },
  };
  return n;
}

/** until waits (event-loop turns, at most ~10 s) for cond to hold; it fails with what. */
export async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await cond()) {
      return;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}
