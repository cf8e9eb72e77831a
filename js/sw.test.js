// @vitest-environment node
// sw.js in a fake service-worker global: pages are saved per user (the key in <meta name="fz-user">),
// a page of another person (or of nobody: the sign-in page) deletes the copies of the person before,
// posts are never touched, static files come from their own cache, and the `sync` event asks the
// open pages to send their outbox.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = readFileSync(join(HERE, "..", "fangzhou", "static", "fangzhou", "sw.js"), "utf8");
const ORIGIN = "https://fz.test";

class FakeCache {
  constructor() { this.entries = new Map(); }
  key(request) { return typeof request === "string" ? new URL(request, ORIGIN).href : request.url; }
  async match(request) { const hit = this.entries.get(this.key(request)); return hit ? hit.clone() : undefined; }
  async put(request, response) { this.entries.set(this.key(request), response.clone()); }
  async delete(request) { return this.entries.delete(this.key(request)); }
}

class FakeCaches {
  constructor() { this.named = new Map(); }
  async open(name) { if (!this.named.has(name)) this.named.set(name, new FakeCache()); return this.named.get(name); }
  async delete(name) { return this.named.delete(name); }
  async has(name) { return this.named.has(name); }
  names() { return [...this.named.keys()].sort(); }
}

let worker;

function load({ network, pages = [] }) {
  const listeners = {};
  const self = {
    location: new URL(ORIGIN + "/sw.js"),
    addEventListener: (type, fn) => { listeners[type] = fn; },
    skipWaiting: () => {},
    clients: { claim: async () => {}, matchAll: async () => pages },
  };
  const caches = new FakeCaches();
  const calls = [];
  const fetch = async (request) => {
    calls.push(typeof request === "string" ? request : request.url);
    return network(request);
  };
  new Function("self", "caches", "fetch", SOURCE)(self, caches, fetch);
  return { listeners, caches, calls };
}

function basic(body, type = "text/html; charset=utf-8", status = 200) {
  const response = new Response(body, { status, headers: { "Content-Type": type } });
  Object.defineProperty(response, "type", { value: "basic" });
  return response;
}

function page(user, text) {
  const meta = user ? `<meta name="fz-user" content="${user}">` : "";
  return `<!doctype html><html><head>${meta}<title>t</title></head><body>${text}</body></html>`;
}

async function navigate(path, method = "GET") {
  let answered = null;
  const event = {
    request: { url: ORIGIN + path, method, mode: "navigate" },
    respondWith: (p) => { answered = p; },
  };
  worker.listeners.fetch(event);
  return answered ? await answered : null;
}

let online = true;
let served = {};
beforeEach(() => {
  online = true;
  served = {};
  worker = load({
    network: async (request) => {
      if (!online) throw new TypeError("Failed to fetch");
      const url = typeof request === "string" ? request : request.url;
      return served[new URL(url).pathname]();
    },
  });
});

describe("sw.js pages", () => {
  it("saves a field role's page under that person's key, stamped, and serves it without signal", async () => {
    served["/orders/"] = () => basic(page("aaa111", "王芳的工单"));
    const live = await navigate("/orders/");
    expect(await live.text()).toContain("王芳的工单");
    expect(worker.caches.names()).toContain("fz-pages-aaa111");
    online = false;
    const copy = await navigate("/orders/");
    const text = await copy.text();
    expect(text).toContain("王芳的工单");
    expect(text).toMatch(/<meta name="fz-cached-at" content="\d{4}-\d\d-\d\dT/);
    expect(copy.headers.get("X-Fz-Cached-At")).toBeTruthy();
  });

  it("a page of another person deletes the previous person's copies; they are never served to them", async () => {
    served["/orders/"] = () => basic(page("aaa111", "王芳的工单"));
    await navigate("/orders/");
    served["/supplies/mine/"] = () => basic(page("bbb222", "李强的送货单"));
    await navigate("/supplies/mine/");
    expect(worker.caches.names()).not.toContain("fz-pages-aaa111");
    expect(worker.caches.names()).toContain("fz-pages-bbb222");
    online = false;
    const other = await navigate("/orders/");  // 王芳's page, asked for on 李强's phone session
    expect(other.status).toBe(503);
    expect(await other.text()).not.toContain("王芳");
    expect(await (await navigate("/supplies/mine/")).text()).toContain("李强的送货单");
  });

  it("a page without a key (the sign-in page after the session ended) forgets the copies", async () => {
    served["/orders/"] = () => basic(page("aaa111", "王芳的工单"));
    await navigate("/orders/");
    served["/accounts/login/"] = () => basic(page("", "登录"));
    await navigate("/accounts/login/");
    expect(worker.caches.names()).not.toContain("fz-pages-aaa111");
    online = false;
    const copy = await navigate("/orders/");
    expect(copy.status).toBe(503);
    expect(await copy.text()).toContain("没有网络");
  });

  it("an error page is not saved", async () => {
    served["/orders/"] = () => basic(page("aaa111", "工单"), "text/html", 500);
    await navigate("/orders/");
    const cache = await worker.caches.open("fz-pages-aaa111");
    expect(cache.entries.size).toBe(0);
  });

  it("never touches a post: the outbox sends it", async () => {
    served["/supplies/delivery/7/mark/"] = () => basic("ok");
    const answer = await navigate("/supplies/delivery/7/mark/", "POST");
    expect(answer).toBeNull();  // not answered by the worker: the browser sends it as it is
    expect(worker.calls).toHaveLength(0);
    expect(worker.caches.names().filter((n) => n.startsWith("fz-pages-"))).toHaveLength(0);
  });

  it("leaves other origins alone", async () => {
    let answered = false;
    worker.listeners.fetch({ request: { url: "https://elsewhere.test/x", method: "GET", mode: "navigate" }, respondWith: () => { answered = true; } });
    expect(answered).toBe(false);
  });
});

describe("sw.js static files", () => {
  it("are kept in the static cache and served from it without signal", async () => {
    served["/static/fangzhou/app.css"] = () => basic("body{}", "text/css");
    let answered = null;
    const ask = () => worker.listeners.fetch({
      request: { url: ORIGIN + "/static/fangzhou/app.css", method: "GET", mode: "no-cors" },
      respondWith: (p) => { answered = p; },
    });
    ask();
    expect(await (await answered).text()).toBe("body{}");
    expect(worker.caches.names()).toEqual(["fz-static-v1"]);
    online = false;
    ask();
    expect(await (await answered).text()).toBe("body{}");
  });
});

describe("sw.js Background Sync", () => {
  function pageClient(left) {
    return { postMessage: (data, [port]) => { expect(data.type).toBe("fz-outbox-flush"); port.postMessage({ left }); } };
  }
  async function sync(pages, tag = "fz-outbox") {
    worker = load({ network: async () => basic(""), pages });
    let waited = null;
    worker.listeners.sync({ tag, waitUntil: (p) => { waited = p; } });
    return waited;
  }

  it("asks the open page to send and is done when nothing waits", async () => {
    await expect(sync([pageClient(0)])).resolves.toBeNull();
  });

  it("fails (so the browser tries again later) while taps still wait", async () => {
    await expect(sync([pageClient(2)])).rejects.toThrow("outbox not empty");
  });

  it("does nothing without an open page, and ignores other tags", async () => {
    await expect(sync([])).resolves.toBeNull();
    expect(await sync([pageClient(0)], "other")).toBeNull();
  });
});
