"""Helpers for the SSO and dashboard tests: Heroku-style SSO forms and stored events.

`sso_form` builds exactly what Heroku's dashboard posts; `sign_in` posts it through a test client.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from typing import Any

from starlette.testclient import TestClient

SALT = "test-sso-salt-0123456789abcdef"  # conftest.SSO_SALT


def sso_form(
    heroku_uuid: str,
    *,
    salt: str = SALT,
    timestamp: int | None = None,
    forms: tuple[str, ...] = ("token", "resource_token", "user_scoped_resource_token"),
    email: str = "dev@example.com",
    user_id: str = "user-123",
    app: str = "acme-app",
    **extra: str,
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    form = {
        "id": heroku_uuid,
        "resource_id": heroku_uuid,
        "timestamp": ts,
        "nav-data": "eyJhZGRvbiI6InRyYWNlYmluIn0=",
        "email": email,
        "user_id": user_id,
        "app": app,
        "context_app": app,
        **extra,
    }
    if "token" in forms:
        form["token"] = hashlib.sha1(f"{heroku_uuid}:{salt}:{ts}".encode()).hexdigest()
    if "resource_token" in forms:
        form["resource_token"] = hashlib.sha1(f"{heroku_uuid}:{salt}:{ts}".encode()).hexdigest()
    if "user_scoped_resource_token" in forms:
        text = f"{heroku_uuid}:{salt}:{ts}:{user_id}:{email}"
        form["user_scoped_resource_token"] = hashlib.sha256(text.encode()).hexdigest()
    return form


_sign_ins = itertools.count()


def sign_in(client: TestClient, heroku_uuid: str, **kwargs: Any) -> None:
    """SSO as Heroku would; each call uses a distinct second so no post looks like a replay of another."""
    if kwargs.get("timestamp") is None:
        kwargs["timestamp"] = int(time.time()) - next(_sign_ins) % 200
    reply = client.post("/sso/login", data=sso_form(heroku_uuid, **kwargs), follow_redirects=False)
    assert reply.status_code == 303, reply.text
