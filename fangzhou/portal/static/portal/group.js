// The group text page: one tap copies the message (the clipboard API, or a selection and the old
// copy command where the API is missing or refused, as in some WeChat browsers).
"use strict";
(function () {
  var button = document.getElementById("copy");
  var area = document.getElementById("group-text");
  var done = document.getElementById("copy-state");
  if (!button || !area) return;
  function fallback() {
    area.focus();
    area.select();
    area.setSelectionRange(0, area.value.length);
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    done.textContent = ok ? button.dataset.copied : button.dataset.select;
  }
  button.addEventListener("click", function () {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(area.value).then(function () { done.textContent = button.dataset.copied; }, fallback);
    } else {
      fallback();
    }
  });
})();
