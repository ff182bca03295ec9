import { lazy, type ReactNode, Suspense, useEffect, useState } from "react";
import { client, type Project, type User } from "./api";
import { Loading, ErrorBox } from "./components/ui";
import { useApi, useKeys } from "./hooks";
import { Link, match, navigate, Redirect, useLocation } from "./router";
import { applyTheme, storedTheme, type Theme } from "./theme";
import { Login } from "./pages/Login";
import { Projects } from "./pages/Projects";
import { Overview } from "./pages/Overview";
import { Sessions } from "./pages/Sessions";
import { Live } from "./pages/Live";
import { Insights } from "./pages/Insights";
import { Errors } from "./pages/Errors";
import { Funnels } from "./pages/Funnels";
import { Alerts } from "./pages/Alerts";
import { Settings } from "./pages/Settings";

// The replay player and the heatmap bring rrweb: loaded only when opened.
const SessionPage = lazy(() => import("./pages/Session"));
const Heatmaps = lazy(() => import("./pages/Heatmaps"));

const NAV = [
  { id: "overview", label: "Overview", key: "o" },
  { id: "sessions", label: "Sessions", key: "s" },
  { id: "live", label: "Live", key: "l" },
  { id: "heatmaps", label: "Heatmaps", key: "h" },
  { id: "funnels", label: "Funnels", key: "f" },
  { id: "insights", label: "Insights", key: "i" },
  { id: "errors", label: "Errors", key: "e" },
  { id: "alerts", label: "Alerts", key: "a" },
  { id: "settings", label: "Settings", key: "," },
] as const;

export function App() {
  const [user, setUser] = useState<User | null>(client.user);
  const [ready, setReady] = useState(!!client.user);
  useEffect(() => {
    const off = client.onUser(setUser);
    if (!client.user)
      client
        .resume()
        .catch(() => false)
        .finally(() => setReady(true));
    return () => void off();
  }, []);
  const { path } = useLocation();
  if (!ready) return <Loading label="Signing in…" />;
  if (!user) {
    if (path !== "/login") return <Redirect to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} />;
    return <Login />;
  }
  if (path === "/login") {
    const next = new URLSearchParams(location.search).get("next");
    return <Redirect to={next && next.startsWith("/") && !next.startsWith("/login") ? next : "/"} />;
  }
  return <Shell user={user} />;
}

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const next: Record<Theme, Theme> = { system: "light", light: "dark", dark: "system" };
  return (
    <button
      type="button"
      className="ghost"
      title="Colour theme: light, dark or the system's (t)"
      aria-label={`Theme: ${theme}`}
      onClick={() => {
        applyTheme(next[theme]);
        setTheme(next[theme]);
      }}
    >
      {theme === "dark" ? "☾ Dark" : theme === "light" ? "☀ Light" : "◐ System"}
    </button>
  );
}

function Shell({ user }: { user: User }) {
  const { path } = useLocation();
  const projects = useApi<{ projects: Project[] }>("/api/v1/projects");
  const params = match("/p/:project/:page", path) ?? match("/p/:project/:page/:id", path) ?? match("/p/:project", path);
  const projectId = params?.project;
  const page = params?.page ?? "overview";
  const [help, setHelp] = useState(false);
  useKeys(
    (e) => {
      if (e.key === "?") setHelp((h) => !h);
      if (e.key === "Escape") setHelp(false);
      if (e.key === "t") document.querySelector<HTMLButtonElement>("[aria-label^='Theme']")?.click();
      if (!projectId) return;
      const n = NAV.find((i) => i.key === e.key);
      if (n) {
        e.preventDefault();
        navigate(`/p/${projectId}/${n.id}${location.search.includes("range=") ? rangeOnly() : ""}`);
      }
    },
    [projectId],
  );

  let content: ReactNode;
  if (projects.error) content = <ErrorBox error={projects.error} onRetry={projects.reload} />;
  else if (!projects.data) content = <Loading />;
  else if (path === "/" || path === "/projects") {
    const list = projects.data.projects;
    const last = localStorage.getItem("gosight.project");
    const pick = list.find((p) => p.id === last) ?? list[0];
    content = path === "/" && pick ? <Redirect to={`/p/${pick.id}/overview`} /> : <Projects projects={list} onCreated={projects.reload} />;
  } else if (projectId) {
    const project = projects.data.projects.find((p) => p.id === projectId);
    if (!project) content = <ErrorBox error={new Error("This project does not exist or you are not a member of it.")} />;
    else content = <ProjectPage project={project} page={page} path={path} onChanged={projects.reload} />;
  } else content = <ErrorBox error={new Error("No such page.")} />;

  useEffect(() => {
    if (projectId) localStorage.setItem("gosight.project", projectId);
  }, [projectId]);

  const current = projects.data?.projects.find((p) => p.id === projectId);
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <Link to="/" className="brand">
          <span className="logo" aria-hidden="true">◉</span> GoSight
        </Link>
        {projects.data && (
          <label className="switcher">
            <span className="sr-only">Project</span>
            <select
              aria-label="Project"
              value={projectId ?? ""}
              onChange={(e) => navigate(e.target.value === "__all" ? "/projects" : `/p/${e.target.value}/${page}`)}
            >
              {!projectId && <option value="">Choose a project</option>}
              {projects.data.projects.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
              <option value="__all">All projects…</option>
            </select>
          </label>
        )}
        {current && (
          <nav aria-label="Project">
            {NAV.map((n) => (
              <Link key={n.id} to={`/p/${current.id}/${n.id}`} className={page === n.id ? "active" : ""} aria-current={page === n.id ? "page" : undefined} title={`Shortcut: ${n.key}`}>
                {n.label}
                <kbd>{n.key}</kbd>
              </Link>
            ))}
          </nav>
        )}
        <div className="sidebar-foot">
          <div className="muted small" title={user.email}>
            {user.name || user.email}
          </div>
          <div className="row">
            <ThemeToggle />
            <button type="button" className="ghost" onClick={() => void client.logout().then(() => navigate("/login"))}>
              Sign out
            </button>
          </div>
          <button type="button" className="ghost small" onClick={() => setHelp(true)}>
            Keyboard shortcuts <kbd>?</kbd>
          </button>
        </div>
      </aside>
      <main id="main" tabIndex={-1}>
        {content}
      </main>
      {help && <Shortcuts onClose={() => setHelp(false)} />}
    </div>
  );
}

function rangeOnly(): string {
  const q = new URLSearchParams(location.search);
  const keep = new URLSearchParams();
  for (const k of ["range", "from", "to"]) {
    const v = q.get(k);
    if (v) keep.set(k, v);
  }
  return `?${keep}`;
}

function Shortcuts({ onClose }: { onClose: () => void }) {
  return (
    <div className="modal-back" onClick={onClose}>
      <div className="modal" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" onClick={(e) => e.stopPropagation()}>
        <h2>Keyboard shortcuts</h2>
        <table>
          <tbody>
            {NAV.map((n) => (
              <tr key={n.id}>
                <td>
                  <kbd>{n.key}</kbd>
                </td>
                <td>{n.label}</td>
              </tr>
            ))}
            <tr><td><kbd>/</kbd></td><td>Search sessions</td></tr>
            <tr><td><kbd>j</kbd> <kbd>k</kbd> <kbd>Enter</kbd></td><td>Move through and open sessions</td></tr>
            <tr><td><kbd>Space</kbd></td><td>Play / pause a replay</td></tr>
            <tr><td><kbd>←</kbd> <kbd>→</kbd></td><td>Seek 5 s</td></tr>
            <tr><td><kbd>1</kbd>–<kbd>4</kbd></td><td>Replay speed 1×, 2×, 4×, 8×</td></tr>
            <tr><td><kbd>t</kbd></td><td>Switch theme</td></tr>
          </tbody>
        </table>
        <button type="button" onClick={onClose} autoFocus>
          Close
        </button>
      </div>
    </div>
  );
}

function ProjectPage({ project, page, path, onChanged }: { project: Project; page: string; path: string; onChanged: () => void }) {
  const session = match("/p/:project/sessions/:id", path);
  if (session) {
    return (
      <Suspense fallback={<Loading label="Loading the player…" />}>
        <SessionPage project={project} sessionId={session.id!} />
      </Suspense>
    );
  }
  switch (page) {
    case "overview":
      return <Overview project={project} />;
    case "sessions":
      return <Sessions project={project} />;
    case "live":
      return <Live project={project} />;
    case "heatmaps":
      return (
        <Suspense fallback={<Loading />}>
          <Heatmaps project={project} />
        </Suspense>
      );
    case "funnels":
      return <Funnels project={project} />;
    case "insights":
      return <Insights project={project} />;
    case "errors":
      return <Errors project={project} />;
    case "alerts":
      return <Alerts project={project} />;
    case "settings":
      return <Settings project={project} onChanged={onChanged} />;
    default:
      return <ErrorBox error={new Error("No such page.")} />;
  }
}
