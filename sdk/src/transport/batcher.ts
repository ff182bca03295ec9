import type { Event, SessionMeta } from "../gen/gosight/wire";
import type { Session } from "../session";
import type { Item } from "./http";

/** Groups events of one session into batches of `size`, sent at the latest `interval` ms after the first. */
export class Batcher {
  private events: Event[] = [];
  private session?: Session;
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private size: number,
    private interval: number,
    private projectKey: string,
    private meta: (s: Session) => SessionMeta,
    private out: (item: Item) => void,
  ) {}

  add(session: Session, event: Event, urgent: boolean): void {
    if (this.session && this.session.id !== session.id) this.flush();
    this.session = session;
    this.events.push(event);
    if (urgent || this.events.length >= this.size) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.interval);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.session || !this.events.length) return;
    const events = this.events;
    this.events = [];
    this.out({ kind: "events", tries: 0, msg: { projectKey: this.projectKey, session: this.meta(this.session), events } });
  }
}
