// npm run bundle: the browser build of the package, one ES module with
// everything (engine, IndexedDB replica, sync loop), minified, at
// dist/browser/fieldsync.js, and its size as JSON (minified and gzipped at
// level 9): issue 14's goal is at most 30 KB gzipped for the engine and the
// sync loop together. The browser tests (server/browser, -tags browser)
// load this file.
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
console.log(JSON.stringify({ file: outfile, minified_bytes: bytes.length, gzipped_bytes: gz, gzipped_kb: +(gz / 1024).toFixed(1) }));
