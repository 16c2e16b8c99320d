// A runnable example of the Device API against a real server:
//
//   go run ./server/cmd/fieldsync serve --demo --addr 127.0.0.1:8080     # in the repository root
//   cd clients/ts && npm run build && node dist/examples/node-device.js http://127.0.0.1:8080
//
// Node has no IndexedDB, Web Locks or navigator: the example passes
// fake-indexeddb's factory (a dev dependency) and the SDK's LocalLocks. In a
// browser, leave them out: `Device.open({ server })` uses indexedDB,
// navigator.locks, BroadcastChannel, caches, localStorage and
// navigator.storage of the page. test/server.test.ts runs main() against
// the demo server, so this example is kept working.
import { IDBFactory } from "fake-indexeddb";

import { Device, LocalLocks, LockedError } from "../src/index.js";

/** main walks through a device's life: PIN, login, offline write, live sync, quarantine, lock, wipe. */
export async function main(server: string, log: (line: string) => void = console.log): Promise<void> {
  const indexedDB = new IDBFactory();
  const device = await Device.open({
    server,
    indexedDB,
    locks: new LocalLocks(),
    idleLockMs: 5 * 60_000, // lock after 5 minutes without activity
    wipeAfterDays: 14, // wipe when opened 14 days after the server last answered
    pinIterations: 100_000, // the default is 600,000; lowered here so the example starts fast
  });
  log(`state: ${device.state}`); // "new": no PIN yet
  await device.setup("482913"); // the data key is made and wrapped by the PIN

  const user = await device.login("worker.north", "fieldsync-demo");
  await device.fetchSchema(); // kept, encrypted, for offline use
  log(`logged in as ${user.username} (${user.role})`);

  const unsubscribe = device.subscribe((ids) => log(`changed: ${ids.length} record(s)`));

  // A write is durable (and queued) once it resolves, online or not.
  const id = crypto.randomUUID();
  await device.write(id, "identification", [
    { field: "team", action: "set", value: user.teams[0]! },
    { field: "status", action: "set", value: "potential" },
    { field: "notes", action: "append", value: { text: "Met near the station." } },
  ]);
  // A field worker may not redact: the server will reject this op, which lands in the quarantine.
  const [note] = (await device.ops(id)).filter((o) => o.field === "notes");
  await device.write(id, "identification", [{ field: "notes", action: "redact", target: note!.id }]);
  log(`outbox: ${(await device.status()).outbox}`);

  // The sync loop: this tab leads (one tab per database does), syncs now,
  // after writes, on online/visibilitychange, on live events.
  device.start();
  await waitFor(device, (s) => s.outbox === 0 && s.live && !s.syncing);
  const st = await device.status();
  log(`synced: outbox ${st.outbox}, quarantine ${st.quarantine}, live ${st.live}, last sync ${st.lastSync}`);
  for (const q of await device.quarantine()) {
    log(`rejected ${q.op.action} of ${q.op.field}: ${q.code}: ${q.message}`);
    await device.dismiss([q.op.id]); // or device.fix(q.op.id, { value: ... }) to send a corrected op
  }
  log(`record status: ${String((await device.get(id))!.value("status"))}`);

  device.lock();
  try {
    await device.get(id);
  } catch (err) {
    log(`locked: ${err instanceof LockedError ? err.message : String(err)}`);
  }
  await device.unlock("482913");
  log(`unlocked: ${(await device.ids()).length} records held locally`);

  unsubscribe();
  const ms = await device.wipe(); // the key first, then every database, cache and localStorage key
  log(`wiped in ${ms} ms; databases left: ${(await indexedDB.databases()).length}`);
  device.close();
}

async function waitFor(device: Device, ok: (s: Awaited<ReturnType<Device["status"]>>) => boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const s = await device.status();
    if (ok(s)) {
      return;
    }
    if (s.error !== undefined) {
      throw new Error(`sync failed: ${s.error}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the device did not sync within a minute");
}

if (process.argv[1]?.endsWith("node-device.js")) {
  main(process.argv[2] ?? "http://127.0.0.1:8080").catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
