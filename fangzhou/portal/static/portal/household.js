// The household page's Web Push button (issue 14): ask the browser, subscribe through the site's
// service worker (/sw.js), and hand the subscription to the server for this household.
"use strict";
(function () {
  var box = document.getElementById("push");
  if (!box) return;
  var state = document.getElementById("push-state");
  var on = document.getElementById("push-on");
  var off = document.getElementById("push-off");
  var csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";

  function say(key) { state.textContent = box.dataset[key] || ""; }
  function show(subscribed) { on.hidden = subscribed; off.hidden = !subscribed; say(subscribed ? "on" : "off"); }

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say("unsupported");
    return;
  }

  function key() {
    var raw = box.dataset.key.replace(/-/g, "+").replace(/_/g, "/");
    var bin = atob(raw + "===".slice((raw.length + 3) % 4));
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function send(subscription, remove) {
    return fetch(box.dataset.url + (remove ? "?remove=1" : ""), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": decodeURIComponent(csrf) },
      body: JSON.stringify(subscription.toJSON ? subscription.toJSON() : subscription),
    }).then(function (response) { if (!response.ok) throw new Error(String(response.status)); });
  }

  function registration() {
    return navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () { return navigator.serviceWorker.ready; });
  }

  registration().then(function (reg) { return reg.pushManager.getSubscription(); })
    .then(function (sub) { show(!!sub); }, function () { show(false); });

  on.addEventListener("click", function () {
    on.disabled = true;
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { say("denied"); return null; }
      return registration().then(function (reg) {
        return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key() });
      }).then(function (sub) { return send(sub, false).then(function () { show(true); }); });
    }).catch(function () { say("failed"); }).then(function () { on.disabled = false; });
  });

  off.addEventListener("click", function () {
    off.disabled = true;
    registration().then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (sub) {
      if (!sub) { show(false); return null; }
      return send(sub, true).then(function () { return sub.unsubscribe(); }).then(function () { show(false); });
    }).catch(function () { say("failed"); }).then(function () { off.disabled = false; });
  });
})();
