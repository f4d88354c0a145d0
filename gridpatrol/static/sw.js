// GridPatrol service worker: the app shell for corridors with flaky Wi-Fi.
//
// Served at <app root>/sw.js (patrols.service_worker, with Service-Worker-Allowed: / and Cache-Control:
// no-cache) so that its scope is the whole app. What it does:
//   - patrol form pages (/patrols/<id>) and today's list (/today): network first, falling back to the cached
//     copy, so a leader who opened the form online can reload it offline (the draft and the outbox live in
//     IndexedDB, see offline-queue.js). On a network that hangs, the cached copy is shown after a few seconds.
//   - opening today's list online keeps the form of every patrol on it, and its checkpoint table (from the API,
//     /api/v1/sites/<site>/patrols/<id>/checkpoints), for a day without network, and drops yesterday's
//     (sw-today.js); offline, the form's checkpoint lookups (the API's .../checkpoint?code=) are answered from
//     that table (sw-checkpoints.js).
//   - static files (/static/...): from the cache first, refreshed in the background (stale-while-revalidate);
//     the cache is versioned by CACHE_VERSION and old versions are deleted on activation.
//   - never caches anything but GETs of those (and the checkpoint tables): no POST, no other API answers, no
//     photos, no other pages (other pages come from the network; offline, a short bilingual "no network" page
//     is shown instead of the browser's).
//   - logging out (POST /logout) drops the cached pages and tables: the next person on the tablet must not see
//     them.
//   - Background Sync ("gridpatrol-outbox") flushes the outbox even when no page is open, where the browser
//     supports it; the pages flush on their own anyway (online event, page load, every 30 s).
"use strict";

// v4: the form calls the API (/api/v1): its checkpoint tables are kept under their API address; pages (and the
// tables of v3, which the forms kept from then still look up) carried over
var CACHE_VERSION = "v5";
var STATIC_CACHE = "gridpatrol-static-" + CACHE_VERSION;
var PAGE_CACHE = "gridpatrol-pages-" + CACHE_VERSION;
var ROOT = new URL(self.registration.scope).pathname;  // "/" unless the app is mounted below the root
var STATIC_PREFIX = ROOT + "static/";
var NETWORK_GRACE_MS = 6000;  // a page that has not answered by then comes from the cache, if it is there
var SHELL = [
  "static/css/app.css",
  "static/js/app.js",
  "static/js/offline-queue.js",
  "static/js/today-offline.js",
  "static/js/patrol-form-base.js",
  "static/js/patrol-form-draft.js",
  "static/js/patrol-form-photos.js",
  "static/js/patrol-form-scan.js",
  "static/js/patrol-form-location.js",
  "static/js/patrol-form-progress.js",
  "static/js/patrol-form-submit.js",
  "static/js/patrol-form.js",
  "static/vendor/jsQR.js",
  "static/img/icon.svg"
].map(function (path) { return ROOT + path; });

// The outbox code is shared with the pages (it guards everything that needs a document).
try {
  importScripts(ROOT + "static/js/offline-queue.js");
} catch (_e) {
  // Without it there is no Background Sync flush; the pages still flush.
}
try {
  importScripts(ROOT + "static/js/sw-today.js", ROOT + "static/js/sw-checkpoints.js");
} catch (_e) {
  // Without them only the pages a leader opened are kept offline, as before.
}

function isCacheablePage(url) {
  if (url.origin !== self.location.origin) return false;
  var path = url.pathname.slice(ROOT.length - 1);
  // A site's pages start /s/<site>/ (the site's code: letters, digits, dashes, underscores).
  return /^\/s\/[A-Z0-9_-]+\/(patrols\/\d+\/?|today)$/.test(path);
}

function pageKey(url) {
  return url.origin + url.pathname;  // the query (?next=..., ?lang=...) does not make another page
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(STATIC_CACHE).then(function (cache) {
    // One by one: a missing file must not make the whole install fail.
    return Promise.all(SHELL.map(function (url) {
      return fetch(url, {cache: "no-cache", credentials: "same-origin"}).then(function (response) {
        if (response.ok) return cache.put(url, response);
        return null;
      }).catch(function () { return null; });
    }));
  }).then(function () { return self.skipWaiting(); }));
});

// An older version's pages are copied into this version's cache before it is deleted: a form a leader kept
// for offline use (perhaps with a queued patrol) must survive an update of this worker.
function carryPagesOver(oldName) {
  if (oldName.indexOf("gridpatrol-pages-") !== 0) return Promise.resolve();
  return Promise.all([caches.open(oldName), caches.open(PAGE_CACHE)]).then(function (both) {
    return both[0].keys().then(function (requests) {
      return Promise.all(requests.map(function (request) {
        return both[1].match(request).then(function (newer) {
          if (newer) return null;
          return both[0].match(request).then(function (copy) { return copy ? both[1].put(request, copy) : null; });
        });
      }));
    });
  }).catch(function () {});
}

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("gridpatrol-") === 0 && name !== STATIC_CACHE && name !== PAGE_CACHE;
    }).map(function (name) {
      return carryPagesOver(name).then(function () { return caches.delete(name); });
    }));
  }).then(function () { return self.clients.claim(); }));
});

function storePage(url, response) {
  if (!response || !response.ok || response.redirected || response.type !== "basic") return Promise.resolve();
  if (!/text\/html/i.test(response.headers.get("Content-Type") || "")) return Promise.resolve();
  return caches.open(PAGE_CACHE).then(function (cache) { return cache.put(pageKey(url), response); });
}

function offlinePage() {
  var html = "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">" +
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
    "<title>离线 · Offline</title><link rel=\"stylesheet\" href=\"" + ROOT + "static/css/app.css\"></head>" +
    "<body><main class=\"content\"><div class=\"panel\"><h1>网络不可用 · No network</h1>" +
    "<p>这一页没有保存在本机。已提交的巡查记录保存在本机，网络恢复后自动发送。</p>" +
    "<p lang=\"en\">This page is not saved on this tablet. Submitted patrols are kept here and sent when the network is back.</p>" +
    "<p><a class=\"button\" href=\"" + ROOT + "today\">今日巡查 · Today</a></p></div></main></body></html>";
  return new Response(html, {status: 503, headers: {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}});
}

// Network first; the cached copy when the network fails, or when it has not answered within the grace time.
function networkFirstPage(event, url) {
  var storing = Promise.resolve();
  var network = fetch(event.request).then(function (response) {
    storing = storePage(url, response.clone()).catch(function () {});  // cloned before the page reads it
    return response;
  });
  // Registered now, while the event is active: the copy is stored even when the cached page was shown first.
  event.waitUntil(network.then(function () { return storing; }, function () {}));
  var cached = caches.open(PAGE_CACHE).then(function (cache) { return cache.match(pageKey(url)); });
  return new Promise(function (resolve, reject) {
    var settled = false;
    function finish(response) {
      if (!settled) {
        settled = true;
        resolve(response);
      }
    }
    var timer = setTimeout(function () {
      cached.then(function (copy) { if (copy) finish(copy); });
    }, NETWORK_GRACE_MS);
    network.then(function (response) {
      clearTimeout(timer);
      finish(response);
    }, function () {
      clearTimeout(timer);
      cached.then(function (copy) {
        if (copy) finish(copy);
        else if (event.request.mode === "navigate") finish(offlinePage());
        else reject(new TypeError("offline"));
      });
    });
  });
}

function staticFirst(event) {
  return caches.open(STATIC_CACHE).then(function (cache) {
    return cache.match(event.request).then(function (cached) {
      var refresh = fetch(event.request).then(function (response) {
        if (response.ok && response.type === "basic") {
          return cache.put(event.request, response.clone()).then(function () { return response; });
        }
        return response;
      });
      if (cached) {
        event.waitUntil(refresh.catch(function () {}));
        return cached;
      }
      return refresh;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== "GET") {
    if (request.method === "POST" && url.pathname === ROOT + "logout") {
      event.waitUntil(caches.delete(PAGE_CACHE));
    }
    return;  // POSTs go straight to the network, never cached
  }
  if (self.GridPatrolCheckpoints && self.GridPatrolCheckpoints.handles(request, url)) {
    event.respondWith(self.GridPatrolCheckpoints.lookup(event, url));
    return;
  }
  if (url.pathname.indexOf(ROOT + "api/") === 0 || url.pathname === ROOT + "sw.js") return;
  if (url.pathname.indexOf(STATIC_PREFIX) === 0) {
    if (request.headers.has("range")) return;
    event.respondWith(staticFirst(event));
    return;
  }
  if (isCacheablePage(url) && (request.mode === "navigate" || request.destination === "document")) {
    event.respondWith(networkFirstPage(event, url));
  } else if (request.mode === "navigate") {
    // Any other page: straight from the network, never cached; offline, a page that says so.
    event.respondWith(fetch(request).catch(function () { return offlinePage(); }));
  }
});

// A page loaded before this worker controlled it asks to be cached (see offline-queue.js).
self.addEventListener("message", function (event) {
  var message = event.data || {};
  if (message.type !== "cache-page" || !message.url) return;
  var url;
  try {
    url = new URL(message.url);
  } catch (_e) {
    return;
  }
  if (!isCacheablePage(url)) return;
  event.waitUntil(fetch(url.href, {credentials: "same-origin", cache: "no-store"}).then(function (response) {
    return storePage(url, response);
  }).catch(function () {}));
});

if (self.GridPatrolToday) {
  self.GridPatrolToday.install({pageCache: PAGE_CACHE, staticCache: STATIC_CACHE, staticPrefix: STATIC_PREFIX,
                               storePage: storePage, isCacheablePage: isCacheablePage});
}
if (self.GridPatrolCheckpoints) self.GridPatrolCheckpoints.install({pageCache: PAGE_CACHE});

function tellPages(detail) {
  return self.clients.matchAll({type: "window"}).then(function (pages) {
    pages.forEach(function (page) { page.postMessage({type: "outbox-changed", detail: detail}); });
  });
}

self.addEventListener("sync", function (event) {
  if (event.tag !== "gridpatrol-outbox" || !self.GridPatrolQueue) return;
  event.waitUntil(self.GridPatrolQueue.flush().then(function (summary) {
    return tellPages({flushed: summary}).then(function () {
      // Rejecting asks the browser to try this sync again later (with its own back-off).
      if (summary.remaining) throw new Error("outbox not empty: " + summary.problem);
    });
  }));
});
