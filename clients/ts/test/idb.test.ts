// The IndexedDB storage under Node, on fake-indexeddb (browser end-to-end
// tests in headless Chromium are a later step): the replica survives a
// reopen, a failed transaction changes nothing, wipe deletes the database.
import "fake-indexeddb/auto";

import assert from "node:assert/strict";
import { test } from "node:test";

import { EncryptedStorage, historyOf, IndexedDBStorage, LocalLocks, opJSON, Replica, type Storage, SyncClient } from "../src/index.js";
import { CHUNK } from "../src/opstore.js";
import { FakeServer } from "./fakeserver.js";
import { goSchema } from "./go.js";

const schema = goSchema();
const DEVICE = "0b5c4c64-2a3e-4c1d-9f0e-0000000000df";
const R = "22222222-0000-4000-8000-000000000001";

test("the IndexedDB replica keeps records, ops, outbox and session across a reopen, and syncs", async () => {
  const name = "fieldsync-test-reopen";
  const server = new FakeServer();
  let storage = await IndexedDBStorage.open(name);
  let replica = await Replica.open({ storage, device: DEVICE, schema });
  await new SyncClient(replica, { server: "http://fake", fetch: server.fetch }).login("worker.north", "pw");
  await replica.write(R, "identification", [
    { field: "status", action: "set", value: "potential" },
    { field: "notes", action: "append", value: { text: "Ë 😀 ﬁ" } },
  ]);
  const want = (await replica.get(R))!.canonical();
  storage.close();

  storage = await IndexedDBStorage.open(name);
  replica = await Replica.open({ storage, device: DEVICE }); // schema from storage? not stored yet
  await assert.rejects(async () => replica.schema, /no schema/);
  await replica.setSchema(schema);
  assert.equal((await replica.get(R))!.canonical(), want);
  assert.equal(await replica.outboxSize(), 2);
  assert.equal(replica.session!.user.username, "worker.north");
  assert.ok(replica.clock.lastIssued() > "0000000000000000", "the clock survives");

  server.restamp = true;
  await new SyncClient(replica, { server: "http://fake", fetch: server.fetch }).sync();
  assert.equal(await replica.outboxSize(), 0);
  assert.deepEqual((await replica.ops(R)).map((o) => o.hlc).sort(), server.log.map((o) => o.hlc).sort());
  storage.close();
  storage = await IndexedDBStorage.open(name);
  replica = await Replica.open({ storage, device: DEVICE });
  assert.equal(replica.schema.kinds !== undefined, true, "the schema is kept for offline use");
  await replica.wipe();
});

test("a failed IndexedDB transaction changes nothing", async () => {
  const storage = await IndexedDBStorage.open("fieldsync-test-abort");
  await storage.write((tx) => tx.put("meta", "a", 1), "strict");
  await assert.rejects(
    storage.write(async (tx) => {
      await tx.put("meta", "a", 2);
      await tx.put("records", "x", { v: 1 });
      throw new Error("boom");
    }, "strict"),
    /boom/,
  );
  assert.equal(await storage.read((tx) => tx.get("meta", "a")), 1);
  assert.equal(await storage.read((tx) => tx.count("records")), 0);
  assert.deepEqual(
    await storage.read(async (tx) => {
      await tx.put("meta", "b", 1);
    }).catch((e: Error) => e.name),
    "ReadOnlyError",
  );
  await storage.wipe();
});

test("list returns a prefix's entries in key order, limited", async () => {
  const storage = await IndexedDBStorage.open("fieldsync-test-list");
  await storage.write(async (tx) => {
    for (const k of ["b/2", "a/1", "b/1", "c", "b/10"]) {
      await tx.put("ops", k, k.toUpperCase());
    }
  }, "relaxed");
  assert.deepEqual(await storage.read((tx) => tx.list("ops", "b/")), [
    ["b/1", "B/1"],
    ["b/10", "B/10"],
    ["b/2", "B/2"],
  ]);
  assert.deepEqual(await storage.read((tx) => tx.list("ops", "", 2)), [
    ["a/1", "A/1"],
    ["b/1", "B/1"],
  ]);
  await storage.wipe();
});

test("wipe deletes the database", async () => {
  const storage = await IndexedDBStorage.open("fieldsync-test-wipe");
  const replica = await Replica.open({ storage, device: DEVICE, schema });
  await replica.setSchema(schema);
  await replica.wipe();
  const names = (await indexedDB.databases()).map((d) => d.name);
  assert.ok(!names.includes("fieldsync-test-wipe"), names.join(","));
  assert.throws(() => storage.read(async () => 1), /closed/);
});

/**
 * toLayout1 rewrites storage's ops store as the previous version kept it
 * (one value "<record>/<op id>" per op, no meta "layout"): the replica an
 * older SDK left on a device.
 */
async function toLayout1(storage: Storage): Promise<number> {
  return storage.write(async (tx) => {
    let n = 0;
    for (const [k, v] of await tx.list("ops")) {
      const record = k.slice(0, k.indexOf("/"));
      await tx.delete("ops", k);
      const c = v as { ids: string[]; ops: string[] };
      for (const [i, id] of c.ids.entries()) {
        await tx.put("ops", `${record}/${id}`, c.ops[i]);
        n++;
      }
    }
    await tx.delete("meta", "layout");
    return n;
  }, "strict");
}

/** view is everything a replica offers to read, as text. */
async function view(replica: Replica): Promise<string> {
  const out: unknown[] = [await replica.ids(), await replica.outboxSize(), await replica.cursor(), await replica.droppedToAcknowledge(100)];
  for (const id of await replica.ids()) {
    out.push((await replica.get(id))!.canonical(historyOf(await replica.ops(id))), (await replica.ops(id)).map(opJSON));
  }
  out.push((await replica.quarantine()).map((q) => [opJSON(q.op), q.code, q.message]));
  out.push((await replica.outboxBatch(1000, 1 << 20)).map((p) => p.raw));
  return JSON.stringify(out);
}

for (const encrypted of [false, true]) {
  test(`a replica of the previous layout (a value per op${encrypted ? ", encrypted" : ""}) opens and reads identically after the upgrade, and keeps working`, async () => {
    const name = `fieldsync-test-migrate-${encrypted}`;
    const locks = new LocalLocks();
    const openStorage = async (): Promise<Storage> => {
      const inner = await IndexedDBStorage.open(name);
      if (!encrypted) {
        return inner;
      }
      const v = await EncryptedStorage.open(inner, { lockName: name, locks, iterations: 1000 });
      await (v.state === "new" ? v.setup("2468") : v.unlock("2468"));
      return v;
    };
    const server = new FakeServer();
    server.restamp = true;
    let storage = await openStorage();
    let replica = await Replica.open({ storage, device: DEVICE, schema });
    const client = new SyncClient(replica, { server: "http://fake", fetch: server.fetch });
    await client.login("worker.north", "pw");
    // A record of more than a chunk of ops (sealed chunks), one synced and re-stamped, one redacted, one quarantined, unsent ops.
    for (let i = 0; i < CHUNK + 20; i++) {
      await replica.write(R, "identification", [{ field: "notes", action: "append", value: { text: `visit ${i} Ë 😀` } }]);
    }
    const R2 = "22222222-0000-4000-8000-000000000002";
    await replica.write(R2, "identification", [{ field: "status", action: "set", value: "potential" }, { field: "sex", action: "set", value: "female" }]);
    await client.sync();
    const note = (await replica.ops(R)).find((o) => o.field === "notes")!;
    await replica.write(R, "identification", [{ field: "notes", action: "redact", target: note.id }]);
    server.rejectField = "sex";
    await replica.write(R2, "identification", [{ field: "sex", action: "set", value: "male" }]);
    await client.sync();
    server.rejectField = "";
    await replica.write(R2, "identification", [{ field: "status", action: "set", value: "presumed" }]);
    assert.equal((await replica.quarantine()).length, 1);
    assert.equal(await replica.outboxSize(), 1);
    const want = await view(replica);
    const moved = await toLayout1(storage);
    assert.ok(moved > CHUNK + 20, `${moved} ops in layout 1`);
    storage.close();

    storage = await openStorage();
    replica = await Replica.open({ storage, device: DEVICE });
    assert.equal(await view(replica), want, "the replica reads identically after the upgrade");
    const keys = await storage.read(async (tx) => (await tx.list("ops")).map(([k]) => k));
    assert.deepEqual(keys, [`${R}/`, `${R}/000001`, `${R2}/`], "no value per op is left");
    await new SyncClient(replica, { server: "http://fake", fetch: server.fetch }).sync();
    assert.equal(await replica.outboxSize(), 0);
    assert.equal((await replica.ops(R2)).filter((o) => o.field === "status").length, 2);
    storage.close();
    storage = await openStorage();
    replica = await Replica.open({ storage, device: DEVICE });
    assert.equal((await replica.ops(R)).length, CHUNK + 21, "a second open migrates nothing");
    await replica.wipe();
  });
}

test("a tab of the previous IndexedDB version is closed when this version opens the database, and cannot open it again", async () => {
  const name = "fieldsync-test-version";
  const old = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore("ops");
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  let closed = false;
  old.onversionchange = () => {
    closed = true;
    old.close();
  };
  const storage = await IndexedDBStorage.open(name);
  assert.ok(closed, "the old tab was told to close");
  const again = await new Promise<string>((resolve) => {
    const req = indexedDB.open(name, 1);
    req.onsuccess = () => resolve("opened");
    req.onerror = () => resolve(req.error?.name ?? "error");
  });
  assert.equal(again, "VersionError");
  await storage.wipe();
});
