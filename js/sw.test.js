// @vitest-environment node
// sw.js in a fake service-worker global: pages are saved per user (the key in <meta name="fz-user">),
// a page of another person (or of nobody: the sign-in page) deletes the copies of the person before,
// posts are never touched, static files come from their own cache, and the `sync` event asks the
// open pages to send their outbox.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { IDBFactory } from "fake-indexeddb";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { FakeCaches } from "./fake-caches.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = readFileSync(join(HERE, "..", "fangzhou", "static", "fangzhou", "sw.js"), "utf8");
const ORIGIN = "https://fz.test";

let worker;

function load({ network, pages = [], idb = undefined }) {
  const listeners = {};
  const self = {
    location: new URL(ORIGIN + "/sw.js"),
    addEventListener: (type, fn) => { listeners[type] = fn; },
    skipWaiting: () => {},
    clients: { claim: async () => {}, matchAll: async () => pages },
  };
  const caches = new FakeCaches(ORIGIN);
  const calls = [];
  const fetch = async (request, init) => {
    calls.push(typeof request === "string" ? request : request.url);
    return network(request, init);
  };
  new Function("self", "caches", "fetch", "indexedDB", SOURCE)(self, caches, fetch, idb);
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

describe("sw.js sends the outbox itself when no page is open", () => {
  // The outbox as outbox.js keeps it: IndexedDB "fangzhou-outbox", store "taps" keyed by client_id.
  function outbox(idb, items) {
    return new Promise((resolve, reject) => {
      const request = idb.open("fangzhou-outbox", 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore("taps", { keyPath: "client_id" }).createIndex("user", "user");
      };
      request.onsuccess = () => {
        const t = request.result.transaction("taps", "readwrite");
        items.forEach((item) => t.objectStore("taps").put(item));
        t.oncomplete = () => resolve(request.result);
        t.onerror = () => reject(t.error);
      };
    });
  }
  function left(conn) {
    return new Promise((resolve) => {
      const all = conn.transaction("taps").objectStore("taps").getAll();
      all.onsuccess = () => resolve(all.result.map((i) => [i.client_id, i.tries || 0]));
    });
  }
  function tap(id, user, at, extra = {}) {
    return {
      client_id: id, user, url: "/supplies/delivery/7/mark/", key: "/supplies/delivery/7/mark/", label: "3号楼 101",
      fields: [["status", "ok"], ["client_id", id]], csrf: "token-" + id, tapped_at: at, tries: 0, next_at: 0, ...extra,
    };
  }
  function json(body, status) {
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  }
  async function run(items, answer) {
    const idb = new IDBFactory();
    const conn = await outbox(idb, items);
    const posts = [];
    worker = load({
      idb,
      network: async (url, init) => {
        if (!init || init.method !== "POST") return basic(page("other", "别人的页面"));
        posts.push({ url, csrf: init.headers["X-CSRFToken"], outbox: init.headers["X-Fangzhou-Outbox"], id: init.body.get("client_id") });
        return answer(init.body.get("client_id"));
      },
    });
    await (await worker.caches.open("fz-meta")).put("/__fz/user", new Response("abc"));
    let waited = null;
    worker.listeners.sync({ tag: "fz-outbox", waitUntil: (p) => { waited = p; } });
    const outcome = await waited.then(() => "done", (e) => e.message);
    const meta = await worker.caches.open("fz-meta");
    const answers = {};
    for (const [key, response] of meta.entries) {
      if (key.includes("/__fz/answers/")) answers[key.split("/").pop()] = await response.clone().json();
    }
    return { outcome, posts, answers, left: await left(conn) };
  }

  it("sends the signed-in person's taps oldest first with their own tokens, keeps the outcomes, leaves others'", async () => {
    const r = await run(
      [tap("b", "abc", "2022-04-12T08:02:00Z"), tap("a", "abc", "2022-04-12T08:01:00Z"), tap("z", "someone", "2022-04-12T08:00:00Z")],
      (id) => (id === "a" ? json({ ok: true, message: "已送达" }, 200) : json({ ok: false, message: "晚了一步：王芳 已送达" }, 409)),
    );
    expect(r.outcome).toBe("done");
    expect(r.posts.map((p) => [p.id, p.csrf, p.outbox])).toEqual([["a", "token-a", "1"], ["b", "token-b", "1"]]);
    expect(r.left).toEqual([["z", 0]]);  // another person's tap is not sent on their behalf
    expect(r.answers.a).toMatchObject({ user: "abc", label: "3号楼 101", text: "已送达", ok: true });
    expect(r.answers.b).toMatchObject({ user: "abc", text: "晚了一步：王芳 已送达", ok: false });
  });

  it("keeps the tap, backs it off and fails the sync (tried again later) on a server error", async () => {
    const r = await run([tap("a", "abc", "2022-04-12T08:01:00Z"), tap("b", "abc", "2022-04-12T08:02:00Z")],
      () => new Response("busy", { status: 503 }));
    expect(r.outcome).toBe("outbox not sent yet");
    expect(r.posts.map((p) => p.id)).toEqual(["a"]);  // oldest first: the next waits its turn
    expect(r.left).toEqual([["a", 1], ["b", 0]]);
    expect(r.answers).toEqual({});
  });

  it("keeps the tap without a backoff and fails the sync when there is no signal", async () => {
    const r = await run([tap("a", "abc", "2022-04-12T08:01:00Z"), tap("b", "abc", "2022-04-12T08:02:00Z")],
      () => { throw new TypeError("Failed to fetch"); });
    expect(r.outcome).toBe("outbox waits for the signal");
    expect(r.posts.map((p) => p.id)).toEqual(["a"]);
    expect(r.left).toEqual([["a", 0], ["b", 0]]);  // no backoff: both go the moment the signal is back
  });

  it("keeps everything for the page when the session ended or the token was refused", async () => {
    for (const answer of [() => new Response("<html>403</html>", { status: 403, headers: { "Content-Type": "text/html" } }),
      () => new Response("", { status: 401 })]) {
      const r = await run([tap("a", "abc", "2022-04-12T08:01:00Z")], answer);
      expect(r.outcome).toBe("outbox waits for the person to sign in");
      expect(r.left).toEqual([["a", 0]]);
      expect(r.answers).toEqual({});
    }
  });

  it("another person signing in on this phone forgets the outcomes kept for the one before", async () => {
    const r = await run([tap("a", "abc", "2022-04-12T08:01:00Z")], () => json({ ok: true, message: "已送达" }, 200));
    expect(Object.keys(r.answers)).toEqual(["a"]);
    let answered = null;
    worker.listeners.fetch({ request: { url: ORIGIN + "/orders/", method: "GET", mode: "navigate" }, respondWith: (p) => { answered = p; } });
    const response = await answered;
    const meta = await worker.caches.open("fz-meta");
    await vi.waitFor(async () => {
      const keys = [...meta.entries.keys()];
      if (keys.some((k) => k.includes("/__fz/answers/"))) throw new Error("still kept");
    });
    expect(await (await meta.match("/__fz/user")).text()).toBe("other");
    expect(response.status).toBe(200);
  });

  it("a sync fired again while one is sending waits for it: each tap is sent once", async () => {
    const idb = new IDBFactory();
    await outbox(idb, [tap("a", "abc", "2022-04-12T08:01:00Z"), tap("b", "abc", "2022-04-12T08:02:00Z")]);
    const posts = [];
    worker = load({
      idb,
      network: async (url, init) => {
        posts.push(init.body.get("client_id"));
        await new Promise((done) => setTimeout(done, 20));
        return json({ ok: true, message: "已送达" }, 200);
      },
    });
    await (await worker.caches.open("fz-meta")).put("/__fz/user", new Response("abc"));
    const waits = [];
    for (let i = 0; i < 3; i++) worker.listeners.sync({ tag: "fz-outbox", waitUntil: (p) => { waits.push(p); } });
    await Promise.all(waits);
    expect(posts).toEqual(["a", "b"]);
  });

  it("drops a refusal the server explained (it is shown, not sent again)", async () => {
    const r = await run([tap("a", "abc", "2022-04-12T08:01:00Z")], () => json({ ok: false, message: "无权操作" }, 403));
    expect(r.outcome).toBe("done");
    expect(r.left).toEqual([]);
    expect(r.answers.a).toMatchObject({ text: "无权操作", ok: false });
  });
});
