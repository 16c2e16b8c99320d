// The browser side of server/browser/sdk_test.go: one replica of the
// TypeScript SDK (the bundle of clients/ts, served as fieldsync.js) on
// IndexedDB, talking to the fieldsync server through this page's origin
// (the test's proxy). The Go test calls window.h's functions with
// Runtime.evaluate; each returns JSON text.
import * as fs from "./fieldsync.js";

let replica;
let client;
const ack = (v) => JSON.stringify(v ?? null);

/** failure turns an error into {name, message, code} for the test. */
function failure(e) {
  return { ok: false, name: e?.name ?? "Error", message: String(e?.message ?? e), code: e?.code ?? e?.reason?.code ?? "" };
}

window.h = {
  /**
   * open opens (creating it) the replica database name for device; with
   * options.pin, encrypted at rest (EncryptedStorage, as Device keeps it,
   * with a cheap PIN derivation: the figure is the pull's, not PBKDF2's).
   */
  async open(device, name = "fieldsync", options = {}) {
    const { pin, ...rest } = options;
    let storage = await fs.IndexedDBStorage.open(name);
    if (pin !== undefined) {
      storage = await fs.EncryptedStorage.open(storage, { lockName: "fieldsync-db:" + name, locks: fs.defaultLocks(), iterations: 1000 });
      await (storage.state === "new" ? storage.setup(pin) : storage.unlock(pin));
    }
    replica = await fs.Replica.open({ storage, device, maxDriftMs: 60_000 });
    client = new fs.SyncClient(replica, {
      server: location.origin,
      deviceName: "browser test",
      backoffBaseMs: 5,
      backoffMaxMs: 50,
      maxAttempts: 60,
      ...rest,
    });
    return ack({ outbox: await replica.outboxSize(), session: replica.session !== undefined });
  },

  /** device returns the id the replica was opened with. */
  device() {
    return ack(replica.device);
  },

  async login(username, password) {
    const user = await client.login(username, password);
    await client.fetchSchema();
    return ack(user);
  },

  /**
   * write applies edits to record id as one local write; a remove of an
   * element the record does not hold is left out (the SDK refuses it).
   */
  async write(id, kind, edits) {
    const r = await replica.get(id);
    const keep = edits.filter((e) => e.action !== "remove" || (r !== undefined && r.elements(e.field).includes(e.value)));
    if (keep.length === 0) {
      return ack([]);
    }
    try {
      return ack((await replica.write(id, kind, keep)).map((op) => op.id));
    } catch (e) {
      return ack(failure(e));
    }
  },

  /** sync runs one sync: {ok, report} or the failure. */
  async sync() {
    try {
      return ack({ ok: true, report: await client.sync() });
    } catch (e) {
      return ack(failure(e));
    }
  },

  /** states returns each record's canonical state, with its history when asked (null when absent). */
  async states(ids, history = false) {
    const out = {};
    for (const id of ids) {
      const r = await replica.get(id);
      out[id] = r === undefined ? null : r.canonical(history ? fs.historyOf(await replica.ops(id)) : undefined);
    }
    return ack(out);
  },

  /** status returns the outbox's op ids, the quarantine and one record's op ids. */
  async status(record) {
    const outbox = (await replica.outboxBatch(1e9, 1e15)).map((p) => p.op.id);
    const quarantine = (await replica.quarantine()).map((q) => ({ id: q.op.id, code: q.code }));
    const ops = record ? (await replica.ops(record)).map((o) => o.id) : [];
    return ack({ outbox, quarantine, ops });
  },

  /** stores lists what the origin keeps: IndexedDB databases and Cache Storage. */
  async stores() {
    return ack({ idb: (await indexedDB.databases()).map((d) => d.name), caches: await caches.keys() });
  },

  /**
   * writeLoop appends n notes to record id one write after another and
   * logs "acked <op id>" once each write resolved (it is then durable);
   * done resolves with the op ids when the loop ends. With leaveAfter,
   * the page starts one more write right after that many acks and leaves
   * at once (a navigation: the document's unfinished transactions abort).
   */
  writeLoop(id, n, label, leaveAfter = 0) {
    const note = (i) => [{ field: "notes", action: "append", value: { text: `${label} ${i}` } }];
    window.loopDone = (async () => {
      const ids = [];
      for (let i = 0; i < n; i++) {
        const [op] = await replica.write(id, "identification", note(i));
        ids.push(op.id);
        console.log("acked " + op.id);
        if (ids.length === leaveAfter) {
          replica.write(id, "identification", note(i + 1)).catch(() => undefined);
          location.replace(location.pathname + "?left");
          return ids;
        }
      }
      return ids;
    })();
    return ack("started");
  },

  /** loopResult waits for writeLoop's end. */
  async loopResult() {
    try {
      return ack({ ok: true, ids: await window.loopDone });
    } catch (e) {
      return ack(failure(e));
    }
  },

  /** latency times n local writes (a set or an append each) to record id: p50 and p99 in ms. */
  async latency(id, n) {
    const t = [];
    for (let i = 0; i < n; i++) {
      const edit = i % 2 === 0
        ? { field: "status", action: "set", value: ["potential", "presumed"][(i >> 1) % 2] }
        : { field: "notes", action: "append", value: { text: `note ${i}` } };
      const start = performance.now();
      await replica.write(id, "identification", [edit]);
      t.push(performance.now() - start);
    }
    t.sort((a, b) => a - b);
    return ack({ n, p50_ms: t[Math.floor(n / 2)], p99_ms: t[Math.floor((n * 99) / 100)] });
  },

  /**
   * timedSync times one sync and counts the records held afterwards;
   * apply_ms is the part spent in the replica's applyPage (IndexedDB and
   * merge), the rest is the network, the server, parsing and decoding.
   */
  async timedSync() {
    const apply = replica.applyPage;
    let applyMs = 0;
    replica.applyPage = async (p) => {
      const t = performance.now();
      try {
        return await apply.call(replica, p);
      } finally {
        applyMs += performance.now() - t;
      }
    };
    const before = { ...(replica.pullTimings ?? {}) };
    const start = performance.now();
    const report = await client.sync();
    const ms = performance.now() - start;
    replica.applyPage = apply;
    const t = replica.pullTimings ?? {};
    const timings = Object.fromEntries(Object.keys(t).map((k) => [k, t[k] - before[k]]));
    return ack({ ms, apply_ms: applyMs, timings, report, records: (await replica.ids()).length });
  },

  /** timedWipe times the replica's wipe and lists what the origin keeps afterwards. */
  async timedWipe() {
    const start = performance.now();
    await replica.wipe();
    const ms = performance.now() - start;
    return ack({ ms, idb: (await indexedDB.databases()).map((d) => d.name), caches: await caches.keys() });
  },

  // The Device layer (sdk_device_test.go): one Device per tab, opened
  // with a PIN, its subscriptions and statuses recorded for the test.

  /**
   * deviceOpen opens the Device of database name (with id device, when
   * given) and sets its PIN up
   * (a new device) or unlocks it with pin: {state} or the failure.
   */
  async deviceOpen(name, pin, device = undefined) {
    try {
      window.dev = await fs.Device.open({
        server: location.origin,
        name,
        device,
        idleLockMs: 0,
        syncIntervalMs: 2_000,
        sync: { deviceName: "browser device test", backoffBaseMs: 5, backoffMaxMs: 200, maxAttempts: 60 },
      });
      window.heard = [];
      window.everSynced = false;
      dev.subscribe((ids) => heard.push(...ids));
      dev.onStatus((s) => (everSynced ||= s.syncing));
      const before = dev.state;
      if (before === "new") {
        await dev.setup(pin);
      } else {
        await dev.unlock(pin);
      }
      return ack({ ok: true, before, state: dev.state });
    } catch (e) {
      return ack(failure(e));
    }
  },

  async deviceLogin(username, password) {
    const user = await dev.login(username, password);
    await dev.fetchSchema();
    return ack(user);
  },

  /** deviceStart starts the tab's sync loop (leader election). */
  deviceStart() {
    dev.start();
    return ack("started");
  },

  /** deviceWrite applies edits to record id as one write: the op ids or the failure. */
  async deviceWrite(id, kind, edits) {
    try {
      return ack((await dev.write(id, kind, edits)).map((op) => op.id));
    } catch (e) {
      return ack(failure(e));
    }
  },

  /**
   * deviceWriteLoop appends n notes, write i to records[i % records.length],
   * one write after another; deviceLoopResult waits for the op ids.
   */
  deviceWriteLoop(records, n, label) {
    window.devLoop = (async () => {
      const ids = [];
      for (let i = 0; i < n; i++) {
        const [op] = await dev.write(records[i % records.length], "identification", [{ field: "notes", action: "append", value: { text: `${label} ${i}` } }]);
        ids.push(op.id);
      }
      return ids;
    })();
    return ack("started");
  },

  async deviceLoopResult() {
    try {
      return ack({ ok: true, ids: await window.devLoop });
    } catch (e) {
      return ack(failure(e));
    }
  },

  /**
   * deviceStatus returns the device's status, whether this tab ever
   * synced, the record ids its subscription heard and the op ids and
   * canonical states of records.
   */
  async deviceStatus(records = []) {
    const st = await dev.status();
    const out = { state: st.state, leader: st.leader, live: st.live, outbox: st.outbox, quarantine: st.quarantine, error: st.error ?? "", everSynced, heard: [...new Set(heard)], ops: {}, states: {} };
    if (st.state === "unlocked") {
      for (const id of records) {
        out.ops[id] = (await dev.ops(id)).map((o) => o.id);
        const r = await dev.get(id);
        out.states[id] = r === undefined ? "" : r.canonical();
      }
    }
    return ack(out);
  },

  /**
   * deviceAttach attaches a File of the bytes b64 (base64), named name, of
   * type type, to record id: {ok, digest, size, media_type, op} or the failure.
   */
  async deviceAttach(id, b64, name, type) {
    try {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const a = await dev.attach(id, new File([bytes], name, { type }));
      const st = await dev.status();
      return ack({ ok: true, ...a, uploads: st.uploads });
    } catch (e) {
      return ack(failure(e));
    }
  },

  /** deviceFetch fetches file digest of record id: {ok, b64, type} or the failure. */
  async deviceFetch(id, digest) {
    try {
      const blob = await dev.fetch(id, digest);
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let bin = "";
      for (const b of bytes) {
        bin += String.fromCharCode(b);
      }
      return ack({ ok: true, b64: btoa(bin), type: blob.type });
    } catch (e) {
      return ack(failure(e));
    }
  },

  /** deviceSync syncs in this tab: {ok} or the failure (a wipe order: WipedError). */
  async deviceSync() {
    try {
      await dev.sync();
      return ack({ ok: true });
    } catch (e) {
      return ack(failure(e));
    }
  },

  /** deviceWipe wipes the device from this tab. */
  async deviceWipe() {
    const ms = await dev.wipe();
    return ack({ ms });
  },

  /** deviceState is the device's state ("wiped" once any tab wiped it). */
  deviceState() {
    return ack(dev.state);
  },

  /** fillOrigin writes what an app keeps beside the SDK: a cache, a localStorage key, another database. */
  async fillOrigin() {
    const c = await caches.open("app-shell");
    await c.put(new Request("/sdk/index.html"), new Response("shell"));
    localStorage.setItem("app", "kept");
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open("app-data", 1);
      req.onupgradeneeded = () => req.result.createObjectStore("s");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    db.close();
    return ack({ idb: (await indexedDB.databases()).map((d) => d.name), caches: await caches.keys(), localStorage: localStorage.length });
  },

  /**
   * holdDatabase opens database name with a raw connection and keeps it
   * open; with closeOnVersionChange it closes when another tab deletes
   * the database (as the SDK's own connection does), else it never does.
   */
  async holdDatabase(name, closeOnVersionChange) {
    window.held = await new Promise((resolve, reject) => {
      const req = indexedDB.open(name);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    window.heldVersionChange = false;
    held.onversionchange = () => {
      heldVersionChange = true;
      if (closeOnVersionChange) {
        held.close();
      }
    };
    return ack("held");
  },

  /**
   * rawScan reads every object store of every IndexedDB database of the
   * origin with raw IndexedDB (bypassing the SDK) and looks for canary in
   * every key and value: in strings, and in the bytes of typed arrays
   * decoded as UTF-8. It counts the values that are envelopes {iv, ct}
   * of bytes and lists those that are not.
   */
  async rawScan(canary) {
    const out = { databases: [], values: 0, envelopes: 0, clear: [], found: [] };
    const dec = new TextDecoder("utf-8", { fatal: false });
    const look = (where, v, depth = 0) => {
      if (typeof v === "string") {
        if (v.includes(canary)) out.found.push(where);
      } else if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
        const b = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
        if (dec.decode(b).includes(canary)) out.found.push(where);
      } else if (v !== null && typeof v === "object" && depth < 20) {
        for (const [k, x] of Object.entries(v)) {
          look(`${where}.${k}`, k, depth + 1);
          look(`${where}.${k}`, x, depth + 1);
        }
      }
    };
    for (const { name } of await indexedDB.databases()) {
      const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      try {
        out.databases.push(name);
        for (const store of db.objectStoreNames) {
          const t = db.transaction(store, "readonly").objectStore(store);
          const [keys, values] = await Promise.all(
            [t.getAllKeys(), t.getAll()].map((req) => new Promise((resolve, reject) => {
              req.onsuccess = () => resolve(req.result);
              req.onerror = () => reject(req.error);
            })),
          );
          keys.forEach((k, i) => {
            const where = `${name}/${store}/${String(k).replace("\u0000", "\\0")}`;
            look(where, k);
            look(where, values[i]);
            out.values++;
            const v = values[i];
            if (v !== null && typeof v === "object" && v.iv instanceof Uint8Array && v.ct instanceof Uint8Array && Object.keys(v).length === 2) {
              out.envelopes++;
            } else {
              out.clear.push(where);
            }
          });
        }
      } finally {
        db.close();
      }
    }
    return ack(out);
  },
};
document.querySelector("#state").textContent = "ready";
window.ready = true;
