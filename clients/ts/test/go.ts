// The Go side of the tests: builds server/cmd/fieldsync-merge once per test
// process and talks to one long-lived instance of it over NDJSON.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import type { Schema } from "../src/index.js";

/** The repository root (this file is clients/ts/dist/test/go.js once built). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

/** The golden vectors directory, shared with the Go engine's test. */
export const vectorsDir = join(repoRoot, "sync/crdt/testdata");

let binary: string | undefined;

/** mergeBinary builds fieldsync-merge (once) and returns its path. */
export function mergeBinary(): string {
  if (binary !== undefined) {
    return binary;
  }
  const dir = mkdtempSync(join(tmpdir(), "fieldsync-ts-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, "fieldsync-merge");
  const r = spawnSync("go", ["build", "-o", out, "./server/cmd/fieldsync-merge"], { cwd: repoRoot, encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(`go build ./server/cmd/fieldsync-merge failed: ${r.error?.message ?? r.stderr}`);
  }
  binary = out;
  return out;
}

/** goSchema returns the schema the server serves at GET /v1/schema (model.DefaultSchema). */
export function goSchema(): Schema {
  const r = spawnSync(mergeBinary(), ["-schema"], { encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(`fieldsync-merge -schema failed: ${r.stderr}`);
  }
  return JSON.parse(r.stdout) as Schema;
}

/** GoMerger is one long-lived fieldsync-merge process; cases are answered in order. */
export class GoMerger {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiting: Array<(line: string) => void> = [];
  private stderr = "";

  /** @param args "-hlc" for clock cases (see server/cmd/fieldsync-merge). */
  constructor(args: string[] = []) {
    this.proc = spawn(mergeBinary(), args, { stdio: ["pipe", "pipe", "pipe"] });
    this.proc.stderr.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    createInterface({ input: this.proc.stdout, crlfDelay: Infinity }).on("line", (line) => this.waiting.shift()?.(line));
    this.proc.on("exit", (code) => {
      for (const w of this.waiting.splice(0)) {
        w(`{"exit":${code},"stderr":${JSON.stringify(this.stderr)}}`);
      }
    });
  }

  /** merge sends one case (op texts or bytes, in delivery order) and returns Go's result line. */
  merge(ops: Array<string | Uint8Array>): Promise<string> {
    const line = JSON.stringify(ops.map((o) => (typeof o === "string" ? o : { base64: Buffer.from(o).toString("base64") })));
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.proc.stdin.write(line + "\n");
    });
  }

  /** send writes one raw line and returns Go's answer line. */
  send(line: string): Promise<string> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.proc.stdin.write(line + "\n");
    });
  }

  /** close ends the process. */
  async close(): Promise<void> {
    this.proc.stdin.end();
    await new Promise((r) => this.proc.once("close", r));
  }
}
