// Today's patrols kept on the tablet for a day without network (imported by sw.js, which calls install()).
//
// The today page (today-offline.js) posts the ids of the patrols on its list that the leader can still fill,
// and of all the patrols on it, with a MessagePort for the answer:
//   {type: "keep-today", todayUrl, patrols: [id, ...], listed: [id, ...]}   online: fetch each patrol's form page
//        and its checkpoint table (the API's, patrols/offline.py) into the page cache, replacing any older copy, so the copy
//        kept is the one of the list just opened; then drop the pages and tables of this site's patrols not on
//        the list (yesterday's), except those with a draft or a queued submission in IndexedDB (offline-queue.js:
//        patrolsHeld). A patrol done today keeps the copy there is (not refreshed: nothing is left to fill).
//        Nothing is dropped when IndexedDB cannot be read (what is queued is never at risk), nor when the server
//        could not be reached in this run (the list may then be a cached copy of an older one).
//        The static files a form page names (its scripts and style sheets) are put in the static cache too when
//        they are not there yet: a form never opened in this browser must work offline whatever files it is
//        made of (sw.js's SHELL need not list them).
//   {type: "which-kept", todayUrl, patrols: [id, ...]}   offline: only say which forms are in the cache.
// Answers on the port: {type: "offline-patrol", id, ready} per patrol as it is done, then
// {type: "offline-done", ready: [id, ...]}. "ready" means the form page is in the cache.
// The addresses are built here from the today page's address and the ids, never taken from the message.
(function (global) {
  "use strict";

  var PARALLEL = 3;  // fetches at a time: a leader's list is a handful of patrols; the server is not hammered
  var config = null;

  // The site's addresses from the today page's address (".../s/<site>/today"): its pages ("/s/<site>/") and its
  // part of the API ("/api/v1/sites/<site>/"); null when the address is not a today page.
  function sitePrefix(todayUrl) {
    var url;
    try {
      url = new URL(todayUrl);
    } catch (_e) {
      return null;
    }
    if (url.origin !== global.location.origin || !config.isCacheablePage(url)) return null;
    var match = /^(.*\/)s\/([A-Z0-9_-]+)\/today$/.exec(url.pathname);
    if (!match) return null;
    return {pages: url.origin + match[1] + "s/" + match[2] + "/",
            api: url.origin + match[1] + "api/v1/sites/" + match[2] + "/"};
  }

  function formUrl(prefix, id) { return prefix.pages + "patrols/" + id; }
  function tableUrl(prefix, id) { return prefix.api + "patrols/" + id + "/checkpoints"; }

  // The patrol id of a cached form page or checkpoint table of this site (also a table kept by a worker of before
  // the API, at /s/<site>/api/patrols/<id>/checkpoints), or null for anything else.
  function patrolOf(prefix, key) {
    var match = null;
    if (key.indexOf(prefix.pages) === 0) {
      match = /^(?:patrols\/(\d+)\/?|api\/patrols\/(\d+)\/checkpoints)$/.exec(key.slice(prefix.pages.length));
    } else if (key.indexOf(prefix.api) === 0) {
      match = /^patrols\/(\d+)\/checkpoints$/.exec(key.slice(prefix.api.length));
    }
    return match ? (match[1] || match[2]) : null;
  }

  function storeTable(url, response) {
    if (!response.ok || response.redirected || response.type !== "basic") return Promise.resolve();
    if (!/json/i.test(response.headers.get("Content-Type") || "")) return Promise.resolve();
    return caches.open(config.pageCache).then(function (cache) { return cache.put(url, response); });
  }

  // `run.reached` records that the server answered (with anything) during this run.
  function fetchFresh(url, run) {
    return fetch(url, {credentials: "same-origin", cache: "no-store"}).then(function (response) {
      run.reached = true;
      return response;
    });
  }

  // The same-origin static files a page names in src="..." or href="..." (scripts, style sheets, icons).
  function staticFilesOf(html, base) {
    var found = {};
    var pattern = /\s(?:src|href)="([^"]+)"/g;
    var match;
    while ((match = pattern.exec(html)) !== null) {
      var url;
      try {
        url = new URL(match[1].replace(/&amp;/g, "&"), base);
      } catch (_e) {
        continue;
      }
      if (url.origin === global.location.origin && url.pathname.indexOf(config.staticPrefix) === 0) {
        found[url.href] = true;
      }
    }
    return Object.keys(found);
  }

  // Puts the files not yet in the static cache there (sw.js refreshes them later as it serves them).
  function keepStaticFiles(urls, asked) {
    return caches.open(config.staticCache).then(function (cache) {
      return Promise.all(urls.filter(function (url) {
        if (asked[url]) return false;
        asked[url] = true;
        return true;
      }).map(function (url) {
        return cache.match(url).then(function (copy) {
          if (copy) return null;
          return fetch(url, {credentials: "same-origin"}).then(function (response) {
            return response.ok && response.type === "basic" ? cache.put(url, response) : null;
          });
        }).catch(function () {});
      }));
    });
  }

  function isKept(url) {
    return caches.open(config.pageCache).then(function (cache) { return cache.match(url); })
      .then(function (copy) { return !!copy; }, function () { return false; });
  }

  // Fetches one patrol's form, the static files it names and its table; a failed fetch keeps the copy there
  // was (the same patrol's form). `run.asked`: the static files already seen in this run.
  function keepOne(prefix, id, run) {
    var page = formUrl(prefix, id);
    var table = tableUrl(prefix, id);
    var stored = Promise.all([
      fetchFresh(page, run).then(function (response) {
        var html = response.ok ? response.clone().text() : Promise.resolve("");
        return config.storePage(new URL(page), response).then(function () { return html; }).then(function (text) {
          return keepStaticFiles(staticFilesOf(text, page), run.asked);
        });
      }),
      fetchFresh(table, run).then(function (response) { return storeTable(table, response); })
    ].map(function (work) { return work.catch(function () {}); }));
    return stored.then(function () { return isKept(page); });
  }

  // Runs work(id) for every id, PARALLEL at a time, calling done(id, result) as each finishes.
  function eachLimited(ids, work, done) {
    var queue = ids.slice();
    function worker() {
      var id = queue.shift();
      if (id === undefined) return Promise.resolve();
      return work(id).then(function (result) { done(id, result); }).then(worker);
    }
    var workers = [];
    for (var i = 0; i < Math.min(PARALLEL, ids.length); i += 1) workers.push(worker());
    return Promise.all(workers);
  }

  function held() {
    if (!global.GridPatrolQueue || !global.GridPatrolQueue.patrolsHeld) return Promise.reject(new Error("no queue"));
    return global.GridPatrolQueue.patrolsHeld();
  }

  // Drops this site's cached forms and tables of patrols neither on the list nor held in IndexedDB, once the
  // server has answered in this run (a list without patrols to fetch asks for the today page to find out).
  function prune(prefix, listed, todayUrl, run) {
    var reached = run.reached ? Promise.resolve() : fetchFresh(todayUrl, run);
    return reached.then(held).then(function (heldIds) {
      var keep = {};
      listed.concat(heldIds).forEach(function (id) { keep[String(id)] = true; });
      return caches.open(config.pageCache).then(function (cache) {
        return cache.keys().then(function (requests) {
          return Promise.all(requests.map(function (request) {
            var id = patrolOf(prefix, request.url);
            return id !== null && !keep[id] ? cache.delete(request) : null;
          }));
        });
      });
    }).catch(function () { /* no server or IndexedDB unreadable: drop nothing */ });
  }

  function patrolIds(given) {
    return (Array.isArray(given) ? given : []).map(String).filter(function (id) { return /^\d{1,12}$/.test(id); });
  }

  function answer(event) {
    var message = event.data || {};
    var port = event.ports && event.ports[0];
    var prefix = sitePrefix(message.todayUrl);
    if (!prefix || !port) return;
    var ids = patrolIds(message.patrols);
    var listed = ids.concat(patrolIds(message.listed));
    var ready = [];
    var run = {asked: {}, reached: false};
    var work = message.type === "keep-today" ? function (id) { return keepOne(prefix, id, run); }
      : function (id) { return isKept(formUrl(prefix, id)); };
    var finished = eachLimited(ids, work, function (id, isReady) {
      if (isReady) ready.push(id);
      port.postMessage({type: "offline-patrol", id: id, ready: isReady});
    }).then(function () {
      return message.type === "keep-today" ? prune(prefix, listed, message.todayUrl, run) : null;
    }).then(function () {
      port.postMessage({type: "offline-done", ready: ready});
    });
    event.waitUntil(finished);
  }

  // options: {pageCache, staticCache, staticPrefix, storePage(url, response), isCacheablePage(url)} from sw.js.
  function install(options) {
    config = options;
    global.addEventListener("message", function (event) {
      var type = event.data && event.data.type;
      if (type === "keep-today" || type === "which-kept") answer(event);
    });
  }

  global.GridPatrolToday = {install: install, patrolOf: patrolOf};
})(self);
