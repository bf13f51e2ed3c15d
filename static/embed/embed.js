// pollsite loader: turns each <div data-poll="slug"></div> into the poll's widget, sized to
// its content. Paste: <div data-poll="SLUG"></div><script src="https://POLLS-SITE/embed.js" async></script>
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var origin = new URL(script.src, location.href).origin;
  var frames = [];

  function mount() {
    var slots = document.querySelectorAll("[data-poll]:not([data-poll-mounted])");
    Array.prototype.forEach.call(slots, function (slot) {
      var slug = slot.getAttribute("data-poll");
      if (!/^[-a-zA-Z0-9_]+$/.test(slug)) return;
      slot.setAttribute("data-poll-mounted", "");
      var iframe = document.createElement("iframe");
      iframe.src = origin + "/polls/" + slug + "/embed/#host=" +
        encodeURIComponent(location.origin + location.pathname);
      iframe.title = "Reader poll";
      iframe.setAttribute("scrolling", "no");
      iframe.style.cssText = "display:block;border:0;width:100%;max-width:640px;height:420px;overflow:hidden";
      slot.appendChild(iframe);
      frames.push(iframe);
    });
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== origin || !event.data || event.data.type !== "pollsite:height") return;
    var height = Number(event.data.height);
    if (!(height > 0 && height < 5000)) return;
    frames.forEach(function (iframe) {
      if (iframe.contentWindow === event.source) iframe.style.height = height + "px";
    });
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
