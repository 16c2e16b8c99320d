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

/** The local date and time of an hlc (16 hex digits). */
export function hlcTime(hex) {
  if (!hex) return "";
  const ms = Number(BigInt("0x" + hex) >> 16n);
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
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
