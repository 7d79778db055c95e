"""Helpers for the operations tests: a real SMTP server, SSO sign-in, operator sign-in."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from starlette.testclient import TestClient

from app.services import operators
from app.settings import Settings
from app.storage.engine import Database
from tests.conftest import SSO_SALT
from tests.support.server import free_port

_sso_offsets = itertools.count()
OPERATOR = "opsadmin"
OPERATOR_PASSWORD = "correct horse battery staple"


class _Handler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.messages.append(message)
        return "250 OK"


class SmtpSink:
    """A real SMTP server (aiosmtpd) on a free port that keeps what it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _Handler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m["X-Envelope-To"]]

    def wait_for(self, predicate: Callable[[list[EmailMessage]], bool], timeout: float = 20.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages
            if predicate(found):
                return found
            time.sleep(0.05)
        raise AssertionError(f"mail did not arrive; got {[m['Subject'] for m in self.messages]}")


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.controller.start()
    try:
        yield sink
    finally:
        sink.controller.stop()


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sso_login(client: TestClient, heroku_uuid: str, email_address: str, app: str = "acme-app") -> None:
    """Sign in the way Heroku does (POST /sso/login); records the address as a contact."""
    # Each sign-in needs a fresh token (replay protection): step the timestamp back a second each time.
    timestamp = str(int(time.time()) - next(_sso_offsets))
    token = hashlib.sha1(f"{heroku_uuid}:{SSO_SALT}:{timestamp}".encode()).hexdigest()
    form = {
        "id": heroku_uuid,
        "token": token,
        "timestamp": timestamp,
        "email": email_address,
        "app": app,
        "nav-data": "x",
    }
    reply = client.post("/sso/login", data=form, follow_redirects=False)
    assert reply.status_code in (302, 303), reply.text


def create_operator(settings: Settings, username: str = OPERATOR, password: str = OPERATOR_PASSWORD) -> None:
    async def run() -> None:
        db = Database(settings.database_url)
        await db.connect()
        try:
            await operators.create_operator(db, username=username, password=password)
        finally:
            await db.disconnect()

    asyncio.run(run())


def console_login(client: TestClient, username: str = OPERATOR, password: str = OPERATOR_PASSWORD) -> Any:
    token = csrf_of(client.get("/admin/login").text)
    return client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def console_post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    """POST a console form with the session's CSRF token (read from the console's overview page)."""
    token = csrf_of(client.get("/admin").text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
