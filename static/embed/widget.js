// The widget works without this script, which adds: voting without leaving the frame (also in
// frames sandboxed without forms or cookies, as WordPress makes them), the reader's vote kept
// across reloads, live results, a layout that fits the frame, and the height for hosts that
// resize it (embed.js, and WordPress's wp-embed.js, which speaks with a secret).
(function () {
  "use strict";
  var root = document.querySelector("main.widget");
  if (!root) return;
  var html = document.documentElement;
  var secret = (/[#&?]secret=([A-Za-z0-9]{1,32})/.exec(location.hash) || [])[1] || null;
  // Hosts that size the frame to its content say so: embed.js in the URL (#host=) or with a
  // message, WordPress with its secret. In any other frame the widget fits the height given.
  var resized = !!secret || /(?:^#|&)host=/.test(location.hash);
  var sandboxed = false;
  try { void document.cookie; } catch (e) { sandboxed = true; }

  function overflows() { return html.scrollHeight > window.innerHeight + 1; }
  function fit() {
    html.classList.remove("is-compact", "is-tight");
    if (resized || window.parent === window) return;
    if (overflows()) html.classList.add("is-compact");
    if (overflows()) html.classList.add("is-tight");
  }
  function reportHeight() {
    fit();
    if (window.parent === window) return;
    var height = Math.ceil(html.getBoundingClientRect().height);
    // Not secret: embed.js checks that the message comes from our origin and its own frame.
    window.parent.postMessage({ type: "pollsite:height", height: height, title: document.title }, "*");
    if (secret) window.parent.postMessage({ message: "height", value: height, secret: secret }, "*");
  }
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== window.parent || !data) return;
    if (data.type === "pollsite:resizer" || (data.message === "ready" && data.secret === secret)) {
      resized = true;
      reportHeight();
    }
  });
  if ("ResizeObserver" in window) new ResizeObserver(reportHeight).observe(root);
  window.addEventListener("resize", reportHeight);
  window.addEventListener("load", reportHeight);
  reportHeight();

  var slug = root.getAttribute("data-poll");
  if (!slug) return;  // a message page: nothing to vote on
  var cookieName = "pollsite_vote_" + slug.replace(/[^A-Za-z0-9_-]/g, "");
  var form = root.querySelector("form");
  var results = root.querySelector(".widget__results");
  var notice = root.querySelector("[data-notice]");
  var announce = root.querySelector("[data-announce]");
  var credentials = sandboxed ? "include" : "same-origin";
  var lastTotal = null;
  // How many had voted by the reader's own vote, as its answer said. Results refreshed from a
  // shared copy (a CDN's, or another worker's a moment behind) that count fewer are older than
  // that answer: drawing them would take the reader's vote back off the chart.
  var votedTotal;
  var timer = null;
  var quietUntil = 0;
  var inView = true;

  // Partitioned (CHIPS): kept where third-party cookies are blocked, but only for this host
  // site. A sandboxed frame has no cookies of its own: the server remembers for it.
  function remember(choice) {
    if (sandboxed) return;
    document.cookie = cookieName + "=" + encodeURIComponent(choice) + "; Max-Age=63072000; Path=" +
      root.getAttribute("data-widget-path") + "; Secure; SameSite=None; Partitioned";
  }
  function remembered() {
    if (sandboxed) return null;
    var match = new RegExp("(?:^|; )" + cookieName + "=([^;]*)").exec(document.cookie);
    return match ? decodeURIComponent(match[1]) : null;
  }

  // The host page: its origin, and its path where it was seen ("" for a page unknown).
  function hostPage() {
    // embed.js passes the host page in the fragment; other frames only have the referrer.
    var match = /(?:^#|&)host=([^&#]*)/.exec(location.hash);
    try {
      var url = new URL(match ? decodeURIComponent(match[1]) : document.referrer);
      if (!/^https?:$/.test(url.protocol)) return null;
      // Browsers cut a cross-site referrer to its origin: its "/" is no page that was seen.
      var cut = !match && url.pathname === "/" && !url.search;
      return { origin: url.origin, path: cut ? "" : url.pathname };
    } catch (e) { return null; }
  }

  // Seen (polls/engagement.py): once per page view, when half the poll has been on screen for
  // a second in a visible tab, not while prerendered. No cookie, no identifier: just the page.
  var seenUrl = root.getAttribute("data-seen-url"), onScreen = false, seenTimer;
  function seenLater() {
    clearTimeout(seenTimer);
    if (!seenUrl || !onScreen || document.visibilityState !== "visible" || document.prerendering) return;
    seenTimer = setTimeout(function () {
      var host = hostPage() || { origin: "", path: "" };
      navigator.sendBeacon(seenUrl, new URLSearchParams({ source: "embed", host_origin: host.origin, host_path: host.path }));
      seenUrl = null;
    }, 1000);
  }
  if (seenUrl && "IntersectionObserver" in window && navigator.sendBeacon) {
    new IntersectionObserver(function (entries) {
      onScreen = entries[entries.length - 1].intersectionRatio >= 0.5;
      seenLater();
    }, { threshold: 0.5 }).observe(root);
    document.addEventListener("visibilitychange", seenLater);
    document.addEventListener("prerenderingchange", seenLater);
  }

  // The reader's language, from data-t-*: "one|several", {n} the number.
  function text(name, n) {
    var f = root.getAttribute("data-t-" + name).split("|");
    return f[n === 1 ? 0 : f.length - 1].replace("{n}", n);
  }
  function say(name) {
    var total = root.querySelector("[data-total]");
    announce.textContent = text(name) + (total ? " " + total.textContent + "." : "");
  }
  function notify(message) {
    notice.textContent = message || "";
    notice.hidden = !message;
  }

  // choices: "12", or "12,14" for a poll with several answers.
  function markMine(choices) {
    choices.split(",").forEach(function (choice) {
      var row = results.querySelector('[data-choice="' + choice + '"]');
      if (!row || row.classList.contains("is-mine")) return;
      row.classList.add("is-mine");
      var badge = document.createElement("span");
      badge.className = "poll-result__mine";
      badge.textContent = text("mine");
      row.querySelector(".poll-result__text").append(" ", badge);
    });
  }
  function chosen(answer) {
    var ids = answer.voted_choices || (answer.choice ? [answer.choice] : []);
    return ids.join(",");
  }

  // The answer carries only the figures readers may see: no percent while results are held
  // back until the close, no votes or total where the poll shows percentages only.
  // With several answers each, the total shown is the voters'. None where counts are hidden.
  function shownTotal(data) {
    return data.voters !== undefined ? data.voters : data.total;
  }

  function update(data, refreshed) {
    if (!data || !data.choices) return;
    var n = shownTotal(data);
    if (refreshed && n < votedTotal) return;  // false while either is undefined
    var top = 0;
    var key = "votes" in data.choices[0] ? "votes" : "percent";
    data.choices.forEach(function (c) { top = Math.max(top, c[key] || 0); });
    data.choices.forEach(function (c) {
      var row = results.querySelector('[data-choice="' + c.id + '"]');
      if (!row || c.percent === undefined) return;
      row.querySelector("[data-percent]").textContent = c.percent + "%";
      var count = row.querySelector("[data-count]");
      if (count) count.textContent = text("votes", c.votes);
      row.querySelector("[data-fill]").setAttribute("width", c.percent);
      row.querySelector("[role=meter]").setAttribute("aria-valuenow", c.percent);
      row.classList.toggle("is-leading", top > 0 && c[key] === top);
    });
    var total = root.querySelector("[data-total]");
    if (!total || n === undefined) return;
    total.textContent = text("total", n);
    if (lastTotal !== null && n !== lastTotal) say("updated");
    lastTotal = n;
  }

  function refresh() {
    if (document.visibilityState !== "visible" || !inView || Date.now() < quietUntil) return;
    // No address while the results are held back until the close: nothing to refresh.
    if (!root.hasAttribute("data-results-url")) return;
    // no-cache: revalidate with the ETag, so an unchanged result costs a 304.
    fetch(root.getAttribute("data-results-url"), { cache: "no-cache", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { update(data, true); })
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

  function showResults(choice, message, byReader) {
    if (form) form.hidden = true;
    results.hidden = false;
    if (choice) markMine(choice);
    notify(message);
    if (byReader) results.focus();
    // After load, so screen readers notice the live region change.
    if (choice) setTimeout(function () { say("voted"); }, 100);
    startLiveResults();
    reportHeight();
  }

  // A refusal is an answer: its JSON says why, or (a proxy's page, say) its status does. Only
  // a request that got no answer at all is one that could not reach the poll; in a frame
  // without a secure context (the poll site on plain HTTP) that is what every vote comes to.
  function postForm(url, body) {
    return fetch(url, {
      method: "POST", body: body, credentials: credentials, headers: { Accept: "application/json" }
    }).then(function (r) {
      return r.json().catch(function () {
        return { message: text(r.status < 500 ? "refused" : "unavailable", r.status) };
      });
    }, function (error) {
      if (!window.isSecureContext) return { message: text("insecure") };
      throw error;
    });
  }
  var tokenUrl = root.getAttribute("data-token-url");
  function freshToken() {
    return postForm(tokenUrl).then(function (body) {
      if (body.token) form.elements.token.value = body.token;
      return body;
    });
  }

  // Whether the reader can really see the widget, where the browser can tell
  // (IntersectionObserver v2: false when hidden, transparent, transformed or covered).
  var seen = "unknown";
  var visibility = null;
  function noteVisibility(entries) {
    var last = entries[entries.length - 1];
    if (last && typeof last.isVisible === "boolean") seen = last.isVisible ? "visible" : "hidden";
  }
  // The latest word, also one the observer has queued but not delivered yet (a frame its host
  // has just shown, as WordPress does once the widget speaks).
  function currentlySeen() {
    if (visibility) noteVisibility(visibility.takeRecords());
    return seen;
  }
  if ("IntersectionObserver" in window) {
    try {
      visibility = new IntersectionObserver(noteVisibility, { trackVisibility: true, delay: 100 });
      visibility.observe(root);
    } catch (e) { visibility = null; /* no v2: unknown */ }
  }

  // A shuffled poll: the page is shared (cached) in the editor's order, and each reader's own
  // order is applied here, from a seed kept in a partitioned cookie (a sandboxed frame has
  // none: a new order per load there). The labels are moved, so keyboard order follows.
  var group = form && form.querySelector("[data-shuffle]");
  if (group) {
    var seedName = cookieName.replace("vote", "order");
    var match = !sandboxed && new RegExp("(?:^|; )" + seedName + "=([0-9]+)").exec(document.cookie);
    var seed = match ? Number(match[1]) : Math.floor(Math.random() * 4294967296);
    if (!match && !sandboxed) {
      document.cookie = seedName + "=" + seed + "; Max-Age=63072000; Path=" +
        root.getAttribute("data-widget-path") + "; Secure; SameSite=None; Partitioned";
    }
    var next = function () {  // mulberry32: a small seeded generator
      seed = (seed + 0x6D2B79F5) >>> 0;
      var t = Math.imul(seed ^ (seed >>> 15), seed | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    var labels = Array.prototype.slice.call(group.querySelectorAll(".widget__choice:not([data-last])"));
    for (var i = labels.length - 1; i > 0; i--) {
      var j = Math.floor(next() * (i + 1));
      var swap = labels[i]; labels[i] = labels[j]; labels[j] = swap;
    }
    var last = group.querySelector(".widget__choice[data-last]");
    labels.forEach(function (label) { group.insertBefore(label, last); });
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
      form.elements.host_path.value = host.path;
    }
    // A sandboxed widget learns from the server whether its reader has voted.
    if (sandboxed) freshToken().then(function (body) {
      if (chosen(body)) showResults(chosen(body));
    }).catch(function () { /* the form stays */ });
    // A sandboxed frame without allow-forms drops a submission before its submit event, so the
    // button's click and Enter are taken here too.
    var vote = function (event) {
      event.preventDefault();
      if (!form.querySelector("input[name=choice]:checked")) {
        notify(text("pick"));
        return;
      }
      if (currentlySeen() === "hidden") {
        // Hidden, transparent or covered by the page around it: maybe a click the reader never
        // meant for us. Nothing is sent until they confirm on a widget they can see.
        notify(text("confirm"));
        form.querySelector("[data-vote]").hidden = true;
        confirmButton.hidden = false;
        return;
      }
      form.elements.visibility.value = seen;
      send();
    };
    var confirmButton = form.querySelector("[data-confirm]");
    confirmButton.addEventListener("click", function () {
      if (currentlySeen() === "hidden") {
        notify(text("covered"));
        return;
      }
      form.elements.visibility.value = "confirmed";
      confirmButton.hidden = true;
      form.querySelector("[data-vote]").hidden = false;
      send();
    });
    var send = function () {
      var button = form.querySelector("[data-vote]");
      button.disabled = true;
      // The page carries no token: every reader's copy is the same (a CDN's, too).
      freshToken()
        .then(function () { return postForm(form.action, new URLSearchParams(new FormData(form))); })
        .then(function (answer) {
          update(answer);
          if (chosen(answer)) {
            votedTotal = shownTotal(answer);
            // The answer is as fresh as results get: the next refresh can wait its turn.
            quietUntil = Date.now() + 4000;
            remember(chosen(answer));
            showResults(chosen(answer), answer.message, true);
          } else {
            notify(answer.message || text("offline"));
          }
        }, function () { notify(text("offline")); })
        .then(function () { button.disabled = false; reportHeight(); });
    };
    form.addEventListener("submit", vote);
    form.querySelector("[data-vote]").addEventListener("click", vote);
    form.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && /^(choice|write_in)$/.test(event.target.name)) vote(event);
    });
    // Typing an answer of one's own picks "Other", the choice it belongs to.
    var writeIn = form.querySelector("[data-write-in-for]");
    if (writeIn) writeIn.addEventListener("input", function () {
      document.getElementById(writeIn.getAttribute("data-write-in-for")).checked = true;
    });
  }

  // Sharing: the browser's share sheet where the host lets the frame use it (embed.js does);
  // else the link opens the share links on our results page.
  var shareLink = root.querySelector("[data-share]");
  var policy = document.featurePolicy;
  if (shareLink && navigator.share && (!policy || policy.allowsFeature("web-share"))) {
    shareLink.addEventListener("click", function (event) {
      event.preventDefault();
      event.stopImmediatePropagation();
      navigator.share({ title: document.title, url: shareLink.getAttribute("data-share") })
        .catch(function () { /* dismissed */ });
    });
  }

  // Links to our site: WordPress's frame may not open them, but its host script follows a
  // "link" message; a frame sandboxed by anyone else shows the results in place instead.
  Array.prototype.forEach.call(root.querySelectorAll("a[href]"), function (link) {
    link.addEventListener("click", function (event) {
      if (secret) {
        event.preventDefault();
        window.parent.postMessage({ message: "link", value: link.href, secret: secret }, "*");
      } else if (sandboxed && form && link.closest("form")) {
        event.preventDefault();
        showResults(remembered());
      }
    });
  });
})();
