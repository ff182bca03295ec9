// Loaded lazily (its own chunk, with rrweb): rrweb recording cut into chunks by size and time.
import { record } from "@rrweb/record";
import { BLOCK, MASK, mayRevealValue, scrub } from "../dom/mask";
import { safe } from "../util";
import type { Recorder, RecorderOptions } from "./types";

interface Entry {
  json: string;
  time: number;
  full: boolean;
}

const FULL_SNAPSHOT = 2;
const META = 4;

export function startRecorder(o: RecorderOptions): Recorder {
  let pending: Entry[] = [];
  let bytes = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let buffering = o.bufferMs > 0;
  // Trigger mode: the events since the previous full snapshot (checkout) and since the last one.
  let segments: Entry[][] = [[]];

  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (!pending.length) return;
    const chunk = pending;
    pending = [];
    bytes = 0;
    o.onChunk({
      json: `[${chunk.map((e) => e.json).join(",")}]`,
      firstTimestamp: chunk[0]!.time,
      lastTimestamp: chunk[chunk.length - 1]!.time,
      hasFullSnapshot: chunk.some((e) => e.full),
      eventCount: chunk.length,
    });
  };
  const add = (entry: Entry) => {
    pending.push(entry);
    bytes += entry.json.length;
    if (bytes >= o.chunkBytes) flush();
    else timer ??= setTimeout(flush, o.chunkMs);
  };

  const stopRecording = record({
    emit: safe((event: { type: number; timestamp: number }, isCheckout?: boolean) => {
      const entry = { json: JSON.stringify(event), time: event.timestamp, full: event.type === FULL_SNAPSHOT };
      if (!buffering) return add(entry);
      if (isCheckout && event.type === META) segments = [segments[segments.length - 1]!, []];
      segments[segments.length - 1]!.push(entry);
    }),
    checkoutEveryNms: o.bufferMs || undefined,
    maskAllInputs: true,
    maskInputFn: (text, el) => (mayRevealValue(el, text) ? text : "*".repeat(text.length)),
    // Every text node goes through maskTextFn: masked under data-gosight-mask, emails and card numbers scrubbed elsewhere.
    maskTextSelector: "*",
    maskTextFn: (text, el) => (el?.closest(MASK) ? text.replace(/\S/g, "*") : scrub(text)),
    blockSelector: BLOCK,
    recordCanvas: o.recordCanvas,
    recordCrossOriginIframes: o.recordCrossOriginIframes,
    errorHandler: () => true, // rrweb's own errors never reach the page
  });

  return {
    flush,
    trigger() {
      if (!buffering) return;
      buffering = false;
      segments.flat().forEach(add);
      segments = [];
    },
    stop() {
      stopRecording?.();
      flush();
    },
  };
}
