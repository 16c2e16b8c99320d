/**
 * The field app's service worker: it caches the app shell (the files of
 * static/ named in SHELL_FILES) and nothing else. Invariants:
 *
 *  - Only GET requests for the shell under the worker's scope (/app/) are
 *    answered from the cache; everything else, /v1/ above all, goes to the
 *    network untouched and is never stored (records live only in the
 *    SDK's replica).
 *  - An update installs a new cache (named after a digest of the shell)
 *    completely before it activates, then deletes the older shell caches,
 *    and only those: it never touches IndexedDB, so an update never makes
 *    data saved offline unreachable.
 */
/// <reference lib="webworker" />
declare const SHELL_VERSION: string;
declare const SHELL_FILES: string[];

const sw = self as unknown as ServiceWorkerGlobalScope;
const PREFIX = "fieldsync-app-shell-";
const CACHE = PREFIX + SHELL_VERSION;
const scope = new URL("./", sw.location.href);
/** The shell's URLs; the page itself is cached under the scope's URL (/app/). */
const shell = new Set(SHELL_FILES.map((f) => new URL(f === "index.html" ? "./" : f, scope).href));

/** cacheShell fetches the whole shell into this version's cache (all or nothing). */
async function cacheShell(): Promise<void> {
  const c = await caches.open(CACHE);
  await c.addAll([...shell].map((u) => new Request(u, { cache: "no-cache" })));
}

sw.addEventListener("install", (e) => {
  e.waitUntil(cacheShell().then(() => sw.skipWaiting()));
});

// After a logout or a wipe cleared Cache Storage, the page asks for the
// shell again at the next login, so that the next person works offline too.
sw.addEventListener("message", (e) => {
  if (e.data === "cache-shell") {
    e.waitUntil(cacheShell());
  }
});

sw.addEventListener("activate", (e) => {
  e.waitUntil(
    (async () => {
      for (const k of await caches.keys()) {
        if (k.startsWith(PREFIX) && k !== CACHE) {
          await caches.delete(k);
        }
      }
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener("fetch", (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname) || url.pathname.startsWith("/v1/")) {
    return;
  }
  const key = req.mode === "navigate" ? scope.href : url.origin + url.pathname;
  if (!shell.has(key)) {
    return;
  }
  e.respondWith(
    (async () => {
      const hit = await caches.match(key, { cacheName: CACHE });
      return hit ?? fetch(req);
    })(),
  );
});
