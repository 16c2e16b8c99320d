// Small DOM helpers. Text always goes in as text nodes, never as HTML, so
// nothing a tablet wrote can run as script in the console.

/**
 * h("button", {class: "x", onclick: fn}, "text", child...) builds an
 * element. Attributes starting with "on" are listeners; true/false toggle
 * boolean attributes; null and undefined are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (v === true) {
      el.setAttribute(k, "");
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** svg builds an SVG element the same way. */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces el's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** The milliseconds of an hlc (16 hex digits). */
export function hlcMillis(hex) {
  return Number(BigInt("0x" + hex) >> 16n);
}

const pad = (n) => String(n).padStart(2, "0");

/**
 * A time as ISO 8601 in the browser's local time, to the second
 * ("2026-12-03 14:05:33"): two values written seconds apart never read
 * the same. t is a Date, milliseconds or an RFC 3339 string.
 */
export function isoTime(t) {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The local date and time of an hlc (16 hex digits), ISO, to the second. */
export function hlcTime(hex) {
  if (!hex) return "";
  return isoTime(hlcMillis(hex));
}

/** "just now", "5 min ago", "2 h ago", "3 days ago" (or "in …" ahead); now is injectable for tests. */
export function relative(t, now = Date.now()) {
  const ms = (t instanceof Date ? t.getTime() : new Date(t).getTime());
  if (Number.isNaN(ms)) return "";
  const s = Math.round((now - ms) / 1000);
  const a = Math.abs(s);
  let text;
  if (a < 45) return "just now";
  if (a < 3600) text = `${Math.round(a / 60)} min`;
  else if (a < 86400) text = `${Math.round(a / 3600)} h`;
  else if (a < 86400 * 60) { const n = Math.round(a / 86400); text = `${n} day${n === 1 ? "" : "s"}`; }
  else return isoTime(ms).slice(0, 10);
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

/** A <time> element showing a relative time, the exact ISO time on hover. */
export function when(t) {
  const ms = t instanceof Date ? t.getTime() : new Date(t).getTime();
  if (!t || Number.isNaN(ms)) return h("span", { class: "muted" }, "never");
  const exact = isoTime(ms);
  return h("time", { datetime: new Date(ms).toISOString(), title: exact, class: "rel" }, relative(ms));
}

/** when() for an hlc. */
export function hlcWhen(hex) {
  return hex ? when(hlcMillis(hex)) : h("span", { class: "muted" }, "never");
}

/** A value as a supervisor reads it. */
export function show(v) {
  if (v === null || v === undefined) return "—";
  if (v === true) return "yes";
  if (v === false) return "no";
  if (typeof v === "object") {
    return Object.entries(v).map(([k, x]) => `${words(k)}: ${typeof x === "object" ? JSON.stringify(x) : show(x)}`).join("; ");
  }
  return String(v);
}

/** "child_presumed" -> "Child presumed". */
export function words(code) {
  if (!code) return "";
  const s = String(code).replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * A date input that reads and shows ISO dates (YYYY-MM-DD) whatever the
 * browser's language (an <input type="date"> shows 12/03/2026 in
 * English). read() returns the date or "" and throws a sentence for
 * anything else.
 */
export function dateInput(id, value = "", label = "the date") {
  const el = h("input", {
    id, type: "text", inputmode: "numeric", autocomplete: "off", maxlength: 10, class: "date",
    placeholder: "YYYY-MM-DD", pattern: "\\d{4}-\\d{2}-\\d{2}", value: value || "", title: "A date as YYYY-MM-DD",
  });
  const read = () => {
    const v = el.value.trim();
    if (v === "") return "";
    const d = new Date(v + "T00:00:00Z");
    if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== v) {
      throw new Error(`Enter ${label} as YYYY-MM-DD, for example 2026-11-03.`);
    }
    return v;
  };
  return { el, read };
}

/** Today's local date as YYYY-MM-DD. */
export function today() {
  return isoTime(new Date()).slice(0, 10);
}
