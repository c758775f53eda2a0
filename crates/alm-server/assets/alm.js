// alm's own small script. Every page works without it; it only improves them:
// - dates: the server sends UTC in <time datetime="…">; shown here in the browser's local
//   time, with the UTC value on hover (SPEC §4).
// - copy buttons (a new API token).
// - live checks: an input with data-check="<url>" asks the server, as the person types, and
//   puts the server's (escaped) HTML fragment into data-check-target (the account name).
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

  function liveChecks(root) {
    root.querySelectorAll("input[data-check]").forEach(function (input) {
      var target = document.querySelector(input.getAttribute("data-check-target"));
      if (!target || !window.fetch) {
        return;
      }
      var timer = null;
      var last = null;
      function run() {
        var value = input.value.trim();
        if (value === last) {
          return;
        }
        last = value;
        if (!value) {
          target.textContent = "";
          return;
        }
        var url = input.getAttribute("data-check");
        url += (url.indexOf("?") < 0 ? "?" : "&") + "account_name=" + encodeURIComponent(value);
        fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
          .then(function (response) {
            return response.ok ? response.text() : "";
          })
          .then(function (html) {
            // Only the answer for what is in the field now (an older one may arrive later).
            if (input.value.trim() === value) {
              target.innerHTML = html;
            }
          });
      }
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(run, 300);
      });
      input.addEventListener("blur", run);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localDates(document);
    copyButtons(document);
    liveChecks(document);
  });
})();
