// The tablet checklist form (巡查表), first of its scripts: the namespace the others share, the bilingual
// dictionary (each topic adds its own strings) and small helpers. No bundler: the form page loads plain scripts
// in this order —
//   patrol-form-base.js      this file: window.GridPatrol.patrolForm (t, clock, element, part, …)
//   patrol-form-draft.js     the draft in IndexedDB (answers, notes, photos, scans, location), restored on opening
//   patrol-form-photos.js    photos downscaled in the browser, thumbnails
//   patrol-form-scan.js      checkpoints: typed, or read by the camera (BarcodeDetector or the vendored jsQR)
//   patrol-form-location.js  the location stamp (Geolocation API)
//   patrol-form-progress.js  how many items are answered, "all pass" per group, the next unanswered item, and
//                            the checks the server makes (kept up to date once shown)
//   patrol-form-submit.js    the outbox (offline-queue.js) first, then sending; what the server answered
//   patrol-form.js           builds the shared context, runs each part's setup in order and wires the events
// A part registers `setup(ctx)`; it puts the functions other parts call on `ctx` (ctx.saveSoon, ctx.addPhoto,
// ctx.refresh, …), which are only called once every part is set up.
// Strings shown come from the page (data attributes rendered with Babel) where it has them, otherwise from
// the dictionary below (Chinese and English).
(function (global) {
  "use strict";

  var GP = global.GridPatrol = global.GridPatrol || {};
  var F = GP.patrolForm = GP.patrolForm || {};
  var script = document.currentScript ? document.currentScript.src : "";
  var at = script.lastIndexOf("js/patrol-form-base.js");

  F.STATIC_ROOT = at >= 0 ? script.slice(0, at) : "/static/";
  F.parts = [];
  F.MESSAGES = {"zh-CN": {}, en: {}};

  // Each part adds its strings: {"zh-CN": {key: "…"}, en: {key: "…"}}.
  F.addMessages = function (byLang) {
    Object.keys(byLang).forEach(function (lang) {
      var target = F.MESSAGES[lang] || (F.MESSAGES[lang] = {});
      Object.keys(byLang[lang]).forEach(function (key) { target[key] = byLang[lang][key]; });
    });
  };

  F.part = function (name, setup) {
    F.parts.push({name: name, setup: setup});
  };

  F.lang = function () {
    return /^zh/i.test(document.documentElement.lang || "") ? "zh-CN" : "en";
  };

  // Fills {name} placeholders; `text` is a page's string or a dictionary key.
  F.fill = function (text, vars) {
    return String(text).replace(/\{(\w+)\}/g, function (_m, name) {
      return vars && vars[name] !== undefined && vars[name] !== null ? String(vars[name]) : "";
    });
  };

  F.t = function (key, vars) {
    return F.fill(F.MESSAGES[F.lang()][key] || F.MESSAGES.en[key] || key, vars);
  };

  F.clock = function (date) {
    try {
      return (date || new Date()).toLocaleTimeString(F.lang(), {hour: "2-digit", minute: "2-digit"});
    } catch (_e) {
      return (date || new Date()).toTimeString().slice(0, 5);
    }
  };

  // ISO 8601 in the device's local time with its offset, e.g. 2026-10-10T09:41:07.123+08:00.
  F.isoWithOffset = function (date) {
    function pad(n, width) {
      var s = String(Math.abs(n));
      while (s.length < (width || 2)) s = "0" + s;
      return s;
    }
    var offset = -date.getTimezoneOffset();
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      "." + pad(date.getMilliseconds(), 3) + (offset >= 0 ? "+" : "-") +
      pad(Math.floor(Math.abs(offset) / 60)) + ":" + pad(Math.abs(offset) % 60);
  };

  F.randomId = function () {
    var bytes = new Uint8Array(6);
    (global.crypto || global.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  };

  F.element = function (tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined && text !== null) el.textContent = text;
    return el;
  };

  F.errorText = function (error) {
    return error && error.message ? error.message : String(error);
  };
})(window);
