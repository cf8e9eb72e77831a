// outbox.js in a fake page (jsdom + fake-indexeddb): a tap without signal is kept with its client
// id and counted; the signal returns and it is sent once with the outbox header and the page's
// current CSRF token; a conflict is shown and dropped; an ended session keeps the tap.
import "fake-indexeddb/auto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it, vi } from "vitest";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = readFileSync(join(HERE, "..", "fangzhou", "static", "fangzhou", "outbox.js"), "utf8");
let online = false;
const sent = [];
let answer = null;

function waitFor(check) {
  return vi.waitFor(() => { if (!check()) throw new Error("not yet"); }, { timeout: 3000, interval: 20 });
}

beforeAll(() => {
  Object.defineProperty(window.navigator, "onLine", { get: () => online, configurable: true });
  document.head.innerHTML = '<meta name="fz-user" content="abc123">';
  document.body.setAttribute("hx-headers", '{"X-CSRFToken": "token-now"}');
  document.body.innerHTML =
    '<span id="outbox-count" hidden data-label="待发送"></span><p id="signin-again" hidden></p>' +
    '<div id="outbox-news" data-pending="待发送"></div>' +
    '<ul><li><form data-outbox data-outbox-label="101" method="post" action="/supplies/delivery/7/mark/">' +
    '<input type="hidden" name="csrfmiddlewaretoken" value="stale"><button name="status" value="ok">送达</button></form></li></ul>';
  window.fetch = vi.fn((url, init) => {
    sent.push({ url, init, fields: Object.fromEntries(init.body.entries()) });
    return new Promise((resolve) => resolve(answer()));  // an answer that throws: no signal
  });
  window.eval(SOURCE);
});

function tap() {
  const form = document.querySelector("form[data-outbox]:not([hidden])") || document.querySelector("form[data-outbox]");
  form.hidden = false;
  form.requestSubmit(form.querySelector("button"));
}

describe("outbox", () => {
  it("keeps a tap made without signal, with its client id and the phone's time, and counts it", async () => {
    tap();
    await waitFor(() => document.getElementById("outbox-count").textContent === "待发送 1");
    expect(document.getElementById("outbox-count").hidden).toBe(false);
    expect(document.querySelector(".outbox-pending").textContent).toBe("待发送");
    expect(sent).toHaveLength(0);
  });

  it("keeps the tap and asks to sign in again when the session has ended", async () => {
    answer = () => ({ type: "opaqueredirect", status: 0, headers: new Headers() });
    online = true;
    window.dispatchEvent(new Event("online"));
    await waitFor(() => !document.getElementById("signin-again").hidden);
    expect(sent).toHaveLength(1);
    expect(document.getElementById("outbox-count").textContent).toBe("待发送 1");
  });

  it("sends it once with the outbox header and today's token, and shows a conflict", async () => {
    answer = () => new Response(JSON.stringify({ ok: false, outcome: "conflict", message: "已由王芳于 08:12 送达。" }),
      { status: 409, headers: { "Content-Type": "application/json" } });
    window.dispatchEvent(new Event("online"));
    await waitFor(() => document.getElementById("outbox-count").hidden);
    const last = sent[sent.length - 1];
    expect(sent).toHaveLength(2);
    expect(last.url).toBe("/supplies/delivery/7/mark/");
    expect(last.init.headers["X-Fangzhou-Outbox"]).toBe("1");
    expect(last.init.headers["X-CSRFToken"]).toBe("token-now");
    expect(last.fields.status).toBe("ok");
    expect(last.fields.client_id).toMatch(/^[0-9a-f]{32}$/);
    expect(sent[0].fields.client_id).toBe(last.fields.client_id);  // the same tap, the same id
    expect(last.fields.csrfmiddlewaretoken).toBeUndefined();
    expect(Date.parse(last.fields.done_at_client)).not.toBeNaN();
    expect(document.querySelector("#outbox-news .error").textContent).toContain("101 · 已由王芳于 08:12 送达。");
    expect(document.getElementById("signin-again").hidden).toBe(true);
  });

  it("sends again the moment the signal is back after a send that found none (no backoff)", async () => {
    online = false;
    tap();
    await waitFor(() => document.getElementById("outbox-count").textContent === "待发送 1");
    online = true;
    answer = () => { throw new TypeError("Failed to fetch"); };  // the bar said online; the stairwell did not
    const before = sent.length;
    window.dispatchEvent(new Event("online"));
    await waitFor(() => sent.length === before + 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(document.getElementById("outbox-count").textContent).toBe("待发送 1");
    answer = () => new Response(JSON.stringify({ ok: true, message: "已送达" }),
      { status: 200, headers: { "Content-Type": "application/json" } });
    window.dispatchEvent(new Event("online"));
    await waitFor(() => document.getElementById("outbox-count").hidden);
    expect(sent.length).toBe(before + 2);
    expect(sent[before + 1].fields.client_id).toBe(sent[before].fields.client_id);
  });

  it("backs off on a server error and keeps the tap", async () => {
    online = false;
    tap();
    await waitFor(() => document.getElementById("outbox-count").textContent === "待发送 1");
    online = true;
    answer = () => new Response("busy", { status: 503 });
    const before = sent.length;
    window.dispatchEvent(new Event("online"));
    await waitFor(() => sent.length === before + 1);
    window.dispatchEvent(new Event("online"));  // inside the backoff: not sent again yet
    await new Promise((r) => setTimeout(r, 100));
    expect(sent.length).toBe(before + 1);
    expect(document.getElementById("outbox-count").textContent).toBe("待发送 1");
  });
});
