// The API client: bearer tokens, refresh on expiry, typed routes.
//
// The access token lives in memory only. The refresh token is kept in localStorage so a reload
// stays signed in; it rotates on every use, so refreshes are serialised across tabs with a Web
// Lock and each tab re-reads the newest refresh token inside it.

export interface User {
  id: string;
  email: string;
  name: string;
  role: "admin" | "user";
}

export interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  user: User;
}

export type Role = "viewer" | "member" | "admin" | "owner";

export interface ReplaySettings {
  mode?: "always" | "on_error" | "off";
  sampling?: number;
  viewers_can_watch?: boolean;
}

export interface ProjectSettings {
  insights?: Record<string, number>;
  replay?: ReplaySettings;
  retention?: { events_days?: number; replay_days?: number };
  [key: string]: unknown;
}

export interface Project {
  id: string;
  name: string;
  slug: string;
  allowed_domains: string[];
  settings: ProjectSettings;
  role: Role;
  created_at: string;
}

export interface SessionSummary {
  session_id: string;
  user_id: string;
  anonymous_id: string;
  started_ms: number;
  ended_ms: number;
  started_at: string;
  ended_at: string;
  duration_ms: number;
  is_active: boolean;
  entry_url: string;
  entry_path: string;
  exit_path: string;
  referrer: string;
  page_count: number;
  event_count: number;
  click_count: number;
  error_count: number;
  max_scroll_depth: number;
  has_error: boolean;
  has_rage_click: boolean;
  has_dead_click: boolean;
  is_bounce: boolean;
  has_replay: boolean;
  country_code: string;
  city: string;
  browser: string;
  browser_version: string;
  os: string;
  device_type: string;
  viewport_width: number;
  viewport_height: number;
  utm_source: string;
  utm_medium: string;
  utm_campaign: string;
}

export interface SessionList {
  sessions: SessionSummary[];
  next_cursor: string | null;
}

/** Where and when something happened in a session: an event or an insight. */
interface SessionMoment {
  type: string;
  timestamp: string;
  timestamp_ms: number;
  url: string;
  path: string;
  x: number;
  y: number;
  selector: string;
}

export interface TimelineEvent extends SessionMoment {
  event_id: string;
  text: string;
  error_message: string;
  metric_name: string;
  metric_value: number;
  payload: unknown;
}

export interface SessionInsight extends SessionMoment {
  insight_id: string;
  details: unknown;
}

export interface SessionDetail {
  session: SessionSummary;
  events: TimelineEvent[];
  events_truncated: boolean;
  insights: SessionInsight[];
}

export interface Count {
  key: string;
  count: number;
}

export interface Overview {
  range: { from: string; to: string; bucket_seconds: number };
  sessions: number;
  users: number;
  page_views: number;
  bounce_rate: number;
  avg_duration_ms: number;
  errors: number;
  error_session_rate: number;
  rage_clicks: number;
  dead_clicks: number;
  rage_click_session_rate: number;
  dead_click_session_rate: number;
  web_vitals: { name: string; p75: number; samples: number }[];
  top_pages: Count[];
  referrers: Count[];
  countries: Count[];
  devices: Count[];
  browsers: Count[];
  /** One point per bucket with data; every counter of the range, per bucket. */
  series: { at: string; sessions: number; page_views: number; errors: number; rage_clicks?: number; dead_clicks?: number }[];
}

export interface Heatmap {
  path: string;
  device: string;
  grid: { columns: number; row_px: number; cells: { grid_x: number; grid_y: number; clicks: number }[] };
  scroll_depth: { depth: number; sessions: number }[];
  elements: { selector: string; text: string; clicks: number; sessions: number }[];
}

export interface InsightGroup {
  type: string;
  path: string;
  selector: string;
  count: number;
  sessions: number;
  last_seen: string;
  example_sessions: string[];
}

export interface ErrorGroup {
  fingerprint: string;
  type: string;
  message: string;
  stack: string;
  count: number;
  sessions: number;
  first_seen: string;
  last_seen: string;
  example_sessions: string[];
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  permissions: string[];
  rate_limit: number;
  rate_burst: number;
  active: boolean;
  expires_at: string | null;
  created_at: string;
  revoked_at: string | null;
}

export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: Role;
}

export interface AlertCondition {
  metric: string;
  op: string;
  threshold: number;
  window_s: number;
  path?: string;
}

export type AlertChannel = { type: "telegram"; chat_id: string } | { type: "webhook"; url: string };

export interface AlertRule {
  id: string;
  name: string;
  enabled: boolean;
  condition: AlertCondition;
  channels: AlertChannel[];
  cooldown_seconds: number;
  created_at: string;
  updated_at: string;
  last_triggered_at: string | null;
}

/** One alert sent: the rule, the measured value, the evidence and each channel's delivery. */
export interface AlertEvent {
  id: number;
  rule_id: string;
  rule_name: string;
  triggered_at: string;
  value: number;
  details: Record<string, unknown>;
  deliveries: Record<string, string>;
}

export interface AlertHistoryPage {
  history: AlertEvent[];
  next_cursor: number | null;
}

export interface AlertRuleInput {
  name: string;
  enabled: boolean;
  condition: AlertCondition;
  channels: AlertChannel[];
  cooldown_seconds: number;
}

/** An error the API answered (`{error, field}`), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

const REFRESH_KEY = "gosight.refresh_token";

type Listener = (user: User | null) => void;

export class Client {
  private access = "";
  private accessExpires = 0;
  private refreshing: Promise<boolean> | null = null;
  user: User | null = null;
  private listeners = new Set<Listener>();

  constructor(
    private base = "",
    private storage: Storage | undefined = globalThis.localStorage,
  ) {}

  onUser(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private setTokens(t: TokenResponse): void {
    this.access = t.access_token;
    this.accessExpires = Date.now() + t.expires_in * 1000;
    this.storage?.setItem(REFRESH_KEY, t.refresh_token);
    this.setUser(t.user);
  }

  private setUser(user: User | null): void {
    this.user = user;
    for (const l of this.listeners) l(user);
  }

  private clear(): void {
    this.access = "";
    this.accessExpires = 0;
    this.storage?.removeItem(REFRESH_KEY);
    this.setUser(null);
  }

  hasRefreshToken(): boolean {
    return !!this.storage?.getItem(REFRESH_KEY);
  }

  async login(email: string, password: string): Promise<User> {
    const t = await this.raw<TokenResponse>("POST", "/api/v1/auth/login", { email, password }, false);
    this.setTokens(t);
    return t.user;
  }

  async needsSetup(): Promise<boolean> {
    const r = await this.raw<{ needs_setup: boolean }>("GET", "/api/v1/auth/setup", undefined, false);
    return r.needs_setup;
  }

  async setup(email: string, password: string, name: string): Promise<User> {
    const t = await this.raw<TokenResponse>("POST", "/api/v1/auth/setup", { email, password, name }, false);
    this.setTokens(t);
    return t.user;
  }

  async logout(): Promise<void> {
    const refresh_token = this.storage?.getItem(REFRESH_KEY);
    this.clear();
    if (refresh_token) await this.raw("POST", "/api/v1/auth/logout", { refresh_token }, false).catch(() => undefined);
  }

  /** Signs in from the stored refresh token; false when there is none or it is no longer valid. */
  async resume(): Promise<boolean> {
    if (!this.hasRefreshToken()) return false;
    return this.refresh();
  }

  /** A fresh access token, refreshing when it expires within 30 s. */
  async token(): Promise<string> {
    if (!this.access || Date.now() > this.accessExpires - 30_000) {
      if (!(await this.refresh())) throw new ApiError(401, "signed out");
    }
    return this.access;
  }

  private refresh(): Promise<boolean> {
    this.refreshing ??= this.withLock(async () => {
      const refresh_token = this.storage?.getItem(REFRESH_KEY);
      if (!refresh_token) return false;
      try {
        this.setTokens(await this.raw<TokenResponse>("POST", "/api/v1/auth/refresh", { refresh_token }, false));
        return true;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) this.clear();
        else throw e;
        return false;
      }
    }).finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private withLock<T>(f: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    return locks ? (locks.request("gosight-refresh", f) as Promise<T>) : f();
  }

  private async raw<T>(method: string, path: string, body?: unknown, auth = true, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (auth) headers.authorization = `Bearer ${await this.token()}`;
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (e) {
      if ((e as Error).name === "AbortError") throw e;
      throw new ApiError(0, "the API cannot be reached");
    }
    if (!res.ok) {
      let message = res.statusText || `HTTP ${res.status}`;
      let field: string | undefined;
      try {
        const j = (await res.json()) as { error?: string; field?: string };
        if (j.error) message = j.error;
        field = j.field;
      } catch {
        /* not JSON */
      }
      throw new ApiError(res.status, message, field);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** An authenticated request; an expired access token is refreshed once and the request retried. */
  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    try {
      return await this.raw<T>(method, path, body, true, signal);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401 && this.hasRefreshToken()) {
        this.access = "";
        return this.raw<T>(method, path, body, true, signal);
      }
      if (e instanceof ApiError && e.status === 401) this.clear();
      throw e;
    }
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, undefined, signal);
  }

  /** A streaming GET (the replay's NDJSON). */
  async stream(path: string, signal?: AbortSignal): Promise<Response> {
    const go = async () => fetch(this.base + path, { headers: { authorization: `Bearer ${await this.token()}` }, signal });
    let res = await go();
    if (res.status === 401) {
      this.access = "";
      res = await go();
    }
    if (!res.ok) {
      let message = `HTTP ${res.status}`;
      try {
        message = ((await res.json()) as { error?: string }).error ?? message;
      } catch {
        /* not JSON */
      }
      throw new ApiError(res.status, message);
    }
    return res;
  }

  /** The live WebSocket's URL, with a current access token. */
  async liveUrl(projectId: string): Promise<string> {
    const token = await this.token();
    const origin = this.base || location.origin;
    const url = new URL(`/api/v1/projects/${projectId}/live`, origin);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("access_token", token);
    return url.toString();
  }
}

export const client = new Client();

export const qs = (params: Record<string, string | number | boolean | undefined | null>): string => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : "";
};

export type FunnelStepKind = "page" | "event";

export interface Funnel {
  from: string;
  to: string;
  steps: { type: FunnelStepKind; value: string; sessions: number; conversion: number; from_previous: number }[];
}

export const projectPath = (projectId: string, rest = "") => `/api/v1/projects/${projectId}${rest}`;

/** Whether the user may change the project's settings, keys and members, and delete its data. */
export const canManage = (p: Pick<Project, "role">) => p.role === "admin" || p.role === "owner";
