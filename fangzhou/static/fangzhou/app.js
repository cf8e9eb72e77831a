// Behaviour shared by every page, kept out of the HTML so that the Content-Security-Policy can
// forbid inline script: elements ask for it with data attributes.
(function () {
  "use strict";
  // No signal: say that the last action was not sent; hide it again after a success.
  function offline(hidden) {
    var el = document.getElementById("offline");
    if (el) el.hidden = hidden;
  }
  document.addEventListener("htmx:sendError", function () { offline(false); });
  document.addEventListener("htmx:afterRequest", function (e) { if (e.detail.successful) offline(true); });

  // <button data-print>: print the page.
  document.addEventListener("click", function (e) {
    var target = e.target.closest ? e.target.closest("[data-print]") : null;
    if (target) { e.preventDefault(); window.print(); }
  });
  // <select data-autosubmit>: send its form as soon as a choice is made.
  document.addEventListener("change", function (e) {
    var target = e.target;
    if (target.matches && target.matches("[data-autosubmit]") && target.form) target.form.submit();
  });

  // The sampling desk: a scanned tube code is used once; clear it after a successful sample and
  // keep the focus on the search box.
  document.addEventListener("sampled", function () {
    var tube = document.querySelector("#station input[name=tube_code]");
    if (tube) tube.value = "";
    var q = document.getElementById("q");
    if (q) q.select();
  });

  // <… data-clock>: the wall screen's clock.
  function tick() {
    var clocks = document.querySelectorAll("[data-clock]");
    for (var i = 0; i < clocks.length; i++) clocks[i].textContent = new Date().toLocaleTimeString("zh-CN");
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("[data-clock]")) { tick(); setInterval(tick, 1000); }
  });

  // <form data-confirm="question"> (or a submit button with data-confirm): a destructive tap asks
  // once before the form is sent. The question is written by the server in the reader's language.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var button = e.submitter;
    var question = (button && button.getAttribute("data-confirm")) || (form.getAttribute && form.getAttribute("data-confirm"));
    if (question && !window.confirm(question)) { e.preventDefault(); e.stopImmediatePropagation(); }
  }, true);

  // <body data-print-on-load>: printable pages open the print dialog (not under test automation).
  window.addEventListener("load", function () {
    if (document.body.hasAttribute("data-print-on-load") && !navigator.webdriver) window.print();
  });
})();
