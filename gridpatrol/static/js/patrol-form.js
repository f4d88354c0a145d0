// The tablet checklist form (巡查表), progressively enhanced; the last of its scripts (patrol-form-base.js lists
// them). Without the scripts the form still posts as plain HTML. This file builds the context the parts share —
// the form, its items, the state, the notices and errors in the submit bar — runs each part's setup in the
// order the page loaded them, wires the form's own events, marks the patrol in progress, and restores the
// draft or the outbox entry kept on this tablet.
(function () {
  "use strict";

  var F = window.GridPatrol && window.GridPatrol.patrolForm;

  function context(form) {
    var data = form.dataset;
    var draftStatus = form.querySelector(".draft-status");
    var formErrors = form.querySelector(".form-errors");
    var submitButton = form.querySelector(".submit-bar button[type=submit]") || form.querySelector("button[type=submit]");
    var submitBar = form.querySelector(".submit-bar") || form;
    var notice = null;
    var answerListeners = [];

    var ctx = {
      form: form,
      data: data,
      patrolId: String(data.patrolId),
      queue: window.GridPatrolQueue || null,
      items: Array.prototype.slice.call(form.querySelectorAll(".check-item")),
      uuidInput: form.querySelector("input[name=client_uuid]"),
      state: {
        clientUuid: data.clientUuid,
        photos: [],      // {itemId, name, blob, url}
        scans: [],       // {code, scanned_at, method, name, grid, otherGrid, verified}
        location: null,  // {lon, lat, accuracy, at}
        touched: false,  // nothing is saved before the leader has done something
        busy: false,
        pendingPhotos: [],
        entryId: null,   // the outbox entry of this patrol, when one is queued
        delivered: null, // the outcome id when the queue already delivered this patrol
        checksShown: false,     // the checks before submitting have been shown once: they follow the answers now
        errorsAreChecks: false  // the submit bar's errors are those checks (not a refusal from the server)
      }
    };

    ctx.itemOf = function (id) {
      return form.querySelector('.check-item[data-item-id="' + id + '"]');
    };

    ctx.itemCode = function (item) {
      var code = item.querySelector(".item-code");
      return code ? code.textContent.trim() : item.dataset.itemId;
    };

    ctx.answerOf = function (item) {
      var checked = item.querySelector('input[type=radio][name="answer-' + item.dataset.itemId + '"]:checked');
      return checked ? checked.value : null;
    };

    ctx.noteOf = function (item) {
      var note = item.querySelector('textarea[name="note-' + item.dataset.itemId + '"]');
      return note ? note.value : "";
    };

    ctx.photosOf = function (itemId) {
      return ctx.state.photos.filter(function (p) { return String(p.itemId) === String(itemId); });
    };

    ctx.setStatus = function (key, vars, dataState) {
      if (!draftStatus) return;
      draftStatus.textContent = F.t(key, vars);
      draftStatus.dataset.state = dataState || key;
    };

    // A notice in the submit bar (sending, queued, sent, log in): text, links as buttons, and more content.
    ctx.showNotice = function (kind, text, links, extra) {
      if (!notice) {
        notice = F.element("div", "flash queue-notice");
        notice.setAttribute("role", "status");
        submitBar.insertBefore(notice, submitBar.firstChild);
      }
      notice.textContent = "";
      notice.dataset.state = kind;
      notice.appendChild(F.element("span", "queue-notice-text", text));
      if (extra) notice.appendChild(extra);
      var actions = (links || []).filter(Boolean);
      if (actions.length) {
        var row = F.element("span", "queue-notice-actions");
        actions.forEach(function (link) {
          var a = F.element("a", "button small", link.label);
          a.href = link.href;
          row.appendChild(a);
        });
        notice.appendChild(document.createTextNode(" "));
        notice.appendChild(row);
      }
      notice.hidden = false;
    };

    ctx.hideNotice = function () {
      if (notice) notice.hidden = true;
    };

    // Messages are strings or elements. `fromChecks`: these are the checks before submitting (they follow the
    // answers from now on).
    ctx.showErrors = function (messages, fromChecks) {
      ctx.state.errorsAreChecks = !!fromChecks;
      if (!formErrors) return;
      formErrors.textContent = "";
      messages.forEach(function (message, i) {
        if (i) formErrors.appendChild(F.element("br"));
        formErrors.appendChild(typeof message === "string" ? document.createTextNode(message) : message);
      });
    };

    ctx.lockForm = function (locked) {
      if (!submitButton) return;
      submitButton.disabled = locked;
      if (locked) submitButton.setAttribute("aria-busy", "true");
      else submitButton.removeAttribute("aria-busy");
    };

    // Answers (or a failed item's photos) changed: the progress, the groups and the checks follow.
    ctx.onAnswersChanged = function (fn) {
      answerListeners.push(fn);
    };
    ctx.answersChanged = function () {
      answerListeners.forEach(function (fn) { fn(); });
    };
    return ctx;
  }

  // Restore the draft, and find out whether this patrol is waiting in the outbox or was already delivered
  // (a form page reopened from the service worker's cache after the queue sent it).
  function resume(ctx) {
    var queue = ctx.queue;
    var state = ctx.state;
    Promise.all([
      queue.getDraft(ctx.patrolId).catch(function () { return null; }),
      queue.findByPatrol(ctx.patrolId).catch(function () { return null; }),
      queue.outcomeForPatrol(ctx.patrolId).catch(function () { return null; })
    ]).then(function (found) {
      var draft = found[0];
      var entry = found[1];
      var outcome = found[2];
      if (!entry && outcome && outcome.state === "accepted") {
        state.delivered = outcome.id;
        ctx.lockForm(true);
        ctx.showNotice("accepted", ctx.scoreText(outcome.score), [ctx.todayLink()]);
        return;
      }
      if (draft && !state.photos.length && !state.scans.length) ctx.restore(draft);
      if (entry) {
        state.entryId = entry.id;
        if (entry.id !== state.clientUuid) {
          state.clientUuid = entry.id;
          if (ctx.uuidInput) ctx.uuidInput.value = entry.id;
        }
        ctx.lockForm(true);
        ctx.showNotice("queued", F.t("queuedWaiting"), [ctx.todayLink()]);
      } else if (outcome && outcome.state === "rejected" && outcome.id === state.clientUuid) {
        // Sent from the outbox while the form was closed, and refused: say why, the draft is here to fix.
        ctx.showErrors([F.t("rejected", {message: outcome.message})]);
      }
    });
  }

  function init() {
    var form = document.getElementById("patrol-form");
    if (!form || !F) return;
    var ctx = context(form);
    F.parts.forEach(function (part) { part.setup(ctx); });

    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.classList && target.classList.contains("photo-input")) {
        ctx.onPhotosChosen(target);
        return;
      }
      if (target.classList && target.classList.contains("scan-code")) return;
      ctx.saveSoon();
      if (target.type === "radio") ctx.answersChanged();
    });
    form.addEventListener("input", function (event) {
      if (event.target.tagName === "TEXTAREA" && event.target.closest(".check-item")) ctx.saveSoon();
    });
    ctx.answersChanged();  // the browser may have kept answers across a reload

    // Opening the form marks the patrol in progress (best effort: offline, the submission carries the time).
    var metaToken = document.querySelector("meta[name=csrf-token]");
    if (ctx.data.startUrl && navigator.onLine !== false && metaToken) {
      fetch(ctx.data.startUrl, {method: "POST", credentials: "same-origin", redirect: "manual",
                                headers: {"X-CSRFToken": metaToken.content, "Accept": "application/json"}})
        .catch(function () {});
    }

    if (ctx.queue) resume(ctx);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
