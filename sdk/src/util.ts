// Small helpers shared by every module.

export const now = (): number => Date.now();

let debug = false;
export const setDebug = (on: boolean): void => {
  debug = on;
};

/** Wraps `fn` so that it never throws into the host page; errors are logged only in debug mode. */
export function safe<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R | undefined {
  return (...args) => {
    try {
      return fn(...args);
    } catch (e) {
      if (debug) console.warn("[gosight]", e);
    }
  };
}

/** Adds a listener wrapped in `safe` (capture phase, passive) and returns its removal. */
export function on(target: EventTarget, type: string, fn: (e: any) => void): () => void {
  const handler = safe(fn);
  const opts = { capture: true, passive: true };
  target.addEventListener(type, handler, opts);
  return () => target.removeEventListener(type, handler, opts);
}

export function uuid(): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID(); // secure contexts only
  const b = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
  b[6] = (b[6]! & 15) | 64; // version 4
  b[8] = (b[8]! & 63) | 128; // RFC 4122 variant
  const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const cut = (s: string, max: number): string => (s.length > max ? s.slice(0, max) : s);

/** localStorage with an in-memory fallback for keys it could not store (disabled or full). */
const memory = new Map<string, string>();
export const storage = {
  get<T>(key: string): T | undefined {
    try {
      const v = memory.get(key) ?? localStorage.getItem(key);
      return v ? (JSON.parse(v) as T) : undefined;
    } catch {
      return undefined;
    }
  },
  set(key: string, value: unknown): void {
    const v = JSON.stringify(value);
    try {
      localStorage.setItem(key, v);
      memory.delete(key);
    } catch {
      memory.set(key, v);
    }
  },
};

/** Replaces obj[name] with wrap(original); the returned function restores it unless it was re-patched since. */
export function patch<T extends object, K extends keyof T>(obj: T, name: K, wrap: (original: T[K]) => T[K]): () => void {
  const original = obj[name];
  const wrapped = wrap(original);
  obj[name] = wrapped;
  return () => {
    if (obj[name] === wrapped) obj[name] = original;
  };
}

/** Readable text of any value: an Error's message, a string as is, JSON for the rest. */
export function toText(v: unknown): string {
  if (v instanceof Error) return v.message;
  try {
    return typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
}
