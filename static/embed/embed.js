// pollsite loader: turns each <div data-poll="slug"><a href="…">question</a></div> into the
// poll's widget, and sizes every widget frame of this site on the page to its content (also the
// iframes of our oEmbed html, pasted as is by CMSs such as Ghost). The link inside the div is
// what readers get where this script cannot run.
// Paste: <div data-poll="SLUG"><a href="POLL URL">QUESTION</a></div><script src="https://POLLS-SITE/embed.js" async></script>
// A theme and colour scheme (light, dark or auto) go on the div or on the script:
// data-theme="NAME" data-color-scheme="auto". With auto, the widget takes the scheme the host
// page declares (its CSS color-scheme or <meta name="color-scheme">) when it declares one only,
// else the reader's setting.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var origin = new URL(script.src, location.href).origin;
  var widgetPath = /^\/polls\/[-a-zA-Z0-9_]+\/embed\/$/;

  function hostScheme() {
    var declared = getComputedStyle(document.documentElement).colorScheme || "";
    var meta = document.querySelector('meta[name="color-scheme"]');
    if (!/light|dark/.test(declared) && meta) declared = meta.content;
    var light = /light/.test(declared), dark = /dark/.test(declared);
    return light === dark ? "auto" : dark ? "dark" : "light";
  }

  // ?theme=…&scheme=… for a slot's widget: what the publisher wrote on the div or the script.
  function look(slot) {
    var asked = new URLSearchParams();
    function attribute(name) { return slot.getAttribute(name) || script.getAttribute(name) || ""; }
    var theme = attribute("data-theme"), scheme = attribute("data-color-scheme");
    if (/^[-a-zA-Z0-9_]{1,60}$/.test(theme)) asked.set("theme", theme);
    if (scheme === "auto") scheme = hostScheme();
    if (/^(light|dark|auto)$/.test(scheme)) asked.set("scheme", scheme);
    var query = asked.toString();
    return query ? "?" + query : "";
  }

  function isWidget(iframe) {
    try {
      var url = new URL(iframe.src, location.href);
      return url.origin === origin && widgetPath.test(url.pathname);
    } catch (e) { return false; }
  }

  // Tell the widget that its height is looked after, so it grows instead of compacting.
  function adopt(iframe) {
    if (iframe.hasAttribute("data-poll-frame")) return;
    iframe.setAttribute("data-poll-frame", "");
    function hello() { iframe.contentWindow.postMessage({ type: "pollsite:resizer" }, "*"); }
    iframe.addEventListener("load", hello);
    try { hello(); } catch (e) { /* not loaded yet: the load event says it */ }
  }

  function mount() {
    var slots = document.querySelectorAll("[data-poll]:not([data-poll-mounted])");
    Array.prototype.forEach.call(slots, function (slot) {
      var slug = slot.getAttribute("data-poll");
      if (!/^[-a-zA-Z0-9_]+$/.test(slug)) return;
      slot.setAttribute("data-poll-mounted", "");
      var iframe = document.createElement("iframe");
      iframe.src = origin + "/polls/" + slug + "/embed/" + look(slot) + "#host=" +
        encodeURIComponent(location.origin + location.pathname);
      // The fallback link names the poll; the widget sends its full title once loaded.
      var question = slot.textContent.trim();
      iframe.title = question ? "Reader poll: " + question : "Reader poll";
      iframe.setAttribute("scrolling", "no");
      iframe.allow = "web-share";  // the reader's share sheet, after their vote
      iframe.style.cssText = "display:block;border:0;width:100%;max-width:640px;height:420px;overflow:hidden";
      slot.replaceChildren(iframe);
      adopt(iframe);
    });
    Array.prototype.forEach.call(document.querySelectorAll("iframe:not([data-poll-frame])"), function (iframe) {
      if (isWidget(iframe)) adopt(iframe);
    });
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== origin || !event.data || event.data.type !== "pollsite:height") return;
    var height = Number(event.data.height);
    if (!(height > 0 && height < 5000)) return;
    Array.prototype.forEach.call(document.querySelectorAll("iframe[data-poll-frame]"), function (iframe) {
      if (iframe.contentWindow !== event.source) return;
      iframe.style.height = height + "px";
      if (typeof event.data.title === "string" && event.data.title) iframe.title = event.data.title.slice(0, 300);
      // The widget is up: the link that stood in for it can go.
      var fallback = iframe.previousElementSibling;
      if (fallback && fallback.matches("blockquote.pollsite-fallback")) fallback.hidden = true;
    });
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
