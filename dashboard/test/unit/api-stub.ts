// A fetch stand-in for page tests: answers by path, records every request.
import { vi } from "vitest";
import { client } from "../../src/api";

export type Answer = unknown | ((url: URL, init?: RequestInit) => Response | Promise<Response>);

export interface Stub {
  /** Every requested URL (path and query), in order. */
  calls: URL[];
  /** Requests whose path is `path`. */
  to(path: string): URL[];
}

/** Stubs fetch: `routes` maps a path (no query) to a JSON body or a function making the Response. */
export function stubApi(routes: Record<string, Answer>): Stub {
  const calls: URL[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://dash.test");
    calls.push(url);
    if (url.pathname === "/api/v1/auth/login")
      return Response.json({ access_token: "access", token_type: "Bearer", expires_in: 900, refresh_token: "refresh", user: { id: "u1", email: "me@example.com", name: "Me", role: "admin" } });
    const answer = routes[url.pathname];
    if (answer === undefined) return Response.json({ error: `no stub for ${url.pathname}` }, { status: 404 });
    if (typeof answer === "function") return (answer as (u: URL, i?: RequestInit) => Response)(url, init);
    return Response.json(answer);
  });
  vi.stubGlobal("fetch", fetch);
  return { calls, to: (path) => calls.filter((u) => u.pathname === path) };
}

/** Stubs fetch with `routes` and signs the shared client in against it. */
export async function signedIn(routes: Record<string, Answer>): Promise<Stub> {
  const stub = stubApi(routes);
  await client.login("me@example.com", "pw");
  return stub;
}
