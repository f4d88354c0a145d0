// The patrol form's checkpoints (巡更点): a code typed, or read from the QR poster by the camera — the browser's
// BarcodeDetector where it reads QR codes, otherwise the vendored jsQR on video frames (loaded on first use).
// Online the server says which checkpoint a code is; offline the code is kept unverified (or answered from the
// table the service worker keeps) and checked when the patrol is submitted.
(function () {
  "use strict";

  var F = window.GridPatrol.patrolForm;
  var REPEAT_SCAN_MS = 60 * 1000;
  var SCAN_EVERY_MS = 200;
  var SCAN_FRAME_SIDE = 800;
  var CHECK_TIMEOUT_MS = 8000;

  F.addMessages({
    "zh-CN": {
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
      scanTyped: "手输"
    },
    en: {
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
      scanTyped: "typed"
    }
  });

  F.part("scan", function (ctx) {
    var scanList = ctx.form.querySelector(".scan-list");
    var scanInput = ctx.form.querySelector(".scan-code");
    var scanAdd = ctx.form.querySelector(".scan-add");
    var scanCamera = ctx.form.querySelector(".scan-camera");
    var scanVideo = ctx.form.querySelector(".scan-video");
    var scanError = null;

    function showScanError(text) {
      if (!scanError) {
        scanError = F.element("p", "error scan-error");
        scanError.setAttribute("role", "alert");
        var controls = ctx.form.querySelector(".scan-controls");
        if (controls && controls.parentNode) controls.parentNode.insertBefore(scanError, controls.nextSibling);
        else if (scanList) scanList.parentNode.insertBefore(scanError, scanList);
      }
      scanError.textContent = text || "";
      scanError.hidden = !text;
    }

    function renderScans() {
      if (!scanList) return;
      scanList.textContent = "";
      ctx.state.scans.forEach(function (scan, index) {
        var li = F.element("li", "scan-entry");
        li.dataset.code = scan.code;
        li.dataset.verified = scan.verified ? "1" : "0";
        var label = scan.name ? scan.name : scan.code;
        li.appendChild(F.element("span", "scan-name", label));
        var when = F.element("span", "muted", F.clock(new Date(scan.scanned_at)) + " · " +
          (scan.method === "qr" ? F.t("scanQr") : F.t("scanTyped")));
        li.appendChild(when);
        if (scan.otherGrid) li.appendChild(F.element("span", "badge badge-warn", F.t("scanOtherGrid", {grid: scan.grid || ""})));
        if (!scan.verified) li.appendChild(F.element("span", "badge", F.t("scanUnverified")));
        var remove = F.element("button", "button small scan-remove", F.t("scanRemove"));
        remove.type = "button";
        remove.setAttribute("aria-label", F.t("scanRemoveLabel", {code: label}));
        remove.addEventListener("click", function () {
          ctx.state.scans.splice(index, 1);
          renderScans();
          ctx.saveSoon();
        });
        li.appendChild(remove);
        scanList.appendChild(li);
      });
    }

    // Online, the server says which checkpoint a code is (and refuses a wrong one at once); offline, the service
    // worker answers from the grid's checkpoint table kept with today's list (sw-checkpoints.js), or the lookup
    // fails and the code is kept unverified and checked when the patrol is submitted.
    function checkCode(code) {
      if (!ctx.data.checkpointUrl) return Promise.resolve({verified: false});
      var url = ctx.data.checkpointUrl + (ctx.data.checkpointUrl.indexOf("?") >= 0 ? "&" : "?") + "code=" + encodeURIComponent(code);
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
      var recent = ctx.state.scans.some(function (s) {
        return s.code.toUpperCase() === code.toUpperCase() && now - new Date(s.scanned_at) < REPEAT_SCAN_MS;
      });
      if (recent) {
        showScanError(F.t("scanDuplicate", {code: code}));
        return Promise.resolve(false);
      }
      var scannedAt = F.isoWithOffset(now);
      return checkCode(code).then(function (check) {
        if (check.refused) {
          showScanError(F.t("scanUnknown", {error: check.refused}));
          return false;
        }
        showScanError("");
        ctx.state.scans.push({code: code, scanned_at: scannedAt, method: method, name: check.name || null,
                          grid: check.grid || null, otherGrid: !!check.otherGrid, verified: !!check.verified});
        renderScans();
        ctx.saveSoon();
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
        var ready = window.jsQR ? Promise.resolve() : loadScript(F.STATIC_ROOT + "vendor/jsQR.js");
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
      scanCamera.textContent = F.t("scanStarting");
      var constraints = {audio: false, video: {facingMode: {ideal: "environment"}, width: {ideal: 1280}, height: {ideal: 720}}};
      getDetector().then(function () {
        return navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
          camera.stream = stream;
          camera.running = true;
          scanVideo.srcObject = stream;
          scanVideo.hidden = false;
          scanCamera.textContent = F.t("scanStop");
          scanCamera.setAttribute("aria-pressed", "true");
          return scanVideo.play().catch(function () {}).then(scanFrame);
        }, function (error) {
          stopCamera();
          showScanError(F.t("scanNoCamera", {error: error && error.name ? error.name : String(error)}));
        });
      }, function () {
        stopCamera();
        showScanError(F.t("scanNoDecoder"));
      });
    }

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
    window.addEventListener("pagehide", stopCamera);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") stopCamera();
    });

    ctx.renderScans = renderScans;
  });
})();
