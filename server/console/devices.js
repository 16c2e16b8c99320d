// Devices: every tablet (and console session) with its user, last use and
// state; revoke one in two clicks. A revoked device's tokens die at once
// and its app wipes its local data at its next contact.
import * as api from "./api.js";
import { h, when } from "./dom.js";
import { busy, loadNames, ui } from "./app.js";

/** A last-use time: relative, exact on hover; "never" for Go's zero time. */
function lastUsed(t) {
  return !t || t.startsWith("0001-") ? h("span", { class: "muted" }, "never") : when(t);
}

/** Days after which an active device that has not reached the server is flagged. */
const STALE_DAYS = 7;

/** Whole days since t, or 0 for "never" and the future. */
function daysSince(t) {
  if (!t || t.startsWith("0001-")) return 0;
  return Math.max(0, Math.floor((Date.now() - new Date(t).getTime()) / 86400000));
}

/** The state cell: revoked, stale (active but silent for a week) or active. */
function stateCell(d) {
  if (d.state === "revoked") return h("span", { class: "badge badge-revoked" }, "revoked");
  const days = daysSince(d.last_seen);
  if (days < STALE_DAYS) return "active";
  return h("span", { class: "badge badge-stale", title: "Lost or forgotten? Revoke it: it wipes its data at its next contact." },
    `not seen for ${days} days`);
}

/**
 * Erased records each device has not yet acknowledged deleting (retention
 * purges, GET /v1/admin/purges: admins and supervisors; team leads get an
 * empty map and no column).
 */
async function pendingPurges() {
  const role = api.current().user.role;
  if (role !== "admin" && role !== "supervisor") return null;
  const { purges } = await api.get("/v1/admin/purges");
  const pending = new Map();
  for (const p of purges) for (const d of p.pending) pending.set(d.device, (pending.get(d.device) || 0) + 1);
  return pending;
}

/** The purge cell: how many erased records the device may still hold. */
function purgeCell(pending, d) {
  const n = pending.get(d.id) || 0;
  if (n === 0 || d.state === "revoked") return h("span", { class: "muted" }, "none");
  return h("span", { class: "badge badge-stale", title: "Retention erased these records; the device deletes them and acknowledges at its next sync." },
    `${n} erased record${n === 1 ? "" : "s"} not yet deleted`);
}

export async function devicesView() {
  const { devices } = await api.get("/v1/admin/devices");
  const pending = await pendingPurges();
  await loadNames();
  const mine = api.current().deviceId;
  devices.sort((a, b) => (a.state === b.state ? (b.last_seen || "").localeCompare(a.last_seen || "") : a.state === "active" ? -1 : 1));
  const row = (d) => {
    let action = null;
    if (d.state === "active" && d.id !== mine) {
      const b = h("button", { type: "button", class: "danger", "data-action": "revoke", "data-device": d.id }, "Revoke");
      let armed = false;
      b.addEventListener("click", busy(b, async () => {
        if (!armed) {
          armed = true;
          b.textContent = "Confirm: revoke and wipe";
          return;
        }
        await api.post(api.path`/v1/devices/${d.id}/revoke`);
        ui.message(`Revoked: ${d.name || "the device"} (${d.username}). It wipes its data at its next contact.`);
        const fresh = await devicesView();
        document.querySelector(".view-devices").replaceWith(fresh);
      }));
      action = b;
    } else if (d.id === mine) {
      action = h("span", { class: "muted small" }, "this browser");
    }
    const stale = d.state === "active" && daysSince(d.last_seen) >= STALE_DAYS;
    return h("tr", { "data-device": d.id, class: stale ? "active stale" : d.state },
      h("td", {}, d.name || "(unnamed)"), h("td", {}, d.username), h("td", {}, lastUsed(d.last_seen)),
      h("td", {}, stateCell(d)),
      pending ? h("td", { class: "purges" }, purgeCell(pending, d)) : null,
      h("td", {}, action));
  };
  return h("section", { class: "view-devices" },
    h("h1", {}, "Devices"),
    h("p", { class: "muted" }, `Revoke a lost or stolen tablet: its sessions end at once and it erases its local data when it next reaches the server. A tablet silent for ${STALE_DAYS} days or more is flagged.`),
    h("div", { class: "scroll" }, h("table", { class: "devices" },
      h("thead", {}, h("tr", {}, ["Device", "User", "Last used", "State", ...(pending ? ["Purges"] : []), ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, devices.map(row)))));
}
