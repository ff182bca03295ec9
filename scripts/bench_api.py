#!/usr/bin/env python3
"""Fills ClickHouse with generated analytics for one project and measures the API against it.

    eval "$(bash scripts/services.sh env)"
    B=~/.cache/gosight/target/release/gosight
    $B migrate && echo 'bench-password-1' | $B user create --email bench@example.com --password-stdin --role admin
    $B api &
    python3 scripts/bench_api.py --events 10000000

It logs in, creates a project through the API, generates `--events` events in sessions of 20
(page views, clicks, scrolls, mouse moves, errors, web vitals) spread over the last 7 days, with
their session rows, inside ClickHouse (INSERT ... SELECT, so the materialized views fill too),
then times the sessions list (several filters and sorts) and the overview, and drives the
metadata endpoints at a fixed rate. It prints p50 / p95 / p99 per endpoint.
"""

import argparse
import json
import statistics
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

EVENTS_PER_SESSION = 20


def request(url, method="GET", body=None, token=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def clickhouse(url, database, sql):
    query = urllib.parse.urlencode({"database": database})
    req = urllib.request.Request(f"{url}/?{query}", data=sql.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=3600) as response:
        return response.read().decode()


def generate(args, project):
    sessions = args.events // EVENTS_PER_SESSION
    session_id = "toUUID(format('{}-0000-4000-8000-{}', leftPad(hex(toUInt32(s)), 8, '0'), leftPad(hex(toUInt64(s)), 12, '0')))"
    start = "(now64(3) - toIntervalSecond(cityHash64(s) % 604800))"
    paths = "['/', '/pricing', '/docs', '/blog', '/signup', '/checkout', '/account', '/search']"
    t0 = time.time()
    clickhouse(args.clickhouse, args.database, f"""
        INSERT INTO events (project_id, session_id, event_id, event_type, timestamp, received_at,
            sequence, user_id, anonymous_id, url, path, x, y, page_y, viewport_width,
            viewport_height, scroll_depth, target_tag, target_selector, target_text,
            error_message, error_type, error_fingerprint, metric_name, metric_value, payload,
            country_code, browser, browser_version, os, device_type)
        SELECT toUUID('{project}'), {session_id}, generateUUIDv4(number),
            ['page_view','click','click','click','scroll','scroll','mouse_move','mouse_move',
             'mouse_move','mouse_move','input_change','click','page_view','scroll','mouse_move',
             'click','web_vitals','click','mouse_move','js_error'][n + 1],
            {start} + toIntervalSecond(n * 3) AS ts, ts, n,
            if(s % 3 = 0, concat('user-', toString(s % 50000)), ''), toString(s),
            concat('https://shop.example.com', p), p,
            toInt32(cityHash64(number, 1) % 1280), toInt32(cityHash64(number, 2) % 800),
            toInt32(cityHash64(number, 3) % 4000), if(s % 4 = 0, 390, 1440), 800,
            toUInt8(cityHash64(number, 4) % 101), 'button',
            concat('#main > .cta-', toString(cityHash64(number, 5) % 40)), 'Buy now',
            if(n = 19, concat('TypeError: x is undefined #', toString(s % 30)), ''),
            if(n = 19, 'TypeError', ''), if(n = 19, s % 30, 0),
            if(n = 16, ['LCP','INP','CLS','FCP','TTFB'][s % 5 + 1], ''),
            if(n = 16, toFloat64(cityHash64(s) % 4000), 0), '{{}}',
            ['US','DE','FR','GB','IN','BR','JP','CA'][s % 8 + 1],
            ['Chrome','Firefox','Safari','Edge'][s % 4 + 1], '120', ['Windows','macOS','iOS','Android','Linux'][s % 5 + 1],
            if(s % 4 = 0, 'mobile', 'desktop')
        FROM (SELECT number, intDiv(number, {EVENTS_PER_SESSION}) AS s,
                     number % {EVENTS_PER_SESSION} AS n,
                     arrayElement({paths}, toUInt32(cityHash64(number, 9) % 8) + 1) AS p
              FROM numbers({sessions * EVENTS_PER_SESSION}))
    """)
    t1 = time.time()
    clickhouse(args.clickhouse, args.database, f"""
        INSERT INTO sessions (project_id, session_id, version, user_id, anonymous_id, started_at,
            ended_at, duration_ms, entry_url, entry_path, exit_path, page_count, event_count,
            click_count, error_count, max_scroll_depth, has_error, has_rage_click, has_dead_click,
            is_bounce, has_replay, country_code, browser, browser_version, os, device_type,
            viewport_width, viewport_height)
        SELECT toUUID('{project}'), {session_id}, 1,
            if(s % 3 = 0, concat('user-', toString(s % 50000)), ''), toString(s),
            {start} AS st, st + toIntervalSecond(57), 57000, 'https://shop.example.com/', '/',
            '/checkout', 2, {EVENTS_PER_SESSION}, 6, 1, toUInt8(s % 101), true, s % 7 = 0,
            s % 5 = 0, s % 10 = 0, true, ['US','DE','FR','GB','IN','BR','JP','CA'][s % 8 + 1],
            ['Chrome','Firefox','Safari','Edge'][s % 4 + 1], '120',
            ['Windows','macOS','iOS','Android','Linux'][s % 5 + 1], if(s % 4 = 0, 'mobile', 'desktop'),
            if(s % 4 = 0, 390, 1440), 800
        FROM (SELECT number AS s FROM numbers({sessions}))
    """)
    t2 = time.time()
    print(f"generated {sessions * EVENTS_PER_SESSION:,} events in {t1 - t0:.1f} s, "
          f"{sessions:,} sessions in {t2 - t1:.1f} s")


def percentiles(samples):
    samples = sorted(samples)
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
    return pick(0.5), pick(0.95), pick(0.99)


def timed(label, url, token, runs):
    request(url, token=token)  # warm
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        request(url, token=token)
        samples.append((time.perf_counter() - t) * 1000)
    p50, p95, p99 = percentiles(samples)
    print(f"| {label} | {runs} | {p50:.0f} | {p95:.0f} | {p99:.0f} |")


def fixed_rate(label, urls, token, rate, seconds):
    """Sends `rate` requests per second for `seconds`, latency from each scheduled send time."""
    samples, errors, lock = [], [0], threading.Lock()
    start = time.perf_counter() + 0.2

    def one(i):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            request(urls[i % len(urls)], token=token, timeout=10)
        except Exception:  # noqa: BLE001 - counted, reported below
            with lock:
                errors[0] += 1
        with lock:
            samples.append((time.perf_counter() - scheduled) * 1000)

    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(one, range(rate * seconds)))
    p50, p95, p99 = percentiles(samples)
    print(f"| {label} at {rate}/s for {seconds} s | {len(samples)} | {p50:.1f} | {p95:.1f} | {p99:.1f} | errors {errors[0]} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8082")
    parser.add_argument("--clickhouse", default="http://127.0.0.1:8123")
    parser.add_argument("--database", default="gosight")
    parser.add_argument("--email", default="bench@example.com")
    parser.add_argument("--password", default="bench-password-1")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--project", help="reuse a project filled before; skips generation")
    args = parser.parse_args()

    login = request(f"{args.api}/api/v1/auth/login", "POST",
                    {"email": args.email, "password": args.password})
    token = login["access_token"]
    project = args.project
    if not project:
        project = request(f"{args.api}/api/v1/projects", "POST",
                          {"name": f"bench {int(time.time())}"}, token)["id"]
        generate(args, project)
    print(f"project {project}")
    base = f"{args.api}/api/v1/projects/{project}"
    print("| endpoint | runs | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|")
    timed("sessions, newest first", f"{base}/sessions", token, args.runs)
    timed("sessions, has_error + country", f"{base}/sessions?has_error=true&country=DE", token, args.runs)
    timed("sessions, by duration", f"{base}/sessions?sort=duration", token, args.runs)
    timed("sessions, visited /pricing", f"{base}/sessions?path=/pricing", token, args.runs)
    first = request(f"{base}/sessions?limit=50", token=token)
    timed("sessions, second page", f"{base}/sessions?cursor={first['next_cursor']}", token, args.runs)
    timed("overview, 7 days", f"{base}/overview", token, args.runs)
    print()
    print("| metadata | requests | p50 ms | p95 ms | p99 ms | |")
    print("|---|---|---|---|---|---|")
    fixed_rate("projects list + project + members", [f"{args.api}/api/v1/projects", base, f"{base}/members"],
               token, args.rate, 10)


if __name__ == "__main__":
    main()
