// otadeck's service worker: keeps the app and every image and manifest the page fetched in the
// Cache API, so that a campaign loaded at the depot runs with no network.
//
// Every GET goes to the network first; a good answer is kept (the app's own files in
// `otadeck-app`, everything else in `otadeck-downloads`) and handed on; with no network, the
// kept copy answers. A new release is fetched as soon as the network is there, so the app never
// runs stale while online. The campaign records live in IndexedDB and are never touched here.

const APP = "otadeck-app";
const DOWNLOADS = "otadeck-downloads";

// The app shell: the page and the files it names (the hashed script, wasm, style and icon).
async function keepShell() {
  const cache = await caches.open(APP);
  const page = await fetch("./", { cache: "no-cache" });
  if (!page.ok) return;
  const html = await page.clone().text();
  await cache.put("./", page);
  const names = [...html.matchAll(/(?:href|src)="([^"]+)"/g)]
    .map((m) => m[1])
    .filter((u) => !u.startsWith("http") && !u.startsWith("data:"));
  await Promise.all(
    names.map(async (u) => {
      const r = await fetch(u);
      if (r.ok) await cache.put(u, r);
    }),
  );
}

self.addEventListener("install", (event) => {
  event.waitUntil(keepShell().catch(() => {}).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

// The app's own files: same origin, outside the demo's sources.
function isApp(url) {
  return url.origin === self.location.origin && !url.pathname.includes("/demo/") && !url.search;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || request.headers.has("range")) return;
  const url = new URL(request.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") return;
  // A navigation is the page itself, whatever its hash.
  const key = request.mode === "navigate" ? new URL("./", self.location).href : request;
  event.respondWith(
    fetch(request).then(
      (answer) => {
        if (answer.ok && (answer.type === "basic" || answer.type === "cors")) {
          const copy = answer.clone();
          event.waitUntil(
            caches.open(isApp(url) ? APP : DOWNLOADS).then((c) => c.put(key, copy)),
          );
        }
        return answer;
      },
      async (error) => {
        const kept = await caches.match(key);
        if (kept) return kept;
        throw error;
      },
    ),
  );
});
