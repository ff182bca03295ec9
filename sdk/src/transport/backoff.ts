import { now } from "../util";

/** Exponential backoff with jitter: the doubled delay, half of it fixed and half random. */
export function backoff(attempt: number, base = 1000, cap = 30_000): number {
  const d = Math.min(cap, base * 2 ** (attempt - 1));
  return d / 2 + (Math.random() * d) / 2;
}

/** A Retry-After header (delta-seconds or HTTP date) in ms, capped at an hour; undefined when absent or invalid. */
export function retryAfter(header: string | null, t = now()): number | undefined {
  if (!header) return;
  const seconds = Number(header);
  const ms = Number.isNaN(seconds) ? Date.parse(header) - t : seconds * 1000;
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(ms, 0), 3_600_000);
}
