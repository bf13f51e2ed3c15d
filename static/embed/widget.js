// The widget works without this script, which adds: a fresh vote token, the reader's vote in a
// cookie partitioned to the host site, live results, and the height for embed.js.
(function () {
  "use strict";
  var root = document.querySelector("main[data-poll]");
  if (!root) return;
  var slug = root.getAttribute("data-poll");
  var cookieName = "pollsite_vote_" + slug.replace(/[^A-Za-z0-9_-]/g, "");
  var form = root.querySelector("form");
  var results = root.querySelector(".widget__results");
  var announce = root.querySelector("[data-announce]");
  var lastTotal = null;
  var timer = null;
  var inView = true;

  // Partitioned (CHIPS): kept where third-party cookies are blocked, but only for this host site.
  function remember(choice) {
    document.cookie = cookieName + "=" + encodeURIComponent(choice) + "; Max-Age=63072000; Path=" +
      root.getAttribute("data-widget-path") + "; Secure; SameSite=None; Partitioned";
  }
  function remembered() {
    var match = new RegExp("(?:^|; )" + cookieName + "=([^;]*)").exec(document.cookie);
    return match ? decodeURIComponent(match[1]) : null;
  }

  function hostPage() {
    // embed.js passes the host page in the fragment; a plain iframe only has the referrer.
    var match = /(?:^#|&)host=([^&]*)/.exec(location.hash);
    try {
      var url = new URL(match ? decodeURIComponent(match[1]) : document.referrer);
      return /^https?:$/.test(url.protocol) ? url : null;
    } catch (e) { return null; }
  }

  // The reader's language, from data-t-*: "one|several", {n} the number.
  function text(name, n) {
    var f = root.getAttribute("data-t-" + name).split("|");
    return f[n === 1 ? 0 : f.length - 1].replace("{n}", n);
  }
  function say(name) {
    announce.textContent = text(name) + " " + root.querySelector("[data-total]").textContent + ".";
  }

  function markMine(choice) {
    var row = results.querySelector('[data-choice="' + choice + '"]');
    if (!row || row.classList.contains("is-mine")) return;
    row.classList.add("is-mine");
    var badge = document.createElement("span");
    badge.className = "poll-result__mine";
    badge.textContent = text("mine");
    row.querySelector(".poll-result__text").append(" ", badge);
  }

  function update(data) {
    if (!data || !data.choices) return;
    var top = 0;
    data.choices.forEach(function (c) { top = Math.max(top, c.votes); });
    data.choices.forEach(function (c) {
      var row = results.querySelector('[data-choice="' + c.id + '"]');
      if (!row) return;
      row.querySelector("[data-percent]").textContent = c.percent + "%";
      row.querySelector("[data-count]").textContent = text("votes", c.votes);
      row.querySelector("[data-fill]").setAttribute("width", c.percent);
      row.querySelector("[role=meter]").setAttribute("aria-valuenow", c.percent);
      row.classList.toggle("is-leading", top > 0 && c.votes === top);
    });
    root.querySelector("[data-total]").textContent = text("total", data.total);
    if (lastTotal !== null && data.total !== lastTotal) say("updated");
    lastTotal = data.total;
  }

  function refresh() {
    if (document.visibilityState !== "visible" || !inView) return;
    // no-cache: revalidate with the ETag, so an unchanged result costs a 304.
    fetch(root.getAttribute("data-results-url"), { cache: "no-cache", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(update)
      .catch(function () { /* try again at the next tick */ });
  }

  function startLiveResults() {
    if (timer) return;
    refresh();
    timer = setInterval(refresh, 5000);
    document.addEventListener("visibilitychange", refresh);
    if ("IntersectionObserver" in window) {
      new IntersectionObserver(function (entries) {
        // Entries can queue up: the last is current.
        inView = entries[entries.length - 1].isIntersecting;
        if (inView) refresh();
      }).observe(root);
    }
  }

  function showResults(choice) {
    if (form) form.hidden = true;
    results.hidden = false;
    if (choice) markMine(choice);
    // After load, so screen readers notice the live region change.
    if (choice) setTimeout(function () { say("voted"); }, 100);
    startLiveResults();
  }

  var voted = root.getAttribute("data-voted-choice");
  if (voted) remember(voted);
  else voted = remembered();
  if (voted) showResults(voted);
  else if (!results.hidden) startLiveResults();

  if (form && !form.hidden) {
    var host = hostPage();
    if (host) {
      form.elements.host_origin.value = host.origin;
      form.elements.host_path.value = host.pathname;
    }
    form.addEventListener("submit", function (event) {
      // The token in a CDN-cached copy may be shared with other readers: fetch a fresh one.
      event.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      fetch(root.getAttribute("data-token-url"), { method: "POST", credentials: "omit" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) { if (body && body.token) form.elements.token.value = body.token; })
        .catch(function () { /* the page's own token is still there */ })
        .then(function () { form.submit(); });
    });
  }

  function reportHeight() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (window.parent !== window) {
      // The height is not secret; embed.js checks that the message comes from our origin.
      window.parent.postMessage({ type: "pollsite:height", poll: slug, height: height }, "*");
    }
  }
  if ("ResizeObserver" in window) new ResizeObserver(reportHeight).observe(document.documentElement);
  window.addEventListener("load", reportHeight);
  reportHeight();
})();
