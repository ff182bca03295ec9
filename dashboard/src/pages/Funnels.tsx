import { type FormEvent, useEffect, useState } from "react";
import { type Funnel, type FunnelStepKind, type Project, projectPath } from "../api";
import { Async, Card, Empty, PageHead, RangePicker } from "../components/ui";
import { fmtNumber, fmtPercent } from "../format";
import { useApi, useRange } from "../hooks";
import { Link, navigate, useLocation } from "../router";

export const MAX_STEPS = 10;

export interface Step {
  kind: FunnelStepKind;
  value: string;
}

/** The steps in a URL's `step` parameters (`page:/pricing`, `event:signup`); unreadable ones are skipped. */
export function stepsFrom(query: URLSearchParams): Step[] {
  return query
    .getAll("step")
    .map((s) => {
      const i = s.indexOf(":");
      const kind = s.slice(0, i);
      return kind === "page" || kind === "event" ? { kind, value: s.slice(i + 1) } : null;
    })
    .filter((s): s is Step => s !== null);
}

/** The query string of a funnel: the range parameters kept, the steps replaced. */
export function funnelQuery(query: URLSearchParams, steps: Step[]): string {
  const q = new URLSearchParams(query);
  q.delete("step");
  for (const s of steps) q.append("step", `${s.kind}:${s.value.trim()}`);
  return q.toString();
}

/** What is wrong with a step, or "" when it can be sent. */
export function stepProblem(s: Step): string {
  const v = s.value.trim();
  if (!v) return "empty";
  if (s.kind === "page" && !v.startsWith("/")) return "a path starts with /";
  return "";
}

/** Funnels: sessions doing pages and custom events in order, and where they drop off. */
export function Funnels({ project }: { project: Project }) {
  const range = useRange();
  const { path, query } = useLocation();
  const applied = stepsFrom(query);
  const [steps, setSteps] = useState<Step[]>(() =>
    applied.length >= 2
      ? applied
      : [
          { kind: "page", value: "/" },
          { kind: "page", value: "" },
        ],
  );
  const appliedKey = query.getAll("step").join("\n");
  // Back and forward, or a link, change the steps shown.
  useEffect(() => {
    if (applied.length >= 2) setSteps(applied);
  }, [appliedKey]);
  const ready = applied.length >= 2;
  const params = new URLSearchParams({ from: range.from, to: range.to });
  for (const s of applied) params.append("step", `${s.kind}:${s.value}`);
  const state = useApi<Funnel>(ready ? projectPath(project.id, `/funnel?${params}`) : null);

  const problems = steps.map(stepProblem);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (problems.some(Boolean)) return;
    navigate(`${path}?${funnelQuery(query, steps)}`);
  };
  const change = (i: number, next: Partial<Step>) => setSteps((all) => all.map((s, j) => (j === i ? { ...s, ...next } : s)));

  return (
    <>
      <PageHead title="Funnels">
        <RangePicker range={range} />
      </PageHead>
      <Card title="Steps">
        <form className="funnel-form" onSubmit={submit} aria-label="Funnel steps">
          <ol className="funnel-steps">
            {steps.map((s, i) => (
              <li key={i}>
                <span className="funnel-step-number muted">{i + 1}.</span>
                <select aria-label={`Step ${i + 1} kind`} value={s.kind} onChange={(e) => change(i, { kind: e.target.value as FunnelStepKind })}>
                  <option value="page">Page view</option>
                  <option value="event">Custom event</option>
                </select>
                <input
                  aria-label={`Step ${i + 1}`}
                  aria-invalid={problems[i] && s.value ? true : undefined}
                  value={s.value}
                  onChange={(e) => change(i, { value: e.target.value })}
                  placeholder={s.kind === "page" ? "/pricing or /docs/*" : "signup"}
                  maxLength={2048}
                />
                {steps.length > 2 && (
                  <button type="button" className="ghost" aria-label={`Remove step ${i + 1}`} onClick={() => setSteps((all) => all.filter((_, j) => j !== i))}>
                    ✕
                  </button>
                )}
                {problems[i] && s.value && <span className="error-text small">{problems[i]}</span>}
              </li>
            ))}
          </ol>
          <div className="row">
            <button type="button" disabled={steps.length >= MAX_STEPS} onClick={() => setSteps((all) => [...all, { kind: "page", value: "" }])}>
              + Step
            </button>
            <button type="submit" className="primary" disabled={problems.some(Boolean)}>
              Show funnel
            </button>
            <span className="muted small">A page path ending in * matches every path it starts. Steps count in order, within one session.</span>
          </div>
        </form>
      </Card>
      {ready && (
        <Card title="Conversion">
          <Async state={state}>{(d) => <FunnelChart project={project} funnel={d} />}</Async>
        </Card>
      )}
    </>
  );
}

export function FunnelChart({ project, funnel }: { project: Project; funnel: Funnel }) {
  const first = funnel.steps[0]?.sessions ?? 0;
  if (first === 0)
    return (
      <Empty title="No session did the first step in this range">
        <p className="muted">Check the first step's path or event name, or widen the range.</p>
      </Empty>
    );
  const last = funnel.steps[funnel.steps.length - 1]!;
  return (
    <>
      <p>
        <strong>{fmtPercent(last.conversion)}</strong> of {fmtNumber(first)} {first === 1 ? "session" : "sessions"} went through every step.
      </p>
      <ol className="bars funnel-bars" data-testid="funnel">
        {funnel.steps.map((s, i) => (
          <li key={i}>
            <span className="bar" style={{ width: `${s.conversion * 100}%` }} aria-hidden="true" />
            <span className="bar-label">
              {i + 1}. {s.type === "page" && !s.value.endsWith("*") ? <Link to={`/p/${project.id}/sessions?path=${encodeURIComponent(s.value)}`}>{s.value}</Link> : <span className="mono">{s.value}</span>}
            </span>
            <span className="bar-value">
              {fmtNumber(s.sessions)} {s.sessions === 1 ? "session" : "sessions"} · {fmtPercent(s.conversion)}
              {i > 0 && <span className="muted"> · {fmtPercent(s.from_previous)} of step {i}</span>}
            </span>
          </li>
        ))}
      </ol>
    </>
  );
}
