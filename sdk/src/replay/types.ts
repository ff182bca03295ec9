// The contract between the core and the lazily loaded recorder (replay/recorder.ts).

/** Recorded rrweb events as one JSON array, with what ReplayChunk says about them. */
export interface RawChunk {
  json: string;
  firstTimestamp: number;
  lastTimestamp: number;
  hasFullSnapshot: boolean;
  eventCount: number;
}

export interface RecorderOptions {
  /** Trigger mode: keep only about this many ms in memory until trigger(); 0 streams everything. */
  bufferMs: number;
  chunkBytes: number;
  chunkMs: number;
  recordCanvas: boolean;
  recordCrossOriginIframes: boolean;
  onChunk: (chunk: RawChunk) => void;
}

export interface Recorder {
  /** Hands what was recorded since the last chunk to onChunk (nothing while buffering). */
  flush(): void;
  /** Trigger mode: upload the buffer, then stream like "always". */
  trigger(): void;
  stop(): void;
}
