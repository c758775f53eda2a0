// alm's own small script. Every page works without it; it only improves them:
// - dates: the server sends UTC in <time datetime="…">; shown here in the browser's local
//   time, with the UTC value on hover (SPEC §4).
// - copy buttons (a new API token).
// - live checks: an input with data-check="<url>" asks the server, as the person types, and
//   puts the server's (escaped) HTML fragment into data-check-target (the account name).
// - partial updates, in the htmx style but our own: inside an element with data-region (and an
//   id), links and GET forms load the next view of that part only (a table's pages, sorting,
//   filters); a form with data-boost posts by fetch and puts the page it lands on in place
//   (approve or deny without a reload). Either way the same handler answers as for a full
//   page; the script takes the parts with the same ids out of its answer, and records the
//   URL so that back, forward and a shared link open the same view.
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
        var param = input.getAttribute("data-check-param") || "account_name";
        url += (url.indexOf("?") < 0 ? "?" : "&") + param + "=" + encodeURIComponent(value);
        // Another field that goes with the search (the domain of an OU search).
        var withField = input.getAttribute("data-check-with");
        var other = withField && document.querySelector(withField);
        if (other && other.name) {
          url += "&" + other.name + "=" + encodeURIComponent(other.value);
        }
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

  // Pickers (the template wizard's searches) need the script: shown only when it runs. "Add"
  // puts the chosen value on a line of its own in the text area it names, once.
  function pickers(root) {
    root.querySelectorAll("[data-picker]").forEach(function (picker) {
      picker.hidden = false;
    });
    root.querySelectorAll("button[data-append]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.querySelector(button.getAttribute("data-append"));
        var target = document.querySelector(button.getAttribute("data-append-to"));
        if (!source || !target) {
          return;
        }
        var value = source.value.trim();
        var lines = target.value.split("\n").map(function (l) { return l.trim(); })
          .filter(function (l) { return l; });
        if (value && lines.indexOf(value) < 0) {
          lines.push(value);
          target.value = lines.join("\n");
        }
        source.value = "";
        source.focus();
      });
    });
  }

  // The address (path and query) of what the page shows now.
  var shown = window.location.pathname + window.location.search;

  function enhance(root) {
    localDates(root);
    copyButtons(root);
    liveChecks(root);
    pickers(root);
  }

  // Puts the elements named by `ids` from the page in `html` in place of the current ones.
  // False when one of them is missing on either side (the caller then loads the whole page).
  function replaceParts(html, ids) {
    var next = new DOMParser().parseFromString(html, "text/html");
    var pairs = ids.map(function (id) {
      return [document.getElementById(id), next.getElementById(id)];
    });
    if (pairs.some(function (p) { return !p[0] || !p[1]; })) {
      return false;
    }
    pairs.forEach(function (p) {
      var fresh = document.adoptNode(p[1]);
      p[0].replaceWith(fresh);
      enhance(fresh);
    });
    document.title = next.title;
    return true;
  }

  // Loads `url` and puts its parts `ids` in place; a whole page load when that cannot be done.
  function load(url, ids, push, followed) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        return response.text().then(function (html) {
          if (!replaceParts(html, ids)) {
            window.location.assign(url);
            return;
          }
          if (push) {
            history.pushState({ almParts: ids }, "", response.url);
          }
          shown = window.location.pathname + window.location.search;
          settleFocus(ids[0], followed);
        });
      })
      .catch(function () {
        window.location.assign(url);
      });
  }

  // After a part changed, focus stays where the person was: on the link they followed (the
  // same address in the new part, or the link in the same place — a sorted header's address
  // turns), else on the part itself.
  function settleFocus(id, followed) {
    var part = document.getElementById(id);
    if (!part) {
      return;
    }
    var links = Array.prototype.slice.call(part.querySelectorAll("a[href]"));
    var same = followed && (links.find(function (a) {
      return a.getAttribute("href") === followed.href;
    }) || links[followed.index]);
    if (same) {
      same.focus();
    } else {
      if (!part.hasAttribute("tabindex")) {
        part.setAttribute("tabindex", "-1");
      }
      part.focus();
    }
  }

  function regions(root) {
    if (!window.fetch || !window.DOMParser || !history.pushState) {
      return;
    }
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("[data-region] a[href]");
      if (!link || event.defaultPrevented || event.button !== 0 || event.ctrlKey ||
          event.metaKey || event.shiftKey || event.altKey || link.target) {
        return;
      }
      var region = link.closest("[data-region]");
      var url = new URL(link.href, window.location.href);
      // Only views of this same page (its pages, sorting); a link elsewhere navigates.
      if (url.origin !== window.location.origin || url.pathname !== window.location.pathname) {
        return;
      }
      event.preventDefault();
      var index = Array.prototype.indexOf.call(region.querySelectorAll("a[href]"), link);
      load(url.href, [region.id], true, { href: link.getAttribute("href"), index: index });
    });
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (event.defaultPrevented) {
        return;
      }
      var region = form.closest("[data-region]");
      // Attributes, not `form.method`/`form.action`: a field named `action` (the audit log's
      // filter) would stand in for the property.
      var method = (form.getAttribute("method") || "get").toLowerCase();
      if (region && method === "get") {
        event.preventDefault();
        var url = new URL(form.getAttribute("action") || "", window.location.href);
        url.search = new URLSearchParams(new FormData(form)).toString();
        load(url.href, [region.id], true, null);
      } else if (form.hasAttribute("data-boost") && method === "post") {
        event.preventDefault();
        post(form);
      }
    });
    window.addEventListener("popstate", function (event) {
      // A link within the page (the skip link) changes only the fragment: nothing to load.
      if (window.location.pathname + window.location.search === shown) {
        return;
      }
      shown = window.location.pathname + window.location.search;
      if (event.state && event.state.almParts) {
        load(window.location.href, event.state.almParts, false, null);
      } else {
        window.location.reload();
      }
    });
    // The page as first loaded is an entry that back returns to by the same means.
    var first = root.querySelector("[data-region]");
    if (first && !history.state) {
      history.replaceState({ almParts: [first.id] }, "", window.location.href);
    }
  }

  // A boosted form: posted by fetch. The server answers as always — a redirect to the page to
  // show next, or the same form with its errors — and that page's frame and main part replace
  // the current ones. Only a redirect's target goes into the history (a POST address cannot be
  // opened again).
  function post(form) {
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    var ids = ["site-header", "main"];
    fetch(new URL(form.getAttribute("action") || "", window.location.href).href, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      body: new URLSearchParams(new FormData(form)),
    })
      .then(function (response) {
        return response.text().then(function (html) {
          if (!replaceParts(html, ids) && !replaceParts(html, ["main"])) {
            // A page without the frame (a refusal of its own): shown as it came.
            var next = new DOMParser().parseFromString(html, "text/html");
            document.replaceChild(document.adoptNode(next.documentElement), document.documentElement);
            return;
          }
          if (response.redirected) {
            history.pushState({ almParts: ids }, "", response.url);
            shown = window.location.pathname + window.location.search;
          }
          settleFocus("main", null);
        });
      })
      .catch(function () {
        // The network failed: the person can try again with the same form.
        buttons.forEach(function (b) { b.disabled = false; });
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    regions(document);
  });
})();
