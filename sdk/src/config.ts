export type ReplayMode = "off" | "always" | "sampled" | "trigger";

export interface Options {
  /** The project's write key. */
  projectKey: string;
  /** Base URL of the GoSight ingest, e.g. "https://ingest.example.com". */
  endpoint: string;
  /** Events per batch; a full batch is sent at once. */
  batchSize?: number;
  /** Longest time (ms) an event waits in a partial batch. */
  flushInterval?: number;
  /** Retries of a failed request before it is kept in the offline queue for later. */
  maxRetries?: number;
  /** Requests the offline queue (IndexedDB) keeps; the oldest are dropped beyond it. */
  offlineQueueLimit?: number;
  /** A session ends after this much inactivity (ms). */
  sessionTimeout?: number;
  /** A session never lasts longer than this (ms). */
  sessionMaxDuration?: number;
  /** Remove query parameters from page URLs: true for all, or a list of names. */
  stripQueryParams?: boolean | string[];
  /** Keep query strings in the URLs of network errors. */
  networkQueryParams?: boolean;
  /** Report 4xx responses as network errors too (5xx and failures always are). */
  captureNetwork4xx?: boolean;
  /** Report console.error calls. */
  captureConsoleErrors?: boolean;
  /** Send nothing when the browser asks not to be tracked (Do-Not-Track or Global Privacy Control). */
  respectDoNotTrack?: boolean;
  /** Capture nothing until setConsent() grants it. */
  requireConsent?: boolean;
  /** How long (ms) to watch what a click caused. */
  clickOutcomeMs?: number;
  replay?: ReplayMode;
  /** Share of sessions recorded in "sampled" mode, 0–1. */
  replaySampleRate?: number;
  /** Seconds of recording kept in memory in "trigger" mode. */
  replayBufferSeconds?: number;
  /** A replay chunk is sent once its JSON reaches this many bytes… */
  replayChunkBytes?: number;
  /** …or this many ms after its first event. */
  replayChunkMs?: number;
  recordCanvas?: boolean;
  recordCrossOriginIframes?: boolean;
  /** Script-tag build only: URL of gosight-replay.js (default: next to the SDK script). */
  replayScriptUrl?: string;
  /** Log the SDK's own errors to the console. */
  debug?: boolean;
}

export type Config = Required<Options>;

export const defaults: Omit<Config, "projectKey" | "endpoint"> = {
  batchSize: 10,
  flushInterval: 5000,
  maxRetries: 5,
  offlineQueueLimit: 200,
  sessionTimeout: 30 * 60_000,
  sessionMaxDuration: 24 * 3_600_000,
  stripQueryParams: false,
  networkQueryParams: false,
  captureNetwork4xx: false,
  captureConsoleErrors: false,
  respectDoNotTrack: false,
  requireConsent: false,
  clickOutcomeMs: 1000,
  replay: "off",
  replaySampleRate: 0.1,
  replayBufferSeconds: 30,
  replayChunkBytes: 256 * 1024,
  replayChunkMs: 10_000,
  recordCanvas: false,
  recordCrossOriginIframes: false,
  replayScriptUrl: "",
  debug: false,
};

export function resolve(options: Options): Config {
  const cfg = { ...defaults } as Config;
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (cfg as any)[k] = v;
  if (!cfg.projectKey || !cfg.endpoint) throw new Error("projectKey and endpoint are required");
  cfg.endpoint = cfg.endpoint.replace(/\/+$/, "");
  return cfg;
}
