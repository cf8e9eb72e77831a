// Cache Storage for the tests (Node and jsdom have none): caches.open(name) → a cache whose entries
// are a Map keyed by absolute URL, resolved against `origin`.
export class FakeCache {
  constructor(origin) { this.origin = origin; this.entries = new Map(); }
  key(request) { return typeof request === "string" ? new URL(request, this.origin).href : request.url; }
  async match(request) { const hit = this.entries.get(this.key(request)); return hit ? hit.clone() : undefined; }
  async put(request, response) { this.entries.set(this.key(request), response.clone()); }
  async delete(request) { return this.entries.delete(this.key(request)); }
  async keys() { return [...this.entries.keys()].map((url) => new Request(url)); }
}

export class FakeCaches {
  constructor(origin) { this.origin = origin; this.named = new Map(); }
  async open(name) { if (!this.named.has(name)) this.named.set(name, new FakeCache(this.origin)); return this.named.get(name); }
  async delete(name) { return this.named.delete(name); }
  async has(name) { return this.named.has(name); }
  names() { return [...this.named.keys()].sort(); }
}
