// Builds the field app into static/: app.js (the app with the SDK, bundled
// from clients/ts/src through tsconfig's paths) and sw.js (the service
// worker, which names its shell cache after a digest of every shell file,
// so each build that changes the shell is a new cache). The output is
// deterministic: .ci/run rebuilds it and fails when the committed copy
// differs (git diff --exit-code server/app/static).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as esbuild from "esbuild";

const common = { bundle: true, format: "esm", target: "es2022", charset: "utf8", legalComments: "none", minify: true, tsconfig: "tsconfig.json", logLevel: "warning" };

await esbuild.build({ ...common, entryPoints: ["src/main.ts"], outfile: "static/app.js" });

// The shell: every file the service worker caches (static/ less sw.js).
const shell = ["index.html", "app.js", "style.css", "manifest.webmanifest", "icon.svg"];
const digest = createHash("sha256");
for (const f of shell) {
  digest.update(f + "\0").update(readFileSync("static/" + f)).update("\0");
}
const version = digest.digest("hex").slice(0, 16);

await esbuild.build({
  ...common,
  entryPoints: ["src/sw.ts"],
  outfile: "static/sw.js",
  define: { SHELL_VERSION: JSON.stringify(version), SHELL_FILES: JSON.stringify(shell) },
});
console.log(`built static/app.js and static/sw.js (shell ${version})`);
