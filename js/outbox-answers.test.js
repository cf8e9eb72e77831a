// outbox.js shows, once, the outcomes of taps the service worker sent while no page was open
// (sw.js keeps them in the cache "fz-meta" under /__fz/answers/<client id>): a conflict stays until
// it is read, the person's own answers are forgotten once shown, another person's are left alone,
// and signing out forgets this person's.
import "fake-indexeddb/auto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { FakeCaches } from "./fake-caches.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = readFileSync(join(HERE, "..", "fangzhou", "static", "fangzhou", "outbox.js"), "utf8");
const ORIGIN = "http://localhost:3000";

const fakeCaches = new FakeCaches(ORIGIN);
const named = fakeCaches.named;

function answer(user, text, ok, extra = {}) {
  return new Response(JSON.stringify({ user, key: "/supplies/delivery/7/mark/", label: "3号楼 101", text, ok, replay: false, ...extra }),
    { headers: { "Content-Type": "application/json" } });
}
function waitFor(check) {
  return vi.waitFor(() => { if (!check()) throw new Error("not yet"); }, { timeout: 3000, interval: 20 });
}
function answersLeft() { return [...named.get("fz-meta").entries.keys()].filter((k) => k.includes("/__fz/answers/")).map((k) => k.split("/").pop()).sort(); }

beforeAll(async () => {
  Object.defineProperty(window.navigator, "onLine", { get: () => false, configurable: true });
  window.caches = fakeCaches;
  window.fetch = vi.fn(() => Promise.reject(new TypeError("offline")));
  window.confirm = () => true;
  const meta = await fakeCaches.open("fz-meta");
  await meta.put("/__fz/answers/c1", answer("abc123", "晚了一步：王芳 已送达", false));
  await meta.put("/__fz/answers/c2", answer("abc123", "已送达", true));
  await meta.put("/__fz/answers/c3", answer("abc123", "已送达", true, { replay: true }));
  await meta.put("/__fz/answers/o1", answer("someone", "别人的", false));
  document.head.innerHTML = '<meta name="fz-user" content="abc123">';
  document.body.innerHTML = '<span id="outbox-count" hidden></span><div id="outbox-news" data-pending="待发送"></div>' +
    '<form data-signout method="post" action="/accounts/logout/" data-discard="丢弃？"><button>退出</button></form>';
  HTMLFormElement.prototype.submit = function () { this.dataset.submitted = "1"; };
  window.eval(SOURCE);
});

describe("outcomes the service worker kept", () => {
  it("are shown once on the next page: a conflict stays until read, a success flashes, a replay is quiet", async () => {
    await waitFor(() => answersLeft().length === 1);
    const news = document.getElementById("outbox-news");
    expect(news.querySelector(".error").textContent).toContain("3号楼 101 · 晚了一步：王芳 已送达");
    expect(news.querySelector(".flash").textContent).toBe("✓ 3号楼 101 · 已送达");
    expect(news.querySelectorAll("p")).toHaveLength(2);
    expect(news.textContent).not.toContain("别人的");
    expect(answersLeft()).toEqual(["o1"]);  // another person's wait for them
  });

  it("signing out forgets this person's kept outcomes, not another's", async () => {
    const meta = await fakeCaches.open("fz-meta");
    await meta.put("/__fz/answers/c4", answer("abc123", "已送达", true));
    const form = document.querySelector("form[data-signout]");
    form.requestSubmit(form.querySelector("button"));
    await waitFor(() => form.dataset.submitted === "1");
    expect(answersLeft()).toEqual(["o1"]);
  });
});
