// outbox.js marks the row of the tap, not every row with the same address: the door-to-door list
// posts every resident to one address (the resident is a hidden field), and a tap on one resident
// without signal must leave the other residents' forms in place (found by the two-phone browser
// test: after one offline sample the whole list said "待发送").
import "fake-indexeddb/auto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it, vi } from "vitest";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = readFileSync(join(HERE, "..", "fangzhou", "static", "fangzhou", "outbox.js"), "utf8");

function row(resident) {
  return '<li><form class="door-take" data-outbox method="post" action="/testing/r/3/doors/take/">' +
    '<input type="hidden" name="resident" value="' + resident + '"><input name="tube_code">' +
    "<button>标记已采样</button></form></li>";
}

beforeAll(() => {
  Object.defineProperty(window.navigator, "onLine", { get: () => false, configurable: true });
  document.head.innerHTML = '<meta name="fz-user" content="abc123">';
  document.body.innerHTML =
    '<span id="outbox-count" hidden data-label="待发送"></span><div id="outbox-news" data-pending="待发送"></div>' +
    "<ol>" + row(11) + row(12) + row(13) + "</ol>";
  window.fetch = vi.fn(() => Promise.reject(new TypeError("offline")));
  window.eval(SOURCE);
});

function form(resident) {
  return document.querySelector('input[name=resident][value="' + resident + '"]').form;
}

describe("outbox rows", () => {
  it("hides only the form that was tapped when several share one address", async () => {
    form(12).requestSubmit(form(12).querySelector("button"));
    await vi.waitFor(() => { if (!form(12).hidden) throw new Error("not yet"); }, { timeout: 3000, interval: 20 });
    expect(form(11).hidden).toBe(false);
    expect(form(13).hidden).toBe(false);
    expect(document.querySelectorAll(".outbox-pending")).toHaveLength(1);
    form(13).requestSubmit(form(13).querySelector("button"));
    await vi.waitFor(() => { if (document.getElementById("outbox-count").textContent !== "待发送 2") throw new Error("not yet"); },
      { timeout: 3000, interval: 20 });
    expect(form(11).hidden).toBe(false);
  });
});
