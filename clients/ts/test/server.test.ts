// Integration with the real Go server: `fieldsync serve --demo` on a free
// loopback port, a demo field worker logs in on a TypeScript replica
// (IndexedDB via fake-indexeddb), writes offline, syncs, and every record
// the replica holds must be byte-identical to GET /v1/records/{id} as the
// server serves it to that user.
import "fake-indexeddb/auto";

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

import { type Fetch, FILE_CHUNK, Files, IndexedDBStorage, Replica, SyncClient } from "../src/index.js";
import { main } from "../examples/node-device.js";
import { repoRoot } from "./go.js";
import { contains, fixture, GPS } from "./photos.js";

const dir = mkdtempSync(join(tmpdir(), "fieldsync-ts-server-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** startServer builds and starts `fieldsync serve --demo` and returns its base URL and a stop function. */
async function startServer(): Promise<{ base: string; stop: () => void }> {
  const bin = join(dir, "fieldsync");
  const b = spawnSync("go", ["build", "-o", bin, "./server/cmd/fieldsync"], { cwd: repoRoot, encoding: "utf8" });
  if (b.status !== 0) {
    throw new Error(`go build ./server/cmd/fieldsync failed: ${b.error?.message ?? b.stderr}`);
  }
  const proc = spawn(bin, ["serve", "--demo", "--data", join(dir, "data"), "--addr", "127.0.0.1:0", "--metrics-addr", ""], {
    env: { ...process.env, FIELDSYNC_ADMIN_PASSWORD: "ts-integration-admin-password" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${log}`)), 120_000);
    proc.stderr.setEncoding("utf8").on("data", (d: string) => {
      log += d;
      const m = /msg="fieldsync serving" addr=(\S+)/.exec(log);
      if (m !== null) {
        clearTimeout(timer);
        resolve("http://" + m[1]);
      }
    });
    proc.on("exit", (code) => reject(new Error(`the server exited (${code}): ${log}`)));
  });
  // SIGKILL: a graceful stop waits for idle keep-alive connections of this
  // process's fetch, and the child's pipe would keep the test process alive.
  return {
    base,
    stop: () => {
      proc.removeAllListeners("exit");
      proc.stderr.destroy();
      proc.kill("SIGKILL");
      proc.unref();
    },
  };
}

test("a TypeScript replica writes offline, syncs with the Go server and holds its state byte for byte", { timeout: 300_000 }, async (t) => {
  const { base, stop } = await startServer();
  t.diagnostic(`server at ${base}`);
  try {
    const storage = await IndexedDBStorage.open("fieldsync-integration");
    const device = crypto.randomUUID();
    const replica = await Replica.open({ storage, device, maxDriftMs: 60_000 });
    const client = new SyncClient(replica, { server: base, deviceName: "ts integration test", pushBatch: 3 });
    const user = await client.login("worker.north", "fieldsync-demo");
    await client.fetchSchema();

    // Offline: three records written, one edited twice, before any sync.
    const team = user.teams[0]!;
    const ids: string[] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    for (const [i, id] of ids.entries()) {
      await replica.write(id, "identification", [
        { field: "team", action: "set", value: team },
        { field: "status", action: "set", value: "potential" },
        { field: "indicators", action: "add", value: "debt_bondage" },
        { field: "notes", action: "append", value: { text: `Met near the station ${i}: Ë ﬁ 😀 <&>` } },
      ]);
    }
    const [note] = (await replica.ops(ids[0]!)).filter((o) => o.field === "notes");
    await replica.write(ids[0]!, "identification", [{ field: "status", action: "set", value: "presumed" }]);
    // A field worker may not redact: the server rejects it, the op goes to the quarantine.
    const [redact] = await replica.write(ids[0]!, "identification", [{ field: "notes", action: "redact", target: note!.id }]);
    assert.equal((await replica.get(ids[0]!))!.entries("notes")[0]!.redacted, true);
    assert.equal(await replica.outboxSize(), 14);

    t.diagnostic("written offline; syncing");
    const report = await client.sync();
    t.diagnostic(`synced: ${JSON.stringify(report)}`);
    const q = await replica.quarantine();
    assert.deepEqual(
      q.map((r) => [r.op.id, r.code]),
      [[redact!.id, "forbidden"]],
    );
    assert.equal(report.quarantined, 1);
    assert.ok(!(await replica.get(ids[0]!))!.entries("notes")[0]!.redacted, "the rejected redaction no longer counts");
    await replica.dismiss([redact!.id]);
    assert.equal(await replica.outboxSize(), 0);
    assert.ok(report.pulled >= 14, `pulled ${report.pulled}`);

    t.diagnostic("quarantine checked");
    const token = replica.session!.access_token!;
    const local = await replica.ids();
    assert.ok(ids.every((id) => local.includes(id)));
    assert.ok(local.length > ids.length, "the demo's team records were pulled too");
    // Every record written here, and the first ten pulled ones (a field
    // worker's reads are audited one durable write each: all of them would be slow).
    const compared = [...ids, ...local.filter((id) => !ids.includes(id)).slice(0, 10)];
    for (const id of compared) {
      const res = await fetch(`${base}/v1/records/${id}`, {
        headers: { Authorization: `Bearer ${token}`, "Accept-Encoding": "gzip" },
        signal: AbortSignal.timeout(60_000),
      });
      assert.equal(res.status, 200, id);
      const served = await res.text();
      assert.equal((await replica.get(id))!.canonical(), served, `record ${id}`);
    }

    t.diagnostic(`${compared.length} records compared`);
    // A second sync has nothing to do, and the state is unchanged.
    const again = await client.sync();
    assert.deepEqual([again.pushed, again.quarantined], [0, 0]);
    t.diagnostic("synced again");
    await replica.wipe();

    // The example of the Device API (encrypted replica, sync loop, live stream) against the same server.
    await main(base, (line) => t.diagnostic(`example: ${line}`));
  } finally {
    stop();
  }
});

test("attachments against the Go server: a cut upload resumes at the acknowledged offset after a reload, GPS is stripped, refused files are quarantined with the server's code", { timeout: 300_000 }, async (t) => {
  const { base, stop } = await startServer();
  try {
    // The link: counts the bytes of every PATCH, and while `down` fails
    // every request; `cutAt` lets the n-th PATCH reach the server and
    // loses its answer, then takes the link down.
    let patchBytes = 0;
    let patches = 0;
    let down = false;
    let cutAt = 3;
    const link: Fetch = async (url, init) => {
      if (down) {
        throw new TypeError("network unreachable");
      }
      if (init.method === "PATCH") {
        patchBytes += (init.body as Uint8Array).length;
        if (++patches === cutAt) {
          await (await fetch(url, init)).arrayBuffer();
          down = true;
          throw new TypeError("connection lost before the answer");
        }
      }
      return fetch(url, init);
    };
    const page = async () => {
      const storage = await IndexedDBStorage.open("fieldsync-files");
      const replica = await Replica.open({ storage, device, maxDriftMs: 60_000 });
      const files = new Files(replica, storage, { uploadChunk: FILE_CHUNK });
      const client = new SyncClient(replica, { server: base, fetch: link, files, maxAttempts: 2, backoffBaseMs: 1, backoffMaxMs: 2 });
      return { storage, replica, files, client };
    };
    const device = crypto.randomUUID();
    let p = await page();
    const user = await p.client.login("worker.north", "fieldsync-demo");
    await p.client.fetchSchema();
    const id = crypto.randomUUID();
    await p.replica.write(id, "identification", [
      { field: "team", action: "set", value: user.teams[0]! },
      { field: "status", action: "set", value: "potential" },
    ]);
    const size = 12 * FILE_CHUNK + 777;
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      data[i] = (i * 2654435761) >>> 24;
    }
    data.set(new TextEncoder().encode("%PDF-1.7\n"));
    const scan = await p.files.attach(id, data, { fileName: "consent.pdf", caption: "Signed consent" });
    const photo = await p.files.attach(id, fixture("phone-6.jpg"), { fileName: "site.jpg" });
    await assert.rejects(p.client.sync());
    const sentBeforeCut = patchBytes;
    t.diagnostic(`cut after ${patches} PATCHes, ${sentBeforeCut} bytes`);
    p.storage.close();

    // A page reload with the link back.
    down = false;
    cutAt = 0;
    p = await page();
    const report = await p.client.sync();
    t.diagnostic(`synced after the reload: ${JSON.stringify(report)}; ${patchBytes} bytes in PATCHes for ${size + fixture("phone-6.stripped.jpg").length} bytes of files`);
    assert.equal(patchBytes, size + fixture("phone-6.stripped.jpg").length, "every byte sent once: the upload resumed at the acknowledged offset, the cut chunk (acknowledged) not re-sent");
    assert.equal(await p.replica.outboxSize(), 0);
    assert.deepEqual(await p.replica.quarantine(), []);

    // Another device of the team downloads both: the scan byte for byte, the photo without GPS.
    const other = await Replica.open({ storage: await IndexedDBStorage.open("fieldsync-files-2"), device: crypto.randomUUID(), maxDriftMs: 60_000 });
    const otherFiles = new Files(other, await IndexedDBStorage.open("fieldsync-files-2"));
    const otherClient = new SyncClient(other, { server: base, files: otherFiles });
    await otherClient.login("worker2.north", "fieldsync-demo");
    await otherClient.fetchSchema();
    await otherClient.sync();
    const gotScan = new Uint8Array(await (await otherFiles.fetch(otherClient, id, scan.digest)).arrayBuffer());
    assert.ok(Buffer.from(gotScan).equals(Buffer.from(data)), "the scan arrived byte for byte");
    const gotPhoto = await otherFiles.fetch(otherClient, id, photo.digest);
    const photoBytes = new Uint8Array(await gotPhoto.arrayBuffer());
    assert.equal(gotPhoto.type, "image/jpeg");
    assert.ok(!contains(photoBytes, GPS) && !contains(photoBytes, "CANARY"), "the photo arrived with its location or maker metadata");
    assert.ok(Buffer.from(photoBytes).equals(Buffer.from(fixture("phone-6.stripped.jpg"))));

    // Refused files: a script claimed to be a PDF, and a file damaged in the queue.
    const html = await p.files.attach(id, new TextEncoder().encode("<html><script>alert(1)</script></html>"), { mediaType: "application/pdf" });
    const damaged = await p.files.attach(id, new TextEncoder().encode("%PDF-1.7 damaged in the queue"));
    await p.storage.write(async (tx) => {
      const key = (await tx.list("files", `b/${id}/${damaged.digest}/`))[0]![0];
      await tx.put("files", key, new TextEncoder().encode("%PDF-1.7 DAMAGED in the queue"));
    }, "strict");
    await p.replica.write(id, "identification", [{ field: "status", action: "set", value: "presumed" }]);
    await p.client.sync();
    const q = (await p.replica.quarantine()).map((r) => [r.op.id, r.code]).sort();
    assert.deepEqual(q, [[html.op, "media_type"], [damaged.op, "digest_mismatch"]].sort());
    assert.equal((await p.replica.get(id))!.value("status"), "presumed", "the rest synced");
    assert.equal(await p.replica.outboxSize(), 0);
    assert.equal((await p.storage.read((tx) => tx.list("files", "u/"))).length, 0);
  } finally {
    stop();
  }
});
