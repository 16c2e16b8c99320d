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

import { IndexedDBStorage, Replica, SyncClient } from "../src/index.js";
import { main } from "../examples/node-device.js";
import { repoRoot } from "./go.js";

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
