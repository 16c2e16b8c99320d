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
  /** open opens (creating it) the replica database name for device. */
  async open(device, name = "fieldsync", options = {}) {
    const storage = await fs.IndexedDBStorage.open(name);
    replica = await fs.Replica.open({ storage, device, maxDriftMs: 60_000 });
    client = new fs.SyncClient(replica, {
      server: location.origin,
      deviceName: "browser test",
      backoffBaseMs: 5,
      backoffMaxMs: 50,
      maxAttempts: 60,
      ...options,
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
    const start = performance.now();
    const report = await client.sync();
    const ms = performance.now() - start;
    replica.applyPage = apply;
    return ack({ ms, apply_ms: applyMs, report, records: (await replica.ids()).length });
  },

  /** timedWipe times the replica's wipe and lists what the origin keeps afterwards. */
  async timedWipe() {
    const start = performance.now();
    await replica.wipe();
    const ms = performance.now() - start;
    return ack({ ms, idb: (await indexedDB.databases()).map((d) => d.name), caches: await caches.keys() });
  },
};
document.querySelector("#state").textContent = "ready";
window.ready = true;
