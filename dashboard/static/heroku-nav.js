// Heroku's nav header for SSO sessions. The app name comes from a data- attribute:
// the Content-Security-Policy allows no inline script.
(function () {
  var tag = document.currentScript;
  var app = tag ? tag.getAttribute("data-app") : "";
  document.addEventListener("DOMContentLoaded", function () {
    if (window.Boomerang) {
      window.Boomerang.init({ app: app, addon: "tracebin" });
    }
  });
})();
