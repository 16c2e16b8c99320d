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

export async function devicesView() {
  const { devices } = await api.get("/v1/admin/devices");
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
    return h("tr", { "data-device": d.id, class: d.state },
      h("td", {}, d.name || "(unnamed)"), h("td", {}, d.username), h("td", {}, lastUsed(d.last_seen)),
      h("td", {}, d.state === "revoked" ? h("span", { class: "badge badge-revoked" }, "revoked") : "active"),
      h("td", {}, action));
  };
  return h("section", { class: "view-devices" },
    h("h1", {}, "Devices"),
    h("p", { class: "muted" }, "Revoke a lost or stolen tablet: its sessions end at once and it erases its local data when it next reaches the server."),
    h("div", { class: "scroll" }, h("table", { class: "devices" },
      h("thead", {}, h("tr", {}, ["Device", "User", "Last used", "State", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, devices.map(row)))));
}
