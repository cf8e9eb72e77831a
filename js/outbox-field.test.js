// outbox.js, the parts added for the leader's forms and the phone's limits: the photo's size on the
// phone (pure), the storage check, a form that takes many taps (a typed request), and Background
// Sync (the tag registered when a tap waits; the service worker's message sends the outbox).
import "fake-indexeddb/auto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it, vi } from "vitest";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = readFileSync(join(HERE, "..", "fangzhou", "static", "fangzhou", "outbox.js"), "utf8");
let online = false;
const sent = [];
let answer = () => new Response("{}", { status: 500 });
const registered = [];
let swListener = null;
let storage = { quota: 0, usage: 0 };

function waitFor(check) {
  return vi.waitFor(() => { if (!check()) throw new Error("not yet"); }, { timeout: 10000, interval: 20 });
}

beforeAll(() => {
  Object.defineProperty(window.navigator, "onLine", { get: () => online, configurable: true });
  Object.defineProperty(window.navigator, "storage", { value: { estimate: async () => storage }, configurable: true });
  Object.defineProperty(window.navigator, "serviceWorker", {
    value: {
      ready: Promise.resolve({ sync: { register: async (tag) => { registered.push(tag); } } }),
      addEventListener: (type, fn) => { if (type === "message") swListener = fn; },
    },
    configurable: true,
  });
  document.head.innerHTML = '<meta name="fz-user" content="lead42">';
  document.body.setAttribute("hx-headers", '{"X-CSRFToken": "token-now"}');
  document.body.innerHTML =
    '<span id="outbox-count" hidden data-label="待发送"></span><p id="signin-again" hidden></p>' +
    '<div id="outbox-news" data-pending="待发送" data-photo-dropped="手机空间不足：照片没有保存，只记下了送达。" data-full="手机存储已满：这次操作没有保存。"></div>' +
    '<form id="typed" data-outbox data-outbox-repeat data-outbox-list="waiting" data-outbox-label="诉求" method="post" action="/orders/requests/type/">' +
    '<input name="room" value=""><textarea name="text"></textarea><button>登记</button></form><ul id="waiting"></ul>' +
    '<form id="door" data-outbox data-outbox-label="102" method="post" enctype="multipart/form-data" action="/supplies/delivery/9/mark/">' +
    '<input type="file" name="photo"><button name="status" value="ok">送达</button></form>' +
    '<ol>' + [11, 12].map((id) => `<li><form id="stop${id}" data-outbox data-outbox-key="door-1-${id}" method="post" ` +
    `action="/testing/r/1/doors/take/"><input type="hidden" name="resident" value="${id}"><button>标记已采样</button></form></li>`).join("") + '</ol>';
  window.fetch = vi.fn((url, init) => {
    sent.push({ url, init, fields: Object.fromEntries(init.body.entries()) });
    return Promise.resolve(answer());
  });
  window.eval(SOURCE);
});

describe("photo size on the phone", () => {
  it("keeps the longest side at 1280 px and the proportions", () => {
    const fit = window.FzOutbox.fitWithin;
    expect(window.FzOutbox.PHOTO_MAX_PX).toBe(1280);
    expect(fit(4032, 3024, 1280)).toEqual({ width: 1280, height: 960, scaled: true });
    expect(fit(3024, 4032, 1280)).toEqual({ width: 960, height: 1280, scaled: true });
    expect(fit(1280, 720, 1280)).toEqual({ width: 1280, height: 720, scaled: false });
    expect(fit(640, 480, 1280)).toEqual({ width: 640, height: 480, scaled: false });
    expect(fit(10000, 10, 1280)).toEqual({ width: 1280, height: 1, scaled: true });
    expect(fit(0, 0, 1280).width).toBe(0);
  });
  it("keeps a photo only if the phone has room for it and some to spare", () => {
    const room = window.FzOutbox.roomFor;
    expect(room({ quota: 100e6, usage: 10e6 }, 300e3)).toBe(true);
    expect(room({ quota: 10e6, usage: 9.5e6 }, 300e3)).toBe(false);
    expect(room(null, 300e3)).toBe(true);  // the browser does not say: try
    expect(room({ quota: 0, usage: 0 }, 300e3)).toBe(true);
  });
});

describe("a form that takes many taps", () => {
  it("keeps each typed request as its own line, the form cleared and ready for the next", async () => {
    const form = document.getElementById("typed");
    form.querySelector("[name=room]").value = "301";
    form.querySelector("[name=text]").value = "降压药吃完了";
    form.requestSubmit();
    await waitFor(() => document.querySelectorAll("#waiting li").length === 1);
    expect(form.hidden).toBe(false);
    expect(form.querySelector("[name=text]").value).toBe("");
    form.querySelector("[name=text]").value = "需要买菜";
    form.requestSubmit();
    await waitFor(() => document.getElementById("outbox-count").textContent === "待发送 2");
    const lines = [...document.querySelectorAll("#waiting li")].map((li) => li.textContent);
    expect(lines).toEqual(["诉求 降压药吃完了 · 待发送", "诉求 需要买菜 · 待发送"]);
    expect(sent).toHaveLength(0);
  });

  it("registers the Background Sync tag when a tap waits", async () => {
    await waitFor(() => registered.length >= 1);
    expect(registered[0]).toBe("fz-outbox");
  });

  it("sends when the service worker's sync asks, oldest first, and answers how many wait", async () => {
    online = true;
    let n = 0;
    answer = () => new Response(JSON.stringify({ ok: true, outcome: "done", message: `诉求 R${++n} 已登记。` }),
      { status: 200, headers: { "Content-Type": "application/json" } });
    const replies = [];
    swListener({ data: { type: "fz-outbox-flush" }, ports: [{ postMessage: (m) => replies.push(m) }] });
    await waitFor(() => replies.length === 1);
    expect(replies[0]).toEqual({ left: 0 });
    expect(sent.map((s) => s.fields.text)).toEqual(["降压药吃完了", "需要买菜"]);
    expect(sent[0].fields.client_id).not.toBe(sent[1].fields.client_id);
    expect(sent[0].init.headers["X-Fangzhou-Outbox"]).toBe("1");
    const lines = [...document.querySelectorAll("#waiting li")].map((li) => li.textContent);
    expect(lines).toEqual(["✓ 诉求 降压药吃完了 · 诉求 R1 已登记。", "✓ 诉求 需要买菜 · 诉求 R2 已登记。"]);
    expect(document.getElementById("outbox-count").hidden).toBe(true);
  });
});

describe("a photo when the phone is full", () => {
  it("keeps the tap without the photo and says so plainly", async () => {
    online = false;
    storage = { quota: 10e6, usage: 9.9e6 };
    const form = document.getElementById("door");
    const photo = new File([new Uint8Array(400000)], "IMG_0001.jpg", { type: "image/jpeg" });
    // jsdom cannot fill a file input; the form's data carries the photo as a phone's would.
    const Real = window.FormData;
    window.FormData = class extends Real {
      constructor(f) { super(f); if (f === form) this.set("photo", photo); }
    };
    form.requestSubmit(form.querySelector("button"));
    await waitFor(() => document.getElementById("outbox-count").textContent === "待发送 1");
    expect(document.querySelector("#outbox-news .error").textContent).toContain("手机空间不足");
    online = true;
    answer = () => new Response(JSON.stringify({ ok: true, outcome: "done", message: "已送达" }),
      { status: 200, headers: { "Content-Type": "application/json" } });
    const before = sent.length;
    window.dispatchEvent(new Event("online"));
    await waitFor(() => sent.length === before + 1);
    expect(sent[before].fields.status).toBe("ok");
    expect(sent[before].fields.photo).toBeUndefined();
  });
});

describe("rows that post to one URL", () => {
  it("are told apart by their key: one tap hides its own row only", async () => {
    online = false;
    window.FormData = Object.getPrototypeOf(window.FormData);  // the real one again
    const count = document.getElementById("outbox-count");
    const before = Number((count.textContent.match(/\d+/) || ["0"])[0]) || 0;
    document.getElementById("stop11").requestSubmit();
    await waitFor(() => document.getElementById("stop11").hidden);
    expect(document.getElementById("stop12").hidden).toBe(false);
    expect(document.querySelectorAll('.outbox-pending[data-url="door-1-11"]')).toHaveLength(1);
    expect(document.querySelectorAll('.outbox-pending[data-url="door-1-12"]')).toHaveLength(0);
    document.getElementById("stop12").requestSubmit();
    await waitFor(() => document.getElementById("stop12").hidden);
    await waitFor(() => count.textContent === `待发送 ${before + 2}`);
  });
});
