// Share this poll (templates/includes/share_links.html): the links work without this script,
// which adds the browser's own share sheet (Web Share API) and "Copy link" where they exist.
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("[data-share-links]"), function (box) {
    var url = box.getAttribute("data-share-url");
    var share = box.querySelector("[data-share]");
    var copy = box.querySelector("[data-copy]");
    if (navigator.share) {
      share.hidden = false;
      share.addEventListener("click", function () {
        navigator.share({ title: document.title, url: url }).catch(function () { /* dismissed */ });
      });
    }
    if (navigator.clipboard && window.isSecureContext) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        navigator.clipboard.writeText(url).then(function () {
          box.querySelector("[data-copied]").textContent = copy.getAttribute("data-done");
        }, function () { /* refused: the links remain */ });
      });
    }
  });
})();
