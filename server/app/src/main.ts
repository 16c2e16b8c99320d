/**
 * The field app's page: boot (service worker, device), the router, the
 * always-visible status bar and the login screen. Screens are in
 * views.ts; the PIN and lock screens in lock.ts; the session and sync in
 * state.ts; every string in strings.ts.
 */
import { ApiError, MIN_PIN_LENGTH, TransportError, WipedError } from "@fieldsync/client";

import { h, replace } from "./dom.js";
import { pinFields, renderUnlock, WIPE_AFTER_DAYS } from "./lock.js";
import { App } from "./state.js";
import { T } from "./strings.js";
import { formatTime, releaseFiles, renderView, type Ctx } from "./views.js";

const root = document.getElementById("app") as HTMLElement;
let app: App | undefined;
let updateReady = false;
/** dirty is set while the user has typed into a form the page has not saved: updates then leave the screen alone. */
let dirty = false;
/** pending is the sentence to show once the next screen is drawn. */
let pending = "";
/** draft is the screen a person was typing into when the device locked: it comes back after the unlock. */
let draft: { hash: string; view: HTMLElement } | undefined;

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
  let a: App;
  try {
    a = await App.open(location.origin);
  } catch (e) {
    renderLogin(e instanceof WipedError ? goneMessage(e.reason.code) : String((e as Error).message), "error");
    return;
  }
  wire(a);
  if (a.state === "locked") {
    renderLock("", "info");
  } else {
    renderLogin("");
  }
}

/** wire makes a the app of the page and follows it. */
function wire(a: App): void {
  app = a;
  a.onStatus = renderStatus;
  a.onUpdate = () => {
    renderStatus();
    ensureShell();
    // The new-identification form has nothing a sync changes, and the
    // devices screen reads the server itself: a sync never redraws them.
    if (a.user !== undefined && document.getElementById("view") !== null && document.getElementById("status") !== null && !dirty && !location.hash.startsWith("#/new") && !location.hash.startsWith("#/devices")) {
      renderView(ctx, viewEl());
    }
  };
  a.onLock = () => {
    // A screen typed into and not saved is kept (in memory, off screen)
    // for the unlock; nothing else of the records stays on the page.
    const v = document.getElementById("view");
    draft = dirty && v !== null && document.getElementById("status") !== null ? { hash: location.hash, view: v } : undefined;
    // An opened file's object URL is revoked (its image goes blank, even in a kept draft).
    releaseFiles();
    renderLock(T.unlockIdle, "info");
  };
  a.onGone = (why) => {
    releaseFiles();
    app = undefined;
    draft = undefined;
    dirty = false;
    // The next person starts from the list, not from the last record shown.
    history.replaceState(null, "", location.pathname);
    renderLogin(goneMessage(why), why === "logout" || why === "erased" ? "info" : "error");
  };
  a.onLoginRequired = () => renderLogin(T.loginAgain, "error", a.user?.username);
}

/** goneMessage says why the device holds nothing any more. */
function goneMessage(why: string): string {
  switch (why) {
    case "logout":
      return T.loggedOut;
    case "wrong_pin":
      return T.wipedWrongPin;
    case "out_of_contact":
      return T.wipedOutOfContact(WIPE_AFTER_DAYS);
    case "erased":
      return T.erased;
    default:
      return T.wiped;
  }
}

/** renderLock draws the lock screen; the right PIN shows the app again (with a kept draft). */
function renderLock(text: string, kind: "info" | "error"): void {
  const a = app;
  if (a === undefined) {
    return;
  }
  renderUnlock(root, text, kind, {
    unlock: async (pin) => {
      const problem = await a.unlock(pin);
      if (problem !== "" || app !== a) {
        return problem;
      }
      await show(a);
      return "";
    },
    unsent: () => a.unsent(),
    erase: () => a.erase(),
  });
}

/** show draws the app for an unlocked device: the screens for a user, the login for none. */
async function show(a: App): Promise<void> {
  if (a.user === undefined) {
    renderLogin("");
    return;
  }
  // The records first, then the screens drawn once from them.
  await a.reload();
  if (app !== a || a.user === undefined) {
    return;
  }
  renderShell();
  const d = draft;
  draft = undefined;
  if (d !== undefined && d.hash === location.hash) {
    viewEl().replaceWith(d.view);
    dirty = true;
  }
  a.start();
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
      h("button", { type: "button", id: "lock", class: "secondary", onclick: () => app?.lock() }, T.lock),
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
  // The chips are drawn again; the button stays the same element (a tap
  // on it while the status changes, as it does during a sync, still lands).
  let chips = el.querySelector<HTMLElement>(".chips");
  let button = document.getElementById("sync");
  if (chips === null || button === null) {
    chips = h("span", { class: "chips" });
    button = h("button", { type: "button", id: "sync", onclick: () => void syncNow() });
    replace(el, chips, button);
  }
  replace(
    chips,
    h("span", { id: "st-online", class: "chip " + (online ? "ok" : "warn") }, online ? T.online : T.offline),
    h("span", { id: "st-unsynced", class: "chip " + (s.unsynced > 0 ? "warn" : "ok"), "data-count": s.unsynced }, T.unsynced(s.unsynced)),
    h("span", { id: "st-last", class: "chip" }, last),
    s.rejected > 0 && h("a", { id: "st-rejected", class: "chip bad", href: "#/status" }, T.rejected(s.rejected)),
    h("span", { id: "st-storage", class: "chip " + (s.persisted === true ? "ok" : "warn") }, persisted),
    updateReady && h("span", { id: "st-update", class: "chip warn" }, T.updateReady),
  );
  button.setAttribute("aria-busy", s.syncing ? "true" : "false");
  replace(button, s.syncing ? T.syncing : T.syncNow);
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

/**
 * renderLogin draws the login form with a sentence above it; on a device
 * without a PIN yet (a first login, or after a wipe) the form asks for
 * one, twice.
 */
function renderLogin(text: string, kind: "info" | "error" = "info", username = ""): void {
  const user = h("input", { type: "text", autocomplete: "username", required: true, value: username, autocapitalize: "none" });
  const pass = h("input", { type: "password", autocomplete: "current-password", required: true });
  const pin = app === undefined || app.state === "new" ? pinFields("pin-new", T.pinNew) : undefined;
  const error = h("p", { id: "error", class: "message error", role: "alert" });
  const button = h("button", { type: "submit", id: "login-button" }, T.loginButton);
  const form = h(
    "form",
    { id: "login-form", class: "card narrow" },
    h("h1", {}, T.loginTitle),
    h("p", {}, T.loginIntro),
    fieldOf("username", T.username, user),
    fieldOf("password", T.password, pass),
    pin?.el,
    error,
    button,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const problem = pin?.check() ?? "";
    if (problem !== "") {
      replace(error, problem);
      return;
    }
    void doLogin(user.value.trim(), pass.value, pin?.value(), error, button);
  });
  replace(root, h("header", { class: "top" }, h("span", { class: "brand" }, T.appName)), h("div", { id: "message", class: "message " + kind, role: kind === "error" ? "alert" : "status" }, text), h("main", { id: "view" }, form));
  (username === "" ? user : pass).focus();
}

function fieldOf(id: string, label: string, control: HTMLElement): HTMLElement {
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

async function doLogin(username: string, password: string, pin: string | undefined, error: HTMLElement, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  let a = app;
  try {
    if (a === undefined) {
      a = await App.open(location.origin);
      wire(a);
    }
    if (a.state === "new") {
      if (pin === undefined) {
        throw new Error(T.pinTooShort(MIN_PIN_LENGTH));
      }
      replace(error, T.pinSetting);
      await a.setup(pin);
    }
    replace(error, T.loggingIn);
    await a.login(username, password);
    dirty = false;
    reinstallShell();
    await show(a);
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
    // The PIN is set now (nothing of a user is stored yet): the next try asks for the password only.
    document.querySelector("#login-form .pin-fields")?.remove();
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
/** reinstalling is set while a worker is registered again after a wipe (its taking control is no update). */
let reinstalling = false;

/**
 * reinstallShell makes the app work offline again after a login: a wipe
 * or logout unregistered the service worker and emptied Cache Storage.
 * Registering again installs a new worker (which caches the shell), or
 * gives back the unregistered one still controlling this page, which is
 * asked to cache the shell again.
 */
function reinstallShell(): void {
  if (!("serviceWorker" in navigator)) {
    return;
  }
  void navigator.serviceWorker
    .register("sw.js", { scope: "./" })
    .then((r) => {
      if (r.active !== null) {
        r.active.postMessage("cache-shell");
      } else {
        reinstalling = true;
      }
    })
    .catch(() => undefined);
}

function registerServiceWorker(): void {
  if (!("serviceWorker" in navigator)) {
    return;
  }
  // The first worker taking control is the install; any later one is an update.
  let controlled = navigator.serviceWorker.controller !== null;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (controlled && !reinstalling) {
      updateReady = true;
      renderStatus();
    }
    reinstalling = false;
    controlled = true;
  });
  navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => {
    // without a service worker the app still works online
  });
}

window.addEventListener("hashchange", render);
// The Device syncs on `online`, on becoming visible and every minute (one
// tab leads); the page only redraws its status.
window.addEventListener("online", renderStatus);
window.addEventListener("offline", renderStatus);
// What a person does is activity for the idle lock.
for (const ev of ["pointerdown", "keydown", "input", "wheel"]) {
  document.addEventListener(ev, () => app?.touch(), { capture: true, passive: true });
}

void boot();
