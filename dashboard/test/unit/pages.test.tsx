import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Overview as OverviewData, Project, SessionSummary } from "../../src/api";
import { rememberKey } from "../../src/components/SdkSnippet";
import { Alerts } from "../../src/pages/Alerts";
import { Errors } from "../../src/pages/Errors";
import { Funnels, funnelQuery, stepsFrom } from "../../src/pages/Funnels";
import { Login } from "../../src/pages/Login";
import { Overview } from "../../src/pages/Overview";
import { Sessions } from "../../src/pages/Sessions";
import { ErasureCard } from "../../src/pages/Settings";
import { signedIn, stubApi } from "./api-stub";

const project: Project = { id: "p1", name: "Shop", slug: "shop", allowed_domains: [], settings: {}, role: "owner", created_at: "2026-01-01T00:00:00Z" };

const overview = (sessions: number): OverviewData => ({
  range: { from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z", bucket_seconds: 3600 },
  sessions,
  users: sessions,
  page_views: sessions * 3,
  bounce_rate: 0.25,
  avg_duration_ms: 65_000,
  errors: 2,
  error_session_rate: 0.5,
  rage_clicks: 4,
  dead_clicks: 1,
  rage_click_session_rate: 0.25,
  dead_click_session_rate: 0.25,
  web_vitals: [{ name: "LCP", p75: 3_100, samples: 12 }],
  top_pages: [{ key: "/pricing", count: 9 }],
  referrers: [],
  countries: [{ key: "DE", count: 4 }],
  devices: [],
  browsers: [],
  series: [{ at: "2026-01-01T05:00:00Z", sessions, page_views: sessions * 3, errors: 2 }],
});

const session = (id: string, extra: Partial<SessionSummary> = {}): SessionSummary =>
  ({ session_id: id, user_id: "", anonymous_id: "anon-123456789", started_ms: 1_767_225_600_000, duration_ms: 65_000, entry_path: "/", exit_path: "/cart", entry_url: "https://shop.test/", page_count: 2, event_count: 9, device_type: "desktop", browser: "Firefox", os: "Linux", country_code: "DE", city: "", has_error: false, has_rage_click: false, has_dead_click: false, is_active: false, has_replay: true, error_count: 0, ...extra }) as SessionSummary;

describe("overview page", () => {
  it("shows loading, then the counters, the chart and the top lists", async () => {
    await signedIn({ "/api/v1/projects/p1/overview": overview(4) });
    render(<Overview project={project} />);
    expect(screen.getByRole("status").textContent).toContain("Loading");
    const sessions = await screen.findByText("Sessions", { selector: ".stat-label" });
    expect(sessions.nextElementSibling!.textContent).toBe("4");
    expect(screen.getByText("1m 5s")).toBeTruthy();
    expect(screen.getByRole("img", { name: "Sessions and page views over time" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "/pricing" }).getAttribute("href")).toBe("/p/p1/sessions?path=%2Fpricing");
    expect(screen.getByText("LCP").closest("li")!.className).toBe("vital-fair");
  });

  it("an error offers a retry that asks again", async () => {
    let calls = 0;
    await signedIn({
      "/api/v1/projects/p1/overview": () => (++calls === 1 ? Response.json({ error: "clickhouse unreachable" }, { status: 503 }) : Response.json(overview(1))),
    });
    render(<Overview project={project} />);
    expect((await screen.findByRole("alert")).textContent).toContain("clickhouse unreachable");
    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    await screen.findByText("Users");
    expect(calls).toBe(2);
  });

  it("with no sessions shows the SDK snippet with the project's key", async () => {
    rememberKey("p1", "gs_remembered_key");
    await signedIn({ "/api/v1/projects/p1/overview": overview(0), "/api/v1/projects/p1/keys": { keys: [] } });
    render(<Overview project={project} />);
    expect((await screen.findByTestId("sdk-snippet")).textContent).toContain('projectKey: "gs_remembered_key"');
    expect(screen.getByText("No sessions in this range")).toBeTruthy();
  });
});

describe("sessions page", () => {
  it("shows one browser's sessions from the URL, with a chip that removes the filter", async () => {
    history.pushState(null, "", "/p/p1/sessions?anonymous_id=anon-123456789");
    const stub = await signedIn({ "/api/v1/projects/p1/sessions": { sessions: [session("s1")], next_cursor: null } });
    render(<Sessions project={project} />);
    await waitFor(() => expect(document.querySelectorAll("tr[data-session]").length).toBe(1));
    expect(stub.to("/api/v1/projects/p1/sessions")[0]!.searchParams.get("anonymous_id")).toBe("anon-123456789");
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Remove browser id filter" })));
    expect(location.search).not.toContain("anonymous_id");
    await waitFor(() => expect(stub.to("/api/v1/projects/p1/sessions").at(-1)!.searchParams.get("anonymous_id")).toBeNull());
  });

  it("filters become the list's query string, and the URL's", async () => {
    const stub = await signedIn({
      "/api/v1/projects/p1/sessions": (url: URL) => Response.json({ sessions: url.searchParams.get("has_error") ? [session("s-err", { has_error: true, error_count: 3 })] : [session("s1"), session("s-err", { has_error: true })], next_cursor: null }),
    });
    render(<Sessions project={project} />);
    await waitFor(() => expect(document.querySelectorAll("tr[data-session]").length).toBe(2));
    const first = stub.to("/api/v1/projects/p1/sessions")[0]!;
    expect(first.searchParams.get("sort")).toBe("started_at");
    expect(first.searchParams.get("order")).toBe("desc");
    expect(first.searchParams.get("limit")).toBe("50");

    await act(async () => fireEvent.click(screen.getByLabelText("Errors")));
    await waitFor(() => expect(document.querySelectorAll("tr[data-session]").length).toBe(1));
    expect(stub.to("/api/v1/projects/p1/sessions").at(-1)!.searchParams.get("has_error")).toBe("true");
    expect(location.search).toContain("has_error=true");

    fireEvent.change(screen.getByLabelText("URL contains"), { target: { value: "checkout" } });
    fireEvent.change(screen.getByLabelText("Minimum duration in seconds"), { target: { value: "30" } });
    await act(async () => fireEvent.submit(screen.getByRole("form", { name: "Filter sessions" })));
    const last = stub.to("/api/v1/projects/p1/sessions").at(-1)!;
    expect(last.searchParams.get("url")).toBe("checkout");
    expect(last.searchParams.get("min_duration_ms")).toBe("30000");
    expect(last.searchParams.get("has_error")).toBe("true");

    await act(async () => fireEvent.click(screen.getByRole("button", { name: /Duration/ })));
    const sorted = stub.to("/api/v1/projects/p1/sessions").at(-1)!;
    expect([sorted.searchParams.get("sort"), sorted.searchParams.get("order")]).toEqual(["duration", "desc"]);
  });

  it("no match offers to clear the filters", async () => {
    history.replaceState(null, "", "/p/p1/sessions?country=FR");
    await signedIn({ "/api/v1/projects/p1/sessions": { sessions: [], next_cursor: null } });
    render(<Sessions project={project} />);
    await screen.findByText("No sessions match these filters");
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Clear filters" })));
    expect(location.search).not.toContain("country");
  });
});

describe("sign-in page", () => {
  /** Answers the first set-up question only when `release` is called, later ones at once. */
  function slowSetupStatus(needsSetup: boolean) {
    let release = () => {};
    let calls = 0;
    const stub = stubApi({
      "/api/v1/auth/setup": () => {
        const answer = Response.json({ needs_setup: needsSetup });
        return ++calls === 1 ? new Promise<Response>((r) => (release = () => r(answer))) : answer;
      },
    });
    return { stub, release: () => release() };
  }

  const fill = (label: string, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } });

  it("signs in when sent before the server said whether an account exists", async () => {
    const { stub, release } = slowSetupStatus(false);
    render(<Login />);
    fill("Email", "me@example.com");
    fill("Password", "correct horse");
    const button = screen.getByRole("button", { name: "Sign in" }) as HTMLButtonElement;
    expect(button.disabled).toBe(false);
    await act(async () => fireEvent.click(button));
    await waitFor(() => expect(stub.to("/api/v1/auth/login")).toHaveLength(1));
    expect(stub.to("/api/v1/auth/setup")).toHaveLength(2);
    release();
  });

  it("sent before the status is known on a new install, turns into the first admin's form", async () => {
    const { stub, release } = slowSetupStatus(true);
    render(<Login />);
    fill("Email", "me@example.com");
    fill("Password", "correct horse");
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Sign in" })));
    expect(await screen.findByRole("heading", { name: "Create the first admin" })).toBeTruthy();
    expect(screen.getByLabelText("Name")).toBeTruthy();
    expect(stub.to("/api/v1/auth/login")).toHaveLength(0);
    expect(stub.to("/api/v1/auth/setup")).toHaveLength(2);
    release();
  });
});

describe("errors page", () => {
  it("lists groups with counts and links to sample sessions", async () => {
    await signedIn({
      "/api/v1/projects/p1/errors": { errors: [{ fingerprint: "42", type: "js_error", message: "x is undefined", stack: "at pay (app.js:1:2)", count: 7, sessions: 3, first_seen: "2026-01-01T00:00:00Z", last_seen: "2026-01-01T01:00:00Z", example_sessions: ["0a1b2c3d-0000-0000-0000-000000000000"] }] },
    });
    render(<Errors project={project} />);
    const group = (await screen.findByText("x is undefined")).closest("li")!;
    expect(group.textContent).toContain("7 times in 3 sessions");
    expect(group.querySelector("a[href='/p/p1/sessions/0a1b2c3d-0000-0000-0000-000000000000']")!.textContent).toBe("0a1b2c3d");
  });
});

describe("alerts page", () => {
  const rule = { id: "r1", name: "Errors spike", enabled: true, condition: { metric: "error_session_rate", op: ">", threshold: 0.1, window_s: 300 }, channels: [{ type: "webhook", url: "https://hooks.test/x" }], cooldown_seconds: 900, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", last_triggered_at: "2026-01-01T02:00:00Z" };
  const sent = (id: number, value: number, deliveries: Record<string, string>) => ({ id, rule_id: "r1", rule_name: "Errors spike", triggered_at: "2026-01-01T02:00:00Z", value, details: {}, deliveries });

  it("lists alerts sent with their values and deliveries, and pages to older ones", async () => {
    const stub = await signedIn({
      "/api/v1/projects/p1/alerts": { rules: [rule] },
      "/api/v1/projects/p1/alerts/history": (url: URL) =>
        Response.json(
          url.searchParams.get("cursor") === "7"
            ? { history: [sent(3, 0.2, { webhook: "delivered" })], next_cursor: null }
            : { history: [sent(9, 0.125, { webhook: "failed: 502" }), sent(7, 0.5, { webhook: "delivered" })], next_cursor: 7 },
        ),
    });
    render(<Alerts project={project} />);
    const failed = await screen.findByText("webhook: failed: 502");
    expect(failed.closest("tr")!.textContent).toContain("12.5%");
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Older alerts" })));
    expect(await screen.findByText("20%")).toBeTruthy();
    expect(stub.to("/api/v1/projects/p1/alerts/history").map((u) => u.searchParams.get("cursor"))).toEqual([null, "7"]);
    expect(screen.queryByRole("button", { name: "Older alerts" })).toBeNull();
  });

  it("says when no alert has been sent", async () => {
    await signedIn({
      "/api/v1/projects/p1/alerts": { rules: [] },
      "/api/v1/projects/p1/alerts/history": { history: [], next_cursor: null },
    });
    render(<Alerts project={project} />);
    expect(await screen.findByText("No alert has been sent yet.")).toBeTruthy();
  });
});

describe("erasure card", () => {
  it("erases by the chosen id after a confirmation, and says how many sessions went", async () => {
    const bodies: unknown[] = [];
    await signedIn({
      "/api/v1/projects/p1/erasure": (_url: URL, init?: RequestInit) => {
        bodies.push(JSON.parse(String(init?.body)));
        return Response.json({ sessions_erased: 3 });
      },
    });
    const answers = [false, true];
    vi.stubGlobal("confirm", vi.fn(() => answers.shift()));
    render(<ErasureCard project={project} />);
    fireEvent.change(screen.getByLabelText("Identify them by"), { target: { value: "anonymous_id" } });
    fireEvent.change(screen.getByLabelText("Id to erase"), { target: { value: " anon-42 " } });
    // Declined: nothing is sent.
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Erase" })));
    expect(bodies).toEqual([]);
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Erase" })));
    expect((await screen.findByRole("status")).textContent).toBe("Erased 3 sessions of anon-42.");
    expect(bodies).toEqual([{ anonymous_id: "anon-42" }]);
    expect((screen.getByLabelText("Id to erase") as HTMLInputElement).value).toBe("");
  });
});

describe("funnels page", () => {
  const step = (type: "page" | "event", value: string, sessions: number, conversion: number, from_previous: number) => ({ type, value, sessions, conversion, from_previous });

  it("reads and writes its steps in the URL", () => {
    const q = new URLSearchParams("range=30d&step=page%3A%2F&step=bogus&step=event%3Asign%3Aup");
    expect(stepsFrom(q)).toEqual([
      { kind: "page", value: "/" },
      { kind: "event", value: "sign:up" },
    ]);
    expect(funnelQuery(q, [{ kind: "page", value: " /a " }, { kind: "page", value: "/docs/*" }])).toBe("range=30d&step=page%3A%2Fa&step=page%3A%2Fdocs%2F*");
  });

  it("asks for the URL's steps, shows each step's sessions, and sends edited steps", async () => {
    history.pushState(null, "", "/p/p1/funnels?step=page%3A%2F&step=event%3Asignup");
    const stub = await signedIn({
      "/api/v1/projects/p1/funnel": (url: URL) =>
        Response.json({
          from: "2026-01-01T00:00:00Z",
          to: "2026-01-08T00:00:00Z",
          steps: url.searchParams.getAll("step").length === 2 ? [step("page", "/", 40, 1, 1), step("event", "signup", 10, 0.25, 0.25)] : [step("page", "/", 40, 1, 1), step("event", "signup", 10, 0.25, 0.25), step("page", "/pricing", 4, 0.1, 0.4)],
        }),
    });
    render(<Funnels project={project} />);
    const chart = await screen.findByTestId("funnel");
    expect(chart.textContent).toContain("10 sessions · 25% · 25% of step 1");
    expect(screen.getByRole("link", { name: "/" }).getAttribute("href")).toBe("/p/p1/sessions?path=%2F");
    expect(stub.to("/api/v1/projects/p1/funnel")[0]!.searchParams.getAll("step")).toEqual(["page:/", "event:signup"]);

    fireEvent.click(screen.getByRole("button", { name: "+ Step" }));
    fireEvent.change(screen.getByLabelText("Step 3"), { target: { value: "pricing" } });
    expect((screen.getByRole("button", { name: "Show funnel" }) as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByText("a path starts with /")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Step 3"), { target: { value: "/pricing" } });
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Show funnel" })));
    expect(new URLSearchParams(location.search).getAll("step")).toEqual(["page:/", "event:signup", "page:/pricing"]);
    await waitFor(() => expect(screen.getByTestId("funnel").textContent).toContain("4 sessions · 10% · 40% of step 2"));
  });
});
