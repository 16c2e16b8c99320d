// The Device API under Node: fake-indexeddb, LocalLocks, BroadcastChannel
// (Node 20 has it), hand-advanced timers and clock, fake Cache Storage,
// localStorage, navigator and event targets; the server is the fake one.
// Idle lock, self-wipe after days out of contact, wipe of every store,
// persistence, sync triggers, live mode, many tabs on one outbox.
import "fake-indexeddb/auto";

import assert from "node:assert/strict";
import { after, test } from "node:test";

import { IDBFactory } from "fake-indexeddb";

import { Device, type DeviceOptions, LocalLocks, LockedError, type Op, WipedError } from "../src/index.js";
import { apiErr, FakeServer } from "./fakeserver.js";
import { goSchema } from "./go.js";
import { FakeCaches, FakeDocument, FakeLocalStorage, FakeTimers, fakeNavigator, until } from "./fakes.js";

const PIN = "482913";
const DAY = 86_400_000;
const rec = (n: number): string => `44444444-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
const status = { field: "status", action: "set" as const, value: "potential" };

interface Env {
  factory: IDBFactory;
  server: FakeServer;
  timers: FakeTimers;
  win: EventTarget;
  doc: FakeDocument;
  nav: ReturnType<typeof fakeNavigator>;
  caches: FakeCaches;
  ls: FakeLocalStorage;
  locks: LocalLocks;
}

const schema = goSchema();

// Every device opened is closed after the tests, failed ones included (an
// open BroadcastChannel or event stream would keep the process alive).
const opened: Device[] = [];
after(() => opened.forEach((d) => d.close()));
async function track(p: Promise<Device>): Promise<Device> {
  const d = await p;
  opened.push(d);
  return d;
}

function env(): Env {
  const server = new FakeServer();
  server.schema = schema;
  return {
    factory: new IDBFactory(),
    server,
    timers: new FakeTimers(),
    win: new EventTarget(),
    doc: new FakeDocument(),
    nav: fakeNavigator(true),
    caches: new FakeCaches(),
    ls: new FakeLocalStorage(),
    locks: new LocalLocks(),
  };
}

function options(e: Env, o: Partial<DeviceOptions> = {}): DeviceOptions {
  return {
    server: "http://fake",
    name: "fieldsync-test",
    fetch: e.server.fetch,
    indexedDB: e.factory,
    locks: e.locks,
    channel: null,
    window: e.win,
    document: e.doc,
    navigator: e.nav,
    caches: e.caches,
    localStorage: e.ls,
    timers: e.timers.timers,
    now: e.timers.clock,
    pinIterations: 1000,
    live: false,
    sync: { sleep: async () => {}, random: () => 0.5 },
    ...o,
  };
}

async function ready(e: Env, o: Partial<DeviceOptions> = {}): Promise<Device> {
  const d = await track(Device.open(options(e, o)));
  await d.setup(PIN);
  await d.login("worker.north", "pw");
  await d.fetchSchema();
  return d;
}

test("the device locks after the idle time, refuses reads and writes while locked, and unlocks with the PIN", async () => {
  const e = env();
  const d = await ready(e, { idleLockMs: 5 * 60_000 });
  await d.write(rec(1), "identification", [status]);
  e.timers.advance(4 * 60_000);
  assert.equal(d.state, "unlocked");
  await d.get(rec(1)); // activity
  e.timers.advance(4 * 60_000);
  assert.equal(d.state, "unlocked", "activity restarted the idle time");
  e.timers.advance(60_001);
  assert.equal(d.state, "locked");
  await assert.rejects(d.get(rec(1)), (err: unknown) => err instanceof LockedError && /unlock it with the PIN/.test((err as Error).message));
  await assert.rejects(d.write(rec(2), "identification", [status]), LockedError);
  await assert.rejects(d.sync(), LockedError);
  const st = await d.status();
  assert.equal(st.locked, true);
  assert.equal(st.outbox, 1, "the outbox size is known while locked");
  assert.equal(st.user, undefined, "nothing decrypted is shown while locked");
  await d.unlock(PIN);
  assert.equal((await d.get(rec(1)))!.value("status"), "potential");
  d.touch();
  e.timers.advance(5 * 60_000 + 1);
  assert.equal(d.state, "locked", "touch() counts as activity and restarts the timer");
  d.close();
});

test("local reads the kept schema, session and records without counting as activity, and is refused while locked", async () => {
  const e = env();
  const d = await ready(e, { idleLockMs: 60_000 });
  await d.write(rec(9), "identification", [status]);
  e.timers.advance(59_000);
  const local = d.local;
  assert.ok(local.schema.kinds.identification, "the schema kept for offline use");
  assert.equal(local.session?.user.username, "worker.north");
  assert.deepEqual(await local.ids(), [rec(9)]);
  assert.equal(await local.outboxSize(), 1);
  e.timers.advance(1_001);
  assert.equal(d.state, "locked", "reads through local are no activity");
  assert.throws(() => d.local, LockedError);
  await d.unlock(PIN);
  assert.equal((await d.local.get(rec(9)))!.value("status"), "potential");
  d.close();
});

test("a device out of contact for more than wipeAfterDays wipes itself when opened", async () => {
  const e = env();
  const d = await ready(e, { wipeAfterDays: 14 });
  await d.write(rec(3), "identification", [status]);
  e.timers.now += 10 * DAY;
  await d.sync(); // contact: day 10
  d.close();
  e.timers.now += 13 * DAY; // day 23, 13 days after the last contact
  const again = await track(Device.open(options(e, { wipeAfterDays: 14 })));
  assert.equal(again.state, "locked");
  again.close();
  e.timers.now += 2 * DAY; // 15 days
  await assert.rejects(track(Device.open(options(e, { wipeAfterDays: 14 }))), (err: unknown) => err instanceof WipedError && err.reason.code === "out_of_contact");
  assert.deepEqual(await e.factory.databases(), []);
});

test("a device out of contact for more than wipeAfterDays wipes itself when unlocked", async () => {
  const e = env();
  const d = await ready(e, { wipeAfterDays: 7 });
  d.lock();
  e.timers.now += 7 * DAY + 1;
  await assert.rejects(d.unlock(PIN), (err: unknown) => err instanceof WipedError && err.reason.code === "out_of_contact");
  assert.equal(d.state, "wiped");
  assert.equal((await d.status()).wiped, "out_of_contact");
  assert.deepEqual(await e.factory.databases(), []);
  d.close();
});

test("wipe destroys the key and every store: IndexedDB databases, Cache Storage, localStorage", async () => {
  const e = env();
  const d = await ready(e);
  await d.write(rec(4), "identification", [status]);
  await new Promise<void>((resolve, reject) => {
    const req = e.factory.open("app-drafts");
    req.onsuccess = () => {
      req.result.close();
      resolve();
    };
    req.onerror = () => reject(req.error);
  });
  await e.caches.open("app-shell-v1");
  await e.caches.open("records-pages");
  e.ls.setItem("fieldsync-last-user", "worker.north");
  assert.equal((await e.factory.databases()).length, 2);
  const ms = await d.wipe();
  assert.ok(ms >= 0);
  assert.deepEqual(await e.factory.databases(), []);
  assert.deepEqual(await e.caches.keys(), []);
  assert.equal(e.ls.length, 0);
  assert.equal(d.state, "wiped");
  await assert.rejects(d.get(rec(4)), WipedError);
  d.close();
});

test("a database deletion blocked by a connection that never closes does not hang the wipe", async () => {
  const e = env();
  const d = await ready(e);
  await e.caches.open("app-shell-v1");
  // Another tab's app code holds its database open and ignores versionchange.
  const held = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = e.factory.open("app-drafts");
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  let asked = false;
  held.onversionchange = () => {
    asked = true;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wiped = await Promise.race([d.wipe().then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5_000)))]);
  clearTimeout(timer);
  const caches = await e.caches.keys();
  const dbs = (await e.factory.databases()).map((db) => db.name);
  held.close(); // the tab lets go: the queued deletion completes (and a hung wipe ends)
  assert.ok(wiped, "wipe() hung on the blocked deletion");
  assert.ok(asked, "the holding connection was not asked to close");
  assert.deepEqual(caches, []);
  assert.deepEqual(dbs, ["app-drafts"]);
  await until(async () => (await e.factory.databases()).length === 0, "the blocked deletion completes");
  d.close();
});

test("wipeScope sdk deletes the SDK's database and only the names the app lists", async () => {
  const e = env();
  const d = await ready(e, { wipeScope: "sdk", cacheNames: ["records-pages"], localStorageKeys: ["fieldsync-last-user"] });
  await e.caches.open("records-pages");
  await e.caches.open("someone-elses");
  e.ls.setItem("fieldsync-last-user", "worker.north");
  e.ls.setItem("theme", "dark");
  await d.wipe();
  assert.deepEqual(await e.factory.databases(), []);
  assert.deepEqual(await e.caches.keys(), ["someone-elses"]);
  assert.deepEqual([...e.ls.m.keys()], ["theme"]);
  d.close();
});

test("a server's wipe order through the device wipes every store", async () => {
  const e = env();
  const d = await ready(e);
  await e.caches.open("records-pages");
  await d.write(rec(5), "identification", [status]);
  e.server.scripts.push(() => apiErr(401, "device_revoked", true));
  await assert.rejects(d.sync(), (err: unknown) => err instanceof WipedError && err.reason.code === "device_revoked");
  assert.deepEqual(await e.factory.databases(), []);
  assert.deepEqual(await e.caches.keys(), []);
  assert.equal((await d.status()).wiped, "device_revoked");
  d.close();
});

test("persistent storage is requested and its answer is in the status", async () => {
  const e = env();
  const d = await ready(e);
  assert.equal(e.nav.persistCalls, 1);
  assert.equal((await d.status()).persisted, true);
  d.close();
  const e2 = env();
  e2.nav = fakeNavigator(false);
  const d2 = await ready(e2);
  const st = await d2.status();
  assert.equal(st.persisted, false, "the app can tell the user the browser may delete the data");
  assert.equal(st.loggedIn, true);
  assert.equal(st.user!.username, "worker.north");
  d2.close();
});

test("the sync loop syncs at start, after writes, on online and on visibilitychange, not while offline", async () => {
  const e = env();
  const d = await ready(e);
  d.start();
  await until(async () => (await d.status()).leader && e.server.count("/v1/sync/pull") >= 1, "the first sync");
  await new Promise((r) => setTimeout(r, 20));
  await until(async () => !(await d.status()).syncing, "the syncs at start done");
  e.win.dispatchEvent(new Event("offline"));
  assert.equal((await d.status()).online, false);
  await d.write(rec(6), "identification", [status]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(e.server.count("/v1/sync/push"), 0, "offline: nothing is sent");
  e.win.dispatchEvent(new Event("online"));
  await until(async () => (await d.status()).outbox === 0, "the outbox sent once online");
  const pulls = e.server.count("/v1/sync/pull");
  e.doc.hide();
  e.doc.show();
  await until(() => e.server.count("/v1/sync/pull") > pulls, "a pull when the page became visible");
  const before = e.server.count("/v1/sync/pull");
  await d.write(rec(7), "identification", [status]);
  await until(() => e.server.count("/v1/sync/pull") > before && e.server.log.length === 2, "a sync after a write");
  d.close();
});

test("live mode: the event stream (re-authenticated on 401) makes the device pull; a broken stream reconnects after backoff", async () => {
  const e = env();
  const d = await ready(e, { live: true });
  const changed: string[] = [];
  d.subscribe((ids) => changed.push(...ids));
  e.server.access = "rotated"; // the stream's first attempt gets 401 token_expired, then refreshes
  d.start();
  await until(async () => (await d.status()).live, "the stream connected");
  assert.ok(e.server.count("/v1/auth/refresh") >= 1);
  const pulls = e.server.count("/v1/sync/pull");
  const other: Op = {
    id: "00000000-0000-4000-8000-0000000000aa",
    record: rec(8),
    kind: "identification",
    field: "status",
    action: "set",
    value: '"presumed"',
    base: [],
    hlc: "0000000000010000",
    device: "0b5c4c64-2a3e-4c1d-9f0e-0000000000ee",
    user: "0b5c4c64-2a3e-4c1d-9f0e-000000000002",
  };
  await until(() => e.server.count("/v1/sync/pull") >= pulls, "settled");
  e.server.log.push(other);
  e.server.emit("event: changes\ndata: {}\n\n");
  await until(() => changed.includes(rec(8)), "the pulled record announced to subscribers");
  assert.equal((await d.get(rec(8)))!.value("status"), "presumed");
  const streams = e.server.count("/v1/sync/events");
  e.server.endStreams();
  await until(async () => !(await d.status()).live, "the stream seen broken");
  assert.equal(e.server.count("/v1/sync/events"), streams, "no reconnection before the backoff");
  e.timers.advance(60_000);
  await until(async () => (await d.status()).live && e.server.count("/v1/sync/events") === streams + 1, "reconnected after the backoff");
  d.close();
});

test("many tabs, one outbox: two tabs writing at once lose nothing and never deadlock; one syncs, the other hears", { timeout: 60_000 }, async () => {
  const e = env();
  const base = { channel: undefined, timers: undefined, sync: { sleep: async () => {}, random: () => 0.5 } };
  const a = await track(Device.open(options(e, base)));
  await a.setup(PIN);
  await a.login("worker.north", "pw");
  await a.fetchSchema();
  const b = await track(Device.open(options(e, base)));
  await b.unlock(PIN);
  const heardByB: string[] = [];
  b.subscribe((ids) => heardByB.push(...ids));
  a.start();
  await until(async () => (await a.status()).leader, "a leads");
  b.start();
  const shared = rec(100);
  const writes: Array<Promise<Op[]>> = [];
  for (let i = 0; i < 20; i++) {
    writes.push(a.write(shared, "identification", [{ field: "notes", action: "append", value: { text: `a${i}` } }]));
    writes.push(b.write(shared, "identification", [{ field: "notes", action: "append", value: { text: `b${i}` } }]));
    writes.push((i % 2 === 0 ? a : b).write(rec(200 + i), "identification", [status]));
  }
  const ops = (await Promise.all(writes)).flat();
  assert.equal(ops.length, 60);
  await until(() => e.server.log.length === 60, "every write reached the server");
  assert.deepEqual(new Set(e.server.log.map((o) => o.id)), new Set(ops.map((o) => o.id)));
  assert.equal((await b.status()).leader, false, "one leader");
  await until(async () => (await a.get(shared))!.entries("notes").length === 40 && (await b.get(shared))!.entries("notes").length === 40, "both tabs see all 40 notes");
  assert.ok(heardByB.includes(rec(200)), "b heard of a's writes over the channel");
  // The leader's tab closes: the other takes over and syncs.
  a.close();
  await until(async () => (await b.status()).leader, "b leads after a closed");
  await b.write(rec(300), "identification", [status]);
  await until(() => e.server.log.length === 61, "b syncs its write");
  // A wipe in one tab wipes the other.
  const c = await track(Device.open(options(e, base)));
  await c.unlock(PIN);
  await c.wipe();
  await until(() => b.state === "wiped", "b hears of the wipe");
  assert.deepEqual(await e.factory.databases(), []);
  b.close();
  c.close();
});

test("the status counts the quarantine; a fix through the device resends and empties it", async () => {
  const e = env();
  const d = await ready(e);
  e.server.rejectField = "sex";
  const [op] = await d.write(rec(9), "identification", [{ field: "sex", action: "set", value: "female" }]);
  await d.sync();
  assert.deepEqual([(await d.status()).quarantine, (await d.status()).outbox], [1, 0]);
  assert.equal((await d.quarantine())[0]!.code, "forbidden");
  e.server.rejectField = "";
  const fixed = await d.fix(op!.id);
  assert.deepEqual([(await d.status()).quarantine, (await d.status()).outbox], [0, 1]);
  await d.sync();
  assert.ok(e.server.log.some((o) => o.id === fixed.id));
  assert.equal((await d.get(rec(9)))!.value("sex"), "female");
  d.close();
});

test("attach through the device: queued while offline and counted in the status (while locked too), uploaded with progress, fetched; a wipe takes the files", async () => {
  const e = env();
  const d = await ready(e, { uploadChunk: 256 * 1024 });
  const id = rec(10);
  await d.write(id, "identification", [{ field: "team", action: "set", value: "7e8a1b2c-0000-4000-8000-000000007ea4" }, status]);
  const bytes = new Uint8Array(600_000);
  bytes.set(new TextEncoder().encode("%PDF-1.7\n"));
  const file = new File([bytes], "consent.pdf", { type: "application/pdf" });
  const a = await d.attach(id, file, { caption: "Signed consent" });
  const entry = JSON.parse((await d.get(id))!.entries("attachments")[0]!.value) as { name: string; caption: string; media_type: string };
  assert.deepEqual([entry.name, entry.caption, entry.media_type], ["consent.pdf", "Signed consent", "application/pdf"]);
  assert.equal((await d.status()).uploads, 1);
  d.lock();
  assert.equal((await d.status()).uploads, 1, "known while locked");
  await d.unlock(PIN);
  const seen: Array<[number, number] | undefined> = [];
  d.onStatus((s) => seen.push(s.upload === undefined ? undefined : [s.upload.sent, s.upload.size]));
  await d.sync();
  await until(() => seen.some((p) => p !== undefined && p[1] === 600_000), "the upload's progress in the status");
  const st = await d.status();
  assert.deepEqual([st.uploads, st.upload, st.outbox], [0, undefined, 0]);
  const got = await d.fetch(id, a.digest);
  assert.equal(got.size, 600_000);
  assert.equal(got.type, "application/pdf");
  await d.wipe();
  assert.deepEqual(await e.factory.databases(), []);
  await assert.rejects(d.fetch(id, a.digest), WipedError);
  d.close();
});
