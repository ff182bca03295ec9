import type { Config } from "../config";
import { backoff } from "./backoff";
import { beacon, type Item, prepare, send } from "./http";
import type { OfflineQueue } from "./offline";

const offline = () => navigator.onLine === false;

/**
 * Sends requests one at a time, in order. A failed request is retried with backoff (or after its
 * Retry-After) up to cfg.maxRetries times, then kept in the offline queue, as is everything while
 * the browser is offline. A request leaves the queue only once the server answered it, so a
 * 500-then-200 sequence delivers it once.
 */
export class Delivery {
  private queue: Item[] = [];
  private busy = false;
  private wait?: ReturnType<typeof setTimeout>;

  constructor(
    private cfg: Config,
    private store: OfflineQueue,
    private fetchFn: typeof fetch,
  ) {}

  push(item: Item): void {
    this.queue.push(item);
    void this.pump();
  }

  /** Moves the offline queue back into the send queue (at start, when back online or visible). */
  async drain(): Promise<void> {
    if (offline()) return;
    try {
      for (const item of await this.store.takeAll()) this.queue.push({ ...item, tries: 0 });
    } catch {
      // IndexedDB failed: what it holds stays there for the next drain
    }
    this.retryNow();
  }

  /** Skips a pending backoff, e.g. once the browser is back online. */
  retryNow(): void {
    clearTimeout(this.wait);
    this.wait = undefined;
    void this.pump();
  }

  /** The page is hidden or unloading: beacon what is not on the wire yet, keep failed requests for later. */
  hide(): void {
    clearTimeout(this.wait);
    this.wait = undefined;
    const pending = this.queue.filter((i) => !i.sending);
    this.queue = this.queue.filter((i) => i.sending);
    void this.store.put(pending.filter((i) => i.tries || !beacon(this.cfg, i)));
  }

  private async pump(): Promise<void> {
    if (this.busy || this.wait) return;
    this.busy = true;
    try {
      for (let item = this.queue[0]; item; item = this.queue[0]) {
        if (offline()) return this.park(this.queue.splice(0), true);
        const req = await prepare(this.cfg, item);
        if (this.queue[0] !== item) continue; // hide() took it meanwhile
        item.sending = true;
        const result = await send(this.fetchFn, req);
        item.sending = false;
        if (result && ++item.tries <= this.cfg.maxRetries && !offline()) {
          this.wait = setTimeout(() => this.retryNow(), result > 0 ? result : backoff(item.tries));
          return;
        }
        this.queue.splice(this.queue.indexOf(item), 1);
        if (result) this.park([item], offline());
      }
    } catch {
      // not expected (prepare and send do not throw); the queue is retried on the next push
    } finally {
      this.busy = false;
    }
  }

  private park(items: Item[], wentOffline: boolean): void {
    // The browser may be back online before IndexedDB stored them: drain again then.
    void this.store.put(items).then(() => {
      if (wentOffline && !offline()) void this.drain();
    });
  }
}
