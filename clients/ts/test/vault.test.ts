// Encryption at rest on IndexedDB (fake-indexeddb): no plaintext in the
// raw stores, the PIN unlocks and a wrong one is refused clearly, a changed
// PIN re-wraps the key, a locked device refuses reads and writes, an
// overlay transaction is all or nothing and sees its own writes.
import "fake-indexeddb/auto";

import assert from "node:assert/strict";
import { test } from "node:test";

import { IDBFactory } from "fake-indexeddb";

import { Device, EncryptedStorage, Files, type Storage, IndexedDBStorage, KEYRING, type Keyring, LocalLocks, LockedError, MemoryStorage, Replica, SyncClient, WipedError, WrongPinError } from "../src/index.js";
import { FakeServer } from "./fakeserver.js";
import { goSchema } from "./go.js";

const schema = goSchema();
const CANARY = "Canary-Ünïcødé-😀-7c1f";
const R = "33333333-0000-4000-8000-000000000001";
const PIN = "482913";
const FAST = 1000; // PBKDF2 iterations in tests (the default is 600,000)

/** rawDump returns every key and value of every store of database name, as bytes decoded both ways. */
async function rawDump(factory: IDBFactory, name: string): Promise<string> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = factory.open(name);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const parts: string[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array || v instanceof ArrayBuffer) {
      const b = Buffer.from(v instanceof ArrayBuffer ? new Uint8Array(v) : v);
      parts.push(b.toString("utf8"), b.toString("latin1"), b.toString("utf16le"));
    } else if (typeof v === "string") {
      parts.push(v);
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        parts.push(k);
        walk(x);
      }
    } else {
      parts.push(String(v));
    }
  };
  for (let i = 0; i < db.objectStoreNames.length; i++) {
    const store = db.objectStoreNames.item(i)!;
    const t = db.transaction(store, "readonly");
    const [keys, values] = await Promise.all(
      [t.objectStore(store).getAllKeys(), t.objectStore(store).getAll()].map(
        (req) =>
          new Promise<unknown[]>((resolve, reject) => {
            req.onsuccess = () => resolve(req.result as unknown[]);
            req.onerror = () => reject(req.error);
          }),
      ),
    );
    assert.ok(keys!.length > 0 || store === "quarantine", `store ${store} was written`);
    keys!.forEach(walk);
    values!.forEach(walk);
  }
  db.close();
  return parts.join("\n");
}

async function writeCanary(replica: Replica, server: FakeServer, storage: Storage): Promise<void> {
  const client = new SyncClient(replica, { server: "http://fake", fetch: server.fetch });
  await client.login("worker.north", "pw");
  await replica.write(R, "identification", [
    { field: "team", action: "set", value: "7e8a1b2c-0000-4000-8000-000000007ea4" },
    { field: "status", action: "set", value: "potential" },
    { field: "notes", action: "append", value: { text: CANARY } },
  ]);
  await client.sync(); // ops stamped by the server, cursor, last sync
  await replica.write(R, "identification", [{ field: "notes", action: "append", value: { text: CANARY + " (unsent)" } }]); // in the outbox
  await new Files(replica, storage).attach(R, new TextEncoder().encode(`%PDF-1.7 ${CANARY} in a file`)); // queued, in the files store
}

test("the raw IndexedDB stores of an encrypted replica hold no plaintext (and the scan finds it in a clear one)", async () => {
  const factory = new IDBFactory();
  const serverClear = new FakeServer();
  // Control: the same scan on an unencrypted replica finds the canary, the user name and the token.
  const clear = await IndexedDBStorage.open("clear", factory);
  await writeCanary(await Replica.open({ storage: clear, device: "0b5c4c64-2a3e-4c1d-9f0e-0000000000c1", schema }), serverClear, clear);
  clear.close();
  const dumpClear = await rawDump(factory, "clear");
  for (const secret of [CANARY, "worker.north", serverClear.access]) {
    assert.ok(dumpClear.includes(secret), `the control scan finds ${secret}`);
  }

  const server = new FakeServer();
  const inner = await IndexedDBStorage.open("sealed", factory);
  const vault = await EncryptedStorage.open(inner, { lockName: "sealed", locks: new LocalLocks(), iterations: FAST });
  await vault.setup(PIN);
  const replica = await Replica.open({ storage: vault, device: "0b5c4c64-2a3e-4c1d-9f0e-0000000000c2", schema });
  await replica.setSchema(schema);
  await writeCanary(replica, server, vault);
  assert.equal(await replica.outboxSize(), 2);
  vault.close();
  const dump = await rawDump(factory, "sealed");
  for (const secret of [CANARY, "Canary", "worker.north", server.access, server.refresh, "potential", "identification", '"text"']) {
    assert.ok(!dump.includes(secret), `plaintext ${JSON.stringify(secret)} found in the raw stores`);
  }

  // Reopened and unlocked, everything is there.
  const again = await EncryptedStorage.open(await IndexedDBStorage.open("sealed", factory), { lockName: "sealed", locks: new LocalLocks(), iterations: FAST });
  assert.equal(again.state, "locked");
  await again.unlock(PIN);
  const r = await Replica.open({ storage: again, device: "0b5c4c64-2a3e-4c1d-9f0e-0000000000c2" });
  assert.equal((await r.get(R))!.entries("notes").length, 2);
  assert.equal(r.session!.user.username, "worker.north");
  assert.equal(await r.outboxSize(), 2);
  assert.match(await (await new Files(r, again).fetch(new SyncClient(r, { server: "http://fake" }), R, (JSON.parse((await r.get(R))!.entries("attachments")[0]!.value) as { digest: string }).digest)).text(), /in a file/);
  again.close();
});

test("a wrong PIN is refused with a clear error and counted; the right one unlocks and resets the count", async () => {
  const vault = await EncryptedStorage.open(new MemoryStorage(), { lockName: "w", locks: new LocalLocks(), iterations: FAST });
  await vault.setup(PIN);
  await vault.write((tx) => tx.put("records", "a", { secret: CANARY }), "strict");
  vault.lock();
  await assert.rejects(vault.unlock("000000"), (e: unknown) => e instanceof WrongPinError && e.message === "The PIN is wrong." && e.failures === 1);
  await assert.rejects(vault.unlock("0000"), (e: unknown) => e instanceof WrongPinError && e.failures === 2);
  assert.equal(vault.state, "locked");
  await vault.unlock(PIN);
  assert.equal(vault.failures, 0);
  assert.deepEqual(await vault.read((tx) => tx.get("records", "a")), { secret: CANARY });
  await assert.rejects(vault.setup(PIN), /already has a key/);
  await assert.rejects(EncryptedStorage.open(new MemoryStorage(), { lockName: "x", locks: new LocalLocks() }).then((v) => v.setup("12")), /at least 4/);
});

test("changing the PIN re-wraps the same key: the old PIN stops working, the data stays readable", async () => {
  const inner = new MemoryStorage();
  const vault = await EncryptedStorage.open(inner, { lockName: "c", locks: new LocalLocks(), iterations: FAST });
  await vault.setup(PIN);
  await vault.write((tx) => tx.put("ops", "r/1", CANARY), "strict");
  const before = (await inner.read((tx) => tx.get("meta", KEYRING))) as Keyring;
  const cipher = await inner.read((tx) => tx.get("ops", "r/1"));
  await assert.rejects(vault.changePin("999999", "135790"), WrongPinError);
  await vault.changePin(PIN, "135790");
  const after = (await inner.read((tx) => tx.get("meta", KEYRING))) as Keyring;
  assert.notDeepEqual(after.wrapped, before.wrapped);
  assert.notDeepEqual(after.salt, before.salt);
  assert.deepEqual(await inner.read((tx) => tx.get("ops", "r/1")), cipher, "nothing was re-encrypted");
  vault.lock();
  await assert.rejects(vault.unlock(PIN), WrongPinError);
  await vault.unlock("135790");
  assert.equal(await vault.read((tx) => tx.get("ops", "r/1")), CANARY);
});

test("a locked vault refuses reads and writes; a value moved to another key does not decrypt", async () => {
  const inner = new MemoryStorage();
  const vault = await EncryptedStorage.open(inner, { lockName: "l", locks: new LocalLocks(), iterations: FAST });
  await assert.rejects(vault.read((tx) => tx.get("meta", "x")), LockedError, "a new vault has no key");
  await vault.setup(PIN);
  await vault.write(async (tx) => {
    await tx.put("records", "a", 1);
    await tx.put("records", "b", 2);
  }, "strict");
  vault.lock();
  await assert.rejects(vault.read((tx) => tx.get("records", "a")), (e: unknown) => e instanceof LockedError && /locked; unlock it with the PIN/.test((e as Error).message));
  await assert.rejects(vault.write((tx) => tx.put("records", "c", 3), "strict"), LockedError);
  assert.equal(await vault.rawCount("records"), 2, "counts are known while locked");
  await vault.unlock(PIN);
  const a = await inner.read((tx) => tx.get("records", "a"));
  await inner.write((tx) => tx.put("records", "b", a), "strict");
  await assert.rejects(vault.read((tx) => tx.get("records", "b")), /does not decrypt/);
  // Bytes (an attachment's chunk) are sealed as bytes; flipping an envelope's bin flag does not decrypt.
  await vault.write((tx) => tx.put("files", "d/x/0", new Uint8Array([1, 2, 3])), "strict");
  assert.deepEqual(await vault.read((tx) => tx.get("files", "d/x/0")), new Uint8Array([1, 2, 3]));
  const env = (await inner.read((tx) => tx.get("files", "d/x/0"))) as { bin?: true };
  assert.equal(env.bin, true);
  delete env.bin;
  await inner.write((tx) => tx.put("files", "d/x/0", env), "strict");
  await assert.rejects(vault.read((tx) => tx.get("files", "d/x/0")), /does not decrypt/);
});

test("an overlay transaction sees its own writes, lists in key order, and is all or nothing", async () => {
  const vault = await EncryptedStorage.open(new MemoryStorage(), { lockName: "o", locks: new LocalLocks(), iterations: FAST });
  await vault.setup(PIN);
  await vault.write(async (tx) => {
    for (const k of ["b/2", "a/1", "b/1", "c"]) {
      await tx.put("ops", k, k);
    }
  }, "relaxed");
  await vault.write(async (tx) => {
    await tx.delete("ops", "b/1");
    await tx.put("ops", "b/0", "new");
    assert.equal(await tx.get("ops", "b/1"), undefined);
    assert.deepEqual(await tx.list("ops", "b/"), [
      ["b/0", "new"],
      ["b/2", "b/2"],
    ]);
    assert.deepEqual(await tx.list("ops", "", 2), [
      ["a/1", "a/1"],
      ["b/0", "new"],
    ]);
    assert.equal(await tx.count("ops"), 4);
  }, "strict");
  await assert.rejects(
    vault.write(async (tx) => {
      await tx.put("ops", "z", 1);
      throw new Error("boom");
    }, "strict"),
    /boom/,
  );
  assert.deepEqual(
    (await vault.read((tx) => tx.list("ops"))).map(([k]) => k),
    ["a/1", "b/0", "b/2", "c"],
  );
  await assert.rejects(vault.read((tx) => tx.put("ops", "y", 1)), /read transaction cannot write/);
});

test("the maximum of wrong PINs in a row wipes the device", async () => {
  const factory = new IDBFactory();
  const d = await Device.open({ server: "http://fake", name: "pins", indexedDB: factory, locks: new LocalLocks(), channel: null, pinIterations: FAST, maxPinAttempts: 3 });
  await d.setup(PIN);
  d.lock();
  await assert.rejects(d.unlock("111111"), WrongPinError);
  await assert.rejects(d.unlock("222222"), WrongPinError);
  await assert.rejects(d.unlock("333333"), (e: unknown) => e instanceof WipedError && e.reason.code === "wrong_pin");
  assert.equal(d.state, "wiped");
  assert.deepEqual(await factory.databases(), []);
  d.close();
});

test("keyring updates from two tabs never undo each other: one setup wins, a stale contact update keeps a changed PIN", async () => {
  const inner = new MemoryStorage();
  const locks = new LocalLocks();
  const open = () => EncryptedStorage.open(inner, { lockName: "k", locks, iterations: FAST, now: () => 1_000 });
  const [a, b] = [await open(), await open()];
  const setups = await Promise.allSettled([a.setup(PIN), b.setup("111111")]);
  assert.equal(setups.filter((r) => r.status === "fulfilled").length, 1, "a second setup must not replace the first key");
  const winner = setups[0]!.status === "fulfilled" ? a : b;
  const other = winner === a ? b : a;
  const pin = winner === a ? PIN : "111111";
  await winner.write((tx) => tx.put("records", "x", CANARY), "strict");
  await other.unlock(pin);
  await winner.changePin(pin, "135790");
  await other.touchContact(5_000); // other's copy of the keyring predates the change
  const c = await open();
  await assert.rejects(c.unlock(pin), WrongPinError);
  await c.unlock("135790");
  assert.equal(c.lastContact, 5_000);
  assert.equal(await c.read((tx) => tx.get("records", "x")), CANARY);
});
