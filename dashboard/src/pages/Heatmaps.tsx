import { useEffect, useMemo, useRef, useState } from "react";
import { Replayer } from "rrweb";
import "rrweb/dist/style.css";
import { client, type Heatmap, type Overview, type Project, projectPath, qs, type SessionList } from "../api";
import { Async, Card, Empty, PageHead, RangePicker } from "../components/ui";
import { fmtNumber, fmtPercent } from "../format";
import { useApi, useRange } from "../hooks";
import { setQuery, useLocation } from "../router";
import { EventType, type RrwebEvent, replayChunks, snapshotsByUrl } from "../replay/decode";
import { pathOf } from "../live";

const WIDTHS: Record<string, number> = { desktop: 1280, tablet: 820, mobile: 390 };

/** Colours for 0..1 heat: blue → green → yellow → red. */
function heatColour(v: number): [number, number, number] {
  const stops: [number, [number, number, number]][] = [
    [0, [0, 0, 255]],
    [0.35, [0, 220, 120]],
    [0.65, [255, 230, 0]],
    [1, [240, 30, 30]],
  ];
  for (let i = 1; i < stops.length; i++) {
    const [p1, c1] = stops[i]!;
    const [p0, c0] = stops[i - 1]!;
    if (v <= p1) {
      const t = (v - p0) / (p1 - p0);
      return [0, 1, 2].map((k) => Math.round(c0[k]! + (c1[k]! - c0[k]!) * t)) as [number, number, number];
    }
  }
  return stops[stops.length - 1]![1];
}

/** Draws the click grid as a heatmap onto `canvas` (width: the viewport, height: the page). */
export function drawClicks(canvas: HTMLCanvasElement, grid: Heatmap["grid"], width: number, height: number): number {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  if (!ctx) return 0;
  ctx.clearRect(0, 0, width, height);
  const max = Math.max(1, ...grid.cells.map((c) => c.clicks));
  const radius = 28;
  for (const c of grid.cells) {
    const x = ((c.grid_x + 0.5) / grid.columns) * width;
    const y = c.grid_y * grid.row_px + grid.row_px / 2;
    const g = ctx.createRadialGradient(x, y, 0, x, y, radius);
    const a = 0.25 + 0.75 * (c.clicks / max);
    g.addColorStop(0, `rgba(0,0,0,${a})`);
    g.addColorStop(1, "rgba(0,0,0,0)");
    ctx.fillStyle = g;
    ctx.fillRect(x - radius, y - radius, radius * 2, radius * 2);
  }
  const img = ctx.getImageData(0, 0, width, height);
  const d = img.data;
  let painted = 0;
  for (let i = 0; i < d.length; i += 4) {
    const alpha = d[i + 3]! / 255;
    if (alpha < 0.02) continue;
    const [r, gg, b] = heatColour(Math.min(1, alpha));
    d[i] = r;
    d[i + 1] = gg;
    d[i + 2] = b;
    d[i + 3] = Math.round(Math.min(0.85, alpha + 0.2) * 255);
    painted++;
  }
  ctx.putImageData(img, 0, 0);
  return painted;
}

/** The heatmap's device for a viewport width, as the API buckets clicks. */
export const deviceOf = (width: number) => (width < 768 ? "mobile" : width < 1024 ? "tablet" : "desktop");

/**
 * The page as a replay's full snapshot shows it, for the overlay's background: the first snapshot
 * of `path` at a viewport width of `device`, from the newest sessions that visited it.
 */
function useBackground(projectId: string, path: string, device: string, range: { from: string; to: string }) {
  const [state, setState] = useState<{ events: RrwebEvent[]; width: number; height: number; session: string } | null | undefined>(undefined);
  useEffect(() => {
    if (!path) return;
    setState(undefined);
    const abort = new AbortController();
    (async () => {
      const list = await client.get<SessionList>(projectPath(projectId, `/sessions${qs({ from: range.from, to: range.to, path, limit: 20 })}`), abort.signal);
      for (const s of list.sessions.filter((x) => x.has_replay && (!x.viewport_width || deviceOf(x.viewport_width) === device))) {
        const res = await client.stream(projectPath(projectId, `/sessions/${s.session_id}/replay`), abort.signal);
        const events: RrwebEvent[] = [];
        for await (const c of replayChunks(res.body!)) events.push(...c.events);
        events.sort((a, b) => a.timestamp - b.timestamp);
        const snap = snapshotsByUrl(events).find((x) => pathOf(x.href).split("?")[0] === path && deviceOf(x.width) === device);
        if (snap) {
          const meta = events.slice(0, snap.index).reverse().find((e) => e.type === EventType.Meta)!;
          setState({ events: [meta, events[snap.index]!], width: snap.width, height: snap.height, session: s.session_id });
          return;
        }
      }
      setState(null);
    })().catch((e: Error) => {
      if (e.name !== "AbortError") setState(null);
    });
    return () => abort.abort();
  }, [projectId, path, device, range.from, range.to]);
  return state;
}

export default function Heatmaps({ project }: { project: Project }) {
  const range = useRange();
  const { query } = useLocation();
  const overview = useApi<Overview>(projectPath(project.id, `/overview${qs({ from: range.from, to: range.to })}`));
  const pages = overview.data?.top_pages ?? [];
  const path = query.get("path") ?? pages[0]?.key ?? "";
  const device = query.get("device") ?? "desktop";
  const mode = query.get("mode") === "scroll" ? "scroll" : "clicks";
  const heat = useApi<Heatmap>(path ? projectPath(project.id, `/heatmap${qs({ from: range.from, to: range.to, path, device })}`) : null);
  const [custom, setCustom] = useState("");
  return (
    <>
      <PageHead title="Heatmaps">
        <RangePicker range={range} />
      </PageHead>
      <div className="filters card">
        <label>
          Page{" "}
          <select aria-label="Page" value={path} onChange={(e) => setQuery({ path: e.target.value })}>
            {!pages.some((p) => p.key === path) && path && <option value={path}>{path}</option>}
            {pages.map((p) => (
              <option key={p.key} value={p.key}>
                {p.key} ({fmtNumber(p.count)} views)
              </option>
            ))}
          </select>
        </label>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (custom.trim()) setQuery({ path: custom.trim() });
          }}
        >
          <input aria-label="Other path" placeholder="/other/path" value={custom} onChange={(e) => setCustom(e.target.value)} />
        </form>
        <div className="seg" role="group" aria-label="Device width">
          {Object.keys(WIDTHS).map((d) => (
            <button key={d} type="button" className={d === device ? "active" : ""} aria-pressed={d === device} onClick={() => setQuery({ device: d })}>
              {d}
            </button>
          ))}
        </div>
        <div className="seg" role="group" aria-label="Overlay">
          <button type="button" className={mode === "clicks" ? "active" : ""} aria-pressed={mode === "clicks"} onClick={() => setQuery({ mode: null })}>
            Clicks
          </button>
          <button type="button" className={mode === "scroll" ? "active" : ""} aria-pressed={mode === "scroll"} onClick={() => setQuery({ mode: "scroll" })}>
            Scroll depth
          </button>
        </div>
      </div>
      {!path ? (
        overview.data ? (
          <Empty title="No page views in this range" />
        ) : (
          <Async state={overview}>{() => null}</Async>
        )
      ) : (
        <Async state={heat}>{(h) => <HeatmapView project={project} heat={h} device={device} mode={mode} range={range} />}</Async>
      )}
    </>
  );
}

function HeatmapView({ project, heat, device, mode, range }: { project: Project; heat: Heatmap; device: string; mode: "clicks" | "scroll"; range: { from: string; to: string } }) {
  const bg = useBackground(project.id, heat.path, device, range);
  const totalClicks = heat.grid.cells.reduce((n, c) => n + c.clicks, 0);
  const sessions = heat.scroll_depth.find((d) => d.depth === 0)?.sessions ?? 0;
  return (
    <div className="heatmap-layout">
      <Card
        title={`${heat.path} · ${device}`}
        actions={
          <span className="muted small">
            {fmtNumber(totalClicks)} clicks · scroll depth of {fmtNumber(sessions)} sessions
          </span>
        }
      >
        {bg === undefined ? <p className="muted">Loading the page snapshot…</p> : null}
        {bg !== undefined && <HeatCanvas heat={heat} bg={bg} device={device} mode={mode} />}
      </Card>
      <Card title="Most clicked elements">
        {heat.elements.length ? (
          <ol className="bars elements">
            {heat.elements.map((e) => {
              const max = heat.elements[0]!.clicks || 1;
              return (
                <li key={e.selector}>
                  <span className="bar" style={{ width: `${(e.clicks / max) * 100}%` }} aria-hidden="true" />
                  <span className="bar-label" title={e.selector}>
                    {e.text ? `“${e.text.slice(0, 40)}”` : ""} <code>{e.selector}</code>
                  </span>
                  <span className="bar-value">{fmtNumber(e.clicks)}</span>
                </li>
              );
            })}
          </ol>
        ) : (
          <p className="muted">No clicks on this page at this width.</p>
        )}
        <h3>Scroll depth</h3>
        <ol className="bars">
          {heat.scroll_depth.map((d) => (
            <li key={d.depth}>
              <span className="bar" style={{ width: `${sessions ? (d.sessions / sessions) * 100 : 0}%` }} aria-hidden="true" />
              <span className="bar-label">{d.depth}% of the page</span>
              <span className="bar-value">{sessions ? fmtPercent(d.sessions / sessions) : "—"}</span>
            </li>
          ))}
        </ol>
      </Card>
    </div>
  );
}

function HeatCanvas({ heat, bg, device, mode }: { heat: Heatmap; bg: { events: RrwebEvent[]; width: number; height: number; session: string } | null; device: string; mode: "clicks" | "scroll" }) {
  const host = useRef<HTMLDivElement>(null);
  const frame = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const width = bg?.width ?? WIDTHS[device] ?? 1280;
  const gridHeight = useMemo(() => Math.max(0, ...heat.grid.cells.map((c) => (c.grid_y + 3) * heat.grid.row_px)), [heat]);
  const [docHeight, setDocHeight] = useState(Math.max(bg?.height ?? 800, gridHeight));
  const [scale, setScale] = useState(1);
  const [painted, setPainted] = useState(0);

  // The page, rebuilt from the full snapshot, at full document height.
  useEffect(() => {
    const el = frame.current;
    if (!el || !bg) return;
    el.innerHTML = "";
    const r = new Replayer(bg.events, { root: el, showWarning: false, mouseTail: false, triggerFocus: false });
    r.pause(0);
    r.disableInteract();
    let tries = 0;
    const measure = () => {
      const doc = r.iframe.contentDocument;
      const h = doc?.documentElement ? Math.max(doc.documentElement.scrollHeight, doc.body?.scrollHeight ?? 0) : 0;
      if (h > 0) {
        const full = Math.max(h, gridHeight, bg.height);
        r.iframe.style.height = `${full}px`;
        r.iframe.setAttribute("height", String(full));
        (r.wrapper as HTMLElement).style.height = `${full}px`;
        doc?.defaultView?.scrollTo(0, 0);
        setDocHeight(full);
      }
      if (tries++ < 10) setTimeout(measure, 150);
    };
    measure();
    return () => r.destroy();
  }, [bg, gridHeight]);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const fit = () => setScale(Math.min(1, el.clientWidth / width));
    fit();
    const ro = new ResizeObserver(fit);
    ro.observe(el);
    return () => ro.disconnect();
  }, [width]);

  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    if (mode === "clicks") setPainted(drawClicks(c, heat.grid, width, docHeight));
    else {
      c.width = width;
      c.height = docHeight;
      c.getContext("2d")?.clearRect(0, 0, width, docHeight);
    }
  }, [heat, width, docHeight, mode]);

  const base = heat.scroll_depth.find((d) => d.depth === 0)?.sessions ?? 0;
  return (
    <div className="heat-host" ref={host} style={{ height: docHeight * scale }}>
      <div className="heat-page" style={{ width, height: docHeight, transform: `scale(${scale})` }} data-testid="heatmap" data-painted={painted}>
        <div className="heat-frame" ref={frame} />
        {!bg && <div className="heat-blank">No replay snapshot of this page at this width; clicks are drawn on a blank page.</div>}
        <canvas ref={canvas} className="heat-canvas" aria-label="Click heatmap" />
        {mode === "scroll" && (
          <div className="scroll-overlay" data-testid="scroll-overlay">
            {heat.scroll_depth
              .filter((d) => d.depth > 0)
              .map((d, i, all) => {
                const share = base ? d.sessions / base : 0;
                const prev = i === 0 ? 0 : all[i - 1]!.depth;
                return (
                  <div key={d.depth} className="scroll-band" style={{ top: `${prev}%`, height: `${d.depth - prev}%`, background: `rgba(229,72,77,${0.55 * (1 - share)})` }}>
                    <span className="scroll-label">
                      {fmtPercent(share)} reached {d.depth}%
                    </span>
                  </div>
                );
              })}
          </div>
        )}
      </div>
    </div>
  );
}
