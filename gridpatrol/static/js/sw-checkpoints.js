// The form's checkpoint lookup without network (imported by sw.js, which routes the lookups here).
//
// The form asks the API, GET /api/v1/sites/<site>/patrols/<id>/checkpoint?code=..., which checkpoint a scanned or
// typed code is (a form page kept from before the API asks /s/<site>/api/patrols/<id>/checkpoint: that is asked of
// the API, and answered from either table offline).
// Online the server answers. When the network fails, the answer comes from the patrol's checkpoint table that
// sw-today.js keeps beside the form (GET .../checkpoints, see patrols/offline.py): a typed code is matched by its
// exact code, a scanned poster (GP1.…) by the SHA-256 of its text, as the server reads it (trimmed, upper case).
// A code not in the table cannot be judged offline (it may be another grid's checkpoint): the lookup fails as a
// network error would, and the form keeps the code unverified for the server to check on submission.
(function (global) {
  "use strict";

  var LOOKUP = /^.*\/api\/v1\/sites\/[^\/]+\/patrols\/\d+\/checkpoint$/;
  var LEGACY = /^(.*\/)s\/([A-Z0-9_-]+)\/api\/patrols\/(\d+)\/checkpoint$/;
  var config = null;

  function handles(request, url) {
    return request.method === "GET" && url.origin === global.location.origin &&
      (LOOKUP.test(url.pathname) || LEGACY.test(url.pathname));
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function digest(text) {
    return global.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(hex);
  }

  function find(table, code) {
    var checkpoints = (table && table.checkpoints) || [];
    if (/^GP/i.test(code)) {
      return digest(code.toUpperCase()).then(function (sha) {
        return checkpoints.filter(function (c) { return c.poster_sha256 === sha; })[0] || null;
      });
    }
    return Promise.resolve(checkpoints.filter(function (c) { return c.code === code; })[0] || null);
  }

  // The API's address of a lookup (a legacy one moved there), or the address itself.
  function apiAddress(url) {
    var legacy = LEGACY.exec(url.pathname);
    if (!legacy) return url.href;
    return url.origin + legacy[1] + "api/v1/sites/" + legacy[2] + "/patrols/" + legacy[3] + "/checkpoint" + url.search;
  }

  // The table beside the form: at the API's address (.../checkpoints), or for a legacy lookup the one kept by a
  // worker of before the API, at the legacy address.
  function keptTable(cache, url) {
    var api = new URL(apiAddress(url));
    return cache.match(api.origin + api.pathname + "s").then(function (copy) {
      return copy || (LEGACY.test(url.pathname) ? cache.match(url.origin + url.pathname + "s") : null);
    });
  }

  function fromTable(url) {
    var code = (url.searchParams.get("code") || "").trim();
    return caches.open(config.pageCache).then(function (cache) {
      return keptTable(cache, url);
    }).then(function (copy) {
      if (!copy || !code) return null;
      return copy.json().then(function (table) {
        return find(table, code).then(function (checkpoint) {
          if (!checkpoint) return null;
          var body = {code: checkpoint.code, name: checkpoint.name, grid: table.grid, other_grid: false, offline: true};
          return new Response(JSON.stringify(body), {
            status: 200, headers: {"Content-Type": "application/json", "Cache-Control": "no-store"}
          });
        });
      });
    });
  }

  // Network first; on a network failure, the kept table; nothing found there: a network error again. A lookup
  // at the legacy address (a form page kept from before the API) is asked of the API.
  function lookup(event, url) {
    var asked = LEGACY.test(url.pathname)
      ? fetch(apiAddress(url), {credentials: "same-origin", cache: "no-store", redirect: "manual",
                                headers: {"Accept": "application/json"}})
      : fetch(event.request);
    return asked.catch(function (error) {
      return fromTable(url).catch(function () { return null; }).then(function (response) {
        if (response) return response;
        throw error;
      });
    });
  }

  // options: {pageCache} from sw.js.
  function install(options) {
    config = options;
  }

  global.GridPatrolCheckpoints = {install: install, handles: handles, lookup: lookup};
})(self);
