// Our own vote form works without this script, which adds what a page shared by every reader
// cannot carry: a fresh single-use token and the reader's voter id, fetched just before the
// form is sent (the page may be a copy a cache gave other readers too; and should the vote's
// answer be lost after it was counted, sending the form again is refused as a repeat, not
// counted twice), and a shuffled poll's order for this reader. If the fetch fails, the form
// is sent with the page's token all the same.
(function () {
  "use strict";

  // A shuffled poll: the page comes in the editor's order and each reader's own order is
  // applied here, from a seed kept in this browser (not a cookie: the page stays shared).
  // The rows are moved, so keyboard order follows; "always last" rows stay last.
  function readerSeed() {
    var seed = null;
    try { seed = window.localStorage.getItem("pollsite-order-seed"); } catch (e) { /* blocked */ }
    if (!/^[0-9]+$/.test(seed || "")) {
      seed = String(Math.floor(Math.random() * 4294967296));
      try { window.localStorage.setItem("pollsite-order-seed", seed); } catch (e) { /* per load */ }
    }
    return Number(seed);
  }

  function shuffle(group) {
    var seed = (readerSeed() ^ Math.imul(Number(group.getAttribute("data-shuffle")), 0x9E3779B1)) >>> 0;
    var next = function () {  // mulberry32: a small seeded generator, as in the widget
      seed = (seed + 0x6D2B79F5) >>> 0;
      var t = Math.imul(seed ^ (seed >>> 15), seed | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    var rows = Array.prototype.slice.call(group.querySelectorAll(".form-check:not([data-last])"));
    for (var i = rows.length - 1; i > 0; i--) {
      var j = Math.floor(next() * (i + 1));
      var swap = rows[i]; rows[i] = rows[j]; rows[j] = swap;
    }
    var last = group.querySelector(".form-check[data-last]");  // null: append
    rows.forEach(function (row) { group.insertBefore(row, last); });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-token-url]"), function (form) {
    var group = form.querySelector("[data-shuffle]");
    if (group) shuffle(group);
    // Typing an answer of one's own picks "Other", the choice it belongs to.
    var writeIn = form.querySelector("[data-write-in-for]");
    if (writeIn) writeIn.addEventListener("input", function () {
      document.getElementById(writeIn.getAttribute("data-write-in-for")).checked = true;
    });
    var ready = false;
    form.addEventListener("submit", function (event) {
      if (ready) return;
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      fetch(form.getAttribute("data-token-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (body) {
        if (body && body.token) form.elements.token.value = body.token;
      }).catch(function () { /* the page's token then */ }).then(function () {
        ready = true;
        if (button) button.disabled = false;
        form.requestSubmit ? form.requestSubmit(button) : form.submit();
      });
    });
  });
  // Seen (polls/engagement.py): once per page view, when half the poll has been on screen for
  // a second in a visible tab, not while prerendered. No cookie, no identifier: just the page.
  Array.prototype.forEach.call(document.querySelectorAll("[data-seen-url]"), function (box) {
    if (!("IntersectionObserver" in window) || !navigator.sendBeacon) return;
    var onScreen = false, sent = false, timer;
    function later() {
      clearTimeout(timer);
      if (sent || !onScreen || document.visibilityState !== "visible" || document.prerendering) return;
      timer = setTimeout(function () {
        sent = true;
        navigator.sendBeacon(box.getAttribute("data-seen-url"), new URLSearchParams(box.getAttribute("data-seen")));
      }, 1000);
    }
    new IntersectionObserver(function (entries) {
      onScreen = entries[entries.length - 1].intersectionRatio >= 0.5;
      later();
    }, { threshold: 0.5 }).observe(box);
    document.addEventListener("visibilitychange", later);
    document.addEventListener("prerenderingchange", later);
  });
})();
