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

  // <input type=file data-photo-chosen>: its label shows that a photo was taken (the input is hidden).
  document.addEventListener("change", function (e) {
    var target = e.target;
    if (!target.matches || !target.matches("[data-photo-chosen]")) return;
    var label = target.closest("label");
    if (label) label.classList.toggle("chosen", !!(target.files && target.files.length));
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
  // <button data-copy="ID">: copy the text of element ID (a link for a WeChat group). The
  // clipboard API needs a secure context; on plain http the text is selected and copied the old
  // way, and if even that fails it stays selected for the person to copy.
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function copied(button, ok) {
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = ok ? button.dataset.copied : button.dataset.copyFailed;
    button.classList.toggle("ok", ok);
    setTimeout(function () { button.textContent = label; button.classList.remove("ok"); }, 2500);
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("[data-copy]") : null;
    if (!button) return;
    var source = document.getElementById(button.dataset.copy);
    if (!source) return;
    var text = source.textContent.trim();
    selectText(source);
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button, true); }, function () {
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
        copied(button, ok);
      });
      return;
    }
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
    copied(button, ok);
  });

  // The field roles' pages (<meta name="fz-user">) install the service worker that keeps today's
  // pages for use without signal (sw.js, served from the site root; outbox.js keeps the taps).
  if ("serviceWorker" in navigator && document.querySelector('meta[name="fz-user"]')) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { return null; });
  }

  // <button data-check-all="negative">: ticks that answer for every person of its form (a large
  // household's "all negative"); each person stays listed and can still be changed before sending.
  document.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("[data-check-all]") : null;
    if (!button || !button.form) return;
    var radios = button.form.querySelectorAll("input[type=radio]");
    for (var i = 0; i < radios.length; i++) if (radios[i].value === button.dataset.checkAll) radios[i].checked = true;
  });

  // <body data-print-on-load>: printable pages open the print dialog (not under test automation).
  window.addEventListener("load", function () {
    if (document.body.hasAttribute("data-print-on-load") && !navigator.webdriver) window.print();
  });
})();
