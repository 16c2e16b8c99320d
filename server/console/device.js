// This browser's device: the one thing the console keeps in the browser
// between page loads. A device id is not a secret (it proves nothing
// without a token), so it may live in localStorage; tokens never do (they
// stay in api.js's memory). Keeping it means a reload or a new tab logs
// in as the same device instead of adding one more "console" to the
// devices list. The ids are kept per user, under a hash of the username
// (a shared browser never shows who used it). Logging out revokes the
// device at the server and lands on a page that clears this storage
// (Clear-Site-Data), so the next login registers a new device.

const KEY = "fieldsync.console.devices";
const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function readAll() {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) || "{}");
    return v && typeof v === "object" && !Array.isArray(v) ? v : {};
  } catch (_) {
    return {};
  }
}

async function userKey(username) {
  const data = new TextEncoder().encode(username.toLowerCase());
  const sum = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(sum.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The device id this browser used for username, or "". */
export async function deviceFor(username) {
  try {
    const id = readAll()[await userKey(username)];
    return typeof id === "string" && uuidRe.test(id) ? id : "";
  } catch (_) {
    return "";
  }
}

/** Remembers (id) or forgets ("") username's device in this browser. */
export async function rememberDevice(username, id) {
  try {
    const all = readAll();
    const k = await userKey(username);
    if (id && uuidRe.test(id)) all[k] = id;
    else delete all[k];
    localStorage.setItem(KEY, JSON.stringify(all));
  } catch (_) { /* storage off: every login is a new device, as before */ }
}

/** Whether this browser has logged in before (some device is kept). */
export function usedBefore() {
  try {
    return Object.keys(readAll()).length > 0;
  } catch (_) {
    return false;
  }
}

/** "Chrome on Linux": the browser and system, from the user agent. */
export function browserName(ua = navigator.userAgent) {
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /OPR\//.test(ua) ? "Opera"
    : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "a browser";
  const os = /Android/.test(ua) ? "Android" : /iPad|iPhone/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows"
    : /Mac OS X/.test(ua) ? "macOS" : /CrOS/.test(ua) ? "ChromeOS" : /Linux/.test(ua) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}

/** The name of username's device in this browser, e.g. "supervisor · Chrome on Linux (console)". */
export function deviceName(username, ua) {
  return `${username} · ${browserName(ua)} (console)`.slice(0, 100);
}
