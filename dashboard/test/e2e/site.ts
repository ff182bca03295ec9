// A shop on its own origin for the end-to-end tests: a few pages that load the real SDK's
// script-tag build from ../sdk/dist and send to the real ingest.
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

const SDK_DIST = new URL("../../../sdk/dist/", import.meta.url);

const PAGES: Record<string, { title: string; body: string }> = {
  "/shop": {
    title: "Shop",
    body: `<h1>Coffee shop</h1>
      <button id="buy" style="font-size:20px;padding:10px 24px">Buy now</button>
      <p id="dead" style="padding:12px;background:#eee">Free shipping on everything</p>
      <button id="boom">Checkout</button>
      <div id="out"></div>
      <div style="height:1600px;background:linear-gradient(#fff,#cde)">Reviews</div>
      <footer id="footer">Footer</footer>
      <script>
        document.getElementById("buy").onclick = () => (document.getElementById("out").textContent = "added to cart");
        document.getElementById("boom").onclick = function checkout() { throw new TypeError("checkout exploded"); };
      </script>`,
  },
  "/pricing": {
    title: "Pricing",
    body: `<h1>Pricing</h1>
      <div id="plan" style="width:240px;padding:30px;border:2px solid #88a">Pro plan, 12 € a month</div>
      <div style="height:900px"></div>`,
  },
  "/live": {
    title: "Live",
    body: `<h1>Hello</h1><button id="hello">Say hello</button><div id="said"></div>
      <script>document.getElementById("hello").onclick = () => (document.getElementById("said").textContent = "hello!");</script>`,
  },
};

export class Site {
  origin = "";
  private server: Server = createServer((req, res) => {
    this.answer(req.url ?? "/").then(
      ([status, type, body]) => res.writeHead(status, { "content-type": type }).end(body),
      (e: Error) => res.writeHead(500).end(String(e.stack)),
    );
  });

  constructor(private sdkOptions: Record<string, unknown>) {}

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** The URL of a page; `user` is passed to GoSight.identify right after init. */
  url(path: keyof typeof PAGES, user = ""): string {
    return `${this.origin}${path}${user ? `?user=${encodeURIComponent(user)}` : ""}`;
  }

  private async answer(raw: string): Promise<[number, string, string | Buffer]> {
    const url = new URL(raw, "http://site");
    if (/^\/gosight[\w.-]*\.js$/.test(url.pathname)) return [200, "text/javascript", await readFile(new URL(url.pathname.slice(1), SDK_DIST))];
    const page = PAGES[url.pathname];
    if (!page) return [404, "text/plain", "not found"];
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>${page.title}</title></head>
<body style="font-family:sans-serif;margin:24px">${page.body}
<script src="/gosight.iife.js"></script>
<script>
  GoSight.init(${JSON.stringify(this.sdkOptions)});
  const user = new URLSearchParams(location.search).get("user");
  if (user) GoSight.identify(user);
</script></body></html>`;
    return [200, "text/html", html];
  }
}
