// Attachments (files.ts) against the fake server on the in-memory
// storage: queued with their op across a reload, uploaded before the op
// is pushed, resumed at the acknowledged offset after a cut, refused
// files quarantined with the server's code, downloads resumed with Range
// into a cache bounded in bytes, files dropped with their record.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import { EncryptedStorage, FieldsyncError, FILE_CHUNK, Files, LocalLocks, MemoryStorage, Replica, type Storage, SyncClient, type SyncOptions } from "../src/index.js";
import { FakeServer, json } from "./fakeserver.js";
import { goSchema } from "./go.js";
import { contains, fixture, GPS } from "./photos.js";

const schema = goSchema();
const DEVICE = "0b5c4c64-2a3e-4c1d-9f0e-0000000000fe";
const TEAM = "7e8a1b2c-0000-4000-8000-000000007ea4";
let idN = 0;
const newId = (): string => `00000000-0000-4000-8000-${(++idN).toString(16).padStart(12, "0")}`;
const rec = (n: number): string => `22222222-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** pdf returns a "PDF" of n bytes whose every byte depends on seed. */
function pdf(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  b.set(new TextEncoder().encode("%PDF-1.7\n"));
  return b;
}

/** open opens a replica, its Files and sync client over storage (a page load). */
async function open(storage: Storage, server: FakeServer, o: Partial<SyncOptions> = {}, cacheBytes?: number) {
  const replica = await Replica.open({ storage, device: DEVICE, schema, now: () => 1_800_000_000_000, newId });
  const files = new Files(replica, storage, { uploadChunk: FILE_CHUNK, cacheBytes });
  const client = new SyncClient(replica, { server: "http://fake", fetch: server.fetch, sleep: async () => {}, random: () => 0.5, files, ...o });
  return { replica, files, client };
}

async function setup(cacheBytes?: number) {
  const storage = new MemoryStorage();
  const server = new FakeServer();
  const page = await open(storage, server, {}, cacheBytes);
  await page.client.login("worker.north", "pw");
  return { storage, server, ...page };
}

async function identification(replica: Replica, id: string): Promise<void> {
  await replica.write(id, "identification", [
    { field: "team", action: "set", value: TEAM },
    { field: "status", action: "set", value: "potential" },
  ]);
}

/** patched is the bytes the fake received in PATCH bodies. */
const patched = (server: FakeServer): number => server.seen.filter((s) => s.method === "PATCH").reduce((n, s) => n + s.raw.length, 0);

test("attach queues the stripped photo with its entry; sync uploads it before pushing the op that names it", async () => {
  const { storage, server, replica, files, client } = await setup();
  await identification(replica, rec(1));
  const photo = fixture("phone-6.jpg");
  const a = await files.attach(rec(1), new Blob([photo as BlobPart], { type: "image/jpeg" }), { fileName: "passport.jpg", caption: "Passport, first page" });
  const stripped = fixture("phone-6.stripped.jpg");
  assert.equal(a.digest, sha(stripped), "the digest is of the stripped bytes");
  const [entry] = (await replica.get(rec(1)))!.entries("attachments");
  assert.deepEqual(JSON.parse(entry!.value), { caption: "Passport, first page", digest: a.digest, media_type: "image/jpeg", name: "passport.jpg", size: stripped.length });
  assert.equal(storage.size("files"), 2, "one chunk and the queued upload");
  assert.deepEqual(await files.queued([a.op]), new Set([a.op]));

  await client.sync();
  const blob = server.blobs.get(a.digest)!;
  assert.ok(blob !== undefined && !contains(blob, GPS) && !contains(blob, "CANARY"), "the server holds the photo without its metadata");
  const complete = server.seen.findIndex((s) => s.path.endsWith("/complete"));
  const pushed = server.seen.findIndex((s) => s.path === "/v1/sync/push" && s.body.includes(a.op));
  assert.ok(complete >= 0 && pushed > complete, `the op was pushed (request ${pushed}) before its file was complete (request ${complete})`);
  assert.equal(storage.size("files"), 0, "the queue is empty once the server verified the file");
  assert.equal(await replica.outboxSize(), 0);
});

test("keepMetadata attaches the photo as given", async () => {
  const { server, replica, files, client } = await setup();
  await identification(replica, rec(2));
  const a = await files.attach(rec(2), fixture("phone-6.jpg"), { keepMetadata: true });
  await client.sync();
  assert.ok(contains(server.blobs.get(a.digest)!, GPS), "the control: the opt-out keeps GPS");
});

test("attach strips a HEIC photo and an M4A voice note to the Go SDK's bytes before hashing; keepMetadata keeps them", async () => {
  const { server, replica, files, client } = await setup();
  await identification(replica, rec(13));
  const cases: Array<[string, string, string, string]> = [
    ["phone.heic", "phone.stripped.heic", "image/heic", "CANARY"],
    ["voice.m4a", "voice.stripped.m4a", "audio/mp4", "+48.8577+002.2950/"],
  ];
  for (const [name, strippedName, media, secret] of cases) {
    const a = await files.attach(rec(13), fixture(name));
    assert.equal(a.digest, sha(fixture(strippedName)), `${name}: the digest is not of the Go SDK's stripped bytes`);
    const kept = await files.attach(rec(13), fixture(name), { keepMetadata: true });
    assert.equal(kept.digest, sha(fixture(name)), `${name}: the control: keepMetadata attaches it as given`);
    await client.sync();
    assert.ok(!contains(server.blobs.get(a.digest)!, secret), `${name}: the server holds its location`);
    assert.ok(contains(server.blobs.get(kept.digest)!, secret), `${name}: the control lost its metadata`);
    const entry = (await replica.get(rec(13)))!.entries("attachments").find((e) => JSON.parse(e.value).digest === a.digest)!;
    assert.equal(JSON.parse(entry.value).media_type, media, `${name}: sniffed as another type`);
  }
});

test("a HEIC photo it cannot follow is refused unless keepMetadata (nothing written); with it, attached as given", async () => {
  const { storage, replica, files } = await setup();
  await identification(replica, rec(12));
  const heic = new Uint8Array([0, 0, 0, 0x18, ...new TextEncoder().encode("ftypheic"), 0, 0, 0, 0, ...new TextEncoder().encode("mif1heic"), 9, 9, 9]);
  const outbox = await replica.outboxSize();
  await assert.rejects(files.attach(rec(12), heic, { mediaType: "image/heic" }), (e: unknown) => e instanceof FieldsyncError && e.code === "media_type");
  assert.deepEqual([await replica.outboxSize(), storage.size("files")], [outbox, 0]);
  const a = await files.attach(rec(12), heic, { mediaType: "image/heic", keepMetadata: true });
  assert.equal(a.size, heic.length);
});

test("a cut upload resumes at the acknowledged offset after a reload, re-sending at most the cut chunk", async () => {
  const { storage, server, replica, files, client } = await setup();
  await identification(replica, rec(3));
  const data = pdf(5 * FILE_CHUNK + 1000);
  const a = await files.attach(rec(3), data);
  // The link is cut during the third chunk, after the server stored it
  // (its answer is lost), and stays cut: the sync gives up.
  let patches = 0;
  let passing = false;
  server.always = (req) => {
    if (passing) {
      return undefined;
    }
    if (req.method === "PATCH" && ++patches === 3) {
      passing = true; // the fake's own answer, synchronously
      void server.fetch("http://fake" + req.path, { method: "PATCH", headers: req.headers, body: req.raw as unknown as BodyInit });
      passing = false;
      throw new TypeError("network connection lost");
    }
    if (patches >= 3) {
      throw new TypeError("network unreachable");
    }
    return undefined;
  };
  await assert.rejects(client.sync());
  assert.equal(server.count("/v1/sync/push"), 0, "nothing was pushed before its file");
  const acked = [...server.uploads.values()][0]!.data.length;
  assert.equal(acked, 3 * FILE_CHUNK);

  // A reload: new objects over the same storage.
  server.always = undefined;
  const before = patched(server);
  const seen = server.seen.length;
  const page = await open(storage, server);
  await page.client.sync();
  assert.equal(server.seen.slice(seen).filter((s) => s.method === "HEAD").length, 1, "the offset was asked once");
  const resent = patched(server) - before;
  assert.equal(resent, data.length - acked, "exactly the bytes the server lacked were sent after the reload");
  assert.deepEqual(new Uint8Array(server.blobs.get(a.digest)!), data);
  assert.ok(server.seen.filter((s) => s.method === "PATCH").every((s) => s.headers["Upload-Offset"] !== "0" || s === server.seen.find((x) => x.method === "PATCH")), "never from zero again");
  assert.equal(await page.replica.outboxSize(), 0);
  void files;
  void replica;
});

test("a file the server refuses for good moves its op to the quarantine with the server's code; the rest syncs", async () => {
  const { storage, server, replica, files, client } = await setup();
  await identification(replica, rec(4));
  server.refuseMedia = true;
  const a = await files.attach(rec(4), pdf(1000));
  await replica.write(rec(4), "identification", [{ field: "status", action: "set", value: "presumed" }]);
  const report = await client.sync();
  const q = await replica.quarantine();
  assert.deepEqual(
    q.map((r) => [r.op.id, r.code]),
    [[a.op, "media_type"]],
  );
  assert.equal(report.quarantined, 0, "never pushed");
  assert.ok(!server.log.some((o) => o.id === a.op), "the entry naming a refused file never reached the server");
  assert.equal(server.log.filter((o) => o.record === rec(4)).length, 3, "the other ops were pushed");
  assert.equal(storage.size("files"), 0);
  assert.equal((await replica.get(rec(4)))!.entries("attachments").length, 0);
});

test("a 409 upload_offset on complete is retried (HEAD, resume), never quarantined", async () => {
  const { server, replica, files, client } = await setup();
  await identification(replica, rec(13));
  const a = await files.attach(rec(13), pdf(2000, 9));
  let once = true;
  server.always = (req) => {
    if (req.path.endsWith("/complete") && once) {
      once = false;
      return new Response(JSON.stringify({ error: { code: "upload_offset", message: "Not at its size." } }), { status: 409, headers: { "Upload-Offset": "2000" } });
    }
    return undefined;
  };
  await client.sync();
  assert.deepEqual(await replica.quarantine(), []);
  assert.ok(server.blobs.has(a.digest));
  assert.ok(server.log.some((o) => o.id === a.op));
});

test("a wrong digest (the queued bytes damaged) surfaces as digest_mismatch in the quarantine", async () => {
  const { storage, server, replica, files, client } = await setup();
  await identification(replica, rec(5));
  const a = await files.attach(rec(5), pdf(1000));
  await storage.write(async (tx) => {
    const [k, v] = (await tx.list("files", "b/"))[0]!;
    (v as Uint8Array)[500]! ^= 1;
    await tx.put("files", k, v);
  }, "strict");
  await client.sync();
  assert.deepEqual(
    (await replica.quarantine()).map((r) => [r.op.id, r.code]),
    [[a.op, "digest_mismatch"]],
  );
  assert.equal(server.blobs.size, 0);
});

test("an op attached between the uploads and the push is held until its file is uploaded", async () => {
  const { storage, server, replica } = await setup();
  await identification(replica, rec(6));
  // Another tab attaches right after this sync's uploads found nothing queued.
  class Racing extends Files {
    raced = false;
    override async upload(c: SyncClient, sent: (n: number) => void): Promise<void> {
      await super.upload(c, sent);
      if (!this.raced) {
        this.raced = true;
        await this.attach(rec(6), pdf(900, 7));
      }
    }
  }
  const files = new Racing(replica, storage);
  const client = new SyncClient(replica, { server: "http://fake", fetch: server.fetch, sleep: async () => {}, files });
  await client.sync();
  const digest = sha(pdf(900, 7));
  const complete = server.seen.findIndex((s) => s.path.endsWith("/complete"));
  const pushed = server.seen.findIndex((s) => s.path === "/v1/sync/push" && s.body.includes(digest));
  assert.ok(complete >= 0 && pushed > complete, `the op was pushed (request ${pushed}) before its file was complete (request ${complete})`);
});

test("fetch downloads on demand, resumes a cut download with Range, verifies it and caches it within the bound (LRU by bytes)", async () => {
  const { storage, server, replica, files, client } = await setup(3 * FILE_CHUNK);
  await identification(replica, rec(7));
  const data = [pdf(2 * FILE_CHUNK + 5, 1), pdf(FILE_CHUNK, 2), pdf(FILE_CHUNK + 9, 3)];
  const digests: string[] = [];
  for (const d of data) {
    digests.push((await files.attach(rec(7), d)).digest);
  }
  await client.sync();
  assert.equal(storage.size("files"), 0);

  // The first download is cut after a chunk and a half.
  let cut = true;
  server.always = (req) => {
    if (req.path.includes("/attachments/") && cut) {
      cut = false;
      const blob = server.blobs.get(digests[0]!)!;
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (!sent) {
            sent = true;
            c.enqueue(new Uint8Array(blob.subarray(0, FILE_CHUNK + FILE_CHUNK / 2)));
          } else {
            c.error(new TypeError("connection reset"));
          }
        },
      });
      return new Response(body, { status: 200 });
    }
    return undefined;
  };
  const got = await files.fetch(client, rec(7), digests[0]!);
  assert.deepEqual(new Uint8Array(await got.arrayBuffer()), data[0]);
  const gets = server.seen.filter((s) => s.path.includes("/attachments/"));
  assert.deepEqual(
    gets.map((s) => s.headers.Range ?? ""),
    ["", `bytes=${FILE_CHUNK}-`],
    "resumed after the stored chunk",
  );

  // From the cache: no request.
  const n = server.seen.length;
  assert.deepEqual(new Uint8Array(await (await files.fetch(client, rec(7), digests[0]!)).arrayBuffer()), data[0]);
  assert.equal(server.seen.length, n);

  // Two more files: the least recently used (the first) is evicted to stay within 3 chunks.
  await files.fetch(client, rec(7), digests[1]!);
  await files.fetch(client, rec(7), digests[2]!);
  assert.ok((await files.cachedBytes()) <= 3 * FILE_CHUNK, `cache holds ${await files.cachedBytes()} bytes`);
  const before = server.seen.length;
  await files.fetch(client, rec(7), digests[2]!);
  assert.equal(server.seen.length, before, "the most recent stays cached");
  await files.fetch(client, rec(7), digests[0]!);
  assert.equal(server.seen.length, before + 1, "the least recent was evicted");
});

test("a download that does not match its digest is refused and not kept", async () => {
  const { storage, server, replica, files, client } = await setup();
  await identification(replica, rec(8));
  const a = await files.attach(rec(8), pdf(3000));
  await client.sync();
  server.blobs.get(a.digest)![100]! ^= 1;
  await assert.rejects(files.fetch(client, rec(8), a.digest), /does not match its digest/);
  assert.equal(storage.size("files"), 0);
});

test("a record's files leave the device when a pull drops it; a redacted entry's file is dropped and not_found", async () => {
  const { storage, server, replica, files, client } = await setup();
  await identification(replica, rec(9));
  await identification(replica, rec(10));
  const a = await files.attach(rec(9), pdf(2000, 4));
  const b = await files.attach(rec(10), pdf(2000, 5));
  await client.sync();
  await files.fetch(client, rec(9), a.digest);
  await files.fetch(client, rec(10), b.digest);
  assert.ok(storage.size("files") > 0);
  // rec(10) is queued again (a second file) and cached when its access is lost.
  await files.attach(rec(10), pdf(2000, 6));
  server.drops = [rec(10)];
  server.always = (req) => (req.path.startsWith("/v1/uploads") ? json(503, { error: { code: "unavailable", message: "Down." } }) : undefined);
  await client.sync().catch(() => undefined);
  server.always = undefined;
  server.drops = [rec(10)];
  await client.sync();
  const left = await storage.read((tx) => tx.list("files"));
  assert.deepEqual(
    left.map(([k]) => k).filter((k) => k.includes(rec(10))),
    [],
  );
  assert.ok(left.some(([k]) => k.includes(rec(9))), "the control: the other record's file stays");

  // Redaction (a supervisor's, pulled): the file is dropped and no longer served here.
  const [entry] = (await replica.get(rec(9)))!.entries("attachments");
  server.log.push({ ...server.log.find((o) => o.id === entry!.op)!, id: newId(), action: "redact", base: [entry!.op], value: "null", hlc: server.clock.now(), user: "0b5c4c64-2a3e-4c1d-9f0e-00000000005b" });
  await client.sync().catch((e) => assert.fail(e));
  await assert.rejects(files.fetch(client, rec(9), a.digest), (e: unknown) => e instanceof FieldsyncError && e.code === "not_found");
  assert.equal((await storage.read((tx) => tx.list("files"))).length, 0);
});

test("files at rest are encrypted like every other value, in chunks", async () => {
  const inner = new MemoryStorage();
  const vault = await EncryptedStorage.open(inner, { lockName: "files-test", locks: new LocalLocks(), iterations: 1000 });
  await vault.setup("1234");
  const server = new FakeServer();
  const replica = await Replica.open({ storage: vault, device: DEVICE, schema, newId });
  const files = new Files(replica, vault);
  const client = new SyncClient(replica, { server: "http://fake", fetch: server.fetch, sleep: async () => {}, files });
  await client.login("worker.north", "pw");
  await identification(replica, rec(11));
  const photo = fixture("phone-6.png");
  const canary = new TextEncoder().encode("%PDF-1.7 CANARY-IN-THE-FILE");
  const data = new Uint8Array(3 * FILE_CHUNK);
  data.set(canary);
  data.set(canary, 2 * FILE_CHUNK + 7);
  await files.attach(rec(11), data);
  assert.equal(inner.size("files"), 4, "three chunks and the queued upload");
  const raw = await inner.read((tx) => tx.list("files"));
  for (const [k, v] of raw) {
    const env = v as { ct: Uint8Array };
    assert.ok(env.ct instanceof Uint8Array, k);
    assert.ok(!contains(env.ct, "CANARY"), `${k} holds the file in clear`);
    assert.ok(env.ct.length <= FILE_CHUNK + 16, `${k} is ${env.ct.length} bytes`);
  }
  await client.sync();
  assert.equal(server.blobs.size, 1);
  void photo;
});
