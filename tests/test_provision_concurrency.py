"""At-least-once delivery under concurrency: 20 simultaneous provisions of one uuid, real uvicorn."""

from __future__ import annotations

import threading
import uuid

import httpx

from app.settings import Settings
from tests.conftest import partner_auth
from tests.support import query
from tests.support.server import live_server

CALLERS = 20


def test_concurrent_provisions_of_one_uuid_create_one_resource(settings: Settings) -> None:
    heroku_uuid = str(uuid.uuid4())
    body = {"uuid": heroku_uuid, "plan": "basic", "region": "amazon-web-services::us-east-1"}
    barrier = threading.Barrier(CALLERS)
    replies: list[httpx.Response] = []
    lock = threading.Lock()

    with live_server(settings) as base_url:

        def call() -> None:
            with httpx.Client(base_url=base_url, timeout=30) as http:
                http.get("/health")  # connect before the barrier, so the posts race for real
                barrier.wait()
                reply = http.post("/heroku/resources", json=body, headers=partner_auth())
            with lock:
                replies.append(reply)

        threads = [threading.Thread(target=call) for _ in range(CALLERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert len(replies) == CALLERS
    assert {reply.status_code for reply in replies} == {200}
    assert len({reply.text for reply in replies}) == 1
    assert replies[0].json()["id"] == heroku_uuid
    assert (
        query.value(settings.database_url, "SELECT COUNT(*) FROM resources WHERE heroku_uuid = :u", u=heroku_uuid) == 1
    )
