import type { NetworkErrorPayload } from "../gen/gosight/wire";
import { EVENT_TYPE_NETWORK_ERROR, REQUEST_INITIATOR_FETCH, REQUEST_INITIATOR_XHR } from "../gen/gosight/wire";
import type { Tracker } from "../tracker";
import { now, patch, safe } from "../util";

/**
 * Failed fetch and XMLHttpRequest calls: no response, 5xx, and 4xx when captureNetwork4xx.
 * Requests to the GoSight endpoint itself and requests the page aborted are left out.
 */
export function captureNetwork(t: Tracker): () => void {
  const failed = (status: number) => status === 0 || status >= 500 || (t.cfg.captureNetwork4xx && status >= 400);
  const report = safe((url: string, start: number, p: NetworkErrorPayload) => {
    if (!url.startsWith(t.cfg.endpoint) && failed(p.status ?? 0)) {
      t.emit(EVENT_TYPE_NETWORK_ERROR, { networkError: { ...p, url: t.requestUrl(url), durationMs: now() - start } });
    }
  });

  const undoFetch = patch(window, "fetch", (original) =>
    function (this: unknown, input: RequestInfo | URL, init?: RequestInit) {
      const start = now();
      const request = input instanceof Request ? input : undefined;
      const url = String(request?.url ?? input);
      const base = { method: (init?.method ?? request?.method ?? "GET").toUpperCase(), initiator: REQUEST_INITIATOR_FETCH };
      const result = original.call(this, input, init);
      result.then(
        (r) => report(url, start, { ...base, status: r.status, statusText: r.statusText }),
        (e: Error) => e?.name !== "AbortError" && report(url, start, { ...base, errorMessage: String(e) }),
      );
      return result;
    } as typeof fetch,
  );

  const requests = new WeakMap<XMLHttpRequest, { method: string; url: string }>();
  const proto = XMLHttpRequest.prototype;
  const undoOpen = patch(proto, "open", (original) =>
    function (this: XMLHttpRequest, ...args: [string, string | URL, ...unknown[]]) {
      requests.set(this, { method: args[0].toUpperCase(), url: String(args[1]) });
      return (original as (...a: unknown[]) => void).apply(this, args);
    } as typeof proto.open,
  );
  const undoSend = patch(proto, "send", (original) =>
    function (this: XMLHttpRequest, body?: Document | XMLHttpRequestBodyInit | null) {
      const request = requests.get(this);
      const start = now();
      let aborted = false;
      this.addEventListener("abort", () => (aborted = true));
      this.addEventListener("loadend", () => {
        if (request && !aborted) {
          report(request.url, start, { method: request.method, initiator: REQUEST_INITIATOR_XHR, status: this.status, statusText: this.statusText });
        }
      });
      return original.call(this, body);
    },
  );
  return () => [undoFetch, undoOpen, undoSend].forEach((f) => f());
}
