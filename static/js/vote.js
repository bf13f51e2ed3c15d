// Our own vote form works without this script, which adds one thing: the reader's voter id is
// fetched just before the form is sent, so that should the vote's answer be lost after it was
// counted (a dropped connection), sending the form again is refused as a repeat, not counted
// twice. If the fetch fails, the form is sent all the same.
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("form[data-voter-url]"), function (form) {
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
      fetch(form.getAttribute("data-voter-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": form.elements.csrfmiddlewaretoken.value }
      }).catch(function () { /* the vote gives the id then */ }).then(function () {
        ready = true;
        if (button) button.disabled = false;
        form.requestSubmit ? form.requestSubmit(button) : form.submit();
      });
    });
  });
})();
