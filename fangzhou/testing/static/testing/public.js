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
  function say(text, kind) { statusEl.textContent = text; statusEl.className = "flash " + (kind || ""); }
  function showQueue() {
    var q = load();
    document.getElementById("queue").hidden = q.length === 0;
    document.getElementById("queue-text").textContent = "有 " + q.length + " 份报告尚未发送 / " + q.length + " report(s) not sent yet";
  }
  function post(url, data) {
    return fetch(url, { method: "POST", body: data, headers: { "X-CSRFToken": csrf() }, credentials: "same-origin" })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (b) { b.status = r.status; return b; }); });
  }
  function send(entry) {
    var data = new FormData();
    ["client_id", "room", "phone4", "day"].forEach(function (k) { data.append(k, entry[k]); });
    data.append("results", JSON.stringify(entry.results));
    if (entry.photo) data.append("photo", toBlob(entry.photo), "strip.jpg");
    return post(root.dataset.submit, data).then(function (body) {
      if (body.ok && body.stored) {
        save(load().filter(function (e) { return e.client_id !== entry.client_id; }));
        say("已提交，谢谢！ Submitted.", "success");
        return true;
      }
      if (body.status === 429 || body.status >= 500) {
        say((body.detail || "服务器暂时无法保存") + " 报告已保存在手机上，稍后自动重发。 Saved on this phone; it will be resent.", "warning");
        return false;
      }
      // Refused for good (bad input): drop it and say why.
      save(load().filter(function (e) { return e.client_id !== entry.client_id; }));
      say(body.detail || "提交失败 / Not accepted", "error");
      return false;
    }, function () {
      say("网络不通，报告未发送，已保存在手机上，恢复网络后会自动重发。 Not sent: saved on this phone and resent when the network returns.", "warning");
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

  document.getElementById("identify").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target;
    var data = new FormData(form);
    post(root.dataset.identify, data).then(function (body) {
      if (!body.ok) { say(body.detail || "无法识别 / Not recognised", "error"); return; }
      household = { room: data.get("room"), phone4: data.get("phone4") };
      var box = document.getElementById("members");
      box.innerHTML = "";
      var tpl = document.getElementById("member-tpl");
      body.members.forEach(function (m) {
        var node = tpl.content.firstElementChild.cloneNode(true);
        node.querySelector("legend").textContent = m.name;
        node.dataset.id = m.id;
        node.querySelectorAll("input").forEach(function (input) {
          input.name = "r" + m.id;
          if (input.value === m.result) input.checked = true;
        });
        box.appendChild(node);
      });
      form.hidden = true;
      document.getElementById("report").hidden = false;
      say(body.members.length + " 位成员 / members · " + body.room, "");
    }, function () { say("网络不通，请稍后再试。 No network, try again.", "warning"); });
  });

  document.getElementById("report").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!household) return;
    var results = {};
    document.querySelectorAll("#members fieldset").forEach(function (fs) {
      var checked = fs.querySelector("input:checked");
      if (checked) results[fs.dataset.id] = checked.value;
    });
    var entry = { client_id: newId(), room: household.room, phone4: household.phone4, day: root.dataset.today, results: results };
    var file = ev.target.querySelector("input[type=file]").files[0] || null;
    say("正在提交… Sending…", "");
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
