// The console's only script (the CSP allows no other): copy buttons, and
// pages that update themselves. Without script every page still works:
// copy buttons stay hidden, and a reload shows what changed.
"use strict";
(function () {
  // announce says msg through the live region of the layout, which is in
  // the page before anything is announced, as screen readers need.
  function announce(msg) {
    var r = document.getElementById("announcer");
    if (!r) { return; }
    r.textContent = "";
    setTimeout(function () { r.textContent = msg; }, 30);
  }

  // Copy buttons. They are hidden in the markup and shown here; clicks are
  // handled for the whole document, so buttons in swapped regions work.
  function showCopyButtons(root) {
    root.querySelectorAll("button.copy[data-copy]").forEach(function (btn) {
      btn.hidden = false;
      if (!btn.dataset.label) {
        btn.setAttribute("aria-label", "Copy " + btn.dataset.copy);
      }
    });
  }
  function fallbackCopy(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "offscreen";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  }
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("button.copy[data-copy]");
    if (!btn) { return; }
    var text = btn.dataset.copy;
    var label = btn.textContent;
    var done = function () {
      btn.textContent = "Copied";
      announce("Copied");
      setTimeout(function () { btn.textContent = label; }, 1500);
    };
    var failed = function () { announce("Could not copy: select the text and copy it by hand"); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {
        if (fallbackCopy(text)) { done(); } else { failed(); }
      });
    } else if (fallbackCopy(text)) {
      done();
    } else {
      failed();
    }
  });

  // "Next check in …", counted down between polls.
  var deadline = null;
  function words(s) {
    if (s < 60) { return s + "s"; }
    if (s < 3600) { return Math.floor(s / 60) + "m " + (s % 60) + "s"; }
    if (s < 172800) { return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m"; }
    return Math.floor(s / 86400) + " days";
  }
  function readDeadline() {
    var el = document.getElementById("next-check");
    deadline = el && el.dataset.seconds !== undefined ? Date.now() + 1000 * Number(el.dataset.seconds) : null;
  }
  // relWords is relTime of render.go: how far s seconds is, in words.
  function relWords(s) {
    var d = Math.abs(s), w;
    if (d < 60) { w = Math.floor(d) + "s"; }
    else if (d < 3600) { w = Math.floor(d / 60) + "m"; }
    else if (d < 172800) { w = Math.floor(d / 3600) + "h " + Math.floor((d % 3600) / 60) + "m"; }
    else { w = Math.floor(d / 86400) + " days"; }
    return s > 0 ? "in " + w : w + " ago";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.rel[data-offset]").forEach(function (t) {
      if (!t.dataset.base) { t.dataset.base = String(now); }
      t.textContent = relWords(Number(t.dataset.offset) - (now - Number(t.dataset.base)) / 1000);
    });
    var el = document.getElementById("next-check");
    if (!el || deadline === null) { return; }
    var s = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    el.textContent = s === 0 ? "Next check: due now" : "Next check in " + words(s);
  }

  // Live regions: the page polls its status endpoint (data-live) and, when
  // the version differs from the page's, fetches the page again and puts
  // its regions (data-region) in place of the old ones.
  function swap(doc) {
    var fresh = doc.getElementById("live");
    if (!fresh) { return null; }
    var before = document.getElementById("status");
    var beforeWords = before ? before.textContent : "";
    fresh.querySelectorAll("[data-region]").forEach(function (nu) {
      var old = document.getElementById(nu.id);
      if (!old) { return; }
      // Never throw away what a person is typing, or a refusal they have
      // not read yet.
      var busy = old.querySelector("[role=alert]") !== null;
      old.querySelectorAll("input, textarea").forEach(function (f) {
        if (f.type !== "hidden" && (f === document.activeElement || f.value !== f.defaultValue)) { busy = true; }
      });
      if (busy) { return; }
      old.querySelectorAll("details[id][open]").forEach(function (d) {
        var same = nu.querySelector("#" + CSS.escape(d.id));
        if (same) { same.open = true; }
      });
      old.replaceWith(document.importNode(nu, true));
    });
    showCopyButtons(document);
    readDeadline();
    tick();
    var after = document.getElementById("status");
    if (after && after.textContent !== beforeWords) {
      announce("Status: " + after.textContent);
    }
    return fresh.dataset.version;
  }
  function startLive() {
    var root = document.getElementById("live");
    if (!root || !root.dataset.live || !root.dataset.page || !window.fetch || !window.DOMParser) { return; }
    var version = root.dataset.version;
    var every = Number(root.dataset.pollMs) || 5000;
    var stopped = false;
    function later() { if (!stopped) { setTimeout(poll, every); } }
    function refresh() {
      // The page's own address: a page rendered by a POST (a refused
      // upload) is not at location.
      return fetch(root.dataset.page, { credentials: "same-origin", cache: "no-store" })
        .then(function (res) { if (!res.ok) { throw new Error("page " + res.status); } return res.text(); })
        .then(function (html) {
          var v = swap(new DOMParser().parseFromString(html, "text/html"));
          if (v) { version = v; document.getElementById("live").dataset.version = v; }
        });
    }
    function poll() {
      if (document.hidden) { later(); return; }
      fetch(root.dataset.live, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
        .then(function (res) {
          if (res.status === 401) {
            stopped = true;
            var el = document.getElementById("next-check");
            if (el) { deadline = null; el.textContent = "Signed out: reload the page to see new checks"; }
            return null;
          }
          if (!res.ok) { throw new Error("status " + res.status); }
          return res.json();
        })
        .then(function (s) {
          if (!s) { return null; }
          if (typeof s.nextCheckIn === "number") { deadline = Date.now() + 1000 * s.nextCheckIn; tick(); }
          if (s.version !== version) { return refresh(); }
          return null;
        })
        .catch(function () { /* a network hiccup: try again at the next poll */ })
        .then(later);
    }
    later();
  }

  document.addEventListener("DOMContentLoaded", function () {
    showCopyButtons(document);
    readDeadline();
    tick();
    setInterval(tick, 1000);
    startLive();
  });
})();
