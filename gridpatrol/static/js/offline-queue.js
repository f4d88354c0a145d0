// GridPatrol offline outbox (离线待发队列). Loaded on every page (base.html) and by the service worker (sw.js).
//
// A patrol submission is written to IndexedDB *before* it is sent, and leaves the outbox only when the server
// has answered for good: 200 (accepted; also for an identical retry, the server is idempotent by client UUID),
// or 409 / 422 / other refusals that no retry can fix (recorded as an outcome the today page shows).
// Network errors, 5xx, an expired login or a refused CSRF token keep it queued; it is retried on page load,
// on the `online` event, every 30 s while a page is open, and by Background Sync where the browser has it.
// It is sent to the API (POST /api/v1/sites/<site>/patrols/<id>/submission) with the session's cookie and a
// CSRF token fetched just before (GET /api/v1/session/csrf-token); an entry queued by a form of before the API
// (its addresses /s/<site>/patrols/<id>/submit and /api/csrf-token) is sent to those addresses instead.
//
// One IndexedDB database "gridpatrol" (shared with patrol-form.js) holds three stores:
//   outbox   {id: client_uuid, patrolId, url, csrfUrl, todayUrl, gridCode, gridName, payload (JSON string),
//             photos: [{name, blob}], queuedAt, attempts, lastError, lastTriedAt}
//   outcomes {id, patrolId, gridCode, gridName, state: "accepted"|"rejected", status, message, score, late,
//             failedCritical, at, shownAt}
//   drafts   {patrolId, ...} (written by patrol-form.js; deleted here once the server accepted the patrol)
// Sending is serialised across tabs and the service worker with the Web Locks API where available.
(function (global) {
  "use strict";

  var DB_NAME = "gridpatrol";
  var DB_VERSION = 1;
  var OUTBOX = "outbox";
  var OUTCOMES = "outcomes";
  var DRAFTS = "drafts";
  var LOCK_NAME = "gridpatrol-outbox";
  var SYNC_TAG = "gridpatrol-outbox";
  var CHANNEL_NAME = "gridpatrol-outbox";
  var FLUSH_EVERY_MS = 30000;
  var REQUEST_TIMEOUT_MS = 120000;
  var TOKEN_TIMEOUT_MS = 15000;
  var ACCEPTED_SHOWN_FOR_MS = 2 * 60 * 1000;
  var OUTCOME_KEPT_MS = 7 * 24 * 3600 * 1000;
  var DRAFT_KEPT_MS = 7 * 24 * 3600 * 1000;

  var inWindow = typeof document !== "undefined";

  // --- where the app lives (it may be mounted below the host root) --------------------------------------
  function appRoot() {
    if (!inWindow) {
      return global.registration ? new URL(global.registration.scope).pathname : "/";
    }
    var script = document.currentScript;
    var src = script && script.src ? new URL(script.src, location.href).pathname : "";
    var at = src.lastIndexOf("static/js/offline-queue.js");
    return at >= 0 ? src.slice(0, at) : "/";
  }
  var ROOT = appRoot();

  // --- the few messages shown by this file -------------------------------------------------------------
  var MESSAGES = {
    "zh-CN": {
      waiting: "{n} 份巡查记录等待发送",
      waitingOne: "1 份巡查记录等待发送",
      queuedAt: "{time} 保存",
      attempts: "已尝试 {n} 次",
      sendNow: "立即发送",
      sending: "正在发送…",
      accepted: "{grid} 巡查记录已提交，得分 {score}",
      acceptedNoScore: "{grid} 巡查记录已提交",
      acceptedLate: "（逾时完成）",
      rejected: "{grid} 巡查记录未被接受：{message}",
      dismiss: "知道了",
      errNetwork: "网络不可用，恢复后自动发送",
      errServer: "服务器暂时无法处理（{status}），稍后自动重试",
      errAuth: "登录已过期，请重新登录后自动发送",
      errForbidden: "当前登录的账号不能提交这份记录，请用巡查人的账号登录",
      errCsrf: "安全令牌无效，稍后自动重试",
      errUnknown: "未知错误（{status}）",
      allSent: "所有巡查记录都已发送"
    },
    en: {
      waiting: "{n} submissions waiting to be sent",
      waitingOne: "1 submission waiting to be sent",
      queuedAt: "saved {time}",
      attempts: "{n} attempts",
      sendNow: "Send now",
      sending: "Sending…",
      accepted: "{grid} patrol submitted, score {score}",
      acceptedNoScore: "{grid} patrol submitted",
      acceptedLate: " (late)",
      rejected: "{grid} patrol was not accepted: {message}",
      dismiss: "Dismiss",
      errNetwork: "No network; it is sent automatically when the network is back",
      errServer: "The server could not take it now ({status}); it is retried automatically",
      errAuth: "Your login has expired; log in again and it is sent automatically",
      errForbidden: "The account logged in cannot submit this patrol; log in as its patroller",
      errCsrf: "The security token was refused; it is retried automatically",
      errUnknown: "Unknown error ({status})",
      allSent: "All patrols have been sent"
    }
  };

  function language() {
    var lang = inWindow ? (document.documentElement.lang || "") : (global.navigator && navigator.language) || "";
    return /^zh/i.test(lang) ? "zh-CN" : "en";
  }

  function t(key, vars) {
    var table = MESSAGES[language()];
    var text = table[key] || MESSAGES.en[key] || key;
    return text.replace(/\{(\w+)\}/g, function (_m, name) {
      return vars && vars[name] !== undefined && vars[name] !== null ? String(vars[name]) : "";
    });
  }

  function timeLabel(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    var sameDay = date.toDateString() === new Date().toDateString();
    var options = sameDay ? {hour: "2-digit", minute: "2-digit"}
      : {month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"};
    try {
      return date.toLocaleString(language(), options);
    } catch (_e) {
      return date.toISOString().slice(0, 16).replace("T", " ");
    }
  }

  // --- IndexedDB ---------------------------------------------------------------------------------------
  var dbPromise = null;

  function openDb() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise(function (resolve, reject) {
      if (!global.indexedDB) {
        reject(new Error("IndexedDB is not available"));
        return;
      }
      var request = global.indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains(OUTBOX)) db.createObjectStore(OUTBOX, {keyPath: "id"});
        if (!db.objectStoreNames.contains(OUTCOMES)) db.createObjectStore(OUTCOMES, {keyPath: "id"});
        if (!db.objectStoreNames.contains(DRAFTS)) db.createObjectStore(DRAFTS, {keyPath: "patrolId"});
      };
      request.onsuccess = function () {
        var db = request.result;
        db.onversionchange = function () {
          db.close();
          dbPromise = null;
        };
        resolve(db);
      };
      request.onerror = function () {
        dbPromise = null;
        reject(request.error || new Error("IndexedDB open failed"));
      };
      request.onblocked = function () {
        // Another tab holds an older version open; it closes on `versionchange` and this open then proceeds.
      };
    });
    return dbPromise;
  }

  // Runs `body(stores)` in one transaction; resolves with what body returned (an IDBRequest's result, or a
  // plain value / function evaluated once the transaction has committed).
  function transact(storeNames, mode, body) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var names = [].concat(storeNames);
        var tx;
        try {
          // "strict": the data is on disk when the transaction completes (a queued patrol survives a power cut).
          tx = mode === "readwrite" ? db.transaction(names, mode, {durability: "strict"}) : db.transaction(names, mode);
        } catch (_e) {
          tx = db.transaction(names, mode);
        }
        var stores = {};
        names.forEach(function (name) { stores[name] = tx.objectStore(name); });
        var result;
        try {
          result = body(stores, tx);
        } catch (error) {
          try { tx.abort(); } catch (_e) { /* already finished */ }
          reject(error);
          return;
        }
        tx.oncomplete = function () {
          if (result && typeof result === "object" && "readyState" in result && "result" in result) {
            resolve(result.result);
          } else if (typeof result === "function") {
            resolve(result());
          } else {
            resolve(result);
          }
        };
        tx.onabort = tx.onerror = function () {
          reject(tx.error || new Error("IndexedDB transaction failed"));
        };
      });
    });
  }

  function getOne(store, key) {
    return transact(store, "readonly", function (s) { return s[store].get(key); });
  }

  function getAll(store) {
    return transact(store, "readonly", function (s) { return s[store].getAll(); });
  }

  function putOne(store, value) {
    return transact(store, "readwrite", function (s) { s[store].put(value); });
  }

  function deleteOne(store, key) {
    return transact(store, "readwrite", function (s) { s[store].delete(key); });
  }

  function byQueuedAt(a, b) {
    return String(a.queuedAt || a.at || "").localeCompare(String(b.queuedAt || b.at || ""));
  }

  function list() {
    return getAll(OUTBOX).then(function (entries) { return entries.sort(byQueuedAt); });
  }

  function findByPatrol(patrolId) {
    return list().then(function (entries) {
      return entries.filter(function (e) { return String(e.patrolId) === String(patrolId); })[0] || null;
    });
  }

  // --- change notification (this page, other tabs, the service worker) ------------------------------------
  var listeners = [];
  var channel = null;
  try {
    channel = typeof BroadcastChannel !== "undefined" ? new BroadcastChannel(CHANNEL_NAME) : null;
  } catch (_e) {
    channel = null;
  }

  function onChange(listener) {
    listeners.push(listener);
  }

  function emit(detail, fromElsewhere) {
    listeners.forEach(function (listener) {
      try { listener(detail || {}); } catch (_e) { /* a listener's bug must not stop the queue */ }
    });
    if (!fromElsewhere && channel) {
      try { channel.postMessage({type: "changed", detail: detail || {}}); } catch (_e) { /* closed */ }
    }
  }

  if (channel) {
    channel.onmessage = function (event) {
      if (event.data && event.data.type === "changed") emit(event.data.detail, true);
    };
  }

  // --- serialising senders -------------------------------------------------------------------------------
  var localChain = Promise.resolve();

  function withLock(work) {
    var locks = global.navigator && global.navigator.locks;
    if (locks && typeof locks.request === "function") {
      return locks.request(LOCK_NAME, function () { return work(); });
    }
    var run = localChain.then(work, work);
    localChain = run.then(function () {}, function () {});
    return run;
  }

  // --- the network part -------------------------------------------------------------------------------------
  function fetchWithTimeout(url, options, ms) {
    if (typeof AbortController === "undefined") return fetch(url, options);
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, ms);
    options.signal = controller.signal;
    return fetch(url, options).then(function (response) {
      clearTimeout(timer);
      return response;
    }, function (error) {
      clearTimeout(timer);
      throw error;
    });
  }

  function isLoginRedirect(response) {
    if (response.type === "opaqueredirect" || response.status === 401) return true;
    if (response.status >= 300 && response.status < 400) return true;
    return response.redirected && /\/login(\?|$)/.test(new URL(response.url).pathname + "?");
  }

  function isJson(response) {
    return /json/i.test(response.headers.get("Content-Type") || "");
  }

  function readJson(response) {
    return response.text().then(function (text) {
      try { return JSON.parse(text); } catch (_e) { return null; }
    });
  }

  // A fresh CSRF token for the current session: the token in a page that sat in the queue for hours (or was
  // served from the service worker's cache) may have expired. Resolves {token} or {problem: "network"|"auth"}.
  function freshToken(csrfUrl) {
    return fetchWithTimeout(csrfUrl, {
      credentials: "same-origin", cache: "no-store", redirect: "manual",
      headers: {"Accept": "application/json"}
    }, TOKEN_TIMEOUT_MS).then(function (response) {
      if (isLoginRedirect(response)) return {problem: "auth", status: response.status};
      if (response.status === 403) return {problem: "forbidden", status: 403};
      if (!response.ok || !isJson(response)) return {problem: "server", status: response.status};
      return readJson(response).then(function (body) {
        return body && body.token ? {token: body.token} : {problem: "server", status: response.status};
      });
    }, function () {
      return {problem: "network", status: 0};
    });
  }

  function post(entry, token) {
    var headers = {"X-CSRFToken": token, "Accept": "application/json"};
    if (!(entry.photos || []).length) {
      // No photos: the payload alone, as JSON (the server reads it without a multipart parse).
      headers["Content-Type"] = "application/json";
      return fetchWithTimeout(entry.url, {
        method: "POST", body: entry.payload, credentials: "same-origin", cache: "no-store", redirect: "manual",
        headers: headers
      }, REQUEST_TIMEOUT_MS);
    }
    var data = new FormData();
    data.append("payload", entry.payload);
    (entry.photos || []).forEach(function (photo) {
      var blob = photo.blob;
      var type = (blob && blob.type) || "image/jpeg";
      var extension = /png/.test(type) ? ".png" : /webp/.test(type) ? ".webp" : ".jpg";
      data.append(photo.name, blob, photo.name + extension);
    });
    return fetchWithTimeout(entry.url, {
      method: "POST", body: data, credentials: "same-origin", cache: "no-store", redirect: "manual",
      headers: headers
    }, REQUEST_TIMEOUT_MS);
  }

  // Sends one entry (no IndexedDB work). Resolves {state, status, message, body}:
  //   accepted  200: the server has the patrol (first time or an identical retry)
  //   rejected  409 / 422 / other 4xx with a reason: no retry can help; the leader must see it
  //   auth      not logged in (redirect to /login, 401) or logged in as someone else (403): keep queued
  //   queued    network error, timeout, 5xx, 429, a CSRF refusal twice: keep queued and retry later
  // The problem type the server gives a refused CSRF token (gridpatrol/core/errors.py).
  var CSRF_PROBLEM = "urn:gridpatrol:problem:csrf";

  // The addresses the form used before it submitted to the API, and where they moved (the same submission: the
  // server's client-UUID check is the same there, so a retry of one already received is answered, not doubled).
  var LEGACY_SUBMIT = /^(.*\/)s\/([^\/?#]+)\/patrols\/(\d+)\/submit$/;
  var LEGACY_CSRF = /^(.*\/)api\/csrf-token$/;

  function currentAddresses(entry) {
    var moved = {};
    Object.keys(entry).forEach(function (key) { moved[key] = entry[key]; });
    var submit = LEGACY_SUBMIT.exec(entry.url || "");
    if (submit) moved.url = submit[1] + "api/v1/sites/" + submit[2] + "/patrols/" + submit[3] + "/submission";
    var csrf = LEGACY_CSRF.exec(entry.csrfUrl || "");
    if (csrf) moved.csrfUrl = csrf[1] + "api/v1/session/csrf-token";
    return moved;
  }

  function transmit(queued) {
    var entry = currentAddresses(queued);
    if (global.navigator && global.navigator.onLine === false) {
      return Promise.resolve({state: "queued", status: 0, message: t("errNetwork")});
    }
    var csrfRetried = false;

    function attempt() {
      return freshToken(entry.csrfUrl).then(function (got) {
        if (got.problem === "auth") return {state: "auth", status: got.status, message: t("errAuth")};
        if (got.problem === "forbidden") return {state: "auth", status: 403, message: t("errForbidden")};
        if (got.problem === "network") return {state: "queued", status: 0, message: t("errNetwork")};
        if (got.problem) return {state: "queued", status: got.status, message: t("errServer", {status: got.status})};
        return post(entry, got.token).then(classify, function () {
          return {state: "queued", status: 0, message: t("errNetwork")};
        });
      });
    }

    function classify(response) {
      var status = response.status;
      if (isLoginRedirect(response)) return {state: "auth", status: status, message: t("errAuth")};
      if (status === 403) return {state: "auth", status: status, message: t("errForbidden")};
      if (status === 400) {
        return readJson(response).then(function (body) {
          if (body && body.type !== CSRF_PROBLEM) {
            return {state: "rejected", status: status, body: body, message: body.detail || t("errUnknown", {status: status})};
          }
          // A refused CSRF token (its problem type, or an HTML page from a proxy): fetch a fresh token, retry once.
          if (!csrfRetried) {
            csrfRetried = true;
            return attempt();
          }
          return {state: "queued", status: status, message: t("errCsrf")};
        });
      }
      if (status >= 500 || status === 429 || status === 408) {
        return {state: "queued", status: status, message: t("errServer", {status: status})};
      }
      return readJson(response).then(function (body) {
        if (status >= 200 && status < 300) {
          return {state: "accepted", status: status, body: body || {}, message: ""};
        }
        var message = body && body.detail ? body.detail : t("errUnknown", {status: status});
        if (status >= 400 && status < 500) return {state: "rejected", status: status, body: body, message: message};
        return {state: "queued", status: status, message: message};
      });
    }

    return attempt();
  }

  // Records what the server said, in one transaction: the outbox entry goes (accepted / rejected) or its
  // attempt count goes up (kept); an accepted patrol's draft goes too.
  function settle(entry, result) {
    var now = new Date().toISOString();
    var final = result.state === "accepted" || result.state === "rejected";
    return transact([OUTBOX, OUTCOMES, DRAFTS], "readwrite", function (s) {
      var read = s[OUTBOX].get(entry.id);
      read.onsuccess = function () {
        var current = read.result;
        if (final) {
          var body = result.body || {};
          s[OUTBOX].delete(entry.id);
          s[OUTCOMES].put({
            id: entry.id, patrolId: entry.patrolId, gridCode: entry.gridCode, gridName: entry.gridName,
            state: result.state, status: result.status, message: result.message || "",
            score: body.score === undefined ? null : body.score, late: !!body.late,
            failedCritical: !!body.failed_critical, at: now, shownAt: null
          });
          if (result.state === "accepted") s[DRAFTS].delete(String(entry.patrolId));
        } else if (current) {
          current.attempts = (current.attempts || 0) + 1;
          current.lastError = result.message || null;
          current.lastTriedAt = now;
          s[OUTBOX].put(current);
        }
      };
    }).then(function () { return result; });
  }

  function sendLocked(id) {
    return getOne(OUTBOX, id).then(function (entry) {
      if (!entry) {
        // Another tab or the service worker got there first: report what the server said then.
        return getOne(OUTCOMES, id).then(function (outcome) {
          return outcome ? {state: outcome.state, status: outcome.status, message: outcome.message,
                            body: {score: outcome.score, late: outcome.late}, outcome: outcome}
            : {state: "gone", status: 0, message: ""};
        });
      }
      return transmit(entry).then(function (result) { return settle(entry, result); });
    });
  }

  // Sends the entry with this id now (used by the form right after queuing it).
  function sendById(id) {
    return withLock(function () { return sendLocked(id); }).then(function (result) {
      emit({sent: [id], result: result});
      return result;
    });
  }

  var flushing = null;
  var followUp = null;

  // Sends everything queued, oldest first; stops at the first network or login problem (the rest would fail
  // the same way). Resolves {accepted, rejected, remaining, problem}.
  // Asked while a flush is running (the `online` event arriving just as an offline flush finishes), it does
  // not join that one, whose verdict may be stale: one more flush runs after it.
  function flush() {
    if (flushing) {
      if (!followUp) {
        followUp = flushing.catch(function () {}).then(function () {
          followUp = null;
          return flush();
        });
      }
      return followUp;
    }
    flushing = withLock(function () {
      var summary = {accepted: 0, rejected: 0, remaining: 0, problem: null};
      return list().then(function (entries) {
        var index = 0;
        function next() {
          if (index >= entries.length || summary.problem) {
            summary.remaining = entries.length - summary.accepted - summary.rejected;
            return summary;
          }
          var id = entries[index++].id;
          return sendLocked(id).then(function (result) {
            if (result.state === "accepted") summary.accepted += 1;
            else if (result.state === "rejected") summary.rejected += 1;
            else if (result.state === "queued" || result.state === "auth") summary.problem = result.state;
            return next();
          });
        }
        return next();
      });
    }).then(function (summary) {
      flushing = null;
      if (summary.accepted || summary.rejected || summary.problem) emit({flushed: summary});
      return summary;
    }, function (error) {
      flushing = null;
      throw error;
    });
    return flushing;
  }

  function requestBackgroundSync() {
    if (!inWindow || !("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.sync && typeof registration.sync.register === "function") {
        return registration.sync.register(SYNC_TAG);
      }
      return null;
    }).catch(function () { /* Background Sync is a bonus; the pages flush on their own */ });
  }

  function enqueue(entry) {
    var record = {
      id: String(entry.id), patrolId: String(entry.patrolId), url: entry.url, csrfUrl: entry.csrfUrl,
      todayUrl: entry.todayUrl || null, gridCode: entry.gridCode || "", gridName: entry.gridName || "",
      payload: entry.payload, photos: entry.photos || [], queuedAt: entry.queuedAt || new Date().toISOString(),
      attempts: 0, lastError: null, lastTriedAt: null
    };
    return putOne(OUTBOX, record).then(function () {
      emit({queued: [record.id]});
      requestBackgroundSync();
      return record;
    });
  }

  // --- drafts and outcomes (used by patrol-form.js and the today page) --------------------------------
  function getDraft(patrolId) { return getOne(DRAFTS, String(patrolId)); }

  function putDraft(draft) {
    draft.patrolId = String(draft.patrolId);
    return putOne(DRAFTS, draft);
  }

  function deleteDraft(patrolId) { return deleteOne(DRAFTS, String(patrolId)); }

  // The patrols this tablet must keep the form of (sw-today.js never drops those): a draft or a queued entry.
  function patrolsHeld() {
    return Promise.all([getAll(DRAFTS), getAll(OUTBOX)]).then(function (stores) {
      var ids = {};
      stores[0].concat(stores[1]).forEach(function (row) { ids[String(row.patrolId)] = true; });
      return Object.keys(ids);
    });
  }

  function outcomes() {
    return getAll(OUTCOMES).then(function (rows) { return rows.sort(byQueuedAt); });
  }

  function getOutcome(id) { return getOne(OUTCOMES, id); }

  // The latest outcome for a patrol (the form uses it to tell whether the patrol is already in).
  function outcomeForPatrol(patrolId) {
    return outcomes().then(function (rows) {
      var mine = rows.filter(function (o) { return String(o.patrolId) === String(patrolId); });
      return mine.length ? mine[mine.length - 1] : null;
    });
  }

  function dismissOutcome(id) {
    return deleteOne(OUTCOMES, id).then(function () { emit({dismissed: [id]}); });
  }

  // Old outcomes and drafts of long-past patrols are dropped (never outbox entries: those wait for the server).
  function housekeeping() {
    var now = Date.now();
    return transact([OUTCOMES, DRAFTS], "readwrite", function (s) {
      var outcomeCursor = s[OUTCOMES].openCursor();
      outcomeCursor.onsuccess = function () {
        var cursor = outcomeCursor.result;
        if (!cursor) return;
        if (now - new Date(cursor.value.at).getTime() > OUTCOME_KEPT_MS) cursor.delete();
        cursor.continue();
      };
      var draftCursor = s[DRAFTS].openCursor();
      draftCursor.onsuccess = function () {
        var cursor = draftCursor.result;
        if (!cursor) return;
        var saved = new Date(cursor.value.updatedAt || 0).getTime();
        if (now - saved > DRAFT_KEPT_MS) cursor.delete();
        cursor.continue();
      };
    }).catch(function () { /* best effort */ });
  }

  // --- the today page's banner (#offline-queue) ------------------------------------------------------
  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined && text !== null) el.textContent = text;
    return el;
  }

  function gridLabel(item) {
    return [item.gridCode, item.gridName].filter(Boolean).join(" · ");
  }

  var rendering = null;
  var renderAgain = false;

  function renderBanner() {
    var banner = inWindow ? document.getElementById("offline-queue") : null;
    if (!banner) return Promise.resolve();
    if (rendering) {
      renderAgain = true;
      return rendering;
    }
    rendering = Promise.all([list(), outcomes()]).then(function (data) {
      var entries = data[0];
      var results = data[1];
      var now = Date.now();
      var shown = [];
      results.forEach(function (outcome) {
        // An accepted patrol is reported for a couple of minutes after it was first shown, a refused one until
        // dismissed. Accepted outcomes stay stored (housekeeping drops them after a week): a form page
        // reopened from the service worker's cache uses them to say the patrol is already in.
        if (outcome.state === "accepted" && outcome.shownAt && now - new Date(outcome.shownAt).getTime() > ACCEPTED_SHOWN_FOR_MS) {
          return;
        }
        shown.push(outcome);
      });
      banner.textContent = "";
      banner.dataset.pending = String(entries.length);
      if (entries.length) {
        var head = element("div", "queue-head");
        head.appendChild(element("strong", "queue-count",
          entries.length === 1 ? t("waitingOne") : t("waiting", {n: entries.length})));
        var sendNow = element("button", "button small queue-send", t("sendNow"));
        sendNow.type = "button";
        sendNow.addEventListener("click", function () {
          sendNow.disabled = true;
          sendNow.textContent = t("sending");
          flush().catch(function () {}).then(renderBanner);
        });
        head.appendChild(document.createTextNode(" "));
        head.appendChild(sendNow);
        banner.appendChild(head);
        var pending = element("ul", "queue-pending");
        entries.forEach(function (entry) {
          var parts = [gridLabel(entry), t("queuedAt", {time: timeLabel(entry.queuedAt)})];
          if (entry.attempts) parts.push(t("attempts", {n: entry.attempts}));
          if (entry.lastError) parts.push(entry.lastError);
          var li = element("li", "queue-entry", parts.join(" · "));
          li.dataset.id = entry.id;
          li.dataset.patrolId = entry.patrolId;
          pending.appendChild(li);
        });
        banner.appendChild(pending);
      }
      if (shown.length) {
        var done = element("ul", "queue-results");
        shown.forEach(function (outcome) {
          var text;
          if (outcome.state === "accepted") {
            var score = outcome.score === null || outcome.score === undefined ? null : Math.round(outcome.score);
            text = score === null ? t("acceptedNoScore", {grid: gridLabel(outcome)})
              : t("accepted", {grid: gridLabel(outcome), score: score});
            if (outcome.late) text += t("acceptedLate");
          } else {
            text = t("rejected", {grid: gridLabel(outcome), message: outcome.message});
          }
          var li = element("li", "queue-result " + (outcome.state === "accepted" ? "queue-accepted" : "queue-rejected error"), text);
          li.dataset.id = outcome.id;
          li.dataset.state = outcome.state;
          if (outcome.state !== "accepted") {
            var dismiss = element("button", "button small queue-dismiss", t("dismiss"));
            dismiss.type = "button";
            dismiss.addEventListener("click", function () {
              dismissOutcome(outcome.id).then(renderBanner);
            });
            li.appendChild(document.createTextNode(" "));
            li.appendChild(dismiss);
          }
          done.appendChild(li);
        });
        banner.appendChild(done);
      }
      banner.hidden = !(entries.length || shown.length);
      var stamp = new Date().toISOString();
      var updates = shown.filter(function (o) { return o.state === "accepted" && !o.shownAt; });
      if (!updates.length) return null;
      return transact(OUTCOMES, "readwrite", function (s) {
        updates.forEach(function (o) { o.shownAt = stamp; s[OUTCOMES].put(o); });
      });
    }).catch(function () {
      banner.hidden = true;
    }).then(function () {
      rendering = null;
      if (renderAgain) {
        renderAgain = false;
        return renderBanner();
      }
      return null;
    });
    return rendering;
  }

  // After the queue delivered patrols while the today page is open, its server-rendered list is stale:
  // fetch the page again and swap the list in (no reload, so the banner's report stays on screen).
  function refreshTodayList() {
    var list = document.querySelector("main .patrol-list");
    if (!list || !window.DOMParser) return Promise.resolve();
    return fetch(location.href, {credentials: "same-origin", cache: "no-store", redirect: "manual"})
      .then(function (response) {
        if (!response.ok) return null;
        return response.text().then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main .patrol-list");
          if (fresh) {
            list.replaceWith(document.importNode(fresh, true));
            document.dispatchEvent(new CustomEvent("gridpatrol:today-list-replaced"));
          }
        });
      }).catch(function () { /* offline again: the list stays as it was */ });
  }

  // --- the service worker ------------------------------------------------------------------------------
  function registerServiceWorker() {
    if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
    navigator.serviceWorker.register(ROOT + "sw.js", {scope: ROOT}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      // A page loaded before the worker controlled it was not cached on the way in: ask for it now, so the
      // form a leader opened online can be reloaded offline.
      if (!navigator.serviceWorker.controller && registration.active) {
        registration.active.postMessage({type: "cache-page", url: location.href});
      }
    }).catch(function () { /* no offline reload then; the outbox still works */ });
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "outbox-changed") emit(event.data.detail, true);
    });
  }

  function startPage() {
    registerServiceWorker();
    var banner = document.getElementById("offline-queue");
    onChange(function (detail) {
      renderBanner();
      if (banner && ((detail.flushed && detail.flushed.accepted) || (detail.result && detail.result.state === "accepted"))) {
        refreshTodayList();
      }
    });
    var kick = function () { flush().catch(function () {}); };
    housekeeping().then(renderBanner).then(kick);
    window.addEventListener("online", kick);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") kick();
    });
    setInterval(function () {
      if (document.visibilityState !== "hidden") kick();
    }, FLUSH_EVERY_MS);
  }

  var api = {
    ROOT: ROOT,
    SYNC_TAG: SYNC_TAG,
    enqueue: enqueue,
    list: list,
    findByPatrol: findByPatrol,
    sendById: sendById,
    transmit: transmit,
    currentAddresses: currentAddresses,
    flush: flush,
    onChange: onChange,
    getDraft: getDraft,
    putDraft: putDraft,
    deleteDraft: deleteDraft,
    patrolsHeld: patrolsHeld,
    outcomes: outcomes,
    getOutcome: getOutcome,
    outcomeForPatrol: outcomeForPatrol,
    dismissOutcome: dismissOutcome,
    renderBanner: renderBanner,
    language: language,
    timeLabel: timeLabel
  };
  global.GridPatrolQueue = api;

  if (inWindow) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startPage);
    else startPage();
  }
})(typeof self !== "undefined" ? self : this);
