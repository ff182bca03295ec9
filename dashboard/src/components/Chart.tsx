import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { THEME_EVENT } from "../theme";

export interface Series {
  label: string;
  values: number[];
  color: string;
}

/** Re-renders its user when the colour theme changes. */
function useThemeChanges(): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const bump = () => setVersion((v) => v + 1);
    window.addEventListener(THEME_EVENT, bump);
    return () => window.removeEventListener(THEME_EVENT, bump);
  }, []);
  return version;
}

/**
 * A time-series line chart (uPlot); x in ms, drawn in the user's time zone over `range` (ms), so
 * a range with one point still reads as that range.
 */
export function TimeChart({ x, series, range, height = 220, label }: { x: number[]; series: Series[]; range: [number, number]; height?: number; label: string }) {
  const el = useRef<HTMLDivElement>(null);
  const theme = useThemeChanges();
  const [from, to] = range;
  useEffect(() => {
    const node = el.current;
    if (!node) return;
    const css = getComputedStyle(document.documentElement);
    const axis = css.getPropertyValue("--muted").trim() || "#888";
    const grid = css.getPropertyValue("--border").trim() || "#ddd";
    const opts: uPlot.Options = {
      width: node.clientWidth || 600,
      height,
      series: [
        {},
        ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, fill: `${s.color}22`, points: { show: x.length < 40 } })),
      ],
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 50 },
      ],
      scales: { x: { time: true, range: () => [from / 1000, to / 1000] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
    };
    const data: uPlot.AlignedData = [x.map((v) => v / 1000), ...series.map((s) => s.values)];
    const plot = new uPlot(opts, data, node);
    const resize = new ResizeObserver(() => plot.setSize({ width: node.clientWidth, height }));
    resize.observe(node);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [x, series, height, from, to, theme]);
  return <div ref={el} className="chart" role="img" aria-label={label} />;
}
