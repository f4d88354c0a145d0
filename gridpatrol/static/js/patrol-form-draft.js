// The patrol form's draft: answers, notes, scans, the location stamp and the photos themselves are saved in
// IndexedDB on this tablet (offline-queue.js's `drafts` store, keyed by patrol id) as the leader works, and
// restored when the page is opened again, even after the browser was closed. Anything that changes an answer
// (a tap on a radio button, "all pass" for a group) fires the radio's `change` event, which saves the draft.
(function () {
  "use strict";

  var F = window.GridPatrol.patrolForm;
  var SAVE_DELAY_MS = 400;

  F.addMessages({
    "zh-CN": {
      draftSaved: "草稿已保存在本机 {time}",
      draftRestored: "已恢复本机保存的草稿（{time} 保存）",
      draftFailed: "草稿无法保存在本机：{error}"
    },
    en: {
      draftSaved: "Draft saved on this tablet {time}",
      draftRestored: "Draft restored from this tablet (saved {time})",
      draftFailed: "The draft cannot be saved on this tablet: {error}"
    }
  });

  F.part("draft", function (ctx) {
    var state = ctx.state;
    var data = ctx.data;
    var saveTimer = null;
    var saveChain = Promise.resolve();

    function collectDraft() {
      var answers = {};
      var notes = {};
      ctx.items.forEach(function (item) {
        var id = item.dataset.itemId;
        var answer = ctx.answerOf(item);
        if (answer) answers[id] = answer;
        var note = ctx.noteOf(item);
        if (note) notes[id] = note;
      });
      return {
        patrolId: ctx.patrolId, clientUuid: state.clientUuid, gridCode: data.gridCode || "", gridName: data.gridName || "",
        answers: answers, notes: notes,
        photos: state.photos.map(function (p) { return {itemId: p.itemId, name: p.name, blob: p.blob}; }),
        scans: state.scans.slice(), location: state.location, updatedAt: new Date().toISOString()
      };
    }

    function saveNow() {
      clearTimeout(saveTimer);
      saveTimer = null;
      if (!ctx.queue || !state.touched) return saveChain;
      var draft = collectDraft();
      saveChain = saveChain.then(function () {
        return ctx.queue.putDraft(draft);
      }).then(function () {
        if (!state.entryId) ctx.setStatus("draftSaved", {time: F.clock()}, "saved");
      }, function (error) {
        ctx.setStatus("draftFailed", {error: F.errorText(error)}, "failed");
      });
      return saveChain;
    }

    function saveSoon() {
      state.touched = true;
      clearTimeout(saveTimer);
      saveTimer = setTimeout(saveNow, SAVE_DELAY_MS);
    }

    function restore(draft) {
      if (draft.clientUuid) {
        state.clientUuid = draft.clientUuid;
        if (ctx.uuidInput) ctx.uuidInput.value = draft.clientUuid;
      }
      ctx.items.forEach(function (item) {
        var id = item.dataset.itemId;
        var answer = draft.answers && draft.answers[id];
        if (answer) {
          var radio = item.querySelector('input[type=radio][name="answer-' + id + '"][value="' + answer + '"]');
          if (radio) radio.checked = true;
        }
        var note = item.querySelector('textarea[name="note-' + id + '"]');
        if (note && draft.notes && draft.notes[id]) note.value = draft.notes[id];
      });
      (draft.photos || []).forEach(function (photo) {
        if (photo && photo.blob && ctx.itemOf(photo.itemId)) ctx.addPhoto(photo.itemId, photo.blob, photo.name);
      });
      state.scans = (draft.scans || []).slice();
      ctx.renderScans();
      if (draft.location) {
        state.location = draft.location;
        ctx.showLocation();
      }
      state.touched = true;
      ctx.setStatus("draftRestored", {time: F.clock(new Date(draft.updatedAt))}, "restored");
      ctx.answersChanged();
    }

    function flushPending() {
      if (saveTimer) saveNow();
    }

    window.addEventListener("pagehide", flushPending);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") flushPending();
    });

    ctx.saveNow = saveNow;
    ctx.saveSoon = saveSoon;
    ctx.restore = restore;
  });
})();
