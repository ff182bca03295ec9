import type { Config } from "../config";
import type { Event } from "../gen/gosight/wire";
import { EVENT_TYPE_CLICK, EVENT_TYPE_JS_ERROR, REPLAY_ENCODING_GZIP_JSON, REPLAY_ENCODING_JSON } from "../gen/gosight/wire";
import type { Sessions } from "../session";
import type { Tracker } from "../tracker";
import type { Item } from "../transport/http";
import { gzip } from "../transport/gzip";
import { safe } from "../util";
import { loadRecorder } from "./load";
import type { RawChunk, Recorder } from "./types";

const utf8 = new TextEncoder();

/** A session is in the sample when the first 32 bits of its UUID, as a fraction, are below `rate`. */
export const inSample = (sessionId: string, rate: number): boolean => parseInt(sessionId.slice(0, 8), 16) / 2 ** 32 < rate;

/** Three clicks within a second, each within 30 px of the last one. */
export function rageDetector(): (e: Event) => boolean {
  let clicks: { t: number; x: number; y: number }[] = [];
  return (e) => {
    const c = { t: e.timestamp!.unixMs!, x: e.click!.x ?? 0, y: e.click!.y ?? 0 };
    clicks = [...clicks.filter((p) => c.t - p.t < 1000 && Math.hypot(c.x - p.x, c.y - p.y) < 30), c].slice(-3);
    return clicks.length === 3;
  };
}

/**
 * Records replay for sessions that the mode selects: loads the recorder lazily, numbers its chunks
 * per session, gzips them and hands them to delivery. Restarts with each new session.
 */
export class ReplayController {
  private recorder?: Recorder;
  private sessionId = "";
  private sync = false;
  private enabled = false;

  constructor(
    private cfg: Config,
    private sessions: Sessions,
    tracker: Tracker,
    private push: (item: Item) => void,
  ) {
    const rage = rageDetector();
    tracker.listen((e) => {
      if (e.type === EVENT_TYPE_JS_ERROR || (e.type === EVENT_TYPE_CLICK && rage(e))) this.recorder?.trigger();
    });
  }

  /** Starts recording, or resumes it after stop(), as far as the mode selects this session. */
  enable(): void {
    this.enabled = true;
    void this.start();
  }

  stop(): void {
    this.enabled = false;
    this.stopRecording();
  }

  private async start(): Promise<void> {
    const { cfg } = this;
    if (!this.enabled || this.sessionId || cfg.replay === "off") return;
    const id = this.sessions.current().id;
    if (cfg.replay === "sampled" && !inSample(id, cfg.replaySampleRate)) return;
    this.sessionId = id;
    let recorderModule;
    try {
      recorderModule = await loadRecorder(cfg.replayScriptUrl);
    } catch {
      this.sessionId = ""; // e.g. gosight-replay.js not reachable: no replay for this session
      return;
    }
    if (this.sessionId !== id) return; // stopped or rotated while loading
    this.recorder = recorderModule.startRecorder({
      bufferMs: cfg.replay === "trigger" ? cfg.replayBufferSeconds * 1000 : 0,
      chunkBytes: cfg.replayChunkBytes,
      chunkMs: cfg.replayChunkMs,
      recordCanvas: cfg.recordCanvas,
      recordCrossOriginIframes: cfg.recordCrossOriginIframes,
      onChunk: safe((c: RawChunk) => this.chunk(id, c)),
    });
  }

  /** Sends what is recorded now, uncompressed so that it is queued before the page goes away. */
  flushNow(): void {
    this.sync = true;
    this.recorder?.flush();
    this.sync = false;
  }

  /** The session changed: close the old recording (its record is still stored) and start anew. */
  sessionChanged(): void {
    this.stopRecording();
    setTimeout(() => void this.start());
  }

  private stopRecording(): void {
    this.recorder?.stop();
    this.recorder = undefined;
    this.sessionId = "";
  }

  private chunk(sessionId: string, c: RawChunk): void {
    const chunkIndex = this.sessions.nextChunk(sessionId);
    if (chunkIndex < 0) return; // another tab replaced the session meanwhile
    const data = utf8.encode(c.json);
    const send = (zipped?: Uint8Array) =>
      this.push({
        kind: "replay",
        tries: 0,
        msg: {
          projectKey: this.cfg.projectKey,
          sessionId,
          chunkIndex,
          firstTimestamp: { unixMs: c.firstTimestamp },
          lastTimestamp: { unixMs: c.lastTimestamp },
          hasFullSnapshot: c.hasFullSnapshot,
          eventCount: c.eventCount,
          encoding: zipped ? REPLAY_ENCODING_GZIP_JSON : REPLAY_ENCODING_JSON,
          data: zipped ?? data,
          uncompressedSize: data.length,
        },
      });
    if (this.sync) send();
    else void gzip(data).then(send);
  }
}
