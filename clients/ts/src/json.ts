/**
 * Strict JSON and RFC 8785 canonical JSON (the JSON Canonicalization
 * Scheme), as the Go engine reads and writes them (sync/crdt jcs.go,
 * decode.go).
 *
 * Invariants:
 *  - parseJSON accepts exactly RFC 8259 JSON and refuses what Go's decoder
 *    refuses: a repeated object key at any depth, a lone surrogate (escaped
 *    or raw), raw control characters in strings.
 *  - canonicalJSON writes RFC 8785: no whitespace, object members sorted by
 *    the UTF-16 code units of their names, strings escaping only '"', '\\'
 *    and U+0000..U+001F, numbers as ECMAScript's Number#toString (-0 is 0).
 *    It refuses non-finite numbers and lone surrogates.
 *  - compareUTF8 orders strings by their UTF-8 bytes (= code points), the
 *    order of set elements; JavaScript's default order (UTF-16 code units)
 *    differs for astral-plane characters against U+E000..U+FFFF.
 */

/** A JSON value as parseJSON returns it. */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

/** Why parseJSON refused its input. */
export type JSONFault = "syntax" | "duplicate" | "surrogate";

/** The error parseJSON and canonicalJSON throw. */
export class JSONError extends Error {
  /** syntax: not JSON; duplicate: a repeated key; surrogate: a lone surrogate; number: not a finite double. */
  readonly fault: JSONFault | "number" | "type";

  constructor(fault: JSONFault | "number" | "type", message: string) {
    super(message);
    this.name = "JSONError";
    this.fault = fault;
  }
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** wellFormed reports whether s holds no lone surrogate (is valid UTF-16, so encodes to valid UTF-8). */
export function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      return !loneSurrogate.test(s); // only strings with surrogates pay for the regex
    }
  }
  return true;
}

const numberToken = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * JSONReader reads JSON values from a text one at a time, strictly. decodeOp
 * uses it to read an op's members one by one so that each problem gets its
 * own code.
 */
export class JSONReader {
  private i = 0;

  constructor(private readonly s: string) {}

  /** The position of the next unread character. */
  get offset(): number {
    return this.i;
  }

  /** Skips whitespace and returns the next character ("" at the end). */
  peek(): string {
    this.skip();
    return this.s[this.i] ?? "";
  }

  /** Skips whitespace and returns the next UTF-16 code unit (-1 at the end). */
  private code(): number {
    this.skip();
    return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1;
  }

  /** Consumes the character c (after whitespace) or throws a syntax error. */
  expect(c: string): void {
    if (this.code() !== c.charCodeAt(0)) {
      throw new JSONError("syntax", `Expected ${JSON.stringify(c)} at offset ${this.i}.`);
    }
    this.i++;
  }

  /** Throws unless only whitespace is left. */
  end(): void {
    if (this.peek() !== "") {
      throw new JSONError("syntax", `Unexpected data at offset ${this.i}.`);
    }
  }

  private skip(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) {
        return;
      }
      this.i++;
    }
  }

  /** Reads one value and returns its text as written (validated like value()). */
  raw(): string {
    this.skip();
    const start = this.i;
    this.value();
    return this.s.slice(start, this.i);
  }

  /** Reads one value. */
  value(): JSONValue {
    switch (this.code()) {
      case 0x7b: // {
        return this.object();
      case 0x5b: // [
        return this.array();
      case 0x22: // "
        return this.string();
      case 0x74: // t
        return this.literal("true", true);
      case 0x66: // f
        return this.literal("false", false);
      case 0x6e: // n
        return this.literal("null", null);
    }
    return this.number();
  }

  private literal<T>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.i)) {
      throw new JSONError("syntax", `Invalid literal at offset ${this.i}.`);
    }
    this.i += word.length;
    return v;
  }

  private number(): number {
    numberToken.lastIndex = this.i;
    const m = numberToken.exec(this.s);
    if (m === null) {
      throw new JSONError("syntax", `Invalid value at offset ${this.i}.`);
    }
    this.i += m[0].length;
    return Number(m[0]); // may be ±Infinity: canonicalJSON refuses it.
  }

  /** Reads one string value. */
  string(): string {
    this.expect('"');
    const s = this.s;
    let out = "";
    let start = this.i;
    for (;;) {
      if (this.i >= s.length) {
        throw new JSONError("syntax", "Unterminated string.");
      }
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(start, this.i);
        this.i++;
        break;
      }
      if (c < 0x20) {
        throw new JSONError("syntax", `Raw control character in a string at offset ${this.i}.`);
      }
      if (c !== 0x5c) {
        if (c >= 0xd800 && c <= 0xdfff) {
          // A raw surrogate must be a high one followed by a low one (found here, as Go's decoder does).
          const d = s.charCodeAt(this.i + 1);
          if (c >= 0xdc00 || !(d >= 0xdc00 && d <= 0xdfff)) {
            throw new JSONError("surrogate", "A string holds a lone surrogate.");
          }
          this.i++;
        }
        this.i++;
        continue;
      }
      out += s.slice(start, this.i);
      out += this.escape();
      start = this.i;
    }
    return out;
  }

  private escape(): string {
    const e = this.s[this.i + 1];
    this.i += 2;
    switch (e) {
      case '"':
        return '"';
      case "\\":
        return "\\";
      case "/":
        return "/";
      case "b":
        return "\b";
      case "f":
        return "\f";
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "u": {
        const u = this.hex4();
        if (u < 0xd800 || u > 0xdfff) {
          return String.fromCharCode(u);
        }
        // An escaped surrogate must be a high one followed by an escaped low one.
        if (u >= 0xdc00 || this.s[this.i] !== "\\" || this.s[this.i + 1] !== "u") {
          throw new JSONError("surrogate", "A string holds a lone surrogate.");
        }
        this.i += 2;
        const low = this.hex4();
        if (low < 0xdc00 || low > 0xdfff) {
          throw new JSONError("surrogate", "A string holds a lone surrogate.");
        }
        return String.fromCharCode(u, low);
      }
    }
    throw new JSONError("syntax", `Invalid escape at offset ${this.i - 2}.`);
  }

  /** hex4 reads the four hex digits of a \\u escape. */
  private hex4(): number {
    const hex = this.s.slice(this.i, this.i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
      throw new JSONError("syntax", `Invalid \\u escape at offset ${this.i}.`);
    }
    this.i += 4;
    return parseInt(hex, 16);
  }

  private array(): JSONValue[] {
    this.expect("[");
    const out: JSONValue[] = [];
    if (this.code() === 0x5d) {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      if (this.code() === 0x2c) {
        this.i++;
        continue;
      }
      this.expect("]");
      return out;
    }
  }

  private object(): { [key: string]: JSONValue } {
    this.expect("{");
    const out: { [key: string]: JSONValue } = {};
    if (this.code() === 0x7d) {
      this.i++;
      return out;
    }
    for (;;) {
      if (this.code() !== 0x22) {
        throw new JSONError("syntax", `Expected a member name at offset ${this.i}.`);
      }
      const key = this.string();
      if (Object.prototype.hasOwnProperty.call(out, key)) {
        throw new JSONError("duplicate", "A key appears twice in an object.");
      }
      this.expect(":");
      const v = this.value();
      if (key === "__proto__") {
        setMember(out, key, v);
      } else {
        out[key] = v;
      }
      if (this.code() === 0x2c) {
        this.i++;
        continue;
      }
      this.expect("}");
      return out;
    }
  }
}

/** setMember defines o[key] as an own data property, even for "__proto__". */
export function setMember(o: { [key: string]: JSONValue }, key: string, v: JSONValue): void {
  Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
}

/**
 * parseJSON parses text strictly (see the module invariants). It throws a
 * JSONError naming the fault.
 */
export function parseJSON(text: string): JSONValue {
  const r = new JSONReader(text);
  const v = r.value();
  r.end();
  return v;
}

/** canonicalString writes s as an RFC 8785 string; s must be well-formed. */
export function canonicalString(s: string): string {
  return JSON.stringify(s); // escapes exactly '"', '\\' and U+0000..U+001F, lowercase hex.
}

/** canonicalNumber writes n as RFC 8785 (ECMAScript Number#toString); it refuses non-finite n. */
export function canonicalNumber(n: number): string {
  if (!Number.isFinite(n)) {
    throw new JSONError("number", "A number is not a finite double.");
  }
  return JSON.stringify(n); // -0 is written 0.
}

/**
 * canonicalJSON writes v in RFC 8785 canonical form. It refuses (JSONError)
 * non-finite numbers, lone surrogates and anything that is not JSON.
 */
export function canonicalJSON(v: unknown): string {
  if (v === null) {
    return "null";
  }
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      return canonicalNumber(v);
    case "string":
      if (!wellFormed(v)) {
        throw new JSONError("surrogate", "A string holds a lone surrogate.");
      }
      return canonicalString(v);
    case "object":
      if (Array.isArray(v)) {
        return "[" + v.map(canonicalJSON).join(",") + "]";
      }
      return canonicalObject(v as Record<string, unknown>);
  }
  throw new JSONError("type", `A ${typeof v} is not a JSON value.`);
}

function canonicalObject(o: Record<string, unknown>): string {
  const keys = Object.keys(o).sort(compareUTF16);
  const parts: string[] = [];
  for (const k of keys) {
    if (!wellFormed(k)) {
      throw new JSONError("surrogate", "A key holds a lone surrogate.");
    }
    parts.push(canonicalString(k) + ":" + canonicalJSON(o[k]));
  }
  return "{" + parts.join(",") + "}";
}

/** canonicalText canonicalises a JSON text (parseJSON then canonicalJSON). */
export function canonicalText(text: string): string {
  return canonicalJSON(parseJSON(text));
}

/** compareUTF16 orders strings by UTF-16 code units (RFC 8785's order of object keys). */
export function compareUTF16(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * compareUTF8 orders strings by their UTF-8 bytes, which is code point
 * order (Go's string order; the order of set elements). It differs from
 * UTF-16 order only where a surrogate meets a unit in U+E000..U+FFFF.
 */
export function compareUTF8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) {
      continue;
    }
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (astral code points) sort after U+E000..U+FFFF.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length - b.length < 0 ? -1 : a.length > b.length ? 1 : 0;
}

const encoder = new TextEncoder();
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * firstInvalidUTF8 returns the offset of the first byte that does not
 * start a valid UTF-8 sequence (overlong forms, encoded surrogates, code
 * points past U+10FFFF and truncated sequences are invalid, as in Go), or
 * -1 when all of b is valid.
 */
export function firstInvalidUTF8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      lo = c === 0xe0 ? 0xa0 : 0x80;
      hi = c === 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      lo = c === 0xf0 ? 0x90 : 0x80;
      hi = c === 0xf4 ? 0x8f : 0xbf;
    } else {
      return i;
    }
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) {
        return i;
      }
    }
    i += n + 1;
  }
  return -1;
}

/**
 * utf8Text decodes bytes for the strict reader: valid UTF-8 as is; at the
 * first invalid byte a lone surrogate is put in, so that the reader
 * refuses the text exactly where Go's decoder refuses the bytes (inside a
 * string: a "surrogate" fault; elsewhere: "syntax").
 */
export function utf8Text(b: Uint8Array): string {
  const bad = firstInvalidUTF8(b);
  if (bad < 0) {
    return lenient.decode(b);
  }
  return lenient.decode(b.subarray(0, bad)) + "\uDC00" + lenient.decode(b.subarray(bad + 1));
}

/** utf8Length returns the number of UTF-8 bytes of a well-formed s. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      n += 1;
    } else if (c < 0x800) {
      n += 2;
    } else if (c >= 0xd800 && c < 0xdc00) {
      n += 4;
      i++;
    } else {
      n += 3;
    }
  }
  return n;
}

/** utf8 encodes s as UTF-8 bytes. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}
