// Public antigen page: identify the household, report each member, never lose a report.
// A report is put in localStorage before it is sent and removed only when the server says it is
// stored; unsent reports are resent on load, when the network returns, every 20 s, or on a tap.
(function () {
  "use strict";
  var root = document.getElementById("antigen");
  if (!root) return;
  var KEY = "fz-antigen-queue:" + root.dataset.token;
  var statusEl = document.getElementById("status");
  var household = null;

  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    var s = "";
    for (var i = 0; i < 32; i++) s += Math.floor(Math.random() * 16).toString(16);
    return s;
  }
  function load() { try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; } }
  function save(q) {
    try {
      localStorage.setItem(KEY, JSON.stringify(q));
    } catch (e) {
      // The phone's storage is full: keep the results, drop the photos (the results matter most).
      q.forEach(function (entry) { delete entry.photo; });
      localStorage.setItem(KEY, JSON.stringify(q));
    }
    showQueue();
  }
  // A strip photo, shrunk on the phone (longest side 1024 px, JPEG) so that it fits in storage
  // beside the report and is resent with it.
  function shrink(file) {
    return new Promise(function (resolve) {
      if (!file) { resolve(null); return; }
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () {
        var scale = Math.min(1, 1024 / Math.max(img.width, img.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(img.width * scale));
        canvas.height = Math.max(1, Math.round(img.height * scale));
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        resolve(canvas.toDataURL("image/jpeg", 0.7));
      };
      img.onerror = function () { URL.revokeObjectURL(url); resolve(null); };
      img.src = url;
    });
  }
  function toBlob(dataUrl) {
    var bytes = atob(dataUrl.split(",")[1]);
    var array = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) array[i] = bytes.charCodeAt(i);
    return new Blob([array], { type: "image/jpeg" });
  }
  var text = document.getElementById("antigen-text").dataset;
  function say(message, kind) { statusEl.textContent = message; statusEl.className = "flash " + (kind || ""); }
  function showQueue() {
    var q = load();
    document.getElementById("queue").hidden = q.length === 0;
    document.getElementById("queue-text").textContent = q.length + " " + text.queued;
  }
  function post(url, data) {
    return fetch(url, { method: "POST", body: data, headers: { "X-CSRFToken": csrf() }, credentials: "same-origin" })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (b) { b.status = r.status; return b; }); });
  }
  function labelOf(value) {
    var input = document.getElementById("member-tpl").content.querySelector("input[value='" + value + "']");
    return input ? input.dataset.label : value;
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  // "Already reported today": what was sent for each member, with a way to correct it.
  function showDone(at) {
    var list = document.getElementById("done-list");
    list.textContent = "";
    var reported = 0;
    members.forEach(function (m) {
      var li = document.createElement("li");
      var name = document.createElement("b");
      name.textContent = m.name;
      var value = document.createElement("span");
      value.className = "result " + (m.result || "none");
      value.textContent = m.result ? labelOf(m.result) : text.notReported;
      if (m.result) reported++;
      li.appendChild(name);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(value);
      list.appendChild(li);
    });
    document.getElementById("done-at").textContent = at || "";
    document.getElementById("done").hidden = reported === 0;
    document.getElementById("report").hidden = reported > 0;
  }
  function fillForm() {
    var box = document.getElementById("members");
    box.textContent = "";
    var tpl = document.getElementById("member-tpl");
    members.forEach(function (m) {
      var node = tpl.content.firstElementChild.cloneNode(true);
      node.querySelector("legend").textContent = m.name;
      node.dataset.id = m.id;
      node.querySelectorAll("input").forEach(function (input) {
        input.name = "r" + m.id;
        input.checked = input.value === m.result;
      });
      box.appendChild(node);
    });
    // A large household: one tap marks everyone negative; each member stays listed to change one.
    document.getElementById("all-negative").hidden = members.length < 2;
  }
  document.getElementById("all-negative").addEventListener("click", function () {
    document.querySelectorAll("#members input[value=negative]").forEach(function (input) { input.checked = true; });
    say(text.allNegative, "");
  });
  function send(entry) {
    var data = new FormData();
    ["client_id", "room", "phone4", "day"].forEach(function (k) { data.append(k, entry[k]); });
    data.append("results", JSON.stringify(entry.results));
    if (entry.photo) data.append("photo", toBlob(entry.photo), "strip.jpg");
    return post(root.dataset.submit, data).then(function (body) {
      if (body.ok && body.stored) {
        save(load().filter(function (e) { return e.client_id !== entry.client_id; }));
        say(text.sent, "success");
        if (household && entry.room === household.room) {
          members.forEach(function (m) { if (entry.results[m.id]) m.result = entry.results[m.id]; });
          // The server's clock (the phone's may be wrong); the phone's only if the answer has none.
          var now = new Date();
          showDone(body.reported_at || pad(now.getHours()) + ":" + pad(now.getMinutes()));
        }
        return true;
      }
      if (body.status === 429 || body.status >= 500) {
        say((body.detail ? body.detail + " " : "") + text.kept, "warning");
        return false;
      }
      // Refused for good (bad input): drop it and say why.
      save(load().filter(function (e) { return e.client_id !== entry.client_id; }));
      say(body.detail || text.refused, "error");
      return false;
    }, function () {
      say(text.offline, "warning");
      return false;
    });
  }
  var sending = false;
  function resendAll() {
    if (sending) return;
    var q = load();
    if (!q.length) return;
    sending = true;
    q.reduce(function (p, entry) { return p.then(function () { return send(entry); }); }, Promise.resolve())
      .then(function () { sending = false; showQueue(); }, function () { sending = false; });
  }
  var members = [];

  document.getElementById("identify").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target;
    var data = new FormData(form);
    var room = String(data.get("room") || "").trim();
    var phone4 = String(data.get("phone4") || "").trim();
    if (!room) { say(text.needRoom, "error"); form.elements.room.focus(); return; }
    if (!/^[0-9]{4}$/.test(phone4)) { say(text.needPhone4, "error"); form.elements.phone4.focus(); return; }
    post(root.dataset.identify, data).then(function (body) {
      if (!body.ok) { say(body.detail || text.unknown, "error"); return; }
      household = { room: room, phone4: phone4 };
      members = body.members;
      fillForm();
      form.hidden = true;
      showDone(body.reported_at || "");
      say(body.members.length + " " + text.members + " · " + body.room, "");
    }, function () { say(text.noNetwork, "warning"); });
  });

  document.getElementById("correct").addEventListener("click", function () {
    fillForm();
    document.getElementById("done").hidden = true;
    document.getElementById("report").hidden = false;
    say("", "");
  });

  document.getElementById("report").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!household) return;
    var results = {};
    var missing = [];
    document.querySelectorAll("#members fieldset").forEach(function (fs) {
      var checked = fs.querySelector("input:checked");
      fs.classList.toggle("missing", !checked);
      if (checked) results[fs.dataset.id] = checked.value;
      else missing.push(fs.querySelector("legend").textContent);
    });
    if (missing.length) {
      say(text.needChoice + " " + missing.join("、"), "error");
      statusEl.scrollIntoView({ block: "center" });
      return;
    }
    var entry = { client_id: newId(), room: household.room, phone4: household.phone4, day: root.dataset.today, results: results };
    var file = ev.target.querySelector("input[type=file]").files[0] || null;
    say(text.sending, "");
    shrink(file).then(function (photo) {
      if (photo) entry.photo = photo;
      var q = load(); q.push(entry); save(q);
      return send(entry);
    }).then(showQueue);
  });

  document.getElementById("resend").addEventListener("click", resendAll);
  window.addEventListener("online", resendAll);
  setInterval(resendAll, 20000);
  showQueue();
  resendAll();
})();
