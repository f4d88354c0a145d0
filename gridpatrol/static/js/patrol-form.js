// The tablet checklist form (巡查表), progressively enhanced. Without this script the form still posts as plain
// HTML; with it:
//   - a draft (answers, notes, scans, location stamp and the photos themselves) is saved in IndexedDB on this
//     tablet as the leader works, keyed by patrol id, and restored when the page is opened again, even after the
//     browser was closed;
//   - photos are downscaled in the browser (long side ≤ 1600 px, JPEG ~0.8) and shown as thumbnails;
//   - the checks the server makes (every item answered, N/A only where allowed, a photo for a failed item that
//     requires one) run before submitting, marking the items with the `unanswered` class;
//   - checkpoints are scanned with the camera (BarcodeDetector, or the vendored jsQR on video frames) or typed;
//   - the location is stamped with the Geolocation API;
//   - submitting writes the payload and photos to the offline outbox (offline-queue.js) first, then tries to
//     send it: the server's answer is shown, or "queued" when the network is away; the queue sends it later.
// Strings shown come from the page where it has them, otherwise from the small dictionary below.
(function () {
  "use strict";

  var MAX_SIDE = 1600;
  var JPEG_QUALITY = 0.8;
  var SAVE_DELAY_MS = 400;
  var REPEAT_SCAN_MS = 60 * 1000;
  var SCAN_EVERY_MS = 200;
  var SCAN_FRAME_SIDE = 800;
  var CHECK_TIMEOUT_MS = 8000;

  var SCRIPT_SRC = document.currentScript ? document.currentScript.src : "";

  var MESSAGES = {
    "zh-CN": {
      draftSaved: "草稿已保存在本机 {time}",
      draftRestored: "已恢复本机保存的草稿（{time} 保存）",
      draftFailed: "草稿无法保存在本机：{error}",
      photoWorking: "正在处理照片…",
      photoFailed: "无法读取这张照片：{name}",
      removePhoto: "删除",
      removePhotoLabel: "删除照片",
      photoAlt: "{code} 的照片 {n}",
      notAnswered: "以下检查项还没有填写：{codes}",
      naNotAllowed: "检查项 {code} 不能选“不适用”。",
      needsPhoto: "检查项 {code} 不合格，需要拍照。",
      scanStop: "停止扫码",
      scanStarting: "正在打开摄像头…",
      scanNoCamera: "无法使用摄像头（{error}），请输入巡更点编号。",
      scanNoDecoder: "无法加载二维码识别程序，请输入巡更点编号。",
      scanDuplicate: "巡更点 {code} 一分钟内已记录过。",
      scanUnknown: "巡更点编号无效：{error}",
      scanOtherGrid: "其他网格 {grid}",
      scanUnverified: "待核验",
      scanRemove: "删除",
      scanRemoveLabel: "删除巡更点记录 {code}",
      scanQr: "扫码",
      scanTyped: "手输",
      locating: "正在定位…",
      located: "已定位：{lat}, {lon}（精度约 {accuracy} 米，{time}）",
      locationDenied: "没有定位权限，请在浏览器设置中允许定位。",
      locationUnavailable: "暂时无法定位，请到窗边或室外再试。",
      locationTimeout: "定位超时，请再试一次。",
      locationUnsupported: "这台设备不支持定位。",
      sending: "正在提交…",
      submitted: "巡查记录已提交，得分 {score}。",
      submittedNoScore: "巡查记录已提交。",
      queued: "网络不可用：巡查记录已保存在本机，网络恢复后自动发送（提交时间按现在记录）。",
      queuedWaiting: "这份巡查记录已保存在本机，正在等待发送。",
      authNeeded: "登录已过期：巡查记录已保存在本机，请重新登录，登录后自动发送。",
      rejected: "提交未被接受：{message}",
      storageFailed: "无法保存在本机（{error}），正在直接提交…",
      backToToday: "返回今日巡查",
      logIn: "重新登录"
    },
    en: {
      draftSaved: "Draft saved on this tablet {time}",
      draftRestored: "Draft restored from this tablet (saved {time})",
      draftFailed: "The draft cannot be saved on this tablet: {error}",
      photoWorking: "Processing photo…",
      photoFailed: "This photo cannot be read: {name}",
      removePhoto: "Remove",
      removePhotoLabel: "Remove photo",
      photoAlt: "Photo {n} of {code}",
      notAnswered: "Items not answered: {codes}",
      naNotAllowed: "Item {code} cannot be answered N/A.",
      needsPhoto: "Item {code} failed and needs a photo.",
      scanStop: "Stop scanning",
      scanStarting: "Opening the camera…",
      scanNoCamera: "The camera cannot be used ({error}); type the checkpoint code.",
      scanNoDecoder: "The QR reader could not be loaded; type the checkpoint code.",
      scanDuplicate: "Checkpoint {code} was recorded less than a minute ago.",
      scanUnknown: "Not a valid checkpoint code: {error}",
      scanOtherGrid: "other grid {grid}",
      scanUnverified: "not yet verified",
      scanRemove: "Remove",
      scanRemoveLabel: "Remove checkpoint record {code}",
      scanQr: "scanned",
      scanTyped: "typed",
      locating: "Locating…",
      located: "Located: {lat}, {lon} (about {accuracy} m, {time})",
      locationDenied: "No permission to use the location; allow it in the browser settings.",
      locationUnavailable: "The location is not available now; try near a window or outdoors.",
      locationTimeout: "Locating took too long; try again.",
      locationUnsupported: "This device cannot tell its location.",
      sending: "Submitting…",
      submitted: "Patrol submitted. Score: {score}.",
      submittedNoScore: "Patrol submitted.",
      queued: "No network: the patrol is saved on this tablet and sent automatically when the network is back (the completion time is now).",
      queuedWaiting: "This patrol is saved on this tablet and waiting to be sent.",
      authNeeded: "Your login has expired: the patrol is saved on this tablet; log in again and it is sent automatically.",
      rejected: "The submission was not accepted: {message}",
      storageFailed: "Cannot save on this tablet ({error}); submitting directly…",
      backToToday: "Back to today's patrols",
      logIn: "Log in again"
    }
  };

  function lang() {
    return /^zh/i.test(document.documentElement.lang || "") ? "zh-CN" : "en";
  }

  function t(key, vars) {
    var text = MESSAGES[lang()][key] || MESSAGES.en[key] || key;
    return text.replace(/\{(\w+)\}/g, function (_m, name) {
      return vars && vars[name] !== undefined && vars[name] !== null ? String(vars[name]) : "";
    });
  }

  function clock(date) {
    try {
      return (date || new Date()).toLocaleTimeString(lang(), {hour: "2-digit", minute: "2-digit"});
    } catch (_e) {
      return (date || new Date()).toTimeString().slice(0, 5);
    }
  }

  // ISO 8601 in the device's local time with its offset, e.g. 2026-10-10T09:41:07.123+08:00.
  function isoWithOffset(date) {
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
  }

  function randomId() {
    var bytes = new Uint8Array(6);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined && text !== null) el.textContent = text;
    return el;
  }

  function init() {
    var form = document.getElementById("patrol-form");
    if (!form) return;
    var queue = window.GridPatrolQueue || null;
    var data = form.dataset;
    var patrolId = String(data.patrolId);
    var draftStatus = form.querySelector(".draft-status");
    var formErrors = form.querySelector(".form-errors");
    var submitButton = form.querySelector(".submit-bar button[type=submit]") || form.querySelector("button[type=submit]");
    var submitBar = form.querySelector(".submit-bar") || form;
    var items = Array.prototype.slice.call(form.querySelectorAll(".check-item"));
    var uuidInput = form.querySelector("input[name=client_uuid]");
    var metaToken = document.querySelector("meta[name=csrf-token]");

    var state = {
      clientUuid: data.clientUuid,
      photos: [],      // {itemId, name, blob, url}
      scans: [],       // {code, scanned_at, method, name, grid, otherGrid, verified}
      location: null,  // {lon, lat, accuracy, at}
      touched: false,  // nothing is saved before the leader has done something
      busy: false,
      pendingPhotos: [],
      entryId: null,   // the outbox entry of this patrol, when one is queued
      delivered: null  // the outcome id when the queue already delivered this patrol
    };

    function itemOf(id) {
      return form.querySelector('.check-item[data-item-id="' + id + '"]');
    }

    function itemCode(item) {
      var code = item.querySelector(".item-code");
      return code ? code.textContent.trim() : item.dataset.itemId;
    }

    function answerOf(item) {
      var checked = item.querySelector('input[type=radio][name="answer-' + item.dataset.itemId + '"]:checked');
      return checked ? checked.value : null;
    }

    function noteOf(item) {
      var note = item.querySelector('textarea[name="note-' + item.dataset.itemId + '"]');
      return note ? note.value : "";
    }

    function photosOf(itemId) {
      return state.photos.filter(function (p) { return String(p.itemId) === String(itemId); });
    }

    function setStatus(key, vars, dataState) {
      if (!draftStatus) return;
      draftStatus.textContent = t(key, vars);
      draftStatus.dataset.state = dataState || key;
    }

    // --- notices in the submit bar (queued, sent, log in) ------------------------------------------------
    var notice = null;

    function showNotice(kind, text, link) {
      if (!notice) {
        notice = element("div", "flash queue-notice");
        notice.setAttribute("role", "status");
        submitBar.insertBefore(notice, submitBar.firstChild);
      }
      notice.textContent = "";
      notice.dataset.state = kind;
      notice.appendChild(element("span", "queue-notice-text", text));
      if (link) {
        notice.appendChild(document.createTextNode(" "));
        var a = element("a", "button small", link.label);
        a.href = link.href;
        notice.appendChild(a);
      }
      notice.hidden = false;
    }

    function hideNotice() {
      if (notice) notice.hidden = true;
    }

    function showErrors(messages) {
      if (!formErrors) return;
      formErrors.textContent = "";
      messages.forEach(function (message, i) {
        if (i) formErrors.appendChild(element("br"));
        formErrors.appendChild(document.createTextNode(message));
      });
    }

    // --- draft ------------------------------------------------------------------------------------------------
    var saveTimer = null;
    var saveChain = Promise.resolve();

    function collectDraft() {
      var answers = {};
      var notes = {};
      items.forEach(function (item) {
        var id = item.dataset.itemId;
        var answer = answerOf(item);
        if (answer) answers[id] = answer;
        var note = noteOf(item);
        if (note) notes[id] = note;
      });
      return {
        patrolId: patrolId, clientUuid: state.clientUuid, gridCode: data.gridCode || "", gridName: data.gridName || "",
        answers: answers, notes: notes,
        photos: state.photos.map(function (p) { return {itemId: p.itemId, name: p.name, blob: p.blob}; }),
        scans: state.scans.slice(), location: state.location, updatedAt: new Date().toISOString()
      };
    }

    function saveNow() {
      clearTimeout(saveTimer);
      saveTimer = null;
      if (!queue || !state.touched) return saveChain;
      var draft = collectDraft();
      saveChain = saveChain.then(function () {
        return queue.putDraft(draft);
      }).then(function () {
        if (!state.entryId) setStatus("draftSaved", {time: clock()}, "saved");
      }, function (error) {
        setStatus("draftFailed", {error: error && error.message ? error.message : String(error)}, "failed");
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
        if (uuidInput) uuidInput.value = draft.clientUuid;
      }
      items.forEach(function (item) {
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
        if (photo && photo.blob && itemOf(photo.itemId)) addPhoto(photo.itemId, photo.blob, photo.name);
      });
      state.scans = (draft.scans || []).slice();
      renderScans();
      if (draft.location) {
        state.location = draft.location;
        showLocation();
      }
      state.touched = true;
      setStatus("draftRestored", {time: clock(new Date(draft.updatedAt))}, "restored");
    }

    // --- photos ---------------------------------------------------------------------------------------------
    function decode(file) {
      if (window.createImageBitmap) {
        return createImageBitmap(file, {imageOrientation: "from-image"}).catch(function () {
          return createImageBitmap(file);
        }).then(function (bitmap) {
          return {source: bitmap, width: bitmap.width, height: bitmap.height, done: function () { bitmap.close(); }};
        }).catch(function () { return decodeWithImage(file); });
      }
      return decodeWithImage(file);
    }

    function decodeWithImage(file) {
      return new Promise(function (resolve, reject) {
        var url = URL.createObjectURL(file);
        var img = new Image();
        img.onload = function () {
          resolve({source: img, width: img.naturalWidth, height: img.naturalHeight,
                   done: function () { URL.revokeObjectURL(url); }});
        };
        img.onerror = function () {
          URL.revokeObjectURL(url);
          reject(new Error("decode"));
        };
        img.src = url;
      });
    }

    // The camera's 12-megapixel photo becomes a JPEG of at most 1600 px on its long side (a few hundred KB):
    // quick to store on the tablet and to send over a weak corridor Wi-Fi.
    function downscale(file) {
      return decode(file).then(function (image) {
        var scale = Math.min(1, MAX_SIDE / Math.max(image.width, image.height));
        var width = Math.max(1, Math.round(image.width * scale));
        var height = Math.max(1, Math.round(image.height * scale));
        var canvas = document.createElement("canvas");
        canvas.width = width;
        canvas.height = height;
        var ctx = canvas.getContext("2d");
        ctx.fillStyle = "#fff";  // a transparent PNG turns white, not black, as a JPEG
        ctx.fillRect(0, 0, width, height);
        ctx.drawImage(image.source, 0, 0, width, height);
        image.done();
        return new Promise(function (resolve, reject) {
          canvas.toBlob(function (blob) {
            if (blob) resolve(blob);
            else reject(new Error("encode"));
          }, "image/jpeg", JPEG_QUALITY);
        });
      });
    }

    function addPhoto(itemId, blob, name) {
      var item = itemOf(itemId);
      if (!item) return;
      var photo = {itemId: String(itemId), name: name, blob: blob, url: URL.createObjectURL(blob)};
      state.photos.push(photo);
      var previews = item.querySelector(".photo-previews");
      if (!previews) return;
      var box = element("div", "photo-preview");
      box.dataset.name = name;
      var img = element("img");
      img.src = photo.url;
      img.alt = t("photoAlt", {code: itemCode(item), n: photosOf(itemId).length});
      var remove = element("button", "button small remove-photo", t("removePhoto"));
      remove.type = "button";
      remove.setAttribute("aria-label", t("removePhotoLabel") + " " + img.alt);
      remove.addEventListener("click", function () {
        state.photos = state.photos.filter(function (p) { return p !== photo; });
        URL.revokeObjectURL(photo.url);
        box.remove();
        saveSoon();
      });
      box.appendChild(img);
      box.appendChild(remove);
      previews.appendChild(box);
      item.classList.remove("unanswered");
    }

    function onPhotosChosen(input) {
      var item = input.closest(".check-item");
      if (!item) return;
      var itemId = item.dataset.itemId;
      var files = Array.prototype.slice.call(input.files || []);
      input.value = "";  // the photos live in the draft now; choosing the same file again must work
      if (!files.length) return;
      setStatus("photoWorking", null, "working");
      var work = files.reduce(function (chain, file) {
        return chain.then(function () {
          return downscale(file).then(function (blob) {
            addPhoto(itemId, blob, "p" + itemId + "-" + randomId());
          }, function () {
            showErrors([t("photoFailed", {name: file.name})]);
          });
        });
      }, Promise.resolve()).then(function () {
        saveSoon();
        return saveNow();
      });
      state.pendingPhotos.push(work);
      work.then(function () {
        state.pendingPhotos = state.pendingPhotos.filter(function (w) { return w !== work; });
      });
    }

    // --- checkpoints ------------------------------------------------------------------------------------------
    var scanList = form.querySelector(".scan-list");
    var scanInput = form.querySelector(".scan-code");
    var scanAdd = form.querySelector(".scan-add");
    var scanCamera = form.querySelector(".scan-camera");
    var scanVideo = form.querySelector(".scan-video");
    var scanError = null;

    function showScanError(text) {
      if (!scanError) {
        scanError = element("p", "error scan-error");
        scanError.setAttribute("role", "alert");
        var controls = form.querySelector(".scan-controls");
        if (controls && controls.parentNode) controls.parentNode.insertBefore(scanError, controls.nextSibling);
        else if (scanList) scanList.parentNode.insertBefore(scanError, scanList);
      }
      scanError.textContent = text || "";
      scanError.hidden = !text;
    }

    function renderScans() {
      if (!scanList) return;
      scanList.textContent = "";
      state.scans.forEach(function (scan, index) {
        var li = element("li", "scan-entry");
        li.dataset.code = scan.code;
        li.dataset.verified = scan.verified ? "1" : "0";
        var label = scan.name ? scan.name : scan.code;
        li.appendChild(element("span", "scan-name", label));
        var when = element("span", "muted", clock(new Date(scan.scanned_at)) + " · " +
          (scan.method === "qr" ? t("scanQr") : t("scanTyped")));
        li.appendChild(when);
        if (scan.otherGrid) li.appendChild(element("span", "badge badge-warn", t("scanOtherGrid", {grid: scan.grid || ""})));
        if (!scan.verified) li.appendChild(element("span", "badge", t("scanUnverified")));
        var remove = element("button", "button small scan-remove", t("scanRemove"));
        remove.type = "button";
        remove.setAttribute("aria-label", t("scanRemoveLabel", {code: label}));
        remove.addEventListener("click", function () {
          state.scans.splice(index, 1);
          renderScans();
          saveSoon();
        });
        li.appendChild(remove);
        scanList.appendChild(li);
      });
    }

    // Online, the server says which checkpoint a code is (and refuses a wrong one at once); offline, the service
    // worker answers from the grid's checkpoint table kept with today's list (sw-checkpoints.js), or the lookup
    // fails and the code is kept unverified and checked when the patrol is submitted.
    function checkCode(code) {
      if (!data.checkpointUrl) return Promise.resolve({verified: false});
      var url = data.checkpointUrl + (data.checkpointUrl.indexOf("?") >= 0 ? "&" : "?") + "code=" + encodeURIComponent(code);
      var options = {credentials: "same-origin", cache: "no-store", redirect: "manual", headers: {"Accept": "application/json"}};
      var controller = typeof AbortController !== "undefined" ? new AbortController() : null;
      var timer = null;
      if (controller) {
        options.signal = controller.signal;
        timer = setTimeout(function () { controller.abort(); }, CHECK_TIMEOUT_MS);
      }
      return fetch(url, options).then(function (response) {
        clearTimeout(timer);
        var json = /json/.test(response.headers.get("Content-Type") || "");
        if (response.ok && json) {
          return response.json().then(function (body) {
            return {verified: true, name: body.name, grid: body.grid, otherGrid: !!body.other_grid};
          });
        }
        if ((response.status === 404 || response.status === 422) && json) {
          return response.json().then(function (body) { return {refused: body.detail || code}; });
        }
        return {verified: false};
      }, function () {
        clearTimeout(timer);
        return {verified: false};
      });
    }

    function addScan(raw, method) {
      var code = String(raw || "").trim();
      if (!code) return Promise.resolve(false);
      var now = new Date();
      var recent = state.scans.some(function (s) {
        return s.code.toUpperCase() === code.toUpperCase() && now - new Date(s.scanned_at) < REPEAT_SCAN_MS;
      });
      if (recent) {
        showScanError(t("scanDuplicate", {code: code}));
        return Promise.resolve(false);
      }
      var scannedAt = isoWithOffset(now);
      return checkCode(code).then(function (check) {
        if (check.refused) {
          showScanError(t("scanUnknown", {error: check.refused}));
          return false;
        }
        showScanError("");
        state.scans.push({code: code, scanned_at: scannedAt, method: method, name: check.name || null,
                          grid: check.grid || null, otherGrid: !!check.otherGrid, verified: !!check.verified});
        renderScans();
        saveSoon();
        return true;
      });
    }

    function addTyped() {
      if (!scanInput) return;
      var code = scanInput.value;
      addScan(code, "typed").then(function (added) {
        if (added) scanInput.value = "";
      });
    }

    // Camera scanning: frames of the <video> go to the browser's BarcodeDetector where it reads QR codes,
    // otherwise to jsQR (vendored, loaded on first use).
    var camera = {stream: null, timer: null, detector: null, canvas: null, running: false};
    var scanButtonLabel = scanCamera ? scanCamera.textContent : "";

    function loadScript(src) {
      return new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = resolve;
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }

    function staticUrl(path) {
      var at = SCRIPT_SRC.lastIndexOf("js/patrol-form.js");
      return (at >= 0 ? SCRIPT_SRC.slice(0, at) : "/static/") + path;
    }

    function getDetector() {
      if (camera.detector) return Promise.resolve(camera.detector);
      var native = window.BarcodeDetector && window.BarcodeDetector.getSupportedFormats
        ? window.BarcodeDetector.getSupportedFormats().catch(function () { return []; }) : Promise.resolve([]);
      return native.then(function (formats) {
        if (formats.indexOf("qr_code") >= 0) {
          var detector = new window.BarcodeDetector({formats: ["qr_code"]});
          camera.detector = function (video) {
            return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
          };
          return camera.detector;
        }
        var ready = window.jsQR ? Promise.resolve() : loadScript(staticUrl("vendor/jsQR.js"));
        return ready.then(function () {
          if (!window.jsQR) throw new Error("jsQR");
          camera.canvas = document.createElement("canvas");
          camera.detector = function (video) {
            var w = video.videoWidth;
            var h = video.videoHeight;
            if (!w || !h) return Promise.resolve(null);
            var scale = Math.min(1, SCAN_FRAME_SIDE / Math.max(w, h));
            var cw = Math.round(w * scale);
            var ch = Math.round(h * scale);
            camera.canvas.width = cw;
            camera.canvas.height = ch;
            var ctx = camera.canvas.getContext("2d", {willReadFrequently: true});
            ctx.drawImage(video, 0, 0, cw, ch);
            var frame = ctx.getImageData(0, 0, cw, ch);
            var found = window.jsQR(frame.data, cw, ch, {inversionAttempts: "attemptBoth"});
            return Promise.resolve(found && found.data ? found.data : null);
          };
          return camera.detector;
        });
      });
    }

    function stopCamera() {
      camera.running = false;
      clearTimeout(camera.timer);
      if (camera.stream) {
        camera.stream.getTracks().forEach(function (track) { track.stop(); });
        camera.stream = null;
      }
      if (scanVideo) {
        scanVideo.pause();
        scanVideo.srcObject = null;
        scanVideo.hidden = true;
      }
      if (scanCamera) {
        scanCamera.textContent = scanButtonLabel;
        scanCamera.setAttribute("aria-pressed", "false");
      }
    }

    function scanFrame() {
      if (!camera.running) return;
      var work = scanVideo.readyState >= 2 ? camera.detector(scanVideo) : Promise.resolve(null);
      work.catch(function () { return null; }).then(function (text) {
        if (!camera.running) return;
        if (text) {
          stopCamera();
          addScan(text, "qr");
          return;
        }
        camera.timer = setTimeout(scanFrame, SCAN_EVERY_MS);
      });
    }

    function startCamera() {
      showScanError("");
      scanCamera.textContent = t("scanStarting");
      var constraints = {audio: false, video: {facingMode: {ideal: "environment"}, width: {ideal: 1280}, height: {ideal: 720}}};
      getDetector().then(function () {
        return navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
          camera.stream = stream;
          camera.running = true;
          scanVideo.srcObject = stream;
          scanVideo.hidden = false;
          scanCamera.textContent = t("scanStop");
          scanCamera.setAttribute("aria-pressed", "true");
          return scanVideo.play().catch(function () {}).then(scanFrame);
        }, function (error) {
          stopCamera();
          showScanError(t("scanNoCamera", {error: error && error.name ? error.name : String(error)}));
        });
      }, function () {
        stopCamera();
        showScanError(t("scanNoDecoder"));
      });
    }

    // --- location ---------------------------------------------------------------------------------------------
    var locationButton = form.querySelector(".location-stamp");
    var locationStatus = form.querySelector(".location-status");

    function showLocation() {
      if (!locationStatus || !state.location) return;
      var loc = state.location;
      locationStatus.textContent = t("located", {
        lat: loc.lat.toFixed(6), lon: loc.lon.toFixed(6),
        accuracy: loc.accuracy === null || loc.accuracy === undefined ? "?" : Math.round(loc.accuracy),
        time: clock(new Date(loc.at))
      });
      locationStatus.dataset.state = "located";
    }

    function stampLocation() {
      if (!navigator.geolocation) {
        locationStatus.textContent = t("locationUnsupported");
        return;
      }
      locationButton.disabled = true;
      locationStatus.textContent = t("locating");
      locationStatus.dataset.state = "locating";
      navigator.geolocation.getCurrentPosition(function (position) {
        locationButton.disabled = false;
        var c = position.coords;
        state.location = {lon: c.longitude, lat: c.latitude, accuracy: isFinite(c.accuracy) ? c.accuracy : null,
                          at: isoWithOffset(new Date(position.timestamp || Date.now()))};
        showLocation();
        saveSoon();
      }, function (error) {
        locationButton.disabled = false;
        var key = error.code === 1 ? "locationDenied" : error.code === 3 ? "locationTimeout" : "locationUnavailable";
        locationStatus.textContent = t(key);
        locationStatus.dataset.state = "failed";
      }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 30000});
    }

    // --- checks before submitting (the server makes the same ones) -----------------------------------------
    function validate() {
      var problems = [];
      var unanswered = [];
      var marked = [];
      items.forEach(function (item) {
        var answer = answerOf(item);
        var code = itemCode(item);
        var bad = false;
        if (!answer) {
          unanswered.push(code);
          bad = true;
        } else if (answer === "na" && item.dataset.allowNa !== "1") {
          problems.push(t("naNotAllowed", {code: code}));
          bad = true;
        } else if (answer === "fail" && item.dataset.photoOnFail === "1" && !photosOf(item.dataset.itemId).length) {
          problems.push(t("needsPhoto", {code: code}));
          bad = true;
        }
        item.classList.toggle("unanswered", bad);
        if (bad) marked.push(item);
      });
      if (unanswered.length) problems.unshift(t("notAnswered", {codes: unanswered.join(", ")}));
      if (marked.length) {
        marked[0].scrollIntoView({block: "center", behavior: "smooth"});
        var first = marked[0].querySelector("input[type=radio]:checked") || marked[0].querySelector("input[type=radio]");
        if (first) {
          try { first.focus({preventScroll: true}); } catch (_e) { first.focus(); }
        }
      }
      return problems;
    }

    function buildEntry() {
      var answers = items.map(function (item) {
        var id = item.dataset.itemId;
        return {item_id: Number(id), result: answerOf(item), note: noteOf(item).trim(),
                photos: photosOf(id).map(function (p) { return p.name; })};
      });
      var used = {};
      answers.forEach(function (a) { a.photos.forEach(function (n) { used[n] = true; }); });
      var payload = {
        client_uuid: state.clientUuid,
        completed_at: isoWithOffset(new Date()),
        answers: answers,
        scans: state.scans.map(function (s) { return {code: s.code, scanned_at: s.scanned_at, method: s.method}; }),
        location: state.location ? {lon: state.location.lon, lat: state.location.lat, accuracy: state.location.accuracy} : null
      };
      return {
        id: state.clientUuid, patrolId: patrolId, url: form.action, csrfUrl: data.csrfUrl, todayUrl: data.todayUrl,
        gridCode: data.gridCode || "", gridName: data.gridName || "", payload: JSON.stringify(payload),
        photos: state.photos.filter(function (p) { return used[p.name]; }).map(function (p) { return {name: p.name, blob: p.blob}; }),
        queuedAt: new Date().toISOString()
      };
    }

    function lockForm(locked) {
      if (submitButton) {
        submitButton.disabled = locked;
        if (locked) submitButton.setAttribute("aria-busy", "true");
        else submitButton.removeAttribute("aria-busy");
      }
    }

    function todayLink() {
      return data.todayUrl ? {href: data.todayUrl, label: t("backToToday")} : null;
    }

    function loginLink() {
      var root = queue ? queue.ROOT : "/";
      return {href: root + "login?next=" + encodeURIComponent(location.pathname), label: t("logIn")};
    }

    // What the server (or the lack of one) said about this patrol's submission.
    function showOutcome(result) {
      if (result.state === "accepted" || result.state === "gone") {
        var score = result.body && result.body.score !== null && result.body.score !== undefined
          ? Math.round(result.body.score) : null;
        showNotice("accepted", score === null ? t("submittedNoScore") : t("submitted", {score: score}), todayLink());
        setStatus("submittedNoScore", null, "submitted");
        state.entryId = null;
        if (queue) queue.deleteDraft(patrolId).catch(function () {});
        if (data.todayUrl) setTimeout(function () { location.assign(data.todayUrl); }, 600);
        return;
      }
      if (result.state === "rejected") {
        state.entryId = null;
        hideNotice();
        showErrors([t("rejected", {message: result.message})]);
        lockForm(false);
        return;
      }
      if (result.state === "auth") {
        showNotice("auth", t("authNeeded") + (result.status === 403 ? " " + result.message : ""), loginLink());
        return;
      }
      showNotice("queued", t("queued"), todayLink());
    }

    // IndexedDB unusable (private mode, storage full): send directly; nothing can be kept for later.
    function sendWithoutOutbox(entry) {
      return queue.transmit(entry).then(function (result) {
        if (result.state === "queued" || result.state === "auth") {
          hideNotice();
          showErrors([result.message]);
          lockForm(false);
          return;
        }
        showOutcome(result);
      });
    }

    function submit(event) {
      event.preventDefault();
      if (state.busy || state.entryId || state.delivered) return;
      state.busy = true;
      lockForm(true);
      showErrors([]);
      Promise.all(state.pendingPhotos).then(function () {
        var problems = validate();
        if (problems.length) {
          showErrors(problems);
          lockForm(false);
          return null;
        }
        if (!queue) {
          // Without the outbox script nothing can be kept: fall back to the plain HTML form post.
          form.removeEventListener("submit", submit);
          form.submit();
          return null;
        }
        var entry = buildEntry();
        showNotice("sending", t("sending"));
        state.touched = true;
        return saveNow().then(function () {
          return queue.enqueue(entry);
        }).then(function () {
          state.entryId = entry.id;
          return queue.sendById(entry.id).then(showOutcome);
        }, function (error) {
          showNotice("sending", t("storageFailed", {error: error && error.message ? error.message : String(error)}));
          return sendWithoutOutbox(entry);
        });
      }).catch(function (error) {
        showErrors([String(error && error.message ? error.message : error)]);
        lockForm(false);
      }).then(function () {
        state.busy = false;
      });
    }

    // --- wiring -----------------------------------------------------------------------------------------------
    form.addEventListener("submit", submit);
    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.classList && target.classList.contains("photo-input")) {
        onPhotosChosen(target);
        return;
      }
      if (target.type === "radio") {
        var item = target.closest(".check-item");
        if (item) item.classList.remove("unanswered");
      }
      if (target.classList && target.classList.contains("scan-code")) return;
      saveSoon();
    });
    form.addEventListener("input", function (event) {
      if (event.target.tagName === "TEXTAREA" && event.target.closest(".check-item")) saveSoon();
    });
    if (scanAdd) scanAdd.addEventListener("click", addTyped);
    if (scanInput) {
      scanInput.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();  // Enter adds the code; it must not submit the patrol
          addTyped();
        }
      });
    }
    if (scanCamera && scanVideo && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
      scanCamera.hidden = false;
      scanCamera.setAttribute("aria-pressed", "false");
      scanCamera.addEventListener("click", function () {
        if (camera.running || camera.stream) stopCamera();
        else startCamera();
      });
    }
    if (locationButton) {
      if (navigator.geolocation) locationButton.addEventListener("click", stampLocation);
      else {
        locationButton.hidden = true;
        if (locationStatus) locationStatus.textContent = t("locationUnsupported");
      }
    }
    window.addEventListener("pagehide", function () {
      stopCamera();
      if (saveTimer) saveNow();
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") {
        stopCamera();
        if (saveTimer) saveNow();
      }
    });

    // Opening the form marks the patrol in progress (best effort: offline, the submission carries the time).
    if (data.startUrl && navigator.onLine !== false && metaToken) {
      fetch(data.startUrl, {method: "POST", credentials: "same-origin", redirect: "manual",
                            headers: {"X-CSRFToken": metaToken.content, "Accept": "application/json"}})
        .catch(function () {});
    }

    if (!queue) return;

    function outcomeResult(outcome) {
      return {state: outcome.state, status: outcome.status, message: outcome.message,
              body: {score: outcome.score, late: outcome.late}};
    }

    // Restore the draft, and find out whether this patrol is waiting in the outbox or was already delivered
    // (a form page reopened from the service worker's cache after the queue sent it).
    Promise.all([
      queue.getDraft(patrolId).catch(function () { return null; }),
      queue.findByPatrol(patrolId).catch(function () { return null; }),
      queue.outcomeForPatrol(patrolId).catch(function () { return null; })
    ]).then(function (found) {
      var draft = found[0];
      var entry = found[1];
      var outcome = found[2];
      if (!entry && outcome && outcome.state === "accepted") {
        state.delivered = outcome.id;
        lockForm(true);
        var score = outcome.score === null || outcome.score === undefined ? null : Math.round(outcome.score);
        showNotice("accepted", score === null ? t("submittedNoScore") : t("submitted", {score: score}), todayLink());
        return;
      }
      if (draft && !state.photos.length && !state.scans.length) restore(draft);
      if (entry) {
        state.entryId = entry.id;
        if (entry.id !== state.clientUuid) {
          state.clientUuid = entry.id;
          if (uuidInput) uuidInput.value = entry.id;
        }
        lockForm(true);
        showNotice("queued", t("queuedWaiting"), todayLink());
      } else if (outcome && outcome.state === "rejected" && outcome.id === state.clientUuid) {
        // Sent from the outbox while the form was closed, and refused: say why, the draft is here to fix.
        showErrors([t("rejected", {message: outcome.message})]);
      }
    });

    // The queue may deliver this patrol while the form is open (the network came back): show what happened.
    queue.onChange(function () {
      if (!state.entryId || state.busy) return;
      var id = state.entryId;
      queue.findByPatrol(patrolId).then(function (entry) {
        if (entry) return null;
        return queue.getOutcome(id).then(function (outcome) {
          if (outcome && state.entryId === id) showOutcome(outcomeResult(outcome));
        });
      }).catch(function () {});
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
