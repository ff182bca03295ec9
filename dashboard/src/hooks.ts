import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, client } from "./api";
import { useLocation } from "./router";

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/** GETs `path` (null: nothing yet) and re-fetches when it changes; older answers are dropped. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ path: string | null; data?: T; error?: ApiError; loading: boolean }>({ path, loading: !!path });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    const abort = new AbortController();
    setState((s) => ({ path, data: s.path === path ? s.data : undefined, loading: true }));
    client.get<T>(path, abort.signal).then(
      (data) => setState({ path, data, loading: false }),
      (e: unknown) => {
        if ((e as Error).name === "AbortError") return;
        setState({ path, error: e instanceof ApiError ? e : new ApiError(0, String(e)), loading: false });
      },
    );
    return () => abort.abort();
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const current = state.path === path;
  return { data: current ? state.data : undefined, error: current ? state.error : undefined, loading: !!path && (!current || state.loading), reload };
}

export const RANGES = [
  { id: "1h", label: "Last hour", ms: 3600_000 },
  { id: "24h", label: "Last 24 hours", ms: 86400_000 },
  { id: "7d", label: "Last 7 days", ms: 7 * 86400_000 },
  { id: "30d", label: "Last 30 days", ms: 30 * 86400_000 },
  { id: "90d", label: "Last 90 days", ms: 90 * 86400_000 },
] as const;

export interface TimeRange {
  id: string;
  from: string;
  to: string;
}

/** Rounds "now" to the minute so a range is stable across renders (and cacheable). */
function rangeOf(id: string, from?: string | null, to?: string | null): TimeRange {
  if (id === "custom" && from && to) {
    const f = new Date(from);
    const t = new Date(to);
    if (!isNaN(+f) && !isNaN(+t) && f < t) return { id, from: f.toISOString(), to: t.toISOString() };
  }
  const preset = RANGES.find((r) => r.id === id) ?? RANGES[2];
  const end = Math.ceil(Date.now() / 60_000) * 60_000 + 60_000;
  return { id: preset.id, from: new Date(end - preset.ms).toISOString(), to: new Date(end).toISOString() };
}

/** The time range of the page, from `?range=` (`24h`, `7d`, …, or `custom` with `from` and `to`). */
export function useRange(): TimeRange {
  const { query } = useLocation();
  const id = query.get("range") ?? "7d";
  const from = query.get("from");
  const to = query.get("to");
  const ref = useRef<{ key: string; range: TimeRange }>(undefined);
  const key = `${id}|${from}|${to}`;
  if (!ref.current || ref.current.key !== key) ref.current = { key, range: rangeOf(id, from, to) };
  return ref.current.range;
}

/** Runs `handler` for keys pressed outside text fields. */
export function useKeys(handler: (e: KeyboardEvent) => void, deps: unknown[]): void {
  useEffect(() => {
    const f = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
      if (e.metaKey || e.ctrlKey || e.altKey) return;
      handler(e);
    };
    window.addEventListener("keydown", f);
    return () => window.removeEventListener("keydown", f);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
}

export interface Action {
  busy: boolean;
  error: string;
  /** Runs `f`, holding `busy` while it runs; its error's message lands in `error`. True when it succeeded. */
  run: (f: () => Promise<unknown>) => Promise<boolean>;
}

/** State for a form's submit or a button's request. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const run = useCallback(async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError("");
    try {
      await f();
      return true;
    } catch (e) {
      setError((e as Error).message);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}
