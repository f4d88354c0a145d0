// The API's documentation page: Swagger UI on the OpenAPI document (a file, not an inline script: the CSP is
// script-src 'self'). "Try it out" runs with the page's login session, so unsafe requests carry the CSRF token.
(function () {
  "use strict";
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: node.dataset.specUrl,
    domNode: node,
    deepLinking: true,
    validatorUrl: null, // never ask the public validator: intranets have no internet
    requestInterceptor: function (request) {
      var meta = document.querySelector('meta[name="csrf-token"]');
      if (meta) { request.headers["X-CSRFToken"] = meta.content; }
      return request;
    }
  });
})();
