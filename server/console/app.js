// The console: login, routing between the views each role may open
// (supervisors: queue, records, figures, devices, accounts; administrators:
// accounts, devices; auditors: the audit log), messages, logout. Each view
// lives in its own module.
//
// Privacy: the session (tokens) and everything loaded from the API live in
// JavaScript memory only. Logging out revokes this browser's device at the
// server (its tokens die at once), forgets the tokens and reloads the page;
// the page answers with Clear-Site-Data, so the browser's cache and storage
// for this origin are cleared too. The console is also logged out after
// IDLE_MINUTES without use.
import * as api from "./api.js";
import { h, replace } from "./dom.js";
import { rememberDevice } from "./device.js";
import { queueView } from "./queue.js";
import { recordsView } from "./records.js";
import { recordView } from "./record.js";
import { figuresView } from "./figures.js";
import { devicesView } from "./devices.js";
import { accountsView } from "./accounts.js";
import { auditView } from "./audit.js";

const IDLE_MINUTES = 30;
const $ = (id) => document.getElementById(id);

/** Messages at the top of the page. */
export const ui = {
  error(err) {
    const el = $("error");
    el.textContent = typeof err === "string" ? err : (err && err.message) || "Something went wrong. Try again.";
    el.hidden = false;
    $("message").hidden = true;
    el.scrollIntoView({ block: "nearest" });
  },
  message(text) {
    const el = $("message");
    el.textContent = text;
    el.hidden = false;
    $("error").hidden = true;
  },
  clear() {
    $("error").hidden = true;
    $("message").hidden = true;
  },
};

/**
 * What every view shares, loaded after login: the schema, and the names of
 * users, devices and teams (to show who wrote what, from which tablet).
 */
export const ctx = { schema: null, users: new Map(), devices: new Map(), teams: new Map() };

export async function loadNames() {
  const [users, devices, teams] = await Promise.all([
    api.get("/v1/admin/users"), api.get("/v1/admin/devices"), api.get("/v1/admin/teams"),
  ]);
  ctx.users = new Map(users.users.map((u) => [u.id, u]));
  ctx.devices = new Map(devices.devices.map((d) => [d.id, d]));
  ctx.teams = new Map(teams.teams.map((t) => [t.id, t]));
}

export function userName(id) {
  const u = ctx.users.get(id);
  if (u) return u.username;
  const me = api.current();
  return me && me.user.id === id ? me.user.username : "an unknown user";
}

export function deviceName(id) {
  const d = ctx.devices.get(id);
  return d ? d.name || "an unnamed device" : "an unknown device";
}

/** Runs an action, showing its error in plain words; returns its result. */
export async function guard(fn) {
  try {
    return await fn();
  } catch (e) {
    ui.error(e);
    return undefined;
  }
}

/** Disables a button while its action runs. */
export function busy(button, fn) {
  return async (ev) => {
    if (ev) ev.preventDefault();
    button.disabled = true;
    try {
      await guard(fn);
    } finally {
      button.disabled = false;
    }
  };
}

/** The views each role may open, its first page first. */
const roleViews = {
  supervisor: ["queue", "records", "record", "figures", "devices", "accounts"],
  admin: ["accounts", "devices"],
  auditor: ["audit"],
};

/** The views the logged-in user may open. */
function allowedViews() {
  const s = api.current();
  return (s && roleViews[s.user.role]) || [];
}

async function onLogin(ev) {
  ev.preventDefault();
  ui.clear();
  const button = $("login-button");
  const username = $("username").value.trim();
  const password = $("password").value;
  button.disabled = true;
  try {
    const s = await api.login(username, password);
    $("password").value = "";
    if (!roleViews[s.user.role]) {
      await logout("role");
      return;
    }
    if (s.user.role === "supervisor") {
      ctx.schema = await api.get("/v1/schema");
    }
    if (s.user.role !== "auditor") await loadNames(); // auditors may not list accounts
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    $("nav").hidden = false;
    $("logout").hidden = false;
    $("who").hidden = false;
    $("who").textContent = `${s.user.username} (${s.user.role})`;
    for (const a of document.querySelectorAll("#nav a")) {
      a.hidden = !allowedViews().includes(a.dataset.view);
    }
    resetIdle();
    if (!location.hash || location.hash === "#/" || location.hash === "#") {
      location.hash = "#/" + allowedViews()[0];
    } else {
      route();
    }
  } catch (e) {
    ui.error(e);
  } finally {
    button.disabled = false;
  }
}

/**
 * Why a reload logs out, said on the login page after one: the console
 * keeps its session keys in the page's memory only, never where a script
 * or the next user of this browser could read them.
 */
const RELOAD_NOTE = "Reloading the page logged you out: the console keeps your session only in this page's memory, " +
  "never in the browser's storage, so that no other script and no later user of this browser can take it. " +
  "Log in again; this browser stays the same device.";

function reloaded() {
  const nav = performance.getEntriesByType("navigation")[0];
  return !!nav && nav.type === "reload";
}

let loggingOut = false;

// Why the console was logged out, shown on the login page. The reload
// carries only the code, so a link cannot put other words on the page.
const logoutNotes = {
  logout: "You are logged out.",
  idle: `You were logged out after ${IDLE_MINUTES} minutes without use.`,
  ended: "Your session has ended. Please log in again.",
  role: "This console is for supervisors, auditors and administrators; your account has another role.",
};

/** Ends the session: revoke this browser's device, forget, reload. */
export async function logout(reason = "logout") {
  if (loggingOut) return;
  loggingOut = true;
  const s = api.current();
  if (s) {
    try {
      await api.post(api.path`/v1/devices/${s.deviceId}/revoke`);
    } catch (_) { /* the session may already be over */ }
  }
  if (s) await rememberDevice(s.user.username, ""); // revoked: the next login registers a new device
  api.forget();
  replace($("app-view"));
  location.replace("/?out=" + (logoutNotes[reason] ? reason : "logout"));
}

let idleTimer = 0;
function resetIdle() {
  clearTimeout(idleTimer);
  if (api.current()) {
    idleTimer = setTimeout(() => logout("idle"), IDLE_MINUTES * 60 * 1000);
  }
}

let routeSeq = 0;

/** The list the supervisor came from to a record ("queue" or "records"). */
export let lastList = "queue";

/** Shows the view the location's hash names. */
export async function route() {
  if (!api.current()) return;
  const seq = ++routeSeq;
  const [, view, arg] = (location.hash || "").split("/");
  const root = $("app-view");
  if (view === "queue" || view === "records") lastList = view;
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.view === view || (view === "record" && a.dataset.view === lastList));
  }
  ui.clear();
  replace(root, h("p", { class: "muted" }, "Loading…"));
  const views = {
    queue: queueView, records: recordsView, record: recordView, figures: figuresView, devices: devicesView,
    accounts: accountsView, audit: auditView,
  };
  const fn = views[allowedViews().includes(view) ? view : allowedViews()[0]];
  const node = await guard(() => fn(decodeURIComponent(arg || "")));
  if (seq !== routeSeq) return; // a newer navigation won
  replace(root, node || h("p", { class: "muted" }, "This page could not be loaded."));
  root.dataset.view = view || "";
  root.dataset.ready = String(seq);
}

function start() {
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", () => logout());
  window.addEventListener("hashchange", route);
  for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, resetIdle, { passive: true });
  api.whenSessionEnds(() => logout("ended"));
  const out = new URLSearchParams(location.search).get("out");
  if (out) {
    ui.message(logoutNotes[out] || logoutNotes.logout);
    history.replaceState(null, "", "/");
  } else if (reloaded()) {
    ui.message(RELOAD_NOTE);
  }
  $("username").focus();
}

start();
