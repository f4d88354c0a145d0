// Today's list kept for a day without network: the page side (the service worker's side is sw-today.js).
//
// Online, opening the list asks the service worker to keep the form of every patrol marked data-offline-patrol
// (those the leader can still fill) and to drop the pages of patrols not on the list (data-patrol-id); offline,
// it only asks which forms are kept. Each card
// whose form is kept shows its "saved on this tablet" mark (.offline-mark), and #offline-ready says how many of
// the list's patrols are ready ("3 / 4 …"; the sentence, translated, is in its data-text). When the network
// comes back, the list is kept again (a form the leader could not fetch before is fetched now).
(function () {
  "use strict";

  var ready = {};  // patrol id → its form is in the cache
  var answered = false;  // a worker has answered (an older one, from before this feature, does not)

  function cards() {
    return Array.prototype.slice.call(document.querySelectorAll("main .patrol-list [data-offline-patrol]"));
  }

  function render(done) {
    var summary = document.getElementById("offline-ready");
    var list = cards();
    var count = 0;
    list.forEach(function (card) {
      var isReady = !!ready[card.dataset.offlinePatrol];
      if (isReady) count += 1;
      card.dataset.offlineReady = isReady ? "1" : "0";
      var mark = card.querySelector(".offline-mark");
      if (mark) mark.hidden = !isReady;
    });
    if (!summary) return;
    summary.textContent = (summary.dataset.text || "").replace("{ready}", count).replace("{total}", list.length);
    summary.dataset.ready = String(count);
    summary.dataset.total = String(list.length);
    if (done !== undefined) summary.dataset.state = done ? "done" : "working";
    summary.hidden = !list.length;
  }

  function ask(worker) {
    var ids = cards().map(function (card) { return card.dataset.offlinePatrol; });
    var listed = Array.prototype.map.call(document.querySelectorAll("main .patrol-list [data-patrol-id]"),
                                          function (card) { return card.dataset.patrolId; });
    var channel = new MessageChannel();
    channel.port1.onmessage = function (event) {
      var answer = event.data || {};
      if (answer.type === "offline-patrol") {
        ready[answer.id] = !!answer.ready;
        render(false);
      } else if (answer.type === "offline-done") {
        answered = true;
        render(true);
        channel.port1.close();
      }
    };
    render(false);
    worker.postMessage({
      type: navigator.onLine === false ? "which-kept" : "keep-today", todayUrl: location.href, patrols: ids,
      listed: listed
    }, [channel.port2]);
  }

  function start() {
    if (!document.getElementById("offline-ready") || !("serviceWorker" in navigator) ||
        typeof MessageChannel === "undefined") return;
    var asking = navigator.serviceWorker.ready.then(function (registration) {
      return registration.active;
    });
    var askNow = function () {
      asking.then(function (worker) { if (worker) ask(worker); }).catch(function () {});
    };
    askNow();
    window.addEventListener("online", askNow);
    // A newer worker took over (an update of the app): if the one asked did not answer, this one may.
    navigator.serviceWorker.addEventListener("controllerchange", function () {
      if (answered) return;
      asking = navigator.serviceWorker.ready.then(function (registration) { return registration.active; });
      askNow();
    });
    // The queue swaps in a fresh list after it delivered a patrol (offline-queue.js): mark the new cards.
    document.addEventListener("gridpatrol:today-list-replaced", function () { render(); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
