// The replay stream: NDJSON lines, one stored chunk each (`data` base64 of a JSON array of rrweb
// events, gzipped when `encoding` is `gzip_json`), parsed as they arrive.

export interface RrwebEvent {
  type: number;
  timestamp: number;
  data: unknown;
  delay?: number;
}

export interface ChunkLine {
  chunk_index: number;
  first_timestamp_ms: number;
  last_timestamp_ms: number;
  has_full_snapshot: boolean;
  event_count: number;
  encoding: string;
  data: string;
}

export const EventType = { DomContentLoaded: 0, Load: 1, FullSnapshot: 2, IncrementalSnapshot: 3, Meta: 4, Custom: 5, Plugin: 6 } as const;

/** Splits a byte stream into lines as they arrive. */
export async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let rest = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl).trim();
        rest = rest.slice(nl + 1);
        if (line) yield line;
      }
    }
    rest += decoder.decode();
    if (rest.trim()) yield rest.trim();
  } finally {
    reader.releaseLock();
  }
}

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function gunzip(bytes: Uint8Array): Promise<string> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).text();
}

/** The rrweb events of one chunk. */
export async function decodeChunk(chunk: ChunkLine): Promise<RrwebEvent[]> {
  const bytes = base64ToBytes(chunk.data);
  let text: string;
  if (chunk.encoding === "gzip_json") text = await gunzip(bytes);
  else if (chunk.encoding === "json") text = new TextDecoder().decode(bytes);
  else throw new Error(`unknown replay encoding ${chunk.encoding}`);
  const events = JSON.parse(text) as unknown;
  if (!Array.isArray(events)) throw new Error(`replay chunk ${chunk.chunk_index} is not an event array`);
  return events as RrwebEvent[];
}

/** Each chunk of a replay response as it arrives, decoded, with its line. */
export async function* replayChunks(body: ReadableStream<Uint8Array>): AsyncGenerator<{ chunk: ChunkLine; events: RrwebEvent[] }> {
  for await (const line of lines(body)) {
    const chunk = JSON.parse(line) as ChunkLine;
    yield { chunk, events: await decodeChunk(chunk) };
  }
}

/** The page URL each full snapshot shows: from the meta event just before it. */
export function snapshotsByUrl(events: RrwebEvent[]): { href: string; index: number; width: number; height: number }[] {
  const out: { href: string; index: number; width: number; height: number }[] = [];
  let meta: { href: string; width: number; height: number } | undefined;
  events.forEach((e, index) => {
    if (e.type === EventType.Meta) meta = e.data as { href: string; width: number; height: number };
    else if (e.type === EventType.FullSnapshot && meta) out.push({ ...meta, index });
  });
  return out;
}
