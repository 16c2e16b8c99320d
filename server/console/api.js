// The console's only way to the server. The tokens live in this module's
// variables and nowhere else: never in cookies nor in any of the browser's
// storage APIs (a test greps the console's files for them; only
// device.js keeps something, the device id, which is not a secret). Every request asks the browser not to keep
// the response in its HTTP cache (cache: "no-store").

import { deviceFor, deviceName, rememberDevice } from "./device.js";

let session = null; // {access, refresh, deviceId, user}

/** An error the console can show as it is: message is a plain sentence. */
export class APIError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

// Plain-words messages for the codes a supervisor may meet.
const plain = {
  invalid_credentials: "The username or password is wrong.",
  rate_limited: "Too many attempts in a short time. Wait a minute, then try again.",
  unauthorized: "Your session has ended. Please log in again.",
  token_expired: "Your session has ended. Please log in again.",
  token_reused: "Your session was ended for safety (it was used twice). Please log in again.",
  device_revoked: "This browser's session was revoked. Please log in again.",
  grant_expired: "Your access has ended.",
  account_disabled: "This account has been disabled. Ask an administrator.",
  forbidden: "Your account is not allowed to do this.",
  not_found: "This record does not exist or is outside your jurisdiction.",
  internal: "The server had a problem and did nothing. Try again in a moment.",
  unavailable: "The server is restarting. Try again in a moment.",
};

const sessionEnding = new Set(["unauthorized", "token_expired", "token_reused", "device_revoked", "grant_expired", "account_disabled"]);

let onSessionEnd = () => {};

/** Registers what to do when the session ends on its own. */
export function whenSessionEnds(fn) { onSessionEnd = fn; }

export function current() { return session; }

/** Forgets the tokens (the page is reloaded after this). */
export function forget() { session = null; }

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether s is an id in canonical lowercase UUID form, the only kind of id the console ever puts in a URL. */
export function isID(s) { return typeof s === "string" && uuidRe.test(s); }

/**
 * Builds an API path from a template, refusing every interpolated value
 * that is not a canonical UUID: an id taken from the address bar or from
 * an answer can never make the console call another route
 * (`#/record/..%2Fexport%2Frecords%3F`). Use: path`/v1/records/${id}`.
 */
export function path(parts, ...ids) {
  for (const id of ids) {
    if (!isID(id)) throw new APIError("invalid_id", "This address does not name a record or a device.", 400);
  }
  return parts.reduce((out, part, i) => out + ids[i - 1] + part);
}

// An API path: /v1/ and lowercase segments, no dots, escapes or
// backslashes (nothing the browser would resolve to another route), then
// an optional query.
const apiPathRe = /^\/v1(\/[a-z0-9_-]+)+(\?[^#\\]*)?$/;

async function send(method, path, body, token, raw) {
  if (!apiPathRe.test(path)) {
    throw new APIError("invalid_request", "The console refused to call an address that is not one of the API's.", 0);
  }
  const headers = { "Accept": raw ? "text/csv" : "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["Authorization"] = "Bearer " + token;
  let res;
  try {
    res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", redirect: "error",
    });
  } catch (e) {
    throw new APIError("network", "The server could not be reached. Check the connection and try again.", 0);
  }
  if (res.ok) {
    return raw ? res.blob() : res.json();
  }
  let code = "internal", message = "";
  try {
    const e = await res.json();
    code = e.error.code;
    message = e.error.message;
  } catch (_) { /* not a JSON error body */ }
  // "not_found" in plain words is about records; elsewhere (accounts,
  // devices) the server's own sentence says what is missing.
  const words = code === "not_found" && !path.startsWith("/v1/records") && message ? message : plain[code];
  throw new APIError(code, words || message || `The server refused the request (${res.status}).`, res.status);
}

/**
 * Logs in and keeps the tokens in memory. The login names this browser's
 * device (kept by device.js across page loads) so that a reload or a new
 * tab does not register one more device; a device revoked since is
 * forgotten and a new one registered.
 */
export async function login(username, password) {
  const known = await deviceFor(username);
  const req = { username, password, device_name: deviceName(username) };
  if (known) req.device_id = known;
  let r;
  try {
    r = await send("POST", "/v1/auth/login", req);
  } catch (e) {
    if (!known || e.code !== "device_revoked") throw e;
    await rememberDevice(username, "");
    delete req.device_id;
    r = await send("POST", "/v1/auth/login", req);
  }
  await rememberDevice(username, r.device_id);
  session = { access: r.access_token, refresh: r.refresh_token, deviceId: r.device_id, user: r.user };
  return session;
}

async function refresh() {
  const r = await send("POST", "/v1/auth/refresh", { refresh_token: session.refresh });
  session = { access: r.access_token, refresh: r.refresh_token, deviceId: r.device_id, user: r.user };
}

/** Calls the API with the session's token, refreshing it once when it expired. */
export async function call(method, path, body, raw = false) {
  if (!session) throw new APIError("unauthorized", plain.unauthorized, 401);
  try {
    return await send(method, path, body, session.access, raw);
  } catch (e) {
    if (e.code === "token_expired" && session) {
      try {
        await refresh();
      } catch (e2) {
        if (sessionEnding.has(e2.code)) onSessionEnd(e2);
        throw e2;
      }
      return send(method, path, body, session.access, raw);
    }
    if (sessionEnding.has(e.code)) onSessionEnd(e);
    throw e;
  }
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);

// The hybrid logical clock of this browser's device (DESIGN §4): 48 bits of
// milliseconds, 16 of counter, as 16 lowercase hex digits. observe() takes
// in a stamp seen on the server, so a decision is always stamped after what
// the supervisor looked at, even with a slow computer clock.
let last = 0n;

export function observe(hex) {
  if (typeof hex === "string" && /^[0-9a-f]{16}$/.test(hex)) {
    const t = BigInt("0x" + hex);
    if (t > last) last = t;
  }
}

export function nextHLC() {
  const wall = BigInt(Date.now()) << 16n;
  last = wall > last ? wall : last + 1n;
  return last.toString(16).padStart(16, "0");
}

/** Returns a random (version 4) UUID in canonical lowercase form. */
export function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Builds one op of this device. */
export function op(record, kind, field, action, value, base = []) {
  return {
    id: uuid(), record, kind, field, action, value, base,
    hlc: nextHLC(), device: session.deviceId,
  };
}

/** Pushes ops; throws an APIError naming the first rejected op. */
export async function push(ops) {
  const r = await post("/v1/sync/push", { ops });
  for (const res of r.results) {
    if (res.status === "rejected") {
      throw new APIError(res.code, "The change was refused: " + (res.message || res.code), 400);
    }
  }
  observe(r.server_hlc);
  return r;
}
