"""Dashboard page speed: seed 1,000,000 events over 10,000 issues, then time list and detail pages.

    .venv/bin/python -m loadtests.dashboard_bench                       # SQLite (a file under var/bench/)
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/tracebin_bench .venv/bin/python -m loadtests.dashboard_bench

Runs `tracebin-server serve` as its own process, signs in through a real SSO post, then requests
each page kind one after another (latency, not throughput) and prints p50/p95/max in milliseconds.
`--reuse` skips seeding when the database already holds the bench resource.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

from app.seed import release_at, seed_demo
from app.services import provisioning
from app.settings import Settings, normalize_database_url
from app.storage import migrate, resources
from app.storage.engine import Database
from app.storage.tables import issues

BENCH_UUID = "dashboard-bench"
ROOT = Path(__file__).resolve().parent.parent


def _settings(database_url: str, port: int) -> Settings:
    return Settings(
        database_url=database_url,
        public_url=f"http://127.0.0.1:{port}",
        addon_password=secrets.token_hex(16),
        sso_salt=secrets.token_hex(16),
        session_secret=secrets.token_hex(16),
    )


async def _prepare(settings: Settings, n_issues: int, n_events: int, reuse: bool) -> tuple[int, list[int]]:
    db = Database(settings.database_url)
    await db.connect()
    try:
        found = await resources.get_by_uuid(db, heroku_uuid=BENCH_UUID)
        if found is None or not reuse:
            if found is not None:
                raise SystemExit("the database already holds the bench resource: pass --reuse, or use a fresh database")
            body = {"uuid": BENCH_UUID, "plan": "pro", "name": "bench-app"}
            found = (await provisioning.provision(db, settings, body)).resource
            started = time.perf_counter()
            await seed_demo(db, resource_id=found.id, n_issues=n_issues, n_events=n_events, seed=7)
            print(f"seeded {n_issues:,} issues / {n_events:,} events in {time.perf_counter() - started:.1f} s")
        async with db.connection() as conn:
            rows = await conn.fetch_all(
                sa.select(issues.c.id).where(issues.c.resource_id == found.id).order_by(issues.c.count.desc())
            )
        return found.id, [int(row[0]) for row in rows]
    finally:
        await db.disconnect()


def _serve(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "TRACEBIN_PUBLIC_URL": settings.public_url,
        "ADDON_PASSWORD": settings.addon_password,
        "SSO_SALT": settings.sso_salt,
        "SESSION_SECRET": settings.session_secret,
        "TRACEBIN_DEV": "1",  # plain http on 127.0.0.1
    }
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(command, env=env, cwd=ROOT)


def _wait_up(client: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("server did not come up")


def _sign_in(client: httpx.Client, salt: str) -> None:
    ts = str(int(time.time()))
    token = hashlib.sha1(f"{BENCH_UUID}:{salt}:{ts}".encode()).hexdigest()
    reply = client.post("/sso/login", data={"id": BENCH_UUID, "token": token, "timestamp": ts, "app": "bench-app"})
    assert reply.status_code == 200 and "Issues" in reply.text, reply.status_code


def _time(client: httpx.Client, paths: Callable[[int], str], count: int) -> list[float]:
    timings = []
    for index in range(count):
        started = time.perf_counter()
        reply = client.get(paths(index), headers={"Accept": "text/html"})
        timings.append((time.perf_counter() - started) * 1000)
        assert reply.status_code == 200, (paths(index), reply.status_code)
    return timings


def _report(name: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(
        f"{name:<34} n={len(ordered):<4} p50={statistics.median(ordered):7.1f} ms  p95={p95:7.1f} ms  max={ordered[-1]:7.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100, help="requests per page kind")
    parser.add_argument("--reuse", action="store_true", help="use the already seeded bench resource")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args(argv)
    if not args.port:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            args.port = int(sock.getsockname()[1])
    default_db = f"sqlite:///{ROOT / 'var' / 'bench' / 'dashboard.sqlite3'}"
    database_url = normalize_database_url(os.environ.get("DATABASE_URL") or default_db, ROOT)
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    settings = _settings(database_url, args.port)
    migrate.upgrade(database_url)
    _, issue_ids = asyncio.run(_prepare(settings, args.issues, args.events, args.reuse))
    print(f"database: {database_url.split('://', 1)[0]}, {len(issue_ids):,} issues in the bench resource")
    server = _serve(settings, args.port)
    rng = random.Random(1)
    try:
        with httpx.Client(base_url=settings.public_url, follow_redirects=True, timeout=30) as client:
            _wait_up(client)
            _sign_in(client, settings.sso_salt)
            next_page = client.get("/dashboard", headers={"Accept": "application/json"}).json()["next"]
            n = args.requests
            _time(client, lambda i: "/dashboard", 10)  # warm-up
            _report("list (default: unresolved)", _time(client, lambda i: "/dashboard", n))
            _report("list sort=count", _time(client, lambda i: "/dashboard?sort=count", n))
            _report(
                "list sort=first_seen status=all", _time(client, lambda i: "/dashboard?status=all&sort=first_seen", n)
            )
            _report("list page 2 (keyset)", _time(client, lambda i: next_page, n))
            _report("list level=warning", _time(client, lambda i: "/dashboard?level=warning", n))
            _report("list environment=staging", _time(client, lambda i: "/dashboard?environment=staging", n))
            release = release_at(time.time())
            _report(
                f"list release={release} sort=count",
                _time(client, lambda i: f"/dashboard?release={release}&sort=count", n),
            )
            _report("list search q=KeyError", _time(client, lambda i: "/dashboard?q=KeyError", n))
            _report("detail (busiest issue)", _time(client, lambda i: f"/dashboard/issues/{issue_ids[0]}", n))
            picks = [rng.choice(issue_ids) for _ in range(n)]
            _report("detail (random issues)", _time(client, lambda i: f"/dashboard/issues/{picks[i]}", n))
            _report("events (busiest issue)", _time(client, lambda i: f"/dashboard/issues/{issue_ids[0]}/events", n))
            _report("usage", _time(client, lambda i: "/dashboard/usage", n))
    finally:
        server.terminate()
        server.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
