// Quick report (随手拍): tap the map to set the point, switch levels, or use the device position.
// The SVG carries its projection (data-lon0/lat0/kx/ky): x = (lon − lon0)·kx, y = −(lat − lat0)·ky.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function setPoint(form, lon, lat, level) {
    form.querySelector("[name=lon]").value = lon.toFixed(7);
    form.querySelector("[name=lat]").value = lat.toFixed(7);
    if (level !== undefined) form.querySelector("[name=level]").value = level;
  }

  function marker(svg, x, y) {
    var old = svg.querySelector(".pick-marker");
    if (old) old.remove();
    var box = svg.viewBox.baseVal;
    var dot = document.createElementNS(NS, "circle");
    dot.setAttribute("class", "pick-marker");
    dot.setAttribute("cx", x);
    dot.setAttribute("cy", y);
    dot.setAttribute("r", Math.max(box.width, box.height) / 90);
    svg.appendChild(dot);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("report-form");
    if (!form) return;
    var status = form.querySelector(".pick-status");
    form.querySelectorAll(".pick-frame").forEach(function (frame) {
      var svg = frame.querySelector("svg");
      if (!svg) return;
      svg.addEventListener("click", function (event) {
        var point = svg.createSVGPoint();
        point.x = event.clientX;
        point.y = event.clientY;
        var local = point.matrixTransform(svg.getScreenCTM().inverse());
        var lon = local.x / parseFloat(svg.dataset.kx) + parseFloat(svg.dataset.lon0);
        var lat = -local.y / parseFloat(svg.dataset.ky) + parseFloat(svg.dataset.lat0);
        setPoint(form, lon, lat, frame.dataset.level);
        marker(svg, local.x, local.y);
        var shape = event.target.closest ? event.target.closest("[data-code]") : null;
        if (status) status.textContent = shape ? shape.dataset.code : lon.toFixed(6) + ", " + lat.toFixed(6);
      });
    });
    form.querySelectorAll(".level-tabs [data-level]").forEach(function (tab) {
      tab.addEventListener("click", function () {
        form.querySelectorAll(".level-tabs [data-level]").forEach(function (t) { t.removeAttribute("aria-current"); });
        tab.setAttribute("aria-current", "page");
        form.querySelectorAll(".pick-frame").forEach(function (frame) {
          frame.hidden = frame.dataset.level !== tab.dataset.level;
        });
        form.querySelector("[name=level]").value = tab.dataset.level;
      });
    });
    var use = form.querySelector(".use-position");
    if (use) {
      if (!navigator.geolocation) { use.hidden = true; return; }
      use.addEventListener("click", function () {
        navigator.geolocation.getCurrentPosition(function (pos) {
          setPoint(form, pos.coords.longitude, pos.coords.latitude);
          if (status) status.textContent = pos.coords.longitude.toFixed(6) + ", " + pos.coords.latitude.toFixed(6) +
            " (±" + Math.round(pos.coords.accuracy) + " m)";
        }, function (err) { if (status) status.textContent = err.message; },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
      });
    }
  });
})();
