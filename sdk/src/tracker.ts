import type { Config } from "./config";
import type { Event, EventType } from "./gen/gosight/wire";
import { EVENT_TYPE_CONSOLE_LOG, EVENT_TYPE_JS_ERROR, EVENT_TYPE_NETWORK_ERROR } from "./gen/gosight/wire";
import { currentPage, stripQuery } from "./page";
import type { Sessions } from "./session";
import type { Batcher } from "./transport/batcher";
import { now, safe, uuid } from "./util";

/** Sent without waiting for the batch to fill. */
const URGENT: EventType[] = [EVENT_TYPE_JS_ERROR, EVENT_TYPE_NETWORK_ERROR, EVENT_TYPE_CONSOLE_LOG];

type Listener = (event: Event) => void;

/** Turns captured payloads into events: id, session sequence, time and page; what capture modules talk to. */
export class Tracker {
  private listeners = new Set<Listener>();

  constructor(
    readonly cfg: Config,
    private sessions: Sessions,
    private batcher: Batcher,
  ) {}

  /** Records an event whose payload is `payload`'s one oneof field; returns its id. */
  emit(type: EventType, payload: Event, t = now()): string {
    const s = this.sessions.next(t);
    const event: Event = {
      eventId: uuid(),
      type,
      timestamp: { unixMs: t },
      page: currentPage(this.cfg.stripQueryParams),
      sequence: s.seq,
      ...payload,
    };
    this.batcher.add(s, event, URGENT.includes(type));
    this.listeners.forEach((l) => safe(l)(event));
    return event.eventId!;
  }

  /** Calls `l` after each event; returns the unsubscription. */
  listen(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** A page or link URL, with query parameters stripped as configured. */
  pageUrl = (url: string): string => stripQuery(url, this.cfg.stripQueryParams);

  /** A request or resource URL: no query string unless networkQueryParams. */
  requestUrl = (url: string): string => stripQuery(url, !this.cfg.networkQueryParams || this.cfg.stripQueryParams);
}
