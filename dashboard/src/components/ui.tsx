import { type ReactNode, useState } from "react";
import type { ApiError, Count } from "../api";
import { RANGES, type TimeRange } from "../hooks";
import { setQuery } from "../router";
import { fmtNumber, timeZone } from "../format";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorBox({ error, onRetry }: { error: ApiError | Error; onRetry?: () => void }) {
  return (
    <div className="error-box" role="alert">
      <strong>Could not load this.</strong> {error.message}
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <h3>{title}</h3>
      {children}
    </div>
  );
}

/** Loading, error, or the content once `data` is there. */
export function Async<T>({ state, children }: { state: { data?: T; error?: ApiError; loading: boolean; reload: () => void }; children: (data: T) => ReactNode }) {
  if (state.error) return <ErrorBox error={state.error} onRetry={state.reload} />;
  if (state.data === undefined) return <Loading />;
  return <>{children(state.data)}</>;
}

export function Card({ title, children, actions, className = "" }: { title?: ReactNode; children: ReactNode; actions?: ReactNode; className?: string }) {
  return (
    <section className={`card ${className}`}>
      {(title || actions) && (
        <header className="card-head">
          {title && <h2>{title}</h2>}
          {actions}
        </header>
      )}
      {children}
    </section>
  );
}

export function Stat({ label, value, hint, tone }: { label: string; value: ReactNode; hint?: ReactNode; tone?: "bad" | "warn" }) {
  return (
    <div className={`stat ${tone ?? ""}`}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {hint && <div className="stat-hint">{hint}</div>}
    </div>
  );
}

/** A top-N list as CSS bars. */
export function Bars({ items, label = (k) => k || "(none)", empty = "No data in this range." }: { items: Count[]; label?: (key: string) => ReactNode; empty?: string }) {
  if (!items.length) return <p className="muted">{empty}</p>;
  const max = Math.max(...items.map((i) => i.count), 1);
  return (
    <ol className="bars">
      {items.map((i) => (
        <li key={i.key}>
          <span className="bar" style={{ width: `${(i.count / max) * 100}%` }} aria-hidden="true" />
          <span className="bar-label">{label(i.key)}</span>
          <span className="bar-value">{fmtNumber(i.count)}</span>
        </li>
      ))}
    </ol>
  );
}

export function Badge({ kind, children, title }: { kind: "error" | "rage" | "dead" | "live" | "info" | "ok"; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${kind}`} title={title}>
      {children}
    </span>
  );
}

const toLocalInput = (iso: string) => {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

export function RangePicker({ range }: { range: TimeRange }) {
  const [from, setFrom] = useState(toLocalInput(range.from));
  const [to, setTo] = useState(toLocalInput(range.to));
  return (
    <div className="range-picker">
      <label>
        <span className="sr-only">Time range</span>
        <select
          aria-label="Time range"
          value={range.id}
          onChange={(e) => setQuery(e.target.value === "custom" ? { range: "custom", from: new Date(from).toISOString(), to: new Date(to).toISOString() } : { range: e.target.value, from: null, to: null })}
        >
          {RANGES.map((r) => (
            <option key={r.id} value={r.id}>
              {r.label}
            </option>
          ))}
          <option value="custom">Custom…</option>
        </select>
      </label>
      {range.id === "custom" && (
        <form
          className="custom-range"
          onSubmit={(e) => {
            e.preventDefault();
            setQuery({ range: "custom", from: new Date(from).toISOString(), to: new Date(to).toISOString() });
          }}
        >
          <input type="datetime-local" aria-label="From" value={from} onChange={(e) => setFrom(e.target.value)} />
          <input type="datetime-local" aria-label="To" value={to} onChange={(e) => setTo(e.target.value)} />
          <button type="submit">Apply</button>
        </form>
      )}
      <span className="muted tz" title="Times are shown in this time zone">
        {timeZone}
      </span>
    </div>
  );
}

export function PageHead({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-head">
      <h1>{title}</h1>
      <div className="page-actions">{children}</div>
    </div>
  );
}
