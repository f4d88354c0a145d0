// The patrol form's progress, for a checklist of 60 items in a corridor:
//   - the sticky bar counts the items answered ("已填 23 / 41", only the items on this form) and jumps to the
//     next unanswered one (after the item in focus, or after what is scrolled past; then from the top);
//   - "本组全部合格" marks every still-unanswered item of a category group as passed — answers already given
//     (fail, N/A, pass) stay — by checking the radio buttons and firing the events a tap fires, so the draft
//     saves them like any answer; each item can be changed afterwards, and the last group action undone;
//   - the checks the server makes (every item answered, N/A only where allowed, a photo for a failed item that
//     requires one) run before submitting, marking the items with the `unanswered` class and listing them;
//     once shown, the list and the marks follow the answers and disappear when nothing is missing.
(function () {
  "use strict";

  var F = window.GridPatrol.patrolForm;

  F.addMessages({
    "zh-CN": {
      answered: "已填 {done} / {total}",
      undoGroup: "撤销（{n} 项）",
      notAnswered: "以下检查项还没有填写：{codes}",
      naNotAllowed: "检查项 {code} 不能选“不适用”。",
      needsPhoto: "检查项 {code} 不合格，需要拍照。"
    },
    en: {
      answered: "Answered {done} / {total}",
      undoGroup: "Undo ({n} items)",
      notAnswered: "Items not answered: {codes}",
      naNotAllowed: "Item {code} cannot be answered N/A.",
      needsPhoto: "Item {code} failed and needs a photo."
    }
  });

  F.part("progress", function (ctx) {
    var form = ctx.form;
    var state = ctx.state;
    var items = ctx.items;
    var bar = form.querySelector(".form-progress");
    var countText = bar && bar.querySelector(".progress-count");
    var nextButton = bar && bar.querySelector(".next-unanswered");
    var undoButton = bar && bar.querySelector(".undo-group");
    var groupButtons = Array.prototype.slice.call(form.querySelectorAll("button.group-pass"));
    var lastGroup = null;  // {category, radios}: what the last "all pass" checked
    var lastTouched = null;  // the item the leader last answered or focused

    function pageText(el, attribute, key, vars) {
      var text = el && el.getAttribute(attribute);
      return text ? F.fill(text, vars) : F.t(key, vars);
    }

    function groupItems(category) {
      return items.filter(function (item) { return item.dataset.category === category; });
    }

    function unanswered() {
      return items.filter(function (item) { return !ctx.answerOf(item); });
    }

    // "以下检查项还没有填写：SD-01, SD-02 …" with each code kept on one line (a code breaks at its hyphen).
    function codeList(codes) {
      var marker = "\u0000";
      var parts = F.t("notAnswered", {codes: marker}).split(marker);
      var message = F.element("span", "unanswered-list");
      message.appendChild(document.createTextNode(parts[0]));
      codes.forEach(function (code, i) {
        if (i) message.appendChild(document.createTextNode(", "));
        message.appendChild(F.element("span", "nowrap", code));
      });
      message.appendChild(document.createTextNode(parts.slice(1).join("")));
      return message;
    }

    // The same checks the server makes; no side effects.
    function problems() {
      var messages = [];
      var codes = [];
      var marked = [];
      items.forEach(function (item) {
        var answer = ctx.answerOf(item);
        var code = ctx.itemCode(item);
        var bad = true;
        if (!answer) codes.push(code);
        else if (answer === "na" && item.dataset.allowNa !== "1") messages.push(F.t("naNotAllowed", {code: code}));
        else if (answer === "fail" && item.dataset.photoOnFail === "1" && !ctx.photosOf(item.dataset.itemId).length) {
          messages.push(F.t("needsPhoto", {code: code}));
        } else bad = false;
        if (bad) marked.push(item);
      });
      if (codes.length) messages.unshift(codeList(codes));
      return {messages: messages, marked: marked};
    }

    function mark(found) {
      items.forEach(function (item) { item.classList.toggle("unanswered", found.marked.indexOf(item) >= 0); });
    }

    function focusItem(item) {
      item.scrollIntoView({block: "center"});
      var radio = item.querySelector("input[type=radio]:checked") || item.querySelector("input[type=radio]");
      if (!radio) return;
      try {
        radio.focus({preventScroll: true});
      } catch (_e) {
        radio.focus();
      }
    }

    // Before submitting: marks and lists what is missing, brings the first such item into view; returns the
    // messages (none: the patrol may be sent).
    function validate() {
      var found = problems();
      mark(found);
      state.checksShown = true;
      if (found.marked.length) focusItem(found.marked[0]);
      return found.messages;
    }

    function refresh() {
      var open = unanswered();
      var done = items.length - open.length;
      if (bar) {
        bar.dataset.done = String(done);
        bar.dataset.total = String(items.length);
        bar.classList.toggle("complete", !open.length);
      }
      if (countText) countText.textContent = pageText(bar, "data-count-text", "answered", {done: done, total: items.length});
      if (nextButton) nextButton.disabled = !open.length;
      groupButtons.forEach(function (button) {
        var group = groupItems(button.dataset.category);
        var left = group.filter(function (item) { return !ctx.answerOf(item); }).length;
        button.dataset.left = String(left);
        button.classList.toggle("group-done", !left);
        var count = form.querySelector('.group-count[data-category="' + button.dataset.category + '"]');
        if (count) count.textContent = (group.length - left) + " / " + group.length;
      });
      if (undoButton) {
        var still = lastGroup ? lastGroup.radios.filter(function (radio) { return radio.checked; }).length : 0;
        undoButton.hidden = !still;
        if (still) undoButton.textContent = pageText(undoButton, "data-text", "undoGroup", {n: still});
      }
      if (state.checksShown) {
        var found = problems();
        mark(found);
        if (state.errorsAreChecks) ctx.showErrors(found.messages, true);  // not over a refusal shown since
      }
    }

    // A tap on a radio button fires input and change, bubbling: so does this, for the draft and the checks.
    function fire(radio) {
      radio.dispatchEvent(new Event("input", {bubbles: true}));
      radio.dispatchEvent(new Event("change", {bubbles: true}));
    }

    function groupPass(button) {
      var checked = [];
      groupItems(button.dataset.category).forEach(function (item) {
        if (ctx.answerOf(item)) return;  // a fail or N/A (or pass) already given stays
        var radio = item.querySelector('input[type=radio][value="pass"]');
        if (!radio || radio.disabled) return;
        radio.checked = true;
        checked.push(radio);
      });
      if (!checked.length) return;
      lastGroup = {category: button.dataset.category, radios: checked};
      checked.forEach(fire);
      refresh();
    }

    function undoGroup() {
      if (!lastGroup) return;
      var undone = lastGroup.radios.filter(function (radio) { return radio.checked; });
      var first = undone.length ? undone[0].closest(".check-item") : null;
      lastGroup = null;
      undone.forEach(function (radio) {
        radio.checked = false;
        fire(radio);
      });
      refresh();
      if (first) focusItem(first);
    }

    // The next unanswered item after the one in focus or last answered (or after those scrolled past), else
    // the first one. (A tap on an answer's label checks the radio button without always focusing it.)
    function nextUnanswered() {
      var open = unanswered();
      if (!open.length) return;
      var active = document.activeElement;
      var current = (active && active.closest ? active.closest(".check-item") : null) || lastTouched;
      var from = current ? items.indexOf(current) : -1;
      if (from < 0) {
        var top = bar ? bar.getBoundingClientRect().bottom : 0;
        items.forEach(function (item, i) {
          if (item.getBoundingClientRect().top < top) from = i;
        });
      }
      var target = open.filter(function (item) { return items.indexOf(item) > from; })[0] || open[0];
      lastTouched = target;
      focusItem(target);
    }

    function touched(event) {
      var item = event.target && event.target.closest ? event.target.closest(".check-item") : null;
      if (item && event.isTrusted) lastTouched = item;
    }

    groupButtons.forEach(function (button) {
      button.addEventListener("click", function () { groupPass(button); });
    });
    if (nextButton) nextButton.addEventListener("click", nextUnanswered);
    form.addEventListener("change", touched);
    form.addEventListener("focusin", touched);
    if (undoButton) undoButton.addEventListener("click", undoGroup);
    if (bar) bar.hidden = false;
    groupButtons.forEach(function (button) { button.hidden = false; });

    ctx.onAnswersChanged(refresh);
    ctx.validate = validate;
    ctx.refresh = refresh;
  });
})();
