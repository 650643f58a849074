// stepline dashboard: progressive enhancement only. Pages work without this script; with it,
// they stay fresh: a run page follows its run by server-sent events (local runs) or by polling
// with back-off (AWS), and lists refresh the same way. Fragments come from the server already
// escaped; log text is only ever added with text nodes, never as HTML.
"use strict";
(function () {
  var MIN = 2000, MAX = 30000;

  function visible() { return document.visibilityState !== "hidden"; }

  // poll calls step every delay ms; step resolves true when something changed, which resets
  // the delay, else the delay doubles up to MAX. step resolving null stops polling.
  function poll(step) {
    var delay = MIN;
    function again() {
      setTimeout(function () {
        if (!visible()) { again(); return; }
        step().then(function (changed) {
          if (changed === null) return;
          delay = changed ? MIN : Math.min(delay * 2, MAX);
          again();
        }, function () { delay = Math.min(delay * 2, MAX); again(); });
      }, delay);
    }
    again();
  }

  function refreshList(list) {
    var url = list.getAttribute("data-refresh");
    poll(function () {
      return fetch(url, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.text();
      }).then(function (html) {
        if (html === list.innerHTML) return false;
        list.innerHTML = html;
        return true;
      });
    });
  }

  function followRun(live) {
    var run = live.getAttribute("data-run");
    var base = "/runs/" + encodeURIComponent(run);
    var etag = "";
    var log = document.getElementById("log");
    var raw = document.getElementById("log-raw");

    // fetchLive swaps in the run's fresh fragment; true when it changed.
    function fetchLive() {
      var headers = etag ? { "If-None-Match": etag } : {};
      return fetch(base + "/live" + location.search, { credentials: "same-origin", headers: headers }).then(function (r) {
        if (r.status === 304) return false;
        if (!r.ok) throw new Error(r.status);
        etag = r.headers.get("ETag") || "";
        live.setAttribute("data-final", r.headers.get("X-Run-Final") || "false");
        return r.text().then(function (html) { live.innerHTML = html; return true; });
      });
    }

    if (live.getAttribute("data-live") === "sse" && window.EventSource) {
      var q = "?since=" + encodeURIComponent(live.getAttribute("data-updated"));
      if (log && raw) {
        q += "&stage=" + encodeURIComponent(raw.getAttribute("data-stage")) +
             "&action=" + encodeURIComponent(raw.getAttribute("data-action"));
      }
      var es = new EventSource(base + "/events" + q);
      // Every connection streams the log from its start: a reconnection must not repeat it.
      es.addEventListener("open", function () { if (log) log.textContent = ""; });
      es.addEventListener("state", function () { fetchLive(); });
      es.addEventListener("log", function (e) {
        if (!log) return;
        var follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.appendChild(document.createTextNode(JSON.parse(e.data)));
        if (follow) log.scrollTop = log.scrollHeight;
      });
      es.addEventListener("reset", function () { if (log) log.textContent = ""; });
      es.addEventListener("end", function () { es.close(); fetchLive(); document.body.setAttribute("data-ended", "true"); });
      return;
    }
    if (log && raw) {
      fetch(raw.getAttribute("href"), { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (t) { log.textContent = t; });
    }
    if (live.getAttribute("data-final") === "true") return;
    poll(function () {
      return fetchLive().then(function (changed) {
        return live.getAttribute("data-final") === "true" ? null : changed;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    // An error page's Back link: the policy forbids javascript: links, so it is wired here
    // (without the script it leads to the pipelines).
    var back = document.querySelector("a[data-back]");
    if (back && history.length > 1) {
      back.addEventListener("click", function (e) { e.preventDefault(); history.back(); });
    }
    var live = document.getElementById("live");
    if (live) followRun(live);
    var list = document.getElementById("list");
    if (list && list.getAttribute("data-refresh")) refreshList(list);
  });
})();
