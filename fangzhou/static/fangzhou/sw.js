// Fangzhou's service worker (issue 13), served as /sw.js so that its scope is the whole site.
//
// Pages: network first. A page of a field role (it carries <meta name="fz-user" content=KEY>) is
// saved in the cache "fz-pages-KEY" with the time it was fetched; without signal the saved copy
// is served, marked <meta name="fz-cached-at">, and only the copy of the person the server last
// saw signed in on this phone (a page without the meta, such as the sign-in page after a session
// ended, deletes the copies of the person before).
// Static files: served from the cache and refreshed behind (they hold no personal data).
// Posts are never touched here: the outbox (outbox.js) keeps and sends them.
// Background Sync (where the browser has it): outbox.js registers the tag "fz-outbox" when a tap
// waits; the `sync` event asks each open page of the site to send its outbox and waits for the
// answer (taps still waiting: the sync fails, so the browser tries again later). With no page
// open for 10 s (the phone back in a pocket when the signal returns; a page between two
// navigations still sends its own) the worker sends the taps itself:
// those of the person last seen signed in, oldest first, each with the CSRF token its page had
// when it was tapped, by the same rules as the page (an ended session or a refused token keeps
// everything for the page to send; a server error backs off and fails the sync, no signal fails it
// without a backoff). A
// tap the server answered is dropped from the outbox, and its outcome (a conflict above all) is
// kept in the cache "fz-meta" under /__fz/answers/<client id> for the next page to show once.
"use strict";

var STATIC = "fz-static-v1";
var META = "fz-meta";
var WHO = "/__fz/user";
var USER_META = /<meta name="fz-user" content="([A-Za-z0-9]+)">/;
var SYNC_TAG = "fz-outbox";
var SYNC_WAIT_MS = 60000;

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

function pagesOf(user) { return "fz-pages-" + user; }

function currentUser() {
  return caches.open(META).then(function (cache) { return cache.match(WHO); })
    .then(function (hit) { return hit ? hit.text() : ""; });
}

// The server showed this person signed in (or nobody, ""): a different person before them loses
// their saved pages on this phone (their unsent taps stay in the outbox until they sign in again).
function rememberUser(user) {
  return currentUser().then(function (before) {
    var forget = before && before !== user ? Promise.all([caches.delete(pagesOf(before)), forgetAnswers(before)]) : Promise.resolve();
    return forget.then(function () { return caches.open(META); })
      .then(function (cache) { return cache.put(WHO, new Response(user)); });
  });
}

// The copy to keep: the page with the time it was fetched written into its head.
function stamped(text, response) {
  var at = new Date().toISOString();
  var body = text.replace("<head>", '<head>\n<meta name="fz-cached-at" content="' + at + '">');
  var headers = new Headers(response.headers);
  headers.set("X-Fz-Cached-At", at);
  return new Response(body, { status: response.status, statusText: response.statusText, headers: headers });
}

function notSaved() {
  var html = '<!doctype html><html lang="zh-hans"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
    "<title>方舟 · 离线</title><body><h1>没有网络</h1><p>这一页没有存在这部手机上。请在有信号的地方再打开。</p>" +
    '<p lang="en">No connection. This page was not saved on this phone; open it again where there is signal.</p>' +
    '<p><a href="/orders/">我的工单 / My work orders</a></p></body></html>';
  return new Response(html, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

function page(request) {
  return fetch(request).then(function (response) {
    var type = response.headers.get("Content-Type") || "";
    if (response.type !== "basic" || type.indexOf("text/html") !== 0) return response;
    return response.clone().text().then(function (text) {
      var match = text.match(USER_META);
      var user = match ? match[1] : "";
      var saving = rememberUser(user);
      if (user && response.ok && !response.redirected) {
        saving = saving.then(function () { return caches.open(pagesOf(user)); })
          .then(function (cache) { return cache.put(request.url, stamped(text, response)); });
      }
      return saving.then(function () { return response; }, function () { return response; });
    });
  }, function () {
    return currentUser().then(function (user) {
      if (!user) return notSaved();
      return caches.open(pagesOf(user)).then(function (cache) { return cache.match(request.url, { ignoreVary: true }); })
        .then(function (hit) { return hit || notSaved(); });
    });
  });
}

function staticFile(request) {
  return caches.open(STATIC).then(function (cache) {
    return cache.match(request).then(function (hit) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok) cache.put(request, response.clone());
        return response;
      });
      if (hit) { fresh.catch(function () { return null; }); return hit; }
      return fresh;
    });
  });
}

// When a page of the site last asked this worker for anything: a page that is just navigating
// (between two pages of the app there is a moment with none open) still sends its own outbox.
var lastPageAt = 0;
var PAGE_GONE_MS = 10000;

self.addEventListener("fetch", function (event) {
  lastPageAt = Date.now();
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf("/static/") === 0) { event.respondWith(staticFile(request)); return; }
  if (request.mode === "navigate") event.respondWith(page(request));
});

// --- Web Push for the household page (issue 14; fangzhou/portal). Kept apart from the caching
// above. A push carries JSON {"title", "body", "url"} (the notices room sends it); a tap on the
// notification opens (or focuses) the household page.
var HOUSEHOLD_PAGE = "/home/";

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { body: event.data ? event.data.text() : "" }; }
  var title = data.title || "方舟 · 居委会通知";
  event.waitUntil(self.registration.showNotification(title, {
    body: data.body || "",
    icon: "/static/fangzhou/icon-192.png",
    tag: data.tag || "fz-notice",
    data: { url: data.url || HOUSEHOLD_PAGE },
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = new URL((event.notification.data && event.notification.data.url) || HOUSEHOLD_PAGE, self.location.origin);
  if (target.origin !== self.location.origin) target = new URL(HOUSEHOLD_PAGE, self.location.origin);
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    for (var i = 0; i < windows.length; i++) {
      if (new URL(windows[i].url).pathname === target.pathname && "focus" in windows[i]) return windows[i].focus();
    }
    return self.clients.openWindow(target.href);
  }));
});

// Ask one page to send its outbox; resolves with how many taps still wait there (-1: no answer).
function askToFlush(client) {
  return new Promise(function (resolve) {
    var channel = new MessageChannel();
    var timer = setTimeout(function () { resolve(-1); }, SYNC_WAIT_MS);
    channel.port1.onmessage = function (e) { clearTimeout(timer); resolve(e.data && typeof e.data.left === "number" ? e.data.left : -1); };
    client.postMessage({ type: "fz-outbox-flush" }, [channel.port2]);
  });
}

// ---- the outbox without a page: the same IndexedDB store outbox.js keeps ("fangzhou-outbox")
var OUTBOX_DB = "fangzhou-outbox";
var OUTBOX_STORE = "taps";
var ANSWERS = "/__fz/answers/";

function outboxOpen() {
  return new Promise(function (resolve, reject) {
    var request = indexedDB.open(OUTBOX_DB, 1);
    request.onupgradeneeded = function () {
      var store = request.result.createObjectStore(OUTBOX_STORE, { keyPath: "client_id" });
      store.createIndex("user", "user");
    };
    request.onsuccess = function () { resolve(request.result); };
    request.onerror = function () { reject(request.error); };
  });
}

function outboxDo(conn, mode, work) {
  return new Promise(function (resolve, reject) {
    var t = conn.transaction(OUTBOX_STORE, mode);
    var result = work(t.objectStore(OUTBOX_STORE));
    t.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
    t.onerror = function () { reject(t.error); };
  });
}

function tapsOf(conn, user) {
  return outboxDo(conn, "readonly", function (s) { return s.index("user").getAll(user); }).then(function (items) {
    return (items || []).sort(function (a, b) { return a.tapped_at < b.tapped_at ? -1 : a.tapped_at > b.tapped_at ? 1 : 0; });
  });
}

function sendTap(item) {
  var body = new FormData();
  item.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
  return fetch(item.url, {
    method: "POST", body: body, credentials: "same-origin", redirect: "manual",
    headers: { "X-CSRFToken": item.csrf || "", "X-Fangzhou-Outbox": "1", "Accept": "application/json" }
  }).then(function (response) {
    var type = response.headers.get("Content-Type") || "";
    var json = type.indexOf("application/json") === 0 ? response.json().catch(function () { return null; }) : Promise.resolve(null);
    return json.then(function (data) { return { response: response, data: data }; });
  });
}

// The outcomes kept for one person (they name a door and what happened there): dropped when
// another person signs in on this phone, as their saved pages are.
function forgetAnswers(user) {
  return caches.open(META).then(function (cache) {
    return cache.keys().then(function (requests) {
      return Promise.all(requests.map(function (request) {
        if (new URL(request.url).pathname.indexOf(ANSWERS) !== 0) return null;
        return cache.match(request).then(function (hit) { return hit ? hit.json() : null; }).then(function (answer) {
          return answer && answer.user === user ? cache.delete(request) : null;
        });
      }));
    });
  }).catch(function () { return null; });
}

function keepAnswer(item, status, data) {
  var answer = {
    user: item.user, key: item.key || item.url, label: item.label || "",
    text: (data && data.message) || String(status), ok: !!(data && data.ok), replay: !!(data && data.replay)
  };
  return caches.open(META).then(function (cache) {
    return cache.put(ANSWERS + item.client_id, new Response(JSON.stringify(answer), { headers: { "Content-Type": "application/json" } }));
  });
}

// Send the waiting taps of the person last seen signed in; resolves when none is left. One send
// at a time: a sync fired again while one runs waits for that one.
var sendingNow = null;
function sendWaiting() {
  if (sendingNow) return sendingNow;
  sendingNow = sendAll().then(function (done) { sendingNow = null; return done; },
    function (error) { sendingNow = null; throw error; });
  return sendingNow;
}

function sendAll() {
  if (typeof indexedDB === "undefined") return Promise.resolve(null);
  return currentUser().then(function (user) {
    if (!user) return null;
    return outboxOpen().then(function (conn) {
      return tapsOf(conn, user).then(function (items) {
        return items.reduce(function (done, item) {
          return done.then(function () {
            if (item.next_at && item.next_at > Date.now()) throw new Error("outbox waits for its backoff");
            var later = function () {
              item.tries = (item.tries || 0) + 1;
              item.next_at = Date.now() + Math.min(60000, 1000 * Math.pow(2, item.tries));
              return outboxDo(conn, "readwrite", function (s) { s.put(item); }).then(function () {
                throw new Error("outbox not sent yet");
              });
            };
            return sendTap(item).then(function (r) {
              var status = r.response.status;
              if (r.response.type === "opaqueredirect" || status === 401 || (status === 403 && !r.data)) {
                throw new Error("outbox waits for the person to sign in");  // the page asks for it
              }
              if (status >= 500 || status === 429 || status === 0) return later();
              return keepAnswer(item, status, r.data).then(function () {
                return outboxDo(conn, "readwrite", function (s) { s.delete(item.client_id); });
              });
            }, function () {
              // No signal: the sync fails (the browser fires it again when the phone is online) and
              // the tap keeps its place without a backoff, so it goes the moment the signal is back.
              throw new Error("outbox waits for the signal");
            });
          });
        }, Promise.resolve()).then(function () { return null; });
      });
    });
  });
}

function syncOutbox() {
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (pages) {
    if (!pages.length) {
      if (Date.now() - lastPageAt < PAGE_GONE_MS) throw new Error("a page was open a moment ago");
      return sendWaiting();
    }
    return Promise.all(pages.map(askToFlush)).then(function (left) {
      if (left.indexOf(0) < 0) throw new Error("outbox not empty yet");
      return null;
    });
  });
}

self.addEventListener("sync", function (event) {
  if (event.tag === SYNC_TAG) event.waitUntil(syncOutbox());
});
