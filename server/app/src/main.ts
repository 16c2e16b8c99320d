/**
 * The field app's page: boot (service worker, replica), the router, the
 * always-visible status bar and the login screen. Screens are in
 * views.ts; the session and sync in state.ts; every string in strings.ts.
 */
import { ApiError, TransportError } from "@fieldsync/client";

import { h, replace } from "./dom.js";
import { App, clearBrowserStorage } from "./state.js";
import { T } from "./strings.js";
import { formatTime, renderView, type Ctx } from "./views.js";

const root = document.getElementById("app") as HTMLElement;
let app: App | undefined;
let updateReady = false;
/** dirty is set while the user has typed into a form the page has not saved: updates then leave the screen alone. */
let dirty = false;
/** pending is the sentence to show once the next screen is drawn. */
let pending = "";

const ctx: Ctx = {
  get app() {
    return app as App;
  },
  say,
  go: (hash: string, message?: string) => {
    pending = message ?? "";
    if (location.hash === hash) {
      render();
    } else {
      location.hash = hash;
    }
  },
  clean: () => {
    dirty = false;
  },
  logout,
};

/** say shows a sentence in the message line (role=alert for errors). */
function say(text: string, kind: "info" | "error" = "info"): void {
  const m = document.getElementById("message");
  if (m === null) {
    return;
  }
  m.className = "message " + kind;
  m.setAttribute("role", kind === "error" ? "alert" : "status");
  replace(m, text);
}

async function boot(): Promise<void> {
  registerServiceWorker();
  if (!App.hasDevice()) {
    renderLogin("");
    return;
  }
  try {
    await start(await App.open(location.origin));
  } catch (e) {
    renderLogin(String((e as Error).message));
  }
}

/** start shows the app for a replica with a user, or the login for one without. */
async function start(a: App): Promise<void> {
  app = a;
  a.onUpdate = () => {
    renderStatus();
    ensureShell();
    // The new-identification form has nothing a sync changes, and the
    // devices screen reads the server itself: a sync never redraws them.
    if (!dirty && !location.hash.startsWith("#/new") && !location.hash.startsWith("#/devices")) {
      renderView(ctx, viewEl());
    }
  };
  a.onGone = (why) => {
    app = undefined;
    // The next person starts from the list, not from the last record shown.
    history.replaceState(null, "", location.pathname);
    renderLogin(why === "wiped" ? T.wiped : T.loggedOut, why === "wiped" ? "error" : "info");
  };
  a.onLoginRequired = () => renderLogin(T.loginAgain, "error", a.user?.username);
  if (a.user === undefined) {
    renderLogin("");
    return;
  }
  renderShell();
  await a.reload();
  if (navigator.onLine) {
    void a.sync();
  }
}

function viewEl(): HTMLElement {
  return document.getElementById("view") as HTMLElement;
}

/** renderShell draws the header, status bar, message line and the current screen. */
function renderShell(): void {
  const a = app as App;
  const u = a.user!;
  const visitor = u.role === "visitor";
  const nav = visitor
    ? [link("#/visits", T.navVisits), link("#/new", T.navNew), link("#/status", T.navStatus)]
    : [
        link("#/list", T.navList),
        link("#/new", T.navNew),
        link("#/visits", T.navVisits),
        u.role === "team_lead" && link("#/devices", T.navDevices),
        link("#/status", T.navStatus),
      ];
  replace(
    root,
    h(
      "header",
      { class: "top" },
      h("span", { class: "brand" }, T.appName),
      h("nav", { "aria-label": "Screens", id: "nav" }, nav),
      h("span", { class: "who" }, T.user(u.username, T.roles[u.role] ?? u.role)),
      h("button", { type: "button", id: "logout", class: "secondary", onclick: () => void logout(false) }, T.logout),
    ),
    h("div", { id: "status", class: "statusbar", role: "status", "aria-live": "polite" }),
    h("div", { id: "message", class: "message", role: "status" }),
    h("main", { id: "view", tabindex: "-1" }),
  );
  // A screen the user has typed into or changed is not redrawn under
  // their hands by a sync; saving (or leaving) it makes it clean again.
  for (const ev of ["input", "change"]) {
    viewEl().addEventListener(ev, (e) => {
      if (!(e.target as HTMLElement).closest("[data-live]")) {
        dirty = true;
      }
    });
  }
  renderStatus();
  renderView(ctx, viewEl());
}

function link(href: string, text: string): HTMLAnchorElement {
  return h("a", { href, "data-view": href.slice(2) }, text);
}

/** renderStatus fills the always-visible bar. */
function renderStatus(): void {
  const el = document.getElementById("status");
  const a = app;
  if (el === null || a === undefined) {
    return;
  }
  const s = a.status;
  const online = navigator.onLine;
  const persisted = s.persisted === true ? T.storagePersisted : s.persisted === false ? T.storageNotPersisted : T.storageUnknown;
  const last = s.lastSync === undefined ? T.neverSynced : T.lastSync(formatTime(Date.parse(s.lastSync)));
  replace(
    el,
    h("span", { id: "st-online", class: "chip " + (online ? "ok" : "warn") }, online ? T.online : T.offline),
    h("span", { id: "st-unsynced", class: "chip " + (s.unsynced > 0 ? "warn" : "ok"), "data-count": s.unsynced }, T.unsynced(s.unsynced)),
    h("span", { id: "st-last", class: "chip" }, last),
    s.rejected > 0 && h("a", { id: "st-rejected", class: "chip bad", href: "#/status" }, T.rejected(s.rejected)),
    h("span", { id: "st-storage", class: "chip " + (s.persisted === true ? "ok" : "warn") }, persisted),
    updateReady && h("span", { id: "st-update", class: "chip warn" }, T.updateReady),
    h("button", { type: "button", id: "sync", "aria-busy": s.syncing ? "true" : "false", onclick: () => void syncNow() }, s.syncing ? T.syncing : T.syncNow),
  );
  document.querySelectorAll<HTMLAnchorElement>("#nav a").forEach((x) => {
    if (location.hash.startsWith(x.getAttribute("href") ?? "")) {
      x.setAttribute("aria-current", "page");
    } else {
      x.removeAttribute("aria-current");
    }
  });
}

async function syncNow(): Promise<void> {
  const a = app;
  if (a === undefined) {
    return;
  }
  const r = await a.sync();
  if (app === undefined) {
    return;
  }
  if (r !== undefined) {
    say(T.synced(r.pushed, r.pulled));
  } else if (a.lastError instanceof ApiError) {
    say(T.syncRefused(a.lastError.message), "error");
  } else if (a.lastError !== undefined) {
    say(T.syncFailed, "error");
  }
}

/** logout syncs, asks before losing unsent changes, then clears the device. */
async function logout(force: boolean): Promise<void> {
  const a = app;
  if (a === undefined) {
    return;
  }
  const left = await a.logout(force);
  if (left === 0) {
    return;
  }
  const m = document.getElementById("message") as HTMLElement;
  m.className = "message error";
  m.setAttribute("role", "alert");
  replace(
    m,
    h("p", { id: "logout-unsent" }, T.logoutUnsent(left)),
    h("button", { type: "button", id: "logout-confirm", class: "danger", onclick: () => void logout(true) }, T.logoutConfirm),
    h("button", { type: "button", id: "logout-cancel", class: "secondary", onclick: () => say("") }, T.logoutCancel),
  );
}

/** renderLogin draws the login form with a sentence above it. */
function renderLogin(text: string, kind: "info" | "error" = "info", username = ""): void {
  const user = h("input", { type: "text", autocomplete: "username", required: true, value: username, autocapitalize: "none" });
  const pass = h("input", { type: "password", autocomplete: "current-password", required: true });
  const error = h("p", { id: "error", class: "message error", role: "alert" });
  const button = h("button", { type: "submit", id: "login-button" }, T.loginButton);
  const form = h(
    "form",
    { id: "login-form", class: "card narrow" },
    h("h1", {}, T.loginTitle),
    h("p", {}, T.loginIntro),
    fieldOf("username", T.username, user),
    fieldOf("password", T.password, pass),
    error,
    button,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void doLogin(user.value.trim(), pass.value, error, button);
  });
  replace(root, h("header", { class: "top" }, h("span", { class: "brand" }, T.appName)), h("div", { id: "message", class: "message " + kind, role: kind === "error" ? "alert" : "status" }, text), h("main", { id: "view" }, form));
  (username === "" ? user : pass).focus();
}

function fieldOf(id: string, label: string, control: HTMLElement): HTMLElement {
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

async function doLogin(username: string, password: string, error: HTMLElement, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  replace(error, T.loggingIn);
  let a = app;
  try {
    if (a === undefined) {
      a = await App.open(location.origin);
    }
    await a.login(username, password);
    dirty = false;
    // A logout or wipe before this login emptied Cache Storage: fill it again.
    void navigator.serviceWorker?.ready.then((r) => r.active?.postMessage("cache-shell"));
    if (app !== a) {
      await start(a);
    } else {
      renderShell();
      await a.reload();
    }
  } catch (e) {
    button.disabled = false;
    if (e instanceof ApiError && e.status === 401) {
      replace(error, T.loginWrong);
    } else if (e instanceof TransportError || e instanceof TypeError) {
      replace(error, T.loginOffline);
    } else if (e instanceof ApiError) {
      replace(error, e.message);
    } else if (/belongs to user/.test(String((e as Error).message)) && a?.user !== undefined) {
      replace(error, T.loginOtherUser(a.user.username));
    } else {
      replace(error, String((e as Error).message));
    }
    if (a !== undefined && app === undefined && a.user === undefined) {
      // Nothing was stored for this failed login: leave nothing behind.
      await a.replica.wipe();
      await clearBrowserStorage();
    }
  }
}

/** render draws the current screen (after a route change). */
function render(): void {
  dirty = false;
  if (app?.user === undefined) {
    return;
  }
  say(pending);
  pending = "";
  renderStatus();
  renderView(ctx, viewEl());
  viewEl().focus({ preventScroll: true });
}

/**
 * ensureShell makes sure the app will load offline: when no service worker
 * controls the page (its first install failed or is still running), it
 * asks the browser to check the registration again.
 */
function ensureShell(): void {
  if (!("serviceWorker" in navigator) || navigator.serviceWorker.controller !== null || !navigator.onLine || shellChecked) {
    return;
  }
  shellChecked = true;
  void navigator.serviceWorker
    .getRegistration()
    .then((r) => (r === undefined || (r.installing === null && r.waiting === null && r.active === null) ? navigator.serviceWorker.register("sw.js", { scope: "./" }).then(() => undefined) : undefined))
    .catch(() => undefined)
    .finally(() => setTimeout(() => (shellChecked = false), 30_000));
}

let shellChecked = false;

function registerServiceWorker(): void {
  if (!("serviceWorker" in navigator)) {
    return;
  }
  // The first worker taking control is the install; any later one is an update.
  let controlled = navigator.serviceWorker.controller !== null;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (controlled) {
      updateReady = true;
      renderStatus();
    }
    controlled = true;
  });
  navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => {
    // without a service worker the app still works online
  });
}

window.addEventListener("hashchange", render);
window.addEventListener("online", () => {
  renderStatus();
  void app?.sync();
});
window.addEventListener("offline", renderStatus);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && navigator.onLine) {
    void app?.sync();
  }
});
setInterval(() => {
  if (navigator.onLine && app?.user !== undefined) {
    void app.sync();
  }
}, 60_000);

void boot();
