// alm's own small script. Every page works without it; it only improves them:
// - dates: the server sends UTC in <time datetime="…">; shown here in the browser's local
//   time, with the UTC value on hover (SPEC §4).
// - copy buttons (a new API token).
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

  // Copy buttons: shown only when the script runs (the value stays selectable without it).
  function copyButtons(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) {
        return;
      }
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(source.value).then(function () {
          button.textContent = "Copied";
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localDates(document);
    copyButtons(document);
  });
})();
