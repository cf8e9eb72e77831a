// Offline field work for the field roles (issue 13): the outbox, the saved copies of today's pages,
// and forgetting both at sign-out. Loaded only on pages that carry <meta name="fz-user" content=KEY>.
//
// Outbox: a <form data-outbox> tap gets its client_id (and the phone's time) when it is tapped and
// is kept in IndexedDB under the user's KEY before anything is sent. With signal, htmx sends it as
// before and the kept copy is dropped once the server answered; without signal (or when the send
// fails) it stays, "待发送 N" shows in the header, and it is sent later (on `online`, on page load,
// every 20 s), oldest first; a server error backs off, no signal does not. The server answers a replayed client_id with its stored
// outcome, so a tap reaches it once however often it is sent. A conflict or refusal is shown to the
// person and the tap is dropped; an ended session keeps everything and asks to sign in again.
// Where the browser has Background Sync (Android Chrome) a waiting tap also registers the sync tag
// "fz-outbox": the service worker's `sync` event asks the open page to send, or with no page open
// sends the taps itself and keeps their outcomes for the next page to show (iOS Safari has no
// Background Sync: there the online / page-load / timer path does it). A photo is resized on the
// phone (longest side 1280 px, JPEG 0.7) before it is kept, and kept only if the phone has room.
(function () {
  "use strict";
  var PHOTO_MAX_PX = 1280;
  var PHOTO_QUALITY = 0.7;
  var SPARE_BYTES = 2 * 1024 * 1024;  // what the phone must keep free after a kept photo
  var SYNC_TAG = "fz-outbox";

  // The size a photo is drawn at: its longest side at most `max`, the proportions kept.
  function fitWithin(width, height, max) {
    if (!(width > 0 && height > 0)) return { width: 0, height: 0, scaled: false };
    var longest = Math.max(width, height);
    if (longest <= max) return { width: width, height: height, scaled: false };
    var scale = max / longest;
    return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)), scaled: true };
  }
  // Whether `bytes` more fit in this site's storage (navigator.storage.estimate()); unknown = yes.
  function roomFor(estimate, bytes) {
    if (!estimate || !estimate.quota) return true;
    return estimate.quota - (estimate.usage || 0) >= bytes + SPARE_BYTES;
  }
  window.FzOutbox = { fitWithin: fitWithin, roomFor: roomFor, PHOTO_MAX_PX: PHOTO_MAX_PX, SYNC_TAG: SYNC_TAG };

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
  // What a kept tap's row is found by: a form's own key (data-outbox-key), else its URL. A form
  // that takes many taps (data-outbox-repeat: a typed request) keys each tap by its client id.
  function formKey(form) { return form.dataset.outboxKey || fieldsKey(form); }
  // Without its own key, a row is its form's address and hidden fields (the door-to-door list has
  // one address for every resident; the resident is a hidden field), never the tap's id or time.
  function fieldsKey(form) {
    var key = new URL(urlOf(form), location.href).pathname;
    var inputs = form.querySelectorAll("input[type=hidden]");
    for (var i = 0; i < inputs.length; i++) {
      var name = inputs[i].name;
      if (name && name !== "client_id" && name !== "done_at_client" && name !== "csrfmiddlewaretoken") key += "&" + name + "=" + inputs[i].value;
    }
    return key;
  }
  function keyOf(item) { return item.key || item.url; }
  function markPending(item) {
    var key = keyOf(item);
    var forms = document.querySelectorAll("form[data-outbox]");
    for (var i = 0; i < forms.length; i++) {
      var form = forms[i];
      if (form.hasAttribute("data-outbox-repeat")) {
        if (key.indexOf(urlOf(form) + "#") === 0) listPending(form, item);
        continue;
      }
      if (formKey(form) !== key || form.hidden) continue;
      form.hidden = true;
      var tag = document.createElement("span");
      tag.className = "outbox-pending";
      tag.setAttribute("data-url", key);
      tag.textContent = pendingText;
      form.parentNode.insertBefore(tag, form.nextSibling);
    }
  }
  // A repeat form stays usable; each of its kept taps is a line "label · 待发送" under it.
  function listPending(form, item) {
    var key = keyOf(item);
    var tags = document.querySelectorAll(".outbox-pending, .outbox-answered");
    for (var i = 0; i < tags.length; i++) if (tags[i].getAttribute("data-url") === key) return;
    var list = (form.dataset.outboxList && document.getElementById(form.dataset.outboxList)) || form.parentNode;
    var line = document.createElement(list.tagName === "UL" || list.tagName === "OL" ? "li" : "p");
    line.className = "outbox-pending";
    line.setAttribute("data-url", key);
    line.setAttribute("data-label", item.label || "");
    line.textContent = (item.label ? item.label + " · " : "") + pendingText;
    list.appendChild(line);
  }
  // The server answered a kept tap: its row says the outcome instead of "waiting".
  function markAnswered(url, text, bad) {
    var tags = document.querySelectorAll(".outbox-pending");
    for (var i = 0; i < tags.length; i++) {
      if (tags[i].getAttribute("data-url") !== url) continue;
      if (tags[i].hasAttribute("data-label") && tags[i].getAttribute("data-label")) text = tags[i].getAttribute("data-label") + " · " + text;
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

  // ---- photos: resized on the phone, kept only where there is room ---------------------------
  function drawn(file) {
    if (window.createImageBitmap) {
      return createImageBitmap(file, { imageOrientation: "from-image" }).catch(function () { return createImageBitmap(file); });
    }
    return new Promise(function (resolve, reject) {  // older Safari: through an <img>
      var img = new Image();
      var url = URL.createObjectURL(file);
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("image")); };
      img.src = url;
    });
  }
  function shrink(file) {
    if (!file.type || file.type.indexOf("image/") !== 0) return Promise.resolve(file);
    return drawn(file).then(function (picture) {
      var width = picture.naturalWidth || picture.width;
      var height = picture.naturalHeight || picture.height;
      var size = fitWithin(width, height, PHOTO_MAX_PX);
      var canvas = document.createElement("canvas");
      canvas.width = size.width;
      canvas.height = size.height;
      canvas.getContext("2d").drawImage(picture, 0, 0, size.width, size.height);
      if (picture.close) picture.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob || (!size.scaled && blob.size >= file.size)) { resolve(file); return; }
          var name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
          resolve(new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified }));
        }, "image/jpeg", PHOTO_QUALITY);
      });
    }).catch(function () { return file; });  // cannot be drawn here (e.g. HEIC): kept as taken
  }
  function estimate() {
    if (!navigator.storage || !navigator.storage.estimate) return Promise.resolve(null);
    return navigator.storage.estimate().catch(function () { return null; });
  }
  // The fields to keep: photos resized, and dropped (with a plain message) when the phone is full.
  function keepable(fields) {
    var photos = fields.filter(function (pair) { return pair[1] instanceof Blob; });
    if (!photos.length) return Promise.resolve(fields);
    return Promise.all(fields.map(function (pair) {
      return pair[1] instanceof Blob ? shrink(pair[1]).then(function (f) { return [pair[0], f]; }) : pair;
    })).then(function (resized) {
      var bytes = resized.reduce(function (n, pair) { return n + (pair[1] instanceof Blob ? pair[1].size : 0); }, 0);
      return estimate().then(function (room) {
        if (roomFor(room, bytes)) return resized;
        say(news ? news.dataset.photoDropped || "" : "", true);
        return resized.filter(function (pair) { return !(pair[1] instanceof Blob); });
      });
    });
  }
  function withoutPhotos(item) {
    item.fields = item.fields.filter(function (pair) { return !(pair[1] instanceof Blob); });
    return item;
  }
  // Keep the tap; if the phone refuses the photo (quota), keep it without; if it refuses even
  // that, say so plainly (the tap is not kept).
  function keep(item) {
    return keepable(item.fields).then(function (fields) {
      item.fields = fields;
      return put(item);
    }).catch(function () {
      return put(withoutPhotos(item)).then(function () {
        say(news ? news.dataset.photoDropped || "" : "", true);
      });
    }).catch(function (error) {
      say(news ? news.dataset.full || "" : "", true);
      throw error;
    });
  }

  // ---- Background Sync (where the browser has it) --------------------------------------------
  function askSync() {
    if (!navigator.serviceWorker || !navigator.serviceWorker.ready) return Promise.resolve();
    return navigator.serviceWorker.ready.then(function (registration) {
      if (registration && registration.sync && registration.sync.register) return registration.sync.register(SYNC_TAG);
      return null;
    }).catch(function () { return null; });
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
      if (name !== "csrfmiddlewaretoken" && !(value instanceof Blob && !value.size)) fields.push([name, value]);
    });
    if (e.submitter && e.submitter.name) fields.push([e.submitter.name, e.submitter.value]);
    var url = new URL(urlOf(form), location.href).pathname;
    var repeat = form.hasAttribute("data-outbox-repeat");
    var label = form.dataset.outboxLabel || "";
    var text = repeat && form.querySelector("[name=text]");
    if (text && text.value) label += (label ? " " : "") + text.value.slice(0, 24);
    var item = {
      client_id: id, user: USER, url: url, key: repeat ? url + "#" + id : formKey(form), fields: fields,
      csrf: csrf(), tapped_at: new Date().toISOString(), label: label, tries: 0, next_at: 0
    };
    var stored = keep(item);
    if (navigator.onLine && window.htmx) {  // htmx sends it now; the kept copy waits for the answer
      sending.set(form, { id: id, stored: stored, item: item });
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
    stored.then(function () {
      if (repeat) form.reset();
      markPending(item);
      showCount();
      askSync();
    }, function () { return null; });
  }, true);

  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt && e.detail.elt.closest ? e.detail.elt.closest("form[data-outbox]") : null;
    var entry = form && sending.get(form);
    if (!entry) return;
    sending.delete(form);
    var status = e.detail.xhr ? e.detail.xhr.status : 0;
    if (status >= 200 && status < 300 && form.hasAttribute("data-outbox-repeat")) form.reset();
    entry.stored.then(function () {
      if (status >= 200 && status < 500 && status !== 401 && status !== 403) return drop(entry.id);
      if (form.hasAttribute("data-outbox-repeat")) form.reset();
      markPending(entry.item);  // no answer (or a 403 that may be an ended session): flush decides
      askSync();
      return null;
    }, function () { return null; }).then(showCount);
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
            if (status >= 500 || status === 429 || status === 0) {
              return backoff(item).then(askSync).then(function () { return false; });
            }
            signInAgain(false);
            return drop(item.client_id).then(function () {
              var text = (r.data && r.data.message) || String(status);
              var prefix = item.label ? item.label + " · " : "";
              markAnswered(keyOf(item), text, !(r.data && r.data.ok));
              if (!(r.data && r.data.ok)) say(prefix + text, true);
              else if (!r.data.replay) say("✓ " + prefix + text, false);
              return true;
            });
          }, function () {
            // No signal (the request never reached a server): no backoff, so the tap goes the moment
            // the signal is back (`online`, the timer, the next page); Background Sync is asked too.
            return askSync().then(function () { return false; });
          });
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
      // One page after another: a weak signal (and the server) takes a list of 40 pages better in turn.
      return urls.reduce(function (done, u) { return done.then(function () { return save(cache, u); }); }, Promise.resolve()).then(function () {
        if (both[1].urls && both[1].urls.length) localStorage.setItem("fz-precached-" + USER, String(Date.now()));
      });
    });
  }

  // Taps the service worker sent while no page was open (sw.js, Background Sync): their outcomes,
  // kept in the cache "fz-meta" under /__fz/answers/<client id>, are shown once, then forgotten.
  function answersKept(cache) {
    return cache.keys().then(function (requests) {
      return Promise.all(requests.map(function (request) {
        if (new URL(request.url).pathname.indexOf("/__fz/answers/") !== 0) return null;
        return cache.match(request).then(function (hit) { return hit ? hit.json() : null; }).then(function (answer) {
          return answer && answer.user === USER ? { request: request, answer: answer } : null;
        }, function () { return null; });
      }));
    }).then(function (found) { return found.filter(Boolean); });
  }
  function showAnswers() {
    if (!window.caches) return Promise.resolve();
    return caches.open("fz-meta").then(function (cache) {
      return answersKept(cache).then(function (found) {
        return Promise.all(found.map(function (one) {
          var a = one.answer;
          var prefix = a.label ? a.label + " · " : "";
          if (!a.ok) say(prefix + a.text, true);
          else if (!a.replay) say("✓ " + prefix + a.text, false);
          return cache.delete(one.request);
        }));
      });
    }).catch(function () { return null; });
  }
  function forgetAnswers() {
    return caches.open("fz-meta").then(function (cache) {
      return answersKept(cache).then(function (found) {
        return Promise.all(found.map(function (one) { return cache.delete(one.request); }));
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
        jobs.push(forgetAnswers());
      }
      localStorage.removeItem("fz-precached-" + USER);
      Promise.all(jobs).then(function () { form.dataset.cleared = "1"; form.submit(); },
        function () { form.dataset.cleared = "1"; form.submit(); });
    });
  });

  function start() {
    showAge();
    showAnswers();
    mine().then(function (items) { items.forEach(markPending); });
    showCount();
    // The service worker's `sync` event (Background Sync): send now, and say how many still wait
    // (none left: the browser may forget the sync; some left: it tries again later).
    if (navigator.serviceWorker && navigator.serviceWorker.addEventListener) {
      navigator.serviceWorker.addEventListener("message", function (e) {
        if (!e.data || e.data.type !== "fz-outbox-flush") return;
        var reply = e.ports && e.ports[0];
        flush().then(showCount).then(function (left) { if (reply) reply.postMessage({ left: left }); },
          function () { if (reply) reply.postMessage({ left: -1 }); });
      });
    }
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
