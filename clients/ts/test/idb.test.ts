// The IndexedDB storage under Node, on fake-indexeddb (browser end-to-end
// tests in headless Chromium are a later step): the replica survives a
// reopen, a failed transaction changes nothing, wipe deletes the database.
import "fake-indexeddb/auto";

import assert from "node:assert/strict";
import { test } from "node:test";

import { IndexedDBStorage, Replica, SyncClient } from "../src/index.js";
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
