// Submitting the patrol form: after the checks (patrol-form-progress.js), the payload and its photos go to the
// offline outbox (offline-queue.js) first, then the form tries to send them. The server's answer is shown: the
// score, and the issues the failed items raised with links to them (the leader stays on the page to see them;
// a patrol without any goes back to today's list); or "queued" when the network is away (the queue sends it
// later), or what to do when the login has expired or the server refused the patrol.
(function () {
  "use strict";

  var F = window.GridPatrol.patrolForm;
  var BACK_TO_TODAY_MS = 600;

  F.addMessages({
    "zh-CN": {
      sending: "正在提交…",
      submitted: "巡查记录已提交，得分 {score}。",
      submittedNoScore: "巡查记录已提交。",
      raisedIssues: "不合格项已生成 {n} 个问题隐患，进入整改台账：",
      issueLink: "{code} → 问题 #{id}",
      viewPatrol: "查看巡查记录",
      queued: "网络不可用：巡查记录已保存在本机，网络恢复后自动发送（提交时间按现在记录）。",
      queuedWaiting: "这份巡查记录已保存在本机，正在等待发送。",
      authNeeded: "登录已过期：巡查记录已保存在本机，请重新登录，登录后自动发送。",
      rejected: "提交未被接受：{message}",
      storageFailed: "无法保存在本机（{error}），正在直接提交…",
      backToToday: "返回今日巡查",
      logIn: "重新登录"
    },
    en: {
      sending: "Submitting…",
      submitted: "Patrol submitted. Score: {score}.",
      submittedNoScore: "Patrol submitted.",
      raisedIssues: "The failed items raised {n} issue(s) for rectification:",
      issueLink: "{code} → issue #{id}",
      viewPatrol: "View the patrol record",
      queued: "No network: the patrol is saved on this tablet and sent automatically when the network is back (the completion time is now).",
      queuedWaiting: "This patrol is saved on this tablet and waiting to be sent.",
      authNeeded: "Your login has expired: the patrol is saved on this tablet; log in again and it is sent automatically.",
      rejected: "The submission was not accepted: {message}",
      storageFailed: "Cannot save on this tablet ({error}); submitting directly…",
      backToToday: "Back to today's patrols",
      logIn: "Log in again"
    }
  });

  F.part("submit", function (ctx) {
    var form = ctx.form;
    var data = ctx.data;
    var state = ctx.state;
    var queue = ctx.queue;

    function buildEntry() {
      var answers = ctx.items.map(function (item) {
        var id = item.dataset.itemId;
        return {item_id: Number(id), result: ctx.answerOf(item), note: ctx.noteOf(item).trim(),
                photos: ctx.photosOf(id).map(function (p) { return p.name; })};
      });
      var used = {};
      answers.forEach(function (a) { a.photos.forEach(function (n) { used[n] = true; }); });
      var payload = {
        client_uuid: state.clientUuid,
        completed_at: F.isoWithOffset(new Date()),
        answers: answers,
        scans: state.scans.map(function (s) { return {code: s.code, scanned_at: s.scanned_at, method: s.method}; }),
        location: state.location ? {lon: state.location.lon, lat: state.location.lat, accuracy: state.location.accuracy} : null
      };
      return {
        // The API's submission (data-submit-url); the form's action is the plain form's, for a page without script.
        id: state.clientUuid, patrolId: ctx.patrolId, url: data.submitUrl || form.action, csrfUrl: data.csrfUrl,
        todayUrl: data.todayUrl,
        gridCode: data.gridCode || "", gridName: data.gridName || "", payload: JSON.stringify(payload),
        photos: state.photos.filter(function (p) { return used[p.name]; }).map(function (p) { return {name: p.name, blob: p.blob}; }),
        queuedAt: new Date().toISOString()
      };
    }

    function todayLink() {
      return data.todayUrl ? {href: data.todayUrl, label: F.t("backToToday")} : null;
    }

    function loginLink() {
      var root = queue ? queue.ROOT : "/";
      return {href: root + "login?next=" + encodeURIComponent(location.pathname), label: F.t("logIn")};
    }

    function scoreText(score) {
      return score === null || score === undefined ? F.t("submittedNoScore") : F.t("submitted", {score: Math.round(score)});
    }

    // The issues the failed items raised, each a link to its page (the server's `follow_ups`).
    function raisedList(followUps) {
      var box = F.element("div", "raised-issues");
      box.appendChild(F.element("p", null, F.t("raisedIssues", {n: followUps.length})));
      var list = F.element("ul", "raised-list");
      followUps.forEach(function (f) {
        var item = ctx.itemOf(f.item_id);
        var li = F.element("li");
        var a = F.element("a", "follow-up", F.t("issueLink", {code: item ? ctx.itemCode(item) : "", id: f.id}));
        a.href = f.url;
        a.dataset.kind = f.kind;
        a.dataset.id = String(f.id);
        li.appendChild(a);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(F.element("span", "badge issue-" + f.state, f.state_label));
        li.appendChild(F.element("span", "raised-title", f.title));
        list.appendChild(li);
      });
      box.appendChild(list);
      return box;
    }

    // What the server (or the lack of one) said about this patrol's submission.
    function showOutcome(result) {
      if (result.state === "accepted" || result.state === "gone") {
        var body = result.body || {};
        var followUps = Array.isArray(body.follow_ups) ? body.follow_ups : [];
        ctx.setStatus("submittedNoScore", null, "submitted");
        form.classList.add("submitted");  // nothing left to fill: the bar's and groups' buttons go
        state.entryId = null;
        if (queue) queue.deleteDraft(ctx.patrolId).catch(function () {});
        if (followUps.length) {
          // The leader stays here to see where the failed items went.
          ctx.showNotice("accepted", scoreText(body.score),
                         [{href: location.pathname, label: F.t("viewPatrol")}, todayLink()], raisedList(followUps));
          return;
        }
        ctx.showNotice("accepted", scoreText(body.score), [todayLink()]);
        if (data.todayUrl) setTimeout(function () { location.assign(data.todayUrl); }, BACK_TO_TODAY_MS);
        return;
      }
      if (result.state === "rejected") {
        state.entryId = null;
        ctx.hideNotice();
        ctx.showErrors([F.t("rejected", {message: result.message})]);
        ctx.lockForm(false);
        return;
      }
      if (result.state === "auth") {
        ctx.showNotice("auth", F.t("authNeeded") + (result.status === 403 ? " " + result.message : ""), [loginLink()]);
        return;
      }
      ctx.showNotice("queued", F.t("queued"), [todayLink()]);
    }

    // IndexedDB unusable (private mode, storage full): send directly; nothing can be kept for later.
    function sendWithoutOutbox(entry) {
      return queue.transmit(entry).then(function (result) {
        if (result.state === "queued" || result.state === "auth") {
          ctx.hideNotice();
          ctx.showErrors([result.message]);
          ctx.lockForm(false);
          return;
        }
        showOutcome(result);
      });
    }

    function submit(event) {
      event.preventDefault();
      if (state.busy || state.entryId || state.delivered) return;
      state.busy = true;
      ctx.lockForm(true);
      ctx.showErrors([]);
      Promise.all(state.pendingPhotos).then(function () {
        var problems = ctx.validate();
        if (problems.length) {
          ctx.showErrors(problems, true);
          ctx.lockForm(false);
          return null;
        }
        if (!queue) {
          // Without the outbox script nothing can be kept: fall back to the plain HTML form post.
          form.removeEventListener("submit", submit);
          form.submit();
          return null;
        }
        var entry = buildEntry();
        ctx.showNotice("sending", F.t("sending"));
        state.touched = true;
        return ctx.saveNow().then(function () {
          return queue.enqueue(entry);
        }).then(function () {
          state.entryId = entry.id;
          return queue.sendById(entry.id).then(showOutcome);
        }, function (error) {
          ctx.showNotice("sending", F.t("storageFailed", {error: F.errorText(error)}));
          return sendWithoutOutbox(entry);
        });
      }).catch(function (error) {
        ctx.showErrors([F.errorText(error)]);
        ctx.lockForm(false);
      }).then(function () {
        state.busy = false;
      });
    }

    function outcomeResult(outcome) {
      return {state: outcome.state, status: outcome.status, message: outcome.message,
              body: {score: outcome.score, late: outcome.late}};
    }

    form.addEventListener("submit", submit);

    // The queue may deliver this patrol while the form is open (the network came back): show what happened.
    if (queue) {
      queue.onChange(function () {
        if (!state.entryId || state.busy) return;
        var id = state.entryId;
        queue.findByPatrol(ctx.patrolId).then(function (entry) {
          if (entry) return null;
          return queue.getOutcome(id).then(function (outcome) {
            if (outcome && state.entryId === id) showOutcome(outcomeResult(outcome));
          });
        }).catch(function () {});
      });
    }

    ctx.todayLink = todayLink;
    ctx.scoreText = scoreText;
  });
})();
