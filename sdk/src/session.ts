import { now, storage, uuid } from "./util";

/** The session record shared by all tabs of the site through localStorage. */
export interface Session {
  id: string;
  /** Start and last activity, ms since the epoch. */
  start: number;
  last: number;
  /** Highest event sequence number reserved, and the next replay chunk index. */
  seq: number;
  chunk: number;
}

const KEY = "gosight_session";
/** Sequence numbers are reserved in blocks, so that recording an event rarely writes localStorage. */
const BLOCK = 100;
/** Activity is written at most this often. */
const ACTIVITY_WRITE_MS = 1000;

export class Sessions {
  private seen = "";
  /** This tab's reserved block of sequence numbers: last used and last reserved, of session `blockOf`. */
  private blockOf = "";
  private seq = 0;
  private seqEnd = 0;

  constructor(
    private timeout: number,
    private maxDuration: number,
    /**
     * Called with the previous id when this tab's session changes; on a local expiry the old
     * record is still stored at that point. It must not call back into this object's current().
     */
    private onChange: (previous: string) => void = () => {},
  ) {}

  /** The live session, replaced by a new one when it expired. */
  current(t = now()): Session {
    let s = storage.get<Session>(KEY);
    if (!s || t - s.last > this.timeout || t - s.start > this.maxDuration) {
      if (this.seen) this.onChange(this.seen);
      s = { id: uuid(), start: t, last: t, seq: 0, chunk: 0 };
      storage.set(KEY, s);
    } else if (this.seen && s.id !== this.seen) {
      this.onChange(this.seen); // another tab started a new session
    }
    this.seen = s.id;
    return s;
  }

  /**
   * Records activity and hands out the next event sequence number: increasing in each tab and
   * unique in the session (tabs of one session use separate blocks).
   */
  next(t = now()): Session {
    const s = this.current(t);
    let write = t - s.last >= ACTIVITY_WRITE_MS;
    if (this.blockOf !== s.id || this.seq >= this.seqEnd) {
      this.blockOf = s.id;
      this.seq = s.seq;
      this.seqEnd = s.seq += BLOCK;
      write = true;
    }
    if (write) {
      s.last = Math.max(s.last, t);
      storage.set(KEY, s);
    }
    return { ...s, seq: ++this.seq };
  }

  /** The next replay chunk index of session `id`, or -1 when that session is no longer stored. */
  nextChunk(id: string): number {
    const s = storage.get<Session>(KEY);
    if (s?.id !== id) return -1;
    storage.set(KEY, { ...s, chunk: s.chunk + 1 });
    return s.chunk;
  }
}
