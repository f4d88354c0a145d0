// The patrol form's photos: a camera's 12-megapixel photo becomes a JPEG of at most 1600 px on its long side,
// downscaled in the browser, shown as a thumbnail with a button to remove it, and kept in the draft.
(function () {
  "use strict";

  var F = window.GridPatrol.patrolForm;
  var MAX_SIDE = 1600;
  var JPEG_QUALITY = 0.8;

  F.addMessages({
    "zh-CN": {
      photoWorking: "正在处理照片…",
      photoFailed: "无法读取这张照片：{name}",
      removePhoto: "删除",
      removePhotoLabel: "删除照片",
      photoAlt: "{code} 的照片 {n}"
    },
    en: {
      photoWorking: "Processing photo…",
      photoFailed: "This photo cannot be read: {name}",
      removePhoto: "Remove",
      removePhotoLabel: "Remove photo",
      photoAlt: "Photo {n} of {code}"
    }
  });

  F.part("photos", function (ctx) {
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
        var paint = canvas.getContext("2d");
        paint.fillStyle = "#fff";  // a transparent PNG turns white, not black, as a JPEG
        paint.fillRect(0, 0, width, height);
        paint.drawImage(image.source, 0, 0, width, height);
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
      var item = ctx.itemOf(itemId);
      if (!item) return;
      var photo = {itemId: String(itemId), name: name, blob: blob, url: URL.createObjectURL(blob)};
      ctx.state.photos.push(photo);
      var previews = item.querySelector(".photo-previews");
      if (!previews) return;
      var box = F.element("div", "photo-preview");
      box.dataset.name = name;
      var img = F.element("img");
      img.src = photo.url;
      img.alt = F.t("photoAlt", {code: ctx.itemCode(item), n: ctx.photosOf(itemId).length});
      var remove = F.element("button", "button small remove-photo", F.t("removePhoto"));
      remove.type = "button";
      remove.setAttribute("aria-label", F.t("removePhotoLabel") + " " + img.alt);
      remove.addEventListener("click", function () {
        ctx.state.photos = ctx.state.photos.filter(function (p) { return p !== photo; });
        URL.revokeObjectURL(photo.url);
        box.remove();
        ctx.saveSoon();
        ctx.answersChanged();
      });
      box.appendChild(img);
      box.appendChild(remove);
      previews.appendChild(box);
      ctx.answersChanged();
    }

    function onPhotosChosen(input) {
      var item = input.closest(".check-item");
      if (!item) return;
      var itemId = item.dataset.itemId;
      var files = Array.prototype.slice.call(input.files || []);
      input.value = "";  // the photos live in the draft now; choosing the same file again must work
      if (!files.length) return;
      ctx.setStatus("photoWorking", null, "working");
      var work = files.reduce(function (chain, file) {
        return chain.then(function () {
          return downscale(file).then(function (blob) {
            addPhoto(itemId, blob, "p" + itemId + "-" + F.randomId());
          }, function () {
            ctx.showErrors([F.t("photoFailed", {name: file.name})]);
          });
        });
      }, Promise.resolve()).then(function () {
        ctx.saveSoon();
        return ctx.saveNow();
      });
      ctx.state.pendingPhotos.push(work);
      work.then(function () {
        ctx.state.pendingPhotos = ctx.state.pendingPhotos.filter(function (w) { return w !== work; });
      });
    }

    ctx.addPhoto = addPhoto;
    ctx.onPhotosChosen = onPhotosChosen;
  });
})();
