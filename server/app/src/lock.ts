/**
 * The app's PIN and lock: the PIN chosen at the first login on a device,
 * the lock screen (after the idle time, "Lock", a reload, or another tab
 * locking), and the "PIN and lock" card of the settings. The SDK's Device
 * does the work (clients/ts/src/device.ts): the data at rest is encrypted
 * under a key the PIN unwraps; it locks after idleLockMs without activity;
 * it wipes itself after MAX_PIN_ATTEMPTS wrong PINs in a row or
 * WIPE_AFTER_DAYS without reaching the server. Invariants:
 *
 *  - The PIN is only ever passed to the Device: never stored, never kept
 *    in a variable once the form is gone, never sent anywhere.
 *  - The idle time is a preference of this browser (localStorage, not a
 *    secret): any whole number of milliseconds from IDLE_MIN_MS to
 *    IDLE_MAX_MS; anything else falls back to IDLE_DEFAULT_MS, so a
 *    preference can shorten the lock but never switch it off.
 */
import { MIN_PIN_LENGTH } from "@fieldsync/client";

import { field, h, replace, select } from "./dom.js";
import { type App } from "./state.js";
import { T } from "./strings.js";

/** Days without reaching the server after which the device wipes itself (DeviceOptions.wipeAfterDays). */
export const WIPE_AFTER_DAYS = 14;
/** Wrong PINs in a row that wipe the device (DeviceOptions.maxPinAttempts). */
export const MAX_PIN_ATTEMPTS = 10;
/** The idle time before the app locks, unless this browser's preference says otherwise. */
export const IDLE_DEFAULT_MS = 5 * 60_000;
const IDLE_MIN_MS = 1_000;
const IDLE_MAX_MS = 15 * 60_000;
const IDLE_CHOICES_MIN = [1, 2, 5, 10, 15];
/** The localStorage key of the idle-time preference. */
export const IDLE_KEY = "fieldsync.app.idle-ms";

/** idleLockMs returns the idle time this browser uses (see the module comment). */
export function idleLockMs(): number {
  const v = Number(localStorage.getItem(IDLE_KEY) ?? "");
  return Number.isInteger(v) && v >= IDLE_MIN_MS && v <= IDLE_MAX_MS ? v : IDLE_DEFAULT_MS;
}

/** PinFields are the two PIN inputs of a first login on a device. */
export interface PinFields {
  el: HTMLElement;
  /** check returns what is wrong with the PINs typed, or "" when they can be used. */
  check(): string;
  value(): string;
}

/** pinFields builds the "choose a PIN" (id, label) and "type it again" (id-again) inputs. */
export function pinFields(id: string, label: string): PinFields {
  const pin = h("input", { type: "password", autocomplete: "new-password", inputmode: "numeric", required: true });
  const again = h("input", { type: "password", autocomplete: "new-password", inputmode: "numeric", required: true });
  return {
    el: h("div", { class: "pin-fields" }, field(id, label, pin, T.pinHint(MIN_PIN_LENGTH)), field(id + "-again", T.pinConfirm, again)),
    check: () => pinProblem(pin.value, again.value),
    value: () => pin.value,
  };
}

function pinProblem(pin: string, again: string): string {
  if ([...pin.normalize("NFC")].length < MIN_PIN_LENGTH) {
    return T.pinTooShort(MIN_PIN_LENGTH);
  }
  return pin === again ? "" : T.pinMismatch;
}

/** Unlocking is what the lock screen asks of the app. */
export interface Unlocking {
  /** unlock answers a sentence to show (a wrong PIN) or "" once unlocked (the caller then draws the app; a wipe is the caller's too). */
  unlock(pin: string): Promise<string>;
  /** unsent counts the changes a deletion would lose (known while locked). */
  unsent(): Promise<number>;
  /** erase deletes everything on the device (a forgotten PIN, or someone else's device). */
  erase(): Promise<void>;
}

/** renderUnlock draws the lock screen into root. */
export function renderUnlock(root: HTMLElement, text: string, kind: "info" | "error", u: Unlocking): void {
  const pin = h("input", { type: "password", autocomplete: "off", inputmode: "numeric", required: true });
  const error = h("p", { id: "unlock-error", class: "message error", role: "alert" });
  const button = h("button", { type: "submit", id: "unlock-button" }, T.unlockButton);
  const form = h("form", { id: "unlock-form", class: "card narrow" }, h("h1", {}, T.unlockTitle), h("p", {}, T.unlockIntro), field("pin", T.pin, pin), error, button);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    button.disabled = true;
    replace(error, T.unlocking);
    const typed = pin.value;
    pin.value = "";
    void u.unlock(typed).then((problem) => {
      button.disabled = false;
      replace(error, problem);
      if (problem !== "" && pin.isConnected) {
        pin.focus();
      }
    });
  });
  replace(
    root,
    h("header", { class: "top" }, h("span", { class: "brand" }, T.appName)),
    h("div", { id: "message", class: "message " + kind, role: kind === "error" ? "alert" : "status" }, text),
    h("main", { id: "view" }, form, eraseCard(u)),
  );
  pin.focus();
}

/** eraseCard offers, in two steps, to delete the device's data without the PIN. */
function eraseCard(u: Unlocking): HTMLElement {
  const say = h("p", { id: "erase-warning", role: "status" });
  const confirm = h("button", { type: "button", id: "erase-confirm", class: "danger", hidden: true }, T.eraseConfirm);
  const ask = h("button", { type: "button", id: "erase", class: "secondary" }, T.erase);
  ask.addEventListener("click", () => {
    void u.unsent().then((n) => {
      replace(say, T.eraseWarning(n));
      confirm.hidden = false;
      confirm.focus();
    });
  });
  confirm.addEventListener("click", () => {
    confirm.disabled = true;
    void u.erase();
  });
  return h("section", { class: "card narrow", "aria-labelledby": "erase-title" }, h("h2", { id: "erase-title" }, T.eraseTitle), h("p", {}, T.eraseIntro), ask, say, confirm);
}

/** pinCard is the settings' "PIN and lock" card: what protects the data, change PIN, idle time. */
export function pinCard(a: App, say: (text: string, kind?: "info" | "error") => void): HTMLElement {
  const current = h("input", { type: "password", autocomplete: "off", inputmode: "numeric", required: true });
  const fresh = pinFields("pin-newer", T.pinNewer);
  const button = h("button", { type: "submit", id: "pin-change" }, T.pinChange);
  const form = h("form", { id: "pin-form", class: "inline-form" }, h("h3", {}, T.pinChange), field("pin-current", T.pinCurrent, current), fresh.el, button);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const problem = fresh.check();
    if (problem !== "") {
      say(problem, "error");
      return;
    }
    button.disabled = true;
    say(T.pinSetting);
    void a.changePin(current.value, fresh.value()).then((err) => {
      button.disabled = false;
      form.reset();
      say(err === "" ? T.pinChanged : err, err === "" ? "info" : "error");
    });
  });
  const now = idleLockMs();
  const choices = IDLE_CHOICES_MIN.map((m) => String(m * 60_000));
  if (!choices.includes(String(now))) {
    choices.unshift(String(now));
  }
  const idle = select(choices, (v) => (Number(v) % 60_000 === 0 ? T.idleMinutes(Number(v) / 60_000) : T.idleOther(Number(v) / 1000)), String(now));
  idle.addEventListener("change", () => {
    localStorage.setItem(IDLE_KEY, idle.value);
    say(T.idleSaved);
  });
  return h(
    "section",
    { class: "card", id: "pin-card", "aria-labelledby": "pin-title" },
    h("h2", { id: "pin-title" }, T.pinTitle),
    h("p", { id: "at-rest" }, T.dataAtRest(WIPE_AFTER_DAYS, MAX_PIN_ATTEMPTS)),
    field("idle-time", T.idleLabel, idle),
    form,
  );
}
