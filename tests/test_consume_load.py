"""The consume path under real concurrency: a real uvicorn server, and two server processes on one PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import http.client
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from app.settings import Settings
from app.storage.engine import Database
from tests.conftest import ADDON_PASSWORD, make_settings
from tests.support import db as dbsupport
from tests.support.server import live_server, server_process


def provision_over_http(base_url: str, plan: str = "pro") -> str:
    reply = httpx.post(
        f"{base_url}/heroku/resources",
        json={"uuid": str(uuid.uuid4()), "plan": plan},
        auth=("tracebin", ADDON_PASSWORD),
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    key = httpx.URL(reply.json()["config"]["TRACEBIN_URL"]).username
    assert key
    return key


def exception_body(kind: int, event_id: str | None = None) -> dict[str, Any]:
    frames = [
        {"filename": "app/jobs.py", "module": "app.jobs", "function": "run", "lineno": 10, "in_app": True},
        {
            "filename": f"app/kind{kind}.py",
            "module": f"app.kind{kind}",
            "function": f"handler_{kind}",
            "lineno": 42,
            "in_app": True,
        },
    ]
    body: dict[str, Any] = {
        "exception": [{"type": f"Error{kind}", "value": f"failed for id {uuid.uuid4()}", "frames": frames}],
        "environment": "production",
    }
    if event_id:
        body["event_id"] = event_id
    return body


def post_all(targets: list[tuple[str, dict[str, Any]]], key: str, connections: int) -> list[tuple[int, dict[str, Any]]]:
    """POST every (url, body) from `connections` threads, each with its own keep-alive connection.

    (http.client costs ~0.3 ms a request; an httpx AsyncClient here cost ~8 ms of CPU per request
    and became the bottleneck of the test.)
    """
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    local = threading.local()
    opened: list[http.client.HTTPConnection] = []

    def one(target: tuple[str, dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        url = urlsplit(target[0])
        conns: dict[str, http.client.HTTPConnection] = local.__dict__.setdefault("conns", {})
        conn = conns.get(url.netloc)
        if conn is None:
            conn = conns[url.netloc] = http.client.HTTPConnection(url.netloc, timeout=60)
            opened.append(conn)
        conn.request(
            "POST",
            url.path,
            body=orjson.dumps(target[1]),
            headers={"Authorization": auth, "Content-Type": "application/json"},
        )
        reply = conn.getresponse()
        return reply.status, orjson.loads(reply.read())

    try:
        with ThreadPoolExecutor(max_workers=connections) as pool:
            return list(pool.map(one, targets))
    finally:
        for conn in opened:
            conn.close()


async def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    db = Database(settings.database_url)
    await db.connect()
    try:
        async with db.connection() as conn:
            return [tuple(row._mapping.values()) for row in await conn.fetch_all(sql)]
    finally:
        await db.disconnect()


@pytest.mark.slow
def test_2000_concurrent_posts_are_all_stored_exactly(database_url: str) -> None:
    settings = make_settings(database_url)
    with live_server(settings) as base_url:
        key = provision_over_http(base_url)
        targets = [(f"{base_url}/exceptions", exception_body(i % 50)) for i in range(2000)]
        replies = post_all(targets, key, connections=50)
    statuses = Counter(status for status, _ in replies)
    assert statuses == {202: 2000}, statuses
    acknowledged = {body["id"] for _, body in replies}
    assert len(acknowledged) == 2000

    stored = {row[0] for row in asyncio.run(query(settings, "SELECT event_id FROM events"))}
    assert stored == acknowledged  # every 202 is in the database, nothing else is
    issues = asyncio.run(query(settings, "SELECT type, count FROM issues"))
    assert sorted(issues) == sorted((f"Error{k}", 40) for k in range(50))
    [(hourly,)] = asyncio.run(query(settings, "SELECT SUM(count) FROM issue_hourly"))
    [(usage,)] = asyncio.run(query(settings, "SELECT SUM(events) FROM usage_monthly"))
    assert (int(hourly), int(usage)) == (2000, 2000)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_processes_on_one_postgres_agree(postgres_url: str) -> None:
    dbsupport.truncate_postgres(postgres_url)
    settings = make_settings(postgres_url)
    with server_process(settings) as first, server_process(settings) as second:
        key = provision_over_http(first)
        # 20 new exceptions, 10 events each; every event goes to BOTH processes at once (a retry
        # landing on another dyno), so each process races the other on every issue and event id.
        events = [(kind, uuid.uuid4().hex) for kind in range(20) for _ in range(10)]
        targets = [
            (f"{base}/exceptions", exception_body(kind, event_id))
            for kind, event_id in events
            for base in (first, second)
        ]
        replies = post_all(targets, key, connections=50)
    assert Counter(status for status, _ in replies) == {202: 400}
    assert {body["id"] for _, body in replies} == {event_id for _, event_id in events}

    rows = asyncio.run(query(settings, "SELECT event_id FROM events"))
    assert len(rows) == 200 and len({row[0] for row in rows}) == 200
    issues = asyncio.run(query(settings, "SELECT type, count FROM issues"))
    assert sorted(issues) == sorted((f"Error{k}", 10) for k in range(20))
    [(hourly,)] = asyncio.run(query(settings, "SELECT SUM(count) FROM issue_hourly"))
    [(usage,)] = asyncio.run(query(settings, "SELECT SUM(events) FROM usage_monthly"))
    assert (int(hourly), int(usage)) == (200, 200)
