// Offline field work for the field roles (issue 13): the outbox, the saved copies of today's pages,
// and forgetting both at sign-out. Loaded only on pages that carry <meta name="fz-user" content=KEY>.
//
// Outbox: a <form data-outbox> tap gets its client_id (and the phone's time) when it is tapped and
// is kept in IndexedDB under the user's KEY before anything is sent. With signal, htmx sends it as
// before and the kept copy is dropped once the server answered; without signal (or when the send
// fails) it stays, "待发送 N" shows in the header, and it is sent later (on `online`, on page load,
// every 20 s), oldest first, with backoff. The server answers a replayed client_id with its stored
// outcome, so a tap reaches it once however often it is sent. A conflict or refusal is shown to the
// person and the tap is dropped; an ended session keeps everything and asks to sign in again.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="fz-user"]');
  if (!meta || !window.indexedDB) return;
  var USER = meta.content;
  var DB = "fangzhou-outbox";
  var STORE = "taps";
  var TIMER_MS = 20000;
  var PRECACHE_EVERY_MS = 5 * 60 * 1000;

  // ---- IndexedDB ---------------------------------------------------------------------------
  var opened = null;
  function db() {
    if (opened) return opened;
    opened = new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () {
        var store = request.result.createObjectStore(STORE, { keyPath: "client_id" });
        store.createIndex("user", "user");
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
    return opened;
  }
  function tx(mode, work) {
    return db().then(function (conn) {
      return new Promise(function (resolve, reject) {
        var t = conn.transaction(STORE, mode);
        var result = work(t.objectStore(STORE));
        t.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function put(item) { return tx("readwrite", function (s) { s.put(item); }); }
  function drop(id) { return tx("readwrite", function (s) { s.delete(id); }); }
  function mine() {
    return tx("readonly", function (s) { return s.index("user").getAll(USER); }).then(function (items) {
      return (items || []).sort(function (a, b) { return a.tapped_at < b.tapped_at ? -1 : a.tapped_at > b.tapped_at ? 1 : 0; });
    });
  }
  function dropMine() {
    return mine().then(function (items) {
      return tx("readwrite", function (s) { items.forEach(function (i) { s.delete(i.client_id); }); });
    });
  }

  // ---- what the person sees -------------------------------------------------------------------
  var news = document.getElementById("outbox-news");
  var pendingText = (news && news.dataset.pending) || "待发送";
  function showCount() {
    return mine().then(function (items) {
      var el = document.getElementById("outbox-count");
      if (!el) return items.length;
      el.hidden = items.length === 0;
      el.textContent = (el.dataset.label || pendingText) + " " + items.length;
      return items.length;
    });
  }
  function say(text, bad) {
    if (!news) return;
    var p = document.createElement("p");
    p.className = bad ? "error" : "flash";
    p.setAttribute("role", bad ? "alert" : "status");
    p.textContent = text;
    if (bad) {  // a conflict stays until it is read
      var close = document.createElement("button");
      close.type = "button";
      close.className = "link small";
      close.textContent = "✕";
      close.addEventListener("click", function () { p.remove(); });
      p.appendChild(close);
    } else {
      setTimeout(function () { p.remove(); }, 6000);
    }
    news.appendChild(p);
  }
  function urlOf(form) { return form.getAttribute("hx-post") || form.getAttribute("action") || location.pathname; }
  // Which row a tap belongs to: its form's address and hidden fields (the door-to-door list has one
  // address for every resident; the resident is a hidden field), never the tap's own id or time.
  function keyOf(form) {
    var key = new URL(urlOf(form), location.href).pathname;
    var inputs = form.querySelectorAll("input[type=hidden]");
    for (var i = 0; i < inputs.length; i++) {
      var name = inputs[i].name;
      if (name && name !== "client_id" && name !== "done_at_client" && name !== "csrfmiddlewaretoken") key += "&" + name + "=" + inputs[i].value;
    }
    return key;
  }
  function markPending(key) {
    var forms = document.querySelectorAll("form[data-outbox]");
    for (var i = 0; i < forms.length; i++) {
      var form = forms[i];
      if (keyOf(form) !== key || form.hidden) continue;
      form.hidden = true;
      var tag = document.createElement("span");
      tag.className = "outbox-pending";
      tag.setAttribute("data-key", key);
      tag.textContent = pendingText;
      form.parentNode.insertBefore(tag, form.nextSibling);
    }
  }
  // The server answered a kept tap: its row says the outcome instead of "waiting".
  function markAnswered(key, text, bad) {
    var tags = document.querySelectorAll(".outbox-pending");
    for (var i = 0; i < tags.length; i++) {
      if (tags[i].getAttribute("data-key") !== key) continue;
      tags[i].className = bad ? "outbox-answered error" : "outbox-answered";
      tags[i].textContent = bad ? text : "✓ " + text;
    }
  }
  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { return ""; }
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function hidden(form, name, value) {
    var input = form.querySelector('input[type=hidden][name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }

  // ---- a tap ----------------------------------------------------------------------------------
  var sending = new WeakMap();  // form -> {id, stored} while htmx sends it
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-outbox]") || e.defaultPrevented) return;
    var id = newId();
    hidden(form, "client_id", id);
    hidden(form, "done_at_client", new Date().toISOString());
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken" && !(value instanceof File && !value.size)) fields.push([name, value]);
    });
    if (e.submitter && e.submitter.name) fields.push([e.submitter.name, e.submitter.value]);
    var item = {
      client_id: id, user: USER, url: new URL(urlOf(form), location.href).pathname, key: keyOf(form), fields: fields,
      csrf: csrf(), tapped_at: new Date().toISOString(), label: form.dataset.outboxLabel || "",
      tries: 0, next_at: 0
    };
    var stored = put(item);
    if (navigator.onLine && window.htmx) {  // htmx sends it now; the kept copy waits for the answer
      sending.set(form, { id: id, stored: stored, key: item.key });
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
    stored.then(function () { markPending(item.key); showCount(); });
  }, true);

  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt && e.detail.elt.closest ? e.detail.elt.closest("form[data-outbox]") : null;
    var entry = form && sending.get(form);
    if (!entry) return;
    sending.delete(form);
    var status = e.detail.xhr ? e.detail.xhr.status : 0;
    entry.stored.then(function () {
      if (status >= 200 && status < 500 && status !== 401 && status !== 403) return drop(entry.id);
      markPending(entry.key);  // no answer (or a 403 that may be an ended session): flush decides
      return null;
    }).then(showCount);
  });

  // A failed send of an outbox form is kept, not lost: the page's "not sent" warning would be wrong.
  document.addEventListener("htmx:sendError", function (e) {
    var form = e.detail.elt && e.detail.elt.closest ? e.detail.elt.closest("form[data-outbox]") : null;
    if (!form) return;
    setTimeout(function () { var el = document.getElementById("offline"); if (el) el.hidden = true; }, 0);
  });

  // ---- sending later --------------------------------------------------------------------------
  var flushing = false;
  function backoff(item) {
    item.tries = (item.tries || 0) + 1;
    item.next_at = Date.now() + Math.min(60000, 1000 * Math.pow(2, item.tries));
    return put(item);
  }
  function signInAgain(show) {
    var el = document.getElementById("signin-again");
    if (el) el.hidden = !show;
  }
  function sendOne(item) {
    var body = new FormData();
    item.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
    return fetch(item.url, {
      method: "POST", body: body, credentials: "same-origin", redirect: "manual",
      headers: { "X-CSRFToken": csrf() || item.csrf, "X-Fangzhou-Outbox": "1", "Accept": "application/json" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      var json = type.indexOf("application/json") === 0 ? response.json().catch(function () { return null; }) : Promise.resolve(null);
      return json.then(function (data) { return { response: response, data: data }; });
    });
  }
  function flush() {
    if (flushing) return Promise.resolve();
    flushing = true;
    return mine().then(function (items) {
      var chain = Promise.resolve(true);
      items.forEach(function (item) {
        chain = chain.then(function (goOn) {
          if (!goOn) return false;
          if (item.next_at && item.next_at > Date.now()) return false;  // oldest first: wait for it
          return sendOne(item).then(function (r) {
            var status = r.response.status;
            if (r.response.type === "opaqueredirect" || status === 401 || (status === 403 && !r.data)) {
              signInAgain(true);  // the session ended: keep everything
              return false;
            }
            if (status >= 500 || status === 429 || status === 0) return backoff(item).then(function () { return false; });
            signInAgain(false);
            return drop(item.client_id).then(function () {
              var text = (r.data && r.data.message) || String(status);
              var prefix = item.label ? item.label + " · " : "";
              markAnswered(item.key || item.url, text, !(r.data && r.data.ok));
              if (!(r.data && r.data.ok)) say(prefix + text, true);
              else if (!r.data.replay) say("✓ " + prefix + text, false);
              return true;
            });
          }, function () { return backoff(item).then(function () { return false; }); });
        });
      });
      return chain;
    }).then(function () { flushing = false; return showCount(); }, function () { flushing = false; });
  }

  // ---- saved copies of today's pages --------------------------------------------------------
  function stamp(text, response) {
    var at = new Date().toISOString();
    var headers = new Headers(response.headers);
    headers.set("X-Fz-Cached-At", at);
    return new Response(text.replace("<head>", '<head>\n<meta name="fz-cached-at" content="' + at + '">'),
      { status: response.status, headers: headers });
  }
  function save(cache, url) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok || response.redirected) return null;
      return response.text().then(function (text) {
        if (text.indexOf('<meta name="fz-user" content="' + USER + '">') < 0) return null;  // not this person's
        return cache.put(new URL(url, location.href).href, stamp(text, response));
      });
    }).catch(function () { return null; });
  }
  function precache() {
    if (!window.caches || !navigator.onLine || document.querySelector('meta[name="fz-cached-at"]')) return Promise.resolve();
    var last = Number(localStorage.getItem("fz-precached-" + USER) || 0);
    var cachesReady = caches.open("fz-pages-" + USER);
    var here = location.pathname + location.search;
    var list = Date.now() - last < PRECACHE_EVERY_MS ? Promise.resolve({ urls: [] }) :
      fetch("/offline/pages/", { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { urls: [] }; }).catch(function () { return { urls: [] }; });
    // The service worker serves saved copies only of the person the server last showed signed in.
    var who = caches.open("fz-meta").then(function (c) { return c.put("/__fz/user", new Response(USER)); });
    return Promise.all([cachesReady, list, who]).then(function (both) {
      var cache = both[0];
      var urls = both[1].urls || [];
      if (urls.indexOf(here) < 0) urls.push(here);
      return Promise.all(urls.map(function (u) { return save(cache, u); })).then(function () {
        if (both[1].urls && both[1].urls.length) localStorage.setItem("fz-precached-" + USER, String(Date.now()));
      });
    });
  }

  // A page served from the saved copy says how old it is.
  function showAge() {
    var at = document.querySelector('meta[name="fz-cached-at"]');
    var el = document.getElementById("stale");
    if (!at || !el) return;
    var when = new Date(at.content);
    el.querySelector("time").textContent = ("0" + when.getHours()).slice(-2) + ":" + ("0" + when.getMinutes()).slice(-2);
    el.querySelector("time").setAttribute("datetime", at.content);
    el.hidden = false;
  }

  // Sign-out forgets this person's saved pages and outbox on this phone (asking first if taps wait).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-signout]") || form.dataset.cleared) return;
    e.preventDefault();
    mine().then(function (items) {
      if (items.length && !window.confirm(form.dataset.discard)) return;
      var jobs = [dropMine()];
      if (window.caches) {
        jobs.push(caches.delete("fz-pages-" + USER));
        jobs.push(caches.open("fz-meta").then(function (c) { return c.delete("/__fz/user"); }));
      }
      localStorage.removeItem("fz-precached-" + USER);
      Promise.all(jobs).then(function () { form.dataset.cleared = "1"; form.submit(); },
        function () { form.dataset.cleared = "1"; form.submit(); });
    });
  });

  function start() {
    showAge();
    mine().then(function (items) { items.forEach(function (i) { markPending(i.key || i.url); }); });
    showCount();
    flush().then(function () {
      var ready = navigator.serviceWorker ? navigator.serviceWorker.ready : Promise.resolve();
      var late = new Promise(function (resolve) { setTimeout(resolve, 5000); });
      return Promise.race([ready, late]).then(precache);
    }).then(function () { document.documentElement.setAttribute("data-fz-offline", "ready"); });
    window.addEventListener("online", flush);
    setInterval(flush, TIMER_MS);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
