"""Heroku single sign-on (PROTOCOL.md section 2).

`verify` is pure token maths: no I/O, so a forged or stale post is refused before the database is
touched. `sign_in` then records the token (one-time use), resolves the resource and the contact.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from app.errors import Forbidden
from app.storage import resources
from app.storage import sso as store
from app.storage.engine import Database
from app.storage.resources import Resource

WINDOW_SECONDS = 300
# Clocks differ a little between Heroku and us; a post from further in the future is refused.
FUTURE_SKEW_SECONDS = 60
# The form fields Heroku itself sends; anything else is an extra parameter (a deep link).
HEROKU_FIELDS = frozenset(
    {
        "id",
        "token",
        "resource_id",
        "resource_token",
        "user_scoped_resource_token",
        "timestamp",
        "nav-data",
        "email",
        "user_id",
        "app",
        "context_app",
    }
)
# nav-data goes into a cookie verbatim: only characters that need no quoting there.
_COOKIE_SAFE = re.compile(r"^[A-Za-z0-9!#$%&'()*+\-./:<=>?@\[\]^_`{|}~]*$")


@dataclass(frozen=True)
class Claims:
    """What a valid SSO post proves: who (resource) and when, plus the display fields."""

    heroku_uuid: str
    timestamp: int
    tokens: tuple[str, ...]  # every token in the post that validated (all are burnt on use)
    app: str
    email: str
    user_id: str
    nav_data: str | None  # None when absent or not safe to echo into a cookie
    extras: dict[str, str]

    @property
    def deep_link_issue(self) -> int | None:
        value = self.extras.get("issue", "")
        return int(value) if value.isdigit() and 0 < len(value) <= 18 else None


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - Heroku's protocol defines this token


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.strip().lower().encode(), expected.encode())


def expected_tokens(form: Mapping[str, str], salt: str, timestamp: str) -> list[tuple[str, str, str]]:
    """(field, resource uuid, expected token) for each token form the post carries."""
    found: list[tuple[str, str, str]] = []
    if form.get("token") and form.get("id"):
        found.append(("token", form["id"], _sha1(f"{form['id']}:{salt}:{timestamp}")))
    resource_id = form.get("resource_id", "")
    if form.get("resource_token") and resource_id:
        found.append(("resource_token", resource_id, _sha1(f"{resource_id}:{salt}:{timestamp}")))
    if form.get("user_scoped_resource_token") and resource_id:
        user_id, email = form.get("user_id", ""), form.get("email", "")
        expected = _sha256(f"{resource_id}:{salt}:{timestamp}:{user_id}:{email}")
        found.append(("user_scoped_resource_token", resource_id, expected))
    return found


def verify(form: Mapping[str, str], *, salt: str, now: int) -> Claims:
    """Check the time window and the tokens; raise Forbidden for any failure. Pure: no I/O."""
    raw_ts = form.get("timestamp", "").strip()
    if not raw_ts.isdigit() or len(raw_ts) > 12:
        raise Forbidden("sign-in refused: missing or malformed timestamp")
    timestamp = int(raw_ts)
    if now - timestamp > WINDOW_SECONDS:
        raise Forbidden("sign-in refused: the link has expired; open Tracebin from Heroku again")
    if timestamp - now > FUTURE_SKEW_SECONDS:
        raise Forbidden("sign-in refused: timestamp is in the future")
    valid: list[tuple[str, str]] = []
    # Every present token is compared (no early exit), in constant time.
    for field, uuid, expected in expected_tokens(form, salt, raw_ts):
        if _matches(form[field], expected):
            valid.append((uuid, expected))
    if not valid:
        raise Forbidden("sign-in refused: invalid token")
    nav_data = form.get("nav-data")
    return Claims(
        # The resource-scoped tokens come last and name the add-on by `resource_id`: they win.
        heroku_uuid=valid[-1][0],
        timestamp=timestamp,
        tokens=tuple(token for _, token in valid),
        app=(form.get("app") or form.get("context_app") or "")[:255],
        email=form.get("email", "")[:320],
        user_id=form.get("user_id", "")[:255],
        nav_data=nav_data if nav_data is not None and len(nav_data) <= 3000 and _COOKIE_SAFE.match(nav_data) else None,
        extras={key: value for key, value in form.items() if key not in HEROKU_FIELDS},
    )


async def sign_in(db: Database, claims: Claims, *, now: int) -> Resource:
    """Burn the tokens (a replay inside the window is refused), find the resource, note the contact."""
    # `token` and `resource_token` are the same value when `id` is the resource uuid: burn it once.
    token_hashes = list(dict.fromkeys(_sha256(token) for token in claims.tokens))
    expires_at = claims.timestamp + WINDOW_SECONDS + FUTURE_SKEW_SECONDS
    if not await store.burn_tokens(db, token_hashes=token_hashes, expires_at=expires_at, now=now):
        raise Forbidden("sign-in refused: this sign-in link was already used; open Tracebin from Heroku again")
    resource = await resources.get_by_uuid(db, heroku_uuid=claims.heroku_uuid)
    if resource is None or not resource.is_active:
        raise Forbidden("sign-in refused: no such add-on (it may have been removed)")
    if claims.email:
        # PROTOCOL.md section 1, "Ownership": a contact for notifications, never a login.
        await store.note_contact(db, resource_id=resource.id, email=claims.email, now=now)
    return resource
