import type { Config } from "../config";
import { EventBatch, ReplayChunk } from "../gen/gosight/wire";
import { now } from "../util";
import { encode } from "../wire";
import { retryAfter } from "./backoff";
import { gzip } from "./gzip";

/** One request to the ingest: an event batch or a replay chunk. */
export type Item = ({ kind: "events"; msg: EventBatch } | { kind: "replay"; msg: ReplayChunk }) & {
  /** Failed attempts so far. */
  tries: number;
  /** On the wire right now; set and cleared by Delivery. */
  sending?: boolean;
};

export interface Request {
  url: string;
  body: Uint8Array;
  headers: Record<string, string>;
}

/** Chrome refuses keepalive requests whose bodies add up to more than 64 KiB. */
const KEEPALIVE_MAX = 60_000;

const url = (cfg: Config, item: Item): string => `${cfg.endpoint}/v1/${item.kind}`;

/** The protobuf body; an event batch gets sent_at stamped now. */
function encodeItem(item: Item): Uint8Array {
  return item.kind === "replay" ? encode(ReplayChunk, item.msg) : encode(EventBatch, { ...item.msg, sentAt: { unixMs: now() } });
}

/** Event batches are gzipped; replay chunks carry their own (already compressed) encoding. */
export async function prepare(cfg: Config, item: Item): Promise<Request> {
  const headers: Record<string, string> = { "Content-Type": "application/x-protobuf", "X-GoSight-Key": cfg.projectKey };
  let body = encodeItem(item);
  const zipped = item.kind === "events" ? await gzip(body) : undefined;
  if (zipped) (body = zipped), (headers["Content-Encoding"] = "gzip");
  return { url: url(cfg, item), body, headers };
}

/**
 * Sends a request. Resolves to 0 when the item is done with (accepted, or rejected for good with a
 * 4xx), -1 to retry after a backoff (network error, 408, 429, 5xx), or the ms a Retry-After asked for.
 */
export async function send(fetchFn: typeof fetch, req: Request): Promise<number> {
  try {
    const res = await fetchFn(req.url, {
      method: "POST",
      body: req.body as BodyInit,
      headers: req.headers,
      keepalive: req.body.length < KEEPALIVE_MAX,
      credentials: "omit",
    });
    if (res.status < 500 && res.status !== 429 && res.status !== 408) return 0;
    const after = retryAfter(res.headers.get("Retry-After"));
    return after === undefined ? -1 : Math.max(after, 1);
  } catch {
    return -1;
  }
}

/**
 * sendBeacon cannot set headers: the key and the format go in the query, the body is not gzipped
 * (that takes an async CompressionStream), and the Blob type is text/plain, which needs no CORS
 * preflight (a beacon is sent with credentials, which the ingest's preflight does not allow).
 */
export function beacon(cfg: Config, item: Item): boolean {
  try {
    const blob = new Blob([encodeItem(item) as BlobPart], { type: "text/plain" });
    return navigator.sendBeacon(`${url(cfg, item)}?key=${encodeURIComponent(cfg.projectKey)}&format=protobuf`, blob);
  } catch {
    return false;
  }
}
