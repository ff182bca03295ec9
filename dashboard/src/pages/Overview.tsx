import { useMemo } from "react";
import { type Overview as OverviewData, type Project, projectPath, qs } from "../api";
import { TimeChart } from "../components/Chart";
import { SdkSnippet } from "../components/SdkSnippet";
import { Async, Bars, Card, Empty, PageHead, RangePicker, Stat } from "../components/ui";
import { countryName, flag, fmtCompact, fmtDuration, fmtPercent, fmtVital, vitalRating, vitalUnit } from "../format";
import { useApi, useRange } from "../hooks";
import { Link } from "../router";

const VITAL_ORDER = ["LCP", "INP", "CLS", "FCP", "TTFB", "FID"];

export function Overview({ project }: { project: Project }) {
  const range = useRange();
  const state = useApi<OverviewData>(projectPath(project.id, `/overview${qs({ from: range.from, to: range.to })}`));
  return (
    <>
      <PageHead title="Overview">
        <RangePicker range={range} />
      </PageHead>
      <Async state={state}>{(o) => <OverviewBody o={o} project={project} />}</Async>
    </>
  );
}

type Point = OverviewData["series"][number];

/**
 * The series with a zero point for every bucket the API left out (it answers only buckets with
 * sessions), from the bucket holding `range.from` to the one before `range.to`. Buckets are
 * aligned to the Unix epoch, as the API's `toStartOfInterval` aligns them.
 */
export function fillSeries(series: Point[], range: OverviewData["range"]): { at: number; point: Required<Omit<Point, "at">> }[] {
  const step = range.bucket_seconds * 1000;
  const byAt = new Map(series.map((p) => [Date.parse(p.at), p]));
  const out: { at: number; point: Required<Omit<Point, "at">> }[] = [];
  const end = Date.parse(range.to);
  for (let at = Math.floor(Date.parse(range.from) / step) * step; at < end; at += step) {
    const p = byAt.get(at);
    out.push({ at, point: { sessions: p?.sessions ?? 0, page_views: p?.page_views ?? 0, errors: p?.errors ?? 0, rage_clicks: p?.rage_clicks ?? 0, dead_clicks: p?.dead_clicks ?? 0 } });
  }
  return out;
}

export function OverviewBody({ o, project }: { o: OverviewData; project: Project }) {
  const filled = useMemo(() => fillSeries(o.series, o.range), [o]);
  const x = useMemo(() => filled.map((p) => p.at), [filled]);
  const span = useMemo((): [number, number] => [Date.parse(o.range.from), Date.parse(o.range.to)], [o]);
  const traffic = useMemo(
    () => [
      { label: "Sessions", values: filled.map((p) => p.point.sessions), color: "#4f7cff" },
      { label: "Page views", values: filled.map((p) => p.point.page_views), color: "#18a999" },
    ],
    [filled],
  );
  const problems = useMemo(
    () => [
      { label: "Errors", values: filled.map((p) => p.point.errors), color: "#e5484d" },
      { label: "Rage clicks", values: filled.map((p) => p.point.rage_clicks), color: "#d98a00" },
      { label: "Dead clicks", values: filled.map((p) => p.point.dead_clicks), color: "#6b5bd2" },
    ],
    [filled],
  );
  if (o.sessions === 0) {
    return (
      <Empty title="No sessions in this range">
        <SdkSnippet project={project} />
      </Empty>
    );
  }
  const sessionsLink = (q: string) => `/p/${project.id}/sessions?${q}`;
  const rank = (name: string) => {
    const i = VITAL_ORDER.indexOf(name.toUpperCase());
    return i < 0 ? VITAL_ORDER.length : i;
  };
  const vitals = [...o.web_vitals].sort((a, b) => rank(a.name) - rank(b.name));
  return (
    <div className="overview">
      <div className="stats">
        <Stat label="Sessions" value={fmtCompact(o.sessions)} />
        <Stat label="Users" value={fmtCompact(o.users)} />
        <Stat label="Page views" value={fmtCompact(o.page_views)} />
        <Stat label="Bounce rate" value={fmtPercent(o.bounce_rate)} />
        <Stat label="Avg. duration" value={fmtDuration(o.avg_duration_ms)} />
        <Stat label="Errors" value={fmtCompact(o.errors)} hint={`${fmtPercent(o.error_session_rate)} of sessions`} tone={o.errors ? "bad" : undefined} />
      </div>
      <Card title="Sessions and page views">
        <TimeChart x={x} series={traffic} range={span} label="Sessions and page views over time" />
      </Card>
      <div className="grid3">
        <Card title="Frustration signals" className="frustration">
          <ul className="signals">
            <li>
              <Link to={sessionsLink("has_rage_click=true")}>
                <span className="signal-value">{fmtCompact(o.rage_clicks)}</span> rage clicks
              </Link>
              <span className="muted">{fmtPercent(o.rage_click_session_rate)} of sessions</span>
            </li>
            <li>
              <Link to={sessionsLink("has_dead_click=true")}>
                <span className="signal-value">{fmtCompact(o.dead_clicks)}</span> dead clicks
              </Link>
              <span className="muted">{fmtPercent(o.dead_click_session_rate)} of sessions</span>
            </li>
            <li>
              <Link to={`/p/${project.id}/errors`}>
                <span className="signal-value">{fmtCompact(o.errors)}</span> errors
              </Link>
              <span className="muted">{fmtPercent(o.error_session_rate)} of sessions</span>
            </li>
          </ul>
        </Card>
        <Card title="Web vitals (p75)">
          {vitals.length ? (
            <ul className="vitals">
              {vitals.map((v) => (
                <li key={v.name} className={`vital-${vitalRating(v.name, v.p75)}`}>
                  <span className="vital-name">{v.name.toUpperCase()}</span>
                  <span className="vital-value">
                    {fmtVital(v.name.toUpperCase(), v.p75)}
                    {vitalUnit(v.name)}
                  </span>
                  <span className="muted small">{fmtCompact(v.samples)} samples</span>
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted">No web vitals in this range.</p>
          )}
        </Card>
        <Card title="Errors and frustration over time">
          <TimeChart x={x} series={problems} range={span} height={160} label="Errors, rage clicks and dead clicks over time" />
        </Card>
      </div>
      <div className="grid2">
        <Card title="Top pages">
          <Bars items={o.top_pages} label={(k) => <Link to={sessionsLink(`path=${encodeURIComponent(k)}`)}>{k || "/"}</Link>} />
        </Card>
        <Card title="Referrers">
          <Bars items={o.referrers} label={(k) => k || "Direct"} />
        </Card>
        <Card title="Countries">
          <Bars items={o.countries} label={(k) => (k ? `${flag(k)} ${countryName(k)}` : "Unknown")} />
        </Card>
        <Card title="Devices">
          <Bars items={o.devices} label={(k) => k || "Unknown"} />
        </Card>
        <Card title="Browsers">
          <Bars items={o.browsers} label={(k) => k || "Unknown"} />
        </Card>
      </div>
    </div>
  );
}
