//go:build browser

package browser

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The field app on the SDK's Device (server/app/src/lock.ts, state.ts):
// its data at rest is encrypted under a PIN, it locks after the idle time
// and wipes itself after too many wrong PINs or too long out of contact.
// These run in real headless Chromium: the Device's idle lock, self-wipe
// and persistence answer were proven under Node only before.

// idbScan reads every value and key of every IndexedDB database of the
// origin (strings as they are, byte arrays decoded as UTF-8) and counts
// the places that hold needle; it answers {"values": n, "hits": [...]}.
const idbScan = `(async (needle) => {
	const text = (v, out) => {
		if (v === null || v === undefined) { return; }
		if (typeof v === "string") { out.push(v); return; }
		if (typeof v !== "object") { out.push(String(v)); return; }
		if (v instanceof ArrayBuffer) { v = new Uint8Array(v); }
		if (ArrayBuffer.isView(v)) { out.push(new TextDecoder("utf-8", {fatal: false}).decode(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))); return; }
		for (const k of Object.keys(v)) { out.push(k); text(v[k], out); }
	};
	let values = 0;
	const hits = [];
	for (const d of await indexedDB.databases()) {
		const db = await new Promise((ok, ko) => { const r = indexedDB.open(d.name); r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
		for (const s of db.objectStoreNames) {
			const [keys, vals] = await new Promise((ok, ko) => {
				const st = db.transaction(s).objectStore(s);
				const k = st.getAllKeys(), v = st.getAll();
				v.onsuccess = () => ok([k.result, v.result]);
				v.onerror = () => ko(v.error);
			});
			vals.forEach((v, i) => {
				values++;
				const out = [String(keys[i])];
				text(v, out);
				if (out.some((x) => x.includes(needle))) { hits.push(d.name + "/" + s + "/" + keys[i]); }
			});
		}
		db.close();
	}
	return JSON.stringify({values, hits});
})`

type scanResult struct {
	Values int      `json:"values"`
	Hits   []string `json:"hits"`
}

func (b *appBrowser) scan(needle string) scanResult {
	b.t.Helper()
	var r scanResult
	if err := json.Unmarshal([]byte(b.eval(fmt.Sprintf(`%s(%q)`, idbScan, needle))), &r); err != nil {
		b.t.Fatalf("scan IndexedDB: %v", err)
	}
	return r
}

// TestAppAtRestAndUnlock: the first login asks for a PIN twice and says
// why one is refused (too short, not the same). With the PIN set, a name
// typed into a form is nowhere in the origin's IndexedDB as plaintext (the
// same scan finds it in a plain database: the control); web storage and
// caches do not hold it either. After a reload the app shows the PIN
// screen and nothing of the data; a wrong PIN is refused (with the tries
// left); the right one shows the record. The status bar and the settings
// say what the browser answered to navigator.storage.persist(). The PIN
// is changed in the settings: the old one is refused, the new one opens.
func TestAppAtRestAndUnlock(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newAppBrowser(t, chromium, base, 800, 1280)
	b.do("open the app", chromedp.Navigate(b.proxy.URL+"/app/"), chromedp.WaitVisible(chromedp.CSS("#pin-new")))
	b.view("app-login-pin", "")
	b.do("a short PIN", chromedp.SendKeys(chromedp.CSS("#username"), "worker.north"), chromedp.SendKeys(chromedp.CSS("#password"), "x"),
		chromedp.SendKeys(chromedp.CSS("#pin-new"), "12"), chromedp.SendKeys(chromedp.CSS("#pin-new-again"), "12"), chromedp.Click(chromedp.CSS("#login-button")))
	b.waitText("#error", "The PIN is too short: use at least 4 characters.")
	b.do("two different PINs", choose("#pin-new", "123456"), choose("#pin-new-again", "654321"), chromedp.Click(chromedp.CSS("#login-button")))
	b.waitText("#error", "The two PINs are not the same.")
	b.do("clear the form", choose("#username", ""), choose("#password", ""), choose("#pin-new", ""), choose("#pin-new-again", ""))
	b.login("worker.north", "#list .item")
	const canary = "Drita Canary-Kelmendi"
	b.offline(true)
	b.do("new identification", chromedp.Click(chromedp.CSS(`#nav a[href="#/new"]`)), chromedp.WaitVisible(chromedp.CSS("#new-form")),
		chromedp.SendKeys(chromedp.CSS("#new-code"), "N-APP-PIN"),
		chromedp.SendKeys(chromedp.CSS("#new-location"), "Home of "+canary),
		chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#log-notes")))
	id := b.recordID()
	b.do("note", chromedp.SendKeys(chromedp.CSS("#notes-text-identification"), canary+" says her passport was taken."), chromedp.Click(chromedp.CSS("#add-notes")))
	b.waitText("#log-notes", canary)

	// The control: the scan finds the name in a plain database of the origin.
	b.eval(fmt.Sprintf(`new Promise((ok, ko) => { const r = indexedDB.open("scan-control"); r.onupgradeneeded = () => r.result.createObjectStore("s");
		r.onsuccess = () => { const tx = r.result.transaction("s", "readwrite"); tx.objectStore("s").put({text: %q}, "a"); tx.objectStore("s").put(new TextEncoder().encode(%q), "b");
		tx.oncomplete = () => { r.result.close(); ok(""); }; tx.onerror = () => ko(tx.error); }; r.onerror = () => ko(r.error); })`, canary, canary))
	control := b.scan(canary)
	b.eval(`new Promise((ok) => { const r = indexedDB.deleteDatabase("scan-control"); r.onsuccess = r.onerror = r.onblocked = () => ok(""); })`)
	if len(control.Hits) != 2 {
		t.Fatalf("the scan found the name in %v of a plain database, want its 2 values: the scan cannot tell", control.Hits)
	}
	got := b.scan(canary)
	if len(got.Hits) != 0 {
		t.Errorf("the name typed into the form is in IndexedDB as plaintext: %v", got.Hits)
	}
	if got.Values < 20 {
		t.Errorf("the scan read %d values, want the whole replica (records, ops, outbox...)", got.Values)
	}
	if web := b.eval(fmt.Sprintf(`(async () => { let all = JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage});
		for (const k of await caches.keys()) { for (const r of await (await caches.open(k)).keys()) { all += r.url; } } return String(all.includes(%q)); })()`, canary)); web != "false" {
		t.Error("the name is in web storage or Cache Storage")
	}

	// A reload opens locked: nothing of the data shows; a wrong PIN is refused.
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#unlock-form")))
	b.view("app-unlock", "")
	if body := b.eval(`document.body.innerText`); strings.Contains(body, "N-APP-PIN") || strings.Contains(body, canary) {
		t.Error("the lock screen shows the data")
	}
	b.do("wrong PIN", chromedp.SendKeys(chromedp.CSS("#pin"), "000000"), chromedp.Click(chromedp.CSS("#unlock-button")))
	b.waitText("#unlock-error", "The PIN is wrong. 9 more wrong PINs and this device deletes all its data.")
	b.view("app-unlock-wrong", "")
	b.unlock(appPIN, "#status")
	b.goRecord(id)
	if got := b.text("h1"); got != "N-APP-PIN" {
		t.Errorf("after the unlock the record shows %q", got)
	}
	b.waitText("#log-notes", canary)

	// The persistence answer, where the user sees it.
	persisted := b.eval(`navigator.storage.persisted().then(String)`)
	want := map[string]string{"true": "Storage kept by the browser", "false": "This browser may delete your data"}[persisted]
	if want == "" {
		t.Fatalf("navigator.storage.persisted() answered %q", persisted)
	}
	b.waitText("#st-storage", want)
	b.eval(`(() => { location.hash = "#/status"; return ""; })()`)
	b.waitText("#persist-line", want)
	b.waitText("#at-rest", "encrypted with a key only your PIN opens")

	// Change the PIN: the old one no longer opens, the new one does.
	const newPIN = "314159"
	b.do("change the PIN",
		chromedp.SendKeys(chromedp.CSS("#pin-current"), appPIN),
		chromedp.SendKeys(chromedp.CSS("#pin-newer"), newPIN),
		chromedp.SendKeys(chromedp.CSS("#pin-newer-again"), newPIN),
		chromedp.Click(chromedp.CSS("#pin-change")))
	b.waitText("#message", "The PIN was changed.")
	b.view("app-settings-pin", "#pin-card")
	b.do("lock", chromedp.Click(chromedp.CSS("#lock")), chromedp.WaitVisible(chromedp.CSS("#unlock-form")))
	b.do("the old PIN", chromedp.SendKeys(chromedp.CSS("#pin"), appPIN), chromedp.Click(chromedp.CSS("#unlock-button")))
	b.waitText("#unlock-error", "The PIN is wrong.")
	b.unlock(newPIN, "#status")
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// TestAppIdleLock: a form typed into and not saved survives the lock
// ("Lock") and comes back after the unlock; a second tab locks with the
// first; with this browser's idle time
// set to one second, the app locks itself (the SDK's idle timer in a real
// browser) and says so; nothing saved is lost.
func TestAppIdleLock(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newAppBrowser(t, chromium, base, 800, 1280)
	b.open("worker.north", "#list .item")
	b.do("new identification", chromedp.Click(chromedp.CSS(`#nav a[href="#/new"]`)), chromedp.WaitVisible(chromedp.CSS("#new-form")),
		chromedp.SendKeys(chromedp.CSS("#new-code"), "N-APP-DRAFT"),
		chromedp.SendKeys(chromedp.CSS("#new-location"), "Unsaved place"))
	b.do("lock", chromedp.Click(chromedp.CSS("#lock")), chromedp.WaitVisible(chromedp.CSS("#unlock-form")))
	if body := b.eval(`document.body.innerText`); strings.Contains(body, "Unsaved place") || strings.Contains(body, "N-2026") {
		t.Error("the lock screen shows the form or the records")
	}
	b.unlock(appPIN, "#new-form")
	if got := b.eval(`document.querySelector("#new-code").value + "|" + document.querySelector("#new-location").value`); got != "N-APP-DRAFT|Unsaved place" {
		t.Errorf("after the unlock the unsaved form holds %q", got)
	}
	b.do("save", chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#indicators")))
	b.waitText("#message", "Saved on this device.")
	id := b.recordID()

	// A second tab of the same browser opens locked; unlocked, it locks
	// when the first tab locks (the Device tells every tab).
	ctx, cancel := chromedp.NewContext(b.ctx)
	second := &appBrowser{browser: &browser{t: t, ctx: ctx, dir: b.dir}, proxy: b.proxy}
	second.do("open a second tab", chromedp.Navigate(b.proxy.URL+"/app/"), chromedp.WaitVisible(chromedp.CSS("#unlock-form")))
	second.unlock(appPIN, "#status")
	b.do("lock the first tab", chromedp.Click(chromedp.CSS("#lock")), chromedp.WaitVisible(chromedp.CSS("#unlock-form")))
	second.waitJS(`!!document.querySelector("#unlock-form")`)
	cancel()
	b.unlock(appPIN, "#status")

	// One second of idle time (this browser's preference, applied at the next lock).
	b.eval(`(() => { localStorage.setItem("fieldsync.app.idle-ms", "1000"); return ""; })()`)
	b.do("lock", chromedp.Click(chromedp.CSS("#lock")), chromedp.WaitVisible(chromedp.CSS("#unlock-form")))
	b.unlock(appPIN, "#status")
	b.waitJS(`!!document.querySelector("#unlock-form")`)
	b.waitText("#message", "The app locked itself after a time without use.")
	b.view("app-idle-locked", "")
	if body := b.eval(`document.body.innerText`); strings.Contains(body, "N-APP-DRAFT") {
		t.Error("the idle lock screen shows the data")
	}
	// Back to the default idle time; everything saved is there.
	b.eval(`(() => { localStorage.removeItem("fieldsync.app.idle-ms"); return ""; })()`)
	b.reload("reload")
	b.goRecord(id)
	if got := b.text("h1"); got != "N-APP-DRAFT" {
		t.Errorf("after the idle lock the record shows %q", got)
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// storesLeft lists the origin's IndexedDB databases, caches, service
// worker registrations and localStorage keys.
const storesLeft = `(async () => JSON.stringify({idb: (await indexedDB.databases()).map((d) => d.name), caches: await caches.keys(),
	workers: (await navigator.serviceWorker.getRegistrations()).length, local: localStorage.length}))()`

// TestAppWrongPINWipe: ten wrong PINs in a row wipe the device: the app
// says so, and indexedDB.databases(), caches.keys(), the service worker
// registrations and localStorage are empty; the next login works (and
// works offline again). A person who forgot the PIN deletes the device's
// data from the lock screen, told first how many changes are unsent.
func TestAppWrongPINWipe(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newAppBrowser(t, chromium, base, 800, 1280)
	b.open("worker.north", "#list .item")
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#unlock-form")))
	for i := 1; i < 9; i++ {
		b.do(fmt.Sprintf("wrong PIN %d", i), chromedp.SendKeys(chromedp.CSS("#pin"), "99999"+fmt.Sprint(i)), chromedp.Click(chromedp.CSS("#unlock-button")))
		b.waitText("#unlock-error", fmt.Sprintf("The PIN is wrong. %d more wrong", 10-i))
	}
	b.do("wrong PIN 9", chromedp.SendKeys(chromedp.CSS("#pin"), "999999"), chromedp.Click(chromedp.CSS("#unlock-button")))
	b.waitText("#unlock-error", "One more wrong PIN and this device deletes all its data.")
	b.do("tenth wrong PIN", chromedp.SendKeys(chromedp.CSS("#pin"), "999990"), chromedp.Click(chromedp.CSS("#unlock-button")),
		chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.waitText("#message", "The PIN was typed wrong too many times, so this device deleted all its data")
	b.view("app-wiped-wrong-pin", "")
	if got, want := b.eval(storesLeft), `{"idb":[],"caches":[],"workers":0,"local":0}`; got != want {
		t.Errorf("after the wipe the origin keeps %s, want %s", got, want)
	}
	b.login("worker.north", "#list .item")

	// A forgotten PIN: the lock screen deletes the device's data on
	// request, after saying what would be lost.
	b.offline(true)
	b.do("new", chromedp.Click(chromedp.CSS(`#nav a[href="#/new"]`)), chromedp.WaitVisible(chromedp.CSS("#new-form")),
		chromedp.SendKeys(chromedp.CSS("#new-code"), "N-APP-ERASE"), chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#indicators")))
	b.do("lock", chromedp.Click(chromedp.CSS("#lock")), chromedp.WaitVisible(chromedp.CSS("#unlock-form")))
	b.do("forgot the PIN", chromedp.Click(chromedp.CSS("#erase")), chromedp.WaitVisible(chromedp.CSS("#erase-confirm")))
	b.waitText("#erase-warning", "changes have not reached the server and will be lost for good.")
	b.view("app-erase", "")
	b.do("delete", chromedp.Click(chromedp.CSS("#erase-confirm")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.waitText("#message", "The data on this device was deleted.")
	if got, want := b.eval(storesLeft), `{"idb":[],"caches":[],"workers":0,"local":0}`; got != want {
		t.Errorf("after deleting without the PIN the origin keeps %s, want %s", got, want)
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// TestAppOutOfContactWipe: a device whose last contact with the server is
// more than 14 days old wipes itself at the unlock, with the right PIN,
// and the app says why. (The contact time is in the keyring, in clear:
// the test moves it back 15 days with raw IndexedDB.)
func TestAppOutOfContactWipe(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newAppBrowser(t, chromium, base, 800, 1280)
	b.open("worker.north", "#list .item")
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#unlock-form")))
	moved := b.eval(`new Promise((ok, ko) => { const r = indexedDB.open("fieldsync-app"); r.onerror = () => ko(r.error);
		r.onsuccess = () => { const tx = r.result.transaction("meta", "readwrite"); const st = tx.objectStore("meta"); const g = st.get("\u0000keyring");
			g.onsuccess = () => { const k = g.result; k.contact = Date.now() - 15 * 86400000; st.put(k, "\u0000keyring"); };
			tx.oncomplete = () => { r.result.close(); ok("moved"); }; tx.onerror = () => ko(tx.error); }; })`)
	if moved != "moved" {
		t.Fatalf("moving the contact time back: %s", moved)
	}
	b.do("unlock", chromedp.SendKeys(chromedp.CSS("#pin"), appPIN), chromedp.Click(chromedp.CSS("#unlock-button")),
		chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.waitText("#message", "This device had not reached the server for more than 14 days, so it deleted all its data")
	b.view("app-wiped-out-of-contact", "")
	if got, want := b.eval(storesLeft), `{"idb":[],"caches":[],"workers":0,"local":0}`; got != want {
		t.Errorf("after the wipe the origin keeps %s, want %s", got, want)
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
