import { type FormEvent, useState } from "react";
import { canManage, client, type Project, type ProjectSettings, projectPath } from "../api";
import { Card, PageHead } from "../components/ui";
import { useAction } from "../hooks";
import { navigate } from "../router";
import { Keys, Members } from "./SettingsAccess";


/** The processor's insight thresholds, with its defaults (docs/config.md, processor.thresholds). */
export const THRESHOLDS: { key: string; label: string; default: number; integer: boolean }[] = [
  { key: "rage_min_clicks", label: "Rage click: clicks", default: 6, integer: true },
  { key: "rage_window_ms", label: "Rage click: window (ms)", default: 2000, integer: true },
  { key: "rage_radius_px", label: "Rage click: radius (px)", default: 30, integer: true },
  { key: "dead_click_window_ms", label: "Dead click: window (ms)", default: 1000, integer: true },
  { key: "error_click_window_ms", label: "Error click: window (ms)", default: 1000, integer: true },
  { key: "thrash_min_reversals", label: "Thrashed cursor: reversals", default: 5, integer: true },
  { key: "thrash_window_ms", label: "Thrashed cursor: window (ms)", default: 1500, integer: true },
  { key: "thrash_min_speed_px_s", label: "Thrashed cursor: speed (px/s)", default: 400, integer: false },
  { key: "scroll_min_reversals", label: "Excessive scrolling: reversals", default: 4, integer: true },
  { key: "scroll_window_ms", label: "Excessive scrolling: window (ms)", default: 10000, integer: true },
  { key: "scroll_min_leg_px", label: "Excessive scrolling: leg (px)", default: 100, integer: true },
  { key: "quick_back_ms", label: "Quick back: within (ms)", default: 5000, integer: true },
];

/** The form's text fields as `settings.insights`: only what differs from empty, as numbers. */
export function thresholdsFrom(fields: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of THRESHOLDS) {
    const v = fields[t.key]?.trim();
    if (v) out[t.key] = Number(v);
  }
  return out;
}

/** Allowed domains from a textarea: one per line or comma separated, blanks dropped. */
export function domainsFrom(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,]+/)
        .map((d) => d.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
}

export function Settings({ project, onChanged }: { project: Project; onChanged: () => void }) {
  const manage = canManage(project);
  const patch = async (body: { name?: string; allowed_domains?: string[]; settings?: ProjectSettings }) => {
    await client.request("PATCH", projectPath(project.id), body);
    onChanged();
  };
  return (
    <>
      <PageHead title="Settings" />
      {!manage && <p className="muted">Your role in this project is {project.role}: settings are read-only, and keys and members are managed by its admins.</p>}
      <ProjectCard project={project} manage={manage} patch={patch} />
      <ReplayCard project={project} manage={manage} patch={patch} />
      <ThresholdsCard project={project} manage={manage} patch={patch} />
      {manage && <Keys project={project} />}
      <Members project={project} manage={manage} />
      {manage && <ErasureCard key={project.id} project={project} />}
      {project.role === "owner" && <DangerCard project={project} onChanged={onChanged} />}
    </>
  );
}

type Patch = (body: { name?: string; allowed_domains?: string[]; settings?: ProjectSettings }) => Promise<void>;

function SaveRow({ busy, error, saved, manage }: { busy: boolean; error: string; saved: boolean; manage: boolean }) {
  if (!manage) return null;
  return (
    <div className="row">
      <button type="submit" className="primary" disabled={busy}>
        Save
      </button>
      {saved && !error && <span className="saved">Saved</span>}
      {error && (
        <span className="error-text" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

/** A settings form: submit runs `save`, then shows "Saved". */
function useSave(save: () => Promise<void>) {
  const action = useAction();
  const [saved, setSaved] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    void action.run(save).then((ok) => setSaved(ok));
  };
  return { ...action, saved, submit };
}

function ProjectCard({ project, manage, patch }: { project: Project; manage: boolean; patch: Patch }) {
  const [name, setName] = useState(project.name);
  const [domains, setDomains] = useState(project.allowed_domains.join("\n"));
  const save = useSave(() => patch({ name: name.trim(), allowed_domains: domainsFrom(domains) }));
  return (
    <Card title="Project">
      <form className="form" onSubmit={save.submit} aria-label="Project">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} disabled={!manage} />
        </label>
        <div className="muted small">
          id <code>{project.id}</code> · slug <code>{project.slug}</code>
        </div>
        <label>
          Allowed domains <span className="hint">one per line, e.g. shop.example.com or *.example.com; none: any site may send with the key</span>
          <textarea rows={3} value={domains} onChange={(e) => setDomains(e.target.value)} disabled={!manage} />
        </label>
        <SaveRow {...save} manage={manage} />
      </form>
    </Card>
  );
}

function ReplayCard({ project, manage, patch }: { project: Project; manage: boolean; patch: Patch }) {
  const replay = project.settings.replay ?? {};
  const retention = project.settings.retention ?? {};
  const [mode, setMode] = useState(replay.mode ?? "always");
  const [sampling, setSampling] = useState(String(Math.round((replay.sampling ?? 1) * 100)));
  const [viewers, setViewers] = useState(replay.viewers_can_watch ?? true);
  const [eventsDays, setEventsDays] = useState(retention.events_days ? String(retention.events_days) : "");
  const [replayDays, setReplayDays] = useState(retention.replay_days ? String(retention.replay_days) : "");
  const save = useSave(() => {
    const nextRetention: { events_days?: number; replay_days?: number } = {};
    if (eventsDays) nextRetention.events_days = Number(eventsDays);
    if (replayDays) nextRetention.replay_days = Number(replayDays);
    const settings: ProjectSettings = { ...project.settings, replay: { mode, sampling: Number(sampling) / 100, viewers_can_watch: viewers } };
    if (Object.keys(nextRetention).length) settings.retention = nextRetention;
    else delete settings.retention;
    return patch({ settings });
  });
  return (
    <Card title="Replay and retention">
      <form className="form" onSubmit={save.submit} aria-label="Replay">
        <div className="row">
          <label>
            Replay mode
            <select value={mode} onChange={(e) => setMode(e.target.value as typeof mode)} disabled={!manage}>
              <option value="always">Always record</option>
              <option value="on_error">Only sessions with an error</option>
              <option value="off">Off</option>
            </select>
          </label>
          <label>
            Sampling (% of sessions)
            <input type="number" min={0} max={100} step="any" value={sampling} onChange={(e) => setSampling(e.target.value)} disabled={!manage || mode === "off"} />
          </label>
        </div>
        <label className="check">
          <input type="checkbox" checked={viewers} onChange={(e) => setViewers(e.target.checked)} disabled={!manage} />
          Viewers may watch replays
        </label>
        <div className="row">
          <label>
            Keep events (days) <span className="hint">empty: server default</span>
            <input type="number" min={1} max={3650} value={eventsDays} onChange={(e) => setEventsDays(e.target.value)} disabled={!manage} />
          </label>
          <label>
            Keep replays (days)
            <input type="number" min={1} max={3650} value={replayDays} onChange={(e) => setReplayDays(e.target.value)} disabled={!manage} />
          </label>
        </div>
        <SaveRow {...save} manage={manage} />
      </form>
    </Card>
  );
}

function ThresholdsCard({ project, manage, patch }: { project: Project; manage: boolean; patch: Patch }) {
  const current = project.settings.insights ?? {};
  const [fields, setFields] = useState<Record<string, string>>(() => Object.fromEntries(THRESHOLDS.map((t) => [t.key, current[t.key] === undefined ? "" : String(current[t.key])])));
  const save = useSave(() => patch({ settings: { ...project.settings, insights: thresholdsFrom(fields) } }));
  return (
    <Card title="Insight thresholds">
      <form className="form" onSubmit={save.submit} aria-label="Insight thresholds">
        <p className="muted small">Empty fields keep the processor's default (shown greyed). Changes apply to new events within a minute.</p>
        <div className="form-grid">
          {THRESHOLDS.map((t) => (
            <label key={t.key}>
              {t.label}
              <input
                type="number"
                min={0}
                step={t.integer ? 1 : "any"}
                placeholder={String(t.default)}
                value={fields[t.key]}
                onChange={(e) => setFields({ ...fields, [t.key]: e.target.value })}
                disabled={!manage}
              />
            </label>
          ))}
        </div>
        <SaveRow {...save} manage={manage} />
      </form>
    </Card>
  );
}

function DangerCard({ project, onChanged }: { project: Project; onChanged: () => void }) {
  const action = useAction();
  const remove = () => {
    if (prompt(`Type the project's name (${project.name}) to delete it with all its settings, keys and members.`) !== project.name) return;
    void action.run(async () => {
      await client.request("DELETE", projectPath(project.id));
      localStorage.removeItem("gosight.project");
      onChanged();
      navigate("/projects");
    });
  };
  return (
    <Card title="Delete project">
      <div className="row">
        <button type="button" className="danger" onClick={remove} disabled={action.busy}>
          Delete this project
        </button>
        {action.error && <span className="error-text">{action.error}</span>}
      </div>
    </Card>
  );
}

/** Erases every session of one person (their user id) or browser (anonymous id), on request. */
export function ErasureCard({ project }: { project: Project }) {
  const action = useAction();
  const [kind, setKind] = useState<"user_id" | "anonymous_id">("user_id");
  const [id, setId] = useState("");
  const [erased, setErased] = useState<{ id: string; sessions: number } | null>(null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const value = id.trim();
    if (!value) return;
    const what = kind === "user_id" ? `user ${value}` : `browser ${value}`;
    if (!confirm(`Erase every session of ${what}: events, replays and insights? This cannot be undone.`)) return;
    setErased(null);
    void action.run(async () => {
      const r = await client.request<{ sessions_erased: number }>("POST", projectPath(project.id, "/erasure"), { [kind]: value });
      setErased({ id: value, sessions: r.sessions_erased });
      setId("");
    });
  };
  return (
    <Card title="Erase a person's data">
      <p className="muted">For a request to erase someone's data: every session recorded under their user id (as your site identifies them) or their browser's anonymous id is deleted, with its events, replay and insights.</p>
      <form className="row" onSubmit={submit}>
        <select aria-label="Identify them by" value={kind} onChange={(e) => setKind(e.target.value as "user_id" | "anonymous_id")}>
          <option value="user_id">User id</option>
          <option value="anonymous_id">Anonymous id</option>
        </select>
        <input aria-label="Id to erase" value={id} onChange={(e) => setId(e.target.value)} placeholder={kind === "user_id" ? "user-1234" : "anonymous id"} required maxLength={256} />
        <button type="submit" className="danger" disabled={action.busy || !id.trim()}>
          Erase
        </button>
      </form>
      {erased && (
        <p role="status">
          Erased {erased.sessions} {erased.sessions === 1 ? "session" : "sessions"} of {erased.id}.
        </p>
      )}
      {action.error && (
        <p className="error-text" role="alert">
          {action.error}
        </p>
      )}
    </Card>
  );
}
