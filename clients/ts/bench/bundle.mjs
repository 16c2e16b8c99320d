// npm run bundle: the browser build of the package, one ES module with
// everything (engine, IndexedDB replica, sync loop), minified, at
// dist/browser/fieldsync.js, and its size as JSON (minified and gzipped at
// level 9): issue 14's goal is at most 30 KB gzipped for the engine and the
// sync loop together. The browser tests (server/browser, -tags browser)
// load this file. strip_gzipped_bytes is the attachments' metadata
// stripping (strip.ts with heic.ts and mp4.ts, issue 16) bundled alone:
// part of the file, not of the engine and sync loop the goal measures.
// engine_sync_gzipped_bytes is what the goal measures: the engine, the
// replica on IndexedDB and the sync loop (with the attachments they pull
// in) bundled without the web app's Device layer (vault, idle lock, tabs).
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const outfile = "dist/browser/fieldsync.js";
await build({
  entryPoints: ["src/index.ts"],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  legalComments: "none",
  outfile,
  logLevel: "warning",
});
const bytes = readFileSync(outfile);
const gz = gzipSync(bytes, { level: 9 }).length;
const strip = await build({ entryPoints: ["src/strip.ts"], bundle: true, minify: true, format: "esm", target: "es2022", legalComments: "none", write: false });
const stripGz = gzipSync(strip.outputFiles[0].contents, { level: 9 }).length;
const engineSync = await build({
  stdin: {
    contents: ["sync", "replica", "idb", "record", "write"].map((m) => `export * from "./src/${m}.js";`).join("\n"),
    resolveDir: process.cwd(),
    loader: "ts",
  },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  legalComments: "none",
  write: false,
});
const engineSyncGz = gzipSync(engineSync.outputFiles[0].contents, { level: 9 }).length;
console.log(
  JSON.stringify({
    file: outfile,
    minified_bytes: bytes.length,
    gzipped_bytes: gz,
    gzipped_kb: +(gz / 1024).toFixed(1),
    engine_sync_gzipped_bytes: engineSyncGz,
    strip_gzipped_bytes: stripGz,
  }),
);
