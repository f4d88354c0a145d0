// The patrol form's location stamp: where the tablet was (Geolocation API), kept in the draft and sent with the
// patrol; the server says whether it lies inside the grid.
(function () {
  "use strict";

  var F = window.GridPatrol.patrolForm;

  F.addMessages({
    "zh-CN": {
      locating: "正在定位…",
      located: "已定位：{lat}, {lon}（精度约 {accuracy} 米，{time}）",
      locationDenied: "没有定位权限，请在浏览器设置中允许定位。",
      locationUnavailable: "暂时无法定位，请到窗边或室外再试。",
      locationTimeout: "定位超时，请再试一次。",
      locationUnsupported: "这台设备不支持定位。"
    },
    en: {
      locating: "Locating…",
      located: "Located: {lat}, {lon} (about {accuracy} m, {time})",
      locationDenied: "No permission to use the location; allow it in the browser settings.",
      locationUnavailable: "The location is not available now; try near a window or outdoors.",
      locationTimeout: "Locating took too long; try again.",
      locationUnsupported: "This device cannot tell its location."
    }
  });

  F.part("location", function (ctx) {
    var state = ctx.state;
    var locationButton = ctx.form.querySelector(".location-stamp");
    var locationStatus = ctx.form.querySelector(".location-status");

    function showLocation() {
      if (!locationStatus || !state.location) return;
      var loc = state.location;
      locationStatus.textContent = F.t("located", {
        lat: loc.lat.toFixed(6), lon: loc.lon.toFixed(6),
        accuracy: loc.accuracy === null || loc.accuracy === undefined ? "?" : Math.round(loc.accuracy),
        time: F.clock(new Date(loc.at))
      });
      locationStatus.dataset.state = "located";
    }

    function stampLocation() {
      locationButton.disabled = true;
      locationStatus.textContent = F.t("locating");
      locationStatus.dataset.state = "locating";
      navigator.geolocation.getCurrentPosition(function (position) {
        locationButton.disabled = false;
        var c = position.coords;
        state.location = {lon: c.longitude, lat: c.latitude, accuracy: isFinite(c.accuracy) ? c.accuracy : null,
                          at: F.isoWithOffset(new Date(position.timestamp || Date.now()))};
        showLocation();
        ctx.saveSoon();
      }, function (error) {
        locationButton.disabled = false;
        var key = error.code === 1 ? "locationDenied" : error.code === 3 ? "locationTimeout" : "locationUnavailable";
        locationStatus.textContent = F.t(key);
        locationStatus.dataset.state = "failed";
      }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 30000});
    }

    if (locationButton) {
      if (navigator.geolocation) locationButton.addEventListener("click", stampLocation);
      else {
        locationButton.hidden = true;
        if (locationStatus) locationStatus.textContent = F.t("locationUnsupported");
      }
    }

    ctx.showLocation = showLocation;
  });
})();
