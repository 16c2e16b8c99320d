// The local replica and the sync loop against a fake server (fake fetch)
// on the in-memory storage: outbox durability, batches, re-stamping,
// backoff, refresh, wipe, resync, drops, quarantine, gzip.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, LoginRequiredError, MemoryStorage, type Op, opJSON, Replica, SSEParser, type Storage, type StorageTx, SyncClient, type SyncOptions, WipedError } from "../src/index.js";
import { apiErr, FakeServer, USER } from "./fakeserver.js";
import { goSchema } from "./go.js";

const schema = goSchema();
const DEVICE = "0b5c4c64-2a3e-4c1d-9f0e-0000000000de";
let idN = 0;
const newId = (): string => `00000000-0000-4000-8000-${(++idN).toString(16).padStart(12, "0")}`;
const rec = (n: number): string => `11111111-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

async function setup(o: Partial<SyncOptions> = {}) {
  const storage = new MemoryStorage();
  const server = new FakeServer();
  const replica = await Replica.open({ storage, device: DEVICE, schema, now: () => 1_800_000_000_000, newId });
  const sleeps: number[] = [];
  const client = new SyncClient(replica, {
    server: "http://fake",
    fetch: server.fetch,
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
    ...o,
  });
  await client.login("worker.north", "pw");
  return { storage, server, replica, client, sleeps };
}

test("a write is stored with strict durability and queued; sync empties the outbox and adopts re-stamped ops", async () => {
  const { storage, server, replica, client } = await setup();
  const before = storage.strictWrites;
  const [a] = await replica.write(rec(1), "identification", [{ field: "status", action: "set", value: "potential" }]);
  assert.equal(storage.strictWrites, before + 1);
  assert.equal(await replica.outboxSize(), 1);
  server.restamp = true;
  const report = await client.sync();
  assert.equal(report.pushed, 1);
  assert.equal(await replica.outboxSize(), 0);
  const [stored] = await replica.ops(rec(1));
  assert.equal(stored!.hlc, server.log[0]!.hlc);
  assert.notEqual(stored!.hlc, a!.hlc);
  assert.equal(stored!.user, USER.id);
  const r = await replica.get(rec(1));
  assert.equal(r!.hlc, server.log[0]!.hlc, "the record was rebuilt with the server's stamp");
  assert.ok((await replica.lastSync()) !== undefined);
});

test("a write refused locally changes nothing", async () => {
  const { replica } = await setup();
  await assert.rejects(replica.write(rec(2), "identification", [{ field: "status", action: "set", value: "potential" }, { field: "status", action: "set", value: "maybe" }]));
  assert.equal(await replica.outboxSize(), 0);
  assert.equal(await replica.get(rec(2)), undefined);
});

test("push batches by count and by bytes", async () => {
  const { server, replica, client } = await setup({ pushBatch: 2 });
  for (let i = 0; i < 5; i++) {
    await replica.write(rec(10 + i), "identification", [{ field: "status", action: "set", value: "potential" }]);
  }
  await client.sync();
  assert.equal(server.count("/v1/sync/push"), 3);
  assert.equal(server.log.length, 5);

  const b = await setup({ pushBytes: 10 });
  for (let i = 0; i < 3; i++) {
    await b.replica.write(rec(20 + i), "identification", [{ field: "status", action: "set", value: "potential" }]);
  }
  await b.client.sync();
  assert.equal(b.server.count("/v1/sync/push"), 3, "each op over the byte budget travels alone");
});

test("transient failures are retried with backoff and jitter, and Retry-After is honoured", async () => {
  const { server, replica, client, sleeps } = await setup({ backoffBaseMs: 100, backoffMaxMs: 1000 });
  await replica.write(rec(3), "identification", [{ field: "status", action: "set", value: "potential" }]);
  server.scripts.push(() => apiErr(503, "unavailable"));
  server.scripts.push(() => {
    throw new TypeError("fetch failed");
  });
  server.scripts.push(() => new Response('{"error":{"code":"rate_limited","message":"Slow down."}}', { status: 429, headers: { "Retry-After": "3" } }));
  await client.sync();
  assert.deepEqual(sleeps, [75, 150, 3000]);
  assert.equal(await replica.outboxSize(), 0);
  const r = Array.from({ length: 200 }, (_, i) => new SyncClient(replica, { server: "x", random: () => i / 199, backoffBaseMs: 100, backoffMaxMs: 1000 }).delay(3));
  assert.ok(Math.min(...r) === 400 && Math.max(...r) === 800, "retry 3 waits in [d/2, d], d = 800");
});

test("sync gives up after maxAttempts failures in a row and keeps the outbox", async () => {
  const { server, replica, client } = await setup({ maxAttempts: 3 });
  await replica.write(rec(4), "identification", [{ field: "status", action: "set", value: "potential" }]);
  for (let i = 0; i < 3; i++) {
    server.scripts.push(() => apiErr(500, "internal"));
  }
  await assert.rejects(client.sync(), (e: unknown) => e instanceof ApiError && e.status === 500);
  assert.equal(await replica.outboxSize(), 1);
});

test("401 token_expired refreshes the session once and retries", async () => {
  const { server, replica, client } = await setup();
  await replica.write(rec(5), "identification", [{ field: "status", action: "set", value: "potential" }]);
  server.access = "rotated-by-time"; // the device's token no longer works
  server.refresh = "refresh-1";
  await client.sync();
  assert.equal(server.count("/v1/auth/refresh"), 1);
  assert.equal(replica.session!.access_token, server.access);
  assert.equal(await replica.outboxSize(), 0);
});

test("a refused refresh ends the session and keeps local data", async () => {
  const { server, replica, client } = await setup();
  await replica.write(rec(6), "identification", [{ field: "status", action: "set", value: "potential" }]);
  server.access = "other";
  server.refresh = "other";
  await assert.rejects(client.sync(), LoginRequiredError);
  assert.equal(await replica.outboxSize(), 1);
  assert.equal(replica.session!.access_token, undefined);
  assert.equal(replica.session!.user.id, USER.id);
});

for (const code of ["token_reused", "device_revoked", "grant_expired", "account_disabled"]) {
  test(`${code} with wipe erases the replica, unsynced changes included, and reports it`, async () => {
    const { server, replica, client, storage } = await setup();
    await replica.write(rec(7), "identification", [{ field: "status", action: "set", value: "potential" }]);
    server.scripts.push(() => apiErr(401, code, true));
    await assert.rejects(client.sync(), (e: unknown) => e instanceof WipedError && e.reason.code === code);
    assert.ok(replica.isWiped);
    for (const s of ["records", "ops", "outbox", "meta"] as const) {
      assert.equal(storage.size(s), 0, s);
    }
  });
}

test("410 resync_required pulls everything again and removes records not delivered, keeping unsent ones", async () => {
  const { server, replica, client } = await setup();
  await replica.write(rec(8), "identification", [{ field: "status", action: "set", value: "potential" }]);
  await client.sync();
  // The server forgets rec(8) (e.g. the device lost access while its history was compacted).
  server.log = [];
  server.minCursor = 2;
  await replica.write(rec(9), "identification", [{ field: "status", action: "set", value: "presumed" }]);
  const report = await client.sync();
  assert.equal(report.resynced, true);
  assert.deepEqual(await replica.ids(), [rec(9)]);
});

test("a drop after a retried push removes the record and its ops", async () => {
  const { server, replica, client } = await setup();
  await replica.write(rec(11), "identification", [{ field: "status", action: "set", value: "potential" }]);
  await client.sync();
  await replica.write(rec(11), "identification", [{ field: "sex", action: "set", value: "female" }]);
  server.scripts.push((req) => (req.path.startsWith("/v1/sync/push") ? apiErr(503, "unavailable") : undefined));
  server.drops = [rec(11)];
  await client.sync().catch(() => undefined);
  // push failed once, then succeeded on retry; pull then dropped the record
  assert.equal(await replica.get(rec(11)), undefined);
  assert.deepEqual(await replica.ops(rec(11)), []);
});

test("a drop before the push quarantines the unsent op as forbidden", async () => {
  const { server, replica, client } = await setup();
  await replica.write(rec(12), "identification", [{ field: "status", action: "set", value: "potential" }]);
  await client.sync();
  const [op] = await replica.write(rec(12), "identification", [{ field: "sex", action: "set", value: "female" }]);
  server.drops = [rec(12)];
  // The push is refused for good with a code that does not quarantine; then pull drops.
  await replica.applyPage({ ops: [], cursor: String(server.log.length), more: false, drop: server.drops.splice(0), server: "" });
  const q = await replica.quarantine();
  assert.deepEqual(
    q.map((r) => [r.op.id, r.code]),
    [[op!.id, "forbidden"]],
  );
  assert.equal(await replica.outboxSize(), 0);
  assert.equal(await replica.get(rec(12)), undefined);
});

test("a drop retention erased deletes the record and its unsent ops (not quarantined); both drops are acknowledged once", async () => {
  const { server, replica, client } = await setup();
  await replica.write(rec(13), "identification", [{ field: "status", action: "set", value: "potential" }]);
  await replica.write(rec(14), "identification", [{ field: "status", action: "set", value: "potential" }]);
  await client.sync();
  // Offline, the device writes to both; the server then erases rec(13)
  // (retention) and the device loses access to rec(14).
  await replica.write(rec(13), "identification", [{ field: "sex", action: "set", value: "female" }]);
  await replica.write(rec(14), "identification", [{ field: "sex", action: "set", value: "male" }]);
  await replica.applyPage({ ops: [], cursor: String(server.log.length), more: false, drop: [rec(13), rec(14)], erased: [rec(13)], server: "" });
  assert.equal(await replica.get(rec(13)), undefined);
  assert.equal(await replica.get(rec(14)), undefined);
  assert.deepEqual(await replica.ops(rec(13)), []);
  const q = await replica.quarantine();
  assert.deepEqual(
    q.map((r) => [r.op.record, r.code]),
    [[rec(14), "forbidden"]],
    "the record whose access was lost keeps its unsent op, quarantined; the erased one leaves nothing",
  );
  assert.equal(await replica.outboxSize(), 0);
  await client.sync();
  assert.deepEqual([...server.acknowledged].sort(), [rec(13), rec(14)].sort());
  await client.sync();
  assert.equal(server.acknowledged.length, 2, "an acknowledged drop is not sent again");
});

test("an op rejected record_erased deletes the record here instead of quarantining, and is acknowledged", async () => {
  const { server, replica, client } = await setup();
  await replica.write(rec(15), "identification", [{ field: "status", action: "set", value: "potential" }]);
  await client.sync();
  await replica.write(rec(15), "identification", [{ field: "sex", action: "set", value: "female" }]);
  server.erasedRecords.add(rec(15));
  await client.sync();
  assert.equal(await replica.get(rec(15)), undefined);
  assert.deepEqual(await replica.ops(rec(15)), []);
  assert.deepEqual(await replica.quarantine(), []);
  assert.equal(await replica.outboxSize(), 0);
  assert.deepEqual(server.acknowledged, [rec(15)]);
});

test("rejected ops go to the quarantine (listable, dismissable) and out of the local state", async () => {
  const { server, replica, client } = await setup();
  server.rejectField = "review_status";
  await replica.write(rec(13), "identification", [
    { field: "status", action: "set", value: "potential" },
    { field: "review_status", action: "set", value: "reviewed" },
  ]);
  assert.equal((await replica.get(rec(13)))!.value("review_status"), "reviewed");
  const report = await client.sync();
  assert.equal(report.quarantined, 1);
  const q = await replica.quarantine();
  assert.equal(q.length, 1);
  assert.equal(q[0]!.code, "forbidden");
  assert.equal(q[0]!.op.field, "review_status");
  assert.ok(q[0]!.message.length > 0);
  assert.equal((await replica.get(rec(13)))!.value("review_status"), undefined, "the rejected op no longer counts");
  await assert.rejects(replica.dismiss([q[0]!.op.id, newId()]));
  assert.equal((await replica.quarantine()).length, 1, "nothing is dismissed unless every id is quarantined");
  await replica.dismiss([q[0]!.op.id]);
  assert.deepEqual(await replica.quarantine(), []);
});

test("a push refused as a whole is halved until the culprit travels alone, which is quarantined", async () => {
  const { server, replica, client } = await setup();
  const ops = [];
  for (let i = 0; i < 4; i++) {
    ops.push(...(await replica.write(rec(30 + i), "identification", [{ field: "status", action: "set", value: "potential" }])));
  }
  const culprit = ops[2]!.id;
  const refuse = (req: { path: string; body: string }) => (req.path === "/v1/sync/push" && req.body.includes(culprit) ? apiErr(413, "body_too_large") : undefined);
  server.always = refuse;
  await client.sync();
  assert.equal(server.log.length, 3);
  assert.deepEqual(
    (await replica.quarantine()).map((q) => [q.op.id, q.code]),
    [[culprit, "body_too_large"]],
  );
});

test("push bodies of 1 KiB or more are gzipped; others, login and pull are not", async () => {
  const { server, replica, client } = await setup();
  await replica.write(rec(40), "identification", [{ field: "notes", action: "append", value: { text: "x".repeat(2000) } }]);
  await client.sync();
  const push = server.seen.find((s) => s.path === "/v1/sync/push")!;
  assert.equal(push.gzip, true);
  assert.equal(push.headers["Accept-Encoding"], "gzip");
  assert.ok(server.seen.filter((s) => s.path !== "/v1/sync/push").every((s) => !s.gzip));
  assert.equal(server.log.length, 1);
});

test("pulled ops of other devices are merged; concurrent syncs share one run", async () => {
  const { server, replica, client } = await setup();
  const other = await setup();
  await other.replica.write(rec(50), "identification", [{ field: "status", action: "set", value: "presumed" }]);
  server.log.push(...(await other.replica.ops(rec(50))));
  const [a, b] = await Promise.all([client.sync(), client.sync()]);
  assert.equal(a, b);
  assert.equal(server.count("/v1/sync/pull"), 1);
  assert.equal((await replica.get(rec(50)))!.value("status"), "presumed");
  assert.equal((await replica.get(rec(50)))!.canonical(), (await other.replica.get(rec(50)))!.canonical());
});

test("a quarantined op is fixed as a new op with a new id and the current base; a refused fix keeps it quarantined", async () => {
  const { server, replica, client } = await setup();
  server.rejectField = "sex";
  const [mine] = await replica.write(rec(60), "identification", [{ field: "sex", action: "set", value: "female" }]);
  await client.sync();
  assert.deepEqual((await replica.quarantine()).map((q) => q.op.id), [mine!.id]);
  // Meanwhile another device sets the field; this device pulls it.
  const other = await setup();
  const [theirs] = await other.replica.write(rec(60), "identification", [{ field: "sex", action: "set", value: "male" }]);
  server.log.push(theirs!);
  await client.sync();
  await assert.rejects(replica.fix(mine!.id, { value: "not-a-sex" }), (e: unknown) => (e as { code?: string }).code === "invalid_value");
  assert.equal((await replica.quarantine()).length, 1, "a refused fix drops nothing");
  await assert.rejects(replica.fix(newId()), /not in the quarantine/);
  const fixed = await replica.fix(mine!.id);
  assert.notEqual(fixed.id, mine!.id);
  assert.deepEqual(fixed.base, [theirs!.id], "the fix covers the current state");
  assert.equal(fixed.value, '"female"');
  assert.deepEqual(await replica.quarantine(), []);
  assert.equal(await replica.outboxSize(), 1);
  server.rejectField = "";
  await client.sync();
  assert.equal((await replica.get(rec(60)))!.value("sex"), "female");
  assert.ok(server.log.some((o) => o.id === fixed.id));
});

test("a visitor's identification (write without read) is removed locally once the server has all its ops", async () => {
  const { server, replica, client } = await setup({ pushBatch: 1, maxAttempts: 1 });
  server.user = { ...USER, role: "visitor" };
  await client.login("worker.north", "pw"); // the same user id, now a visitor
  const [a] = await replica.write(rec(70), "identification", [{ field: "status", action: "set", value: "potential" }]);
  await replica.write(rec(70), "identification", [{ field: "sex", action: "set", value: "female" }]);
  // The first op is acknowledged, the second push fails: the record stays while it has unsent ops.
  server.always = (req) => (req.path === "/v1/sync/push" && !req.body.includes(a!.id) ? apiErr(503, "unavailable") : undefined);
  await assert.rejects(client.sync());
  server.always = undefined;
  assert.equal(await replica.outboxSize(), 1);
  assert.notEqual(await replica.get(rec(70)), undefined);
  await client.sync();
  assert.equal(await replica.outboxSize(), 0);
  assert.equal(await replica.get(rec(70)), undefined, "the record is gone once acknowledged");
  assert.deepEqual(await replica.ops(rec(70)), []);
  assert.equal(server.log.length, 2);
});

test("SSEParser splits events on LF, CR and CRLF, across chunks, skipping comments", () => {
  const p = new SSEParser();
  assert.deepEqual(p.push(": connected\n\nevent: chan"), []);
  assert.deepEqual(p.push("ges\r\ndata: {}\r\n\r"), []);
  assert.deepEqual(p.push("\nevent:shutdown\rdata: {}\r\r: keep-alive\n\ndata: x\n\n"), ["changes", "shutdown", "message"]);
});

test("a client whose tokens another tab rotated uses the stored ones instead of refreshing twice", async () => {
  const { storage, server, replica, client } = await setup();
  const other = await Replica.open({ storage, device: DEVICE, schema, newId });
  const otherClient = new SyncClient(other, { server: "http://fake", fetch: server.fetch, sleep: async () => {}, random: () => 0.5 });
  server.access = "expired-meanwhile";
  await client.sync(); // this tab refreshes: the stored session has the new pair
  assert.equal(server.count("/v1/auth/refresh"), 1);
  assert.notEqual(other.session!.access_token, replica.session!.access_token, "the other tab's copy is stale");
  await other.write(rec(80), "identification", [{ field: "status", action: "set", value: "potential" }]);
  await otherClient.sync();
  assert.equal(server.count("/v1/auth/refresh"), 1, "no second refresh with a spent refresh token");
  assert.equal(server.log.length, 1);
});

/** counting wraps a Storage and counts its transactions' gets and lists per store. */
function counting(inner: MemoryStorage): { storage: Storage; gets: Map<string, number>; lists: Map<string, number> } {
  const gets = new Map<string, number>();
  const lists = new Map<string, number>();
  const bump = (m: Map<string, number>, s: string): void => void m.set(s, (m.get(s) ?? 0) + 1);
  const wrap = (tx: StorageTx): StorageTx => ({
    get: (s, k) => (bump(gets, s), tx.get(s, k)),
    put: (s, k, v) => tx.put(s, k, v),
    delete: (s, k) => tx.delete(s, k),
    list: (s, p, l) => (bump(lists, s), tx.list(s, p, l)),
    count: (s) => tx.count(s),
  });
  const storage: Storage = {
    read: (fn) => inner.read((tx) => fn(wrap(tx))),
    write: (fn, d) => inner.write((tx) => fn(wrap(tx)), d),
    wipe: () => inner.wipe(),
    close: () => inner.close(),
  };
  return { storage, gets, lists };
}

test("a pulled page of records this device does not hold is applied without a read per op, to the same states", async () => {
  const other = await setup();
  const ops: Op[] = [];
  for (let r = 0; r < 3; r++) {
    await other.replica.write(rec(70 + r), "identification", [{ field: "status", action: "set", value: "potential" }, { field: "sex", action: "set", value: "female" }]);
    await other.replica.write(rec(70 + r), "identification", [{ field: "notes", action: "append", value: { text: `note ${r}` } }]);
  }
  const notes = (await other.replica.ops(rec(70))).find((op) => op.field === "notes")!;
  await other.replica.write(rec(70), "identification", [{ field: "notes", action: "redact", target: notes.id }]);
  for (let r = 0; r < 3; r++) {
    ops.push(...(await other.replica.ops(rec(70 + r))));
  }
  const c = counting(new MemoryStorage());
  const replica = await Replica.open({ storage: c.storage, device: DEVICE, schema, now: () => 1_800_000_000_000, newId });
  c.gets.clear();
  c.lists.clear();
  await replica.applyPage({ ops, cursor: "1", more: false, drop: [], server: "" });
  assert.equal(c.gets.get("ops"), 3, "one read per record, none per op");
  assert.equal(c.lists.get("ops") ?? 0, 0, "no range read for a record not held");
  assert.equal(c.gets.get("records") ?? 0, 0, "no read of the state of a record not held");
  for (let r = 0; r < 3; r++) {
    assert.equal((await replica.get(rec(70 + r)))!.canonical(), (await other.replica.get(rec(70 + r)))!.canonical());
    assert.equal((await replica.ops(rec(70 + r))).length, (await other.replica.ops(rec(70 + r))).length);
  }
  // Pulled again (a page whose cursor was lost): the records are held now, nothing changes.
  await replica.applyPage({ ops, cursor: "1", more: false, drop: [], server: "" });
  assert.equal((await replica.get(rec(70)))!.canonical(), (await other.replica.get(rec(70)))!.canonical());
});

test("the stored ops of a record not held are found when a page redacts one of them", async () => {
  const other = await setup();
  await other.replica.write(rec(80), "identification", [{ field: "notes", action: "append", value: { text: "said too much" } }]);
  const [note] = await other.replica.ops(rec(80));
  await other.replica.write(rec(80), "identification", [{ field: "notes", action: "redact", target: note!.id }]);
  const redact = (await other.replica.ops(rec(80))).find((op) => op.action === "redact")!;
  const { storage, replica } = await setup();
  // An op kept without its record (as a version that could not merge it left it).
  await storage.write((tx) => tx.put("ops", `${rec(80)}/`, { sealed: 0, ids: [note!.id], ops: [opJSON(note!)] }), "strict");
  await replica.applyPage({ ops: [redact], cursor: "1", more: false, drop: [], server: "" });
  const stored = (await replica.ops(rec(80))).find((op) => op.id === note!.id)!;
  assert.equal(stored.value, "null", "the stored target was redacted");
});

test("the next pull page is fetched while the current one is stored, and the cursor only advances with its page", async () => {
  const { server, replica, client } = await setup({ pullLimit: 1 });
  const other = await setup();
  for (let i = 0; i < 3; i++) {
    await other.replica.write(rec(90 + i), "identification", [{ field: "status", action: "set", value: "presumed" }]);
    server.log.push(...(await other.replica.ops(rec(90 + i))));
  }
  const apply = replica.applyPage.bind(replica);
  const seen: number[] = [];
  let fail = false;
  replica.applyPage = async (p) => {
    seen.push(server.count("/v1/sync/pull"));
    if (fail && p.cursor === "2") {
      throw new Error("disk full");
    }
    return apply(p);
  };
  fail = true;
  await assert.rejects(client.sync(), /disk full/);
  assert.equal(await replica.cursor(), "1", "the failed page's cursor is not stored");
  assert.equal(await replica.get(rec(91)), undefined);
  fail = false;
  seen.length = 0;
  await client.sync();
  assert.equal(await replica.cursor(), "3");
  const pulls = server.count("/v1/sync/pull");
  assert.deepEqual(seen, [pulls, pulls], "the first page was applied while the last was fetched");
  for (let i = 0; i < 3; i++) {
    assert.equal((await replica.get(rec(90 + i)))!.value("status"), "presumed");
  }
});
