// alm's own small script. Every page works without it; it only improves them:
// - dates: the server sends UTC in <time datetime="…">; shown here in the browser's local
//   time, with the UTC value on hover (SPEC §4).
"use strict";

(function () {
  function localDates(root) {
    var format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime())) {
        return;
      }
      if (!el.title) {
        el.title = el.textContent.trim();
      }
      el.textContent = format.format(at);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localDates(document);
  });
})();
