/**
 * The hybrid logical clock, as sync/hlc: a Timestamp is 64 bits, Unix
 * milliseconds in the high 48 and a counter in the low 16, written as
 * exactly 16 lowercase hex digits so that string order is time order.
 *
 * Invariants (the Go package's):
 *  - Monotonic: every timestamp a Clock returns (now, update) is greater
 *    than every one it returned before, even when the wall clock goes back
 *    (saturating at MAX_TIMESTAMP, in the year 10889).
 *  - Causal: update returns a timestamp greater than the remote one.
 *  - Drift guard: with maxDriftMs > 0, update refuses (HLCError "drift")
 *    a remote timestamp further ahead of the wall clock than that, and
 *    leaves the clock unchanged.
 *  - Pure: wall time is read only through the injected function.
 */

/** A timestamp in its wire form: 16 lowercase hex digits. */
export type Timestamp = string;

/** The largest milliseconds a timestamp holds (2^48-1). */
export const MAX_MILLIS = 2 ** 48 - 1;
/** The largest counter (2^16-1). */
export const MAX_COUNTER = 0xffff;
/** The zero timestamp. */
export const ZERO_TIMESTAMP: Timestamp = "0000000000000000";
/** The largest timestamp. */
export const MAX_TIMESTAMP: Timestamp = "ffffffffffffffff";

/** The error of parseTimestamp and Clock.update. */
export class HLCError extends Error {
  /** invalid: not 16 lowercase hex digits; drift: too far ahead; overflow: nothing after it. */
  readonly fault: "invalid" | "drift" | "overflow";

  constructor(fault: "invalid" | "drift" | "overflow", message: string) {
    super(message);
    this.name = "HLCError";
    this.fault = fault;
  }
}

/** The two parts of a timestamp. */
export interface HLCParts {
  /** Unix milliseconds, 0..MAX_MILLIS. */
  ms: number;
  /** Counter, 0..MAX_COUNTER. */
  counter: number;
}

const hex16 = /^[0-9a-f]{16}$/;

/** isTimestamp reports whether s is exactly 16 lowercase hex digits. */
export function isTimestamp(s: unknown): s is Timestamp {
  return typeof s === "string" && hex16.test(s);
}

/** parseTimestamp splits s into its parts; it throws HLCError "invalid" unless s is 16 lowercase hex digits. */
export function parseTimestamp(s: string): HLCParts {
  if (!isTimestamp(s)) {
    throw new HLCError("invalid", "A timestamp must be 16 lowercase hex digits.");
  }
  return { ms: parseInt(s.slice(0, 12), 16), counter: parseInt(s.slice(12), 16) };
}

/** clampMillis limits ms to what a timestamp holds. */
function clampMillis(ms: number): number {
  return Math.min(Math.max(Math.floor(ms), 0), MAX_MILLIS);
}

/** formatTimestamp writes a timestamp from its parts (ms clamped to 0..MAX_MILLIS). */
export function formatTimestamp(ms: number, counter: number): Timestamp {
  return clampMillis(ms).toString(16).padStart(12, "0") + (counter & 0xffff).toString(16).padStart(4, "0");
}

/** compareTimestamps orders timestamps (string order is time order). */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** next returns the timestamp after p: counter+1, carrying into the milliseconds. */
function next(p: HLCParts): HLCParts {
  return p.counter < MAX_COUNTER ? { ms: p.ms, counter: p.counter + 1 } : { ms: p.ms + 1, counter: 0 };
}

function greater(a: HLCParts, b: HLCParts): HLCParts {
  return a.ms > b.ms || (a.ms === b.ms && a.counter >= b.counter) ? a : b;
}

function isMax(p: HLCParts): boolean {
  return p.ms === MAX_MILLIS && p.counter === MAX_COUNTER;
}

/** Clock issues strictly increasing timestamps (sync/hlc Clock). */
export class Clock {
  private last: HLCParts = { ms: 0, counter: 0 };

  /**
   * @param wall returns wall time in Unix milliseconds (e.g. Date.now).
   * @param maxDriftMs with a value > 0, update refuses remote timestamps further ahead of the wall clock.
   * @param last the last timestamp issued before (kept across restarts), if any.
   */
  constructor(
    private readonly wall: () => number,
    private readonly maxDriftMs = 0,
    last?: Timestamp,
  ) {
    if (last !== undefined) {
      this.last = parseTimestamp(last);
    }
  }

  /** lastIssued returns the most recent timestamp issued (ZERO_TIMESTAMP if none). */
  lastIssued(): Timestamp {
    return formatTimestamp(this.last.ms, this.last.counter);
  }

  /** now returns a timestamp for a local event, greater than every one issued before. */
  now(): Timestamp {
    const pt = clampMillis(this.wall());
    if (pt > this.last.ms) {
      this.last = { ms: pt, counter: 0 };
    } else if (!isMax(this.last)) {
      this.last = next(this.last);
    }
    return this.lastIssued();
  }

  /**
   * update merges a remote timestamp on receipt (the HLC receive rule) and
   * returns a timestamp greater than both the last one issued and remote.
   * It throws HLCError "drift" or "overflow" and then changes nothing.
   */
  update(remote: Timestamp): Timestamp {
    const r = parseTimestamp(remote);
    const pt = clampMillis(this.wall());
    if (this.maxDriftMs > 0 && r.ms - pt > this.maxDriftMs) {
      throw new HLCError("drift", `The remote timestamp is ${r.ms - pt}ms ahead of the local clock (max drift ${this.maxDriftMs}ms).`);
    }
    const top = greater(this.last, r);
    if (pt > top.ms) {
      this.last = { ms: pt, counter: 0 };
      return this.lastIssued();
    }
    if (isMax(top)) {
      throw new HLCError("overflow", "No timestamp comes after the largest one.");
    }
    this.last = next(top);
    return this.lastIssued();
  }
}
