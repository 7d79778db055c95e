"""Sentry ingestion rules: which key, which project, what of an envelope is stored (PROTOCOL.md §3).

Events go through the same ingest service as native ones (validation, scrubbing, grouping, quota,
group commit), so a Sentry event and a native event of one exception land in one issue.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from app.context import AppContext
from app.errors import Forbidden, RateLimited, Unauthorized
from app.services import ingest, keys
from app.services.sentry_envelope import Envelope
from app.services.sentry_events import client_report_drops, to_native
from app.storage.resources import Resource


def key_from_auth_header(value: str) -> str:
    """`sentry_key` of `Sentry sentry_key=<key>, sentry_version=7, ...` ('' when absent)."""
    scheme, _, params = value.strip().partition(" ")
    if scheme.lower() != "sentry":
        return ""
    for param in params.split(","):
        name, _, key = param.strip().partition("=")
        if name.strip() == "sentry_key":
            return key.strip()
    return ""


def key_from_dsn(dsn: Any) -> str:
    """The public key (URL user part) of a DSN such as `https://<key>@host/<project>`."""
    if not isinstance(dsn, str):
        return ""
    try:
        return urlsplit(dsn).username or ""
    except ValueError:
        return ""


async def authorize(ctx: AppContext, key: str, project_number: int) -> Resource:
    """The resource of `key`, which must own `project_number` (401 bad key, 403 other project, as Sentry)."""
    if not key:
        raise Unauthorized("missing sentry_key: send X-Sentry-Auth, ?sentry_key= or a dsn in the envelope header")
    resource = await keys.authenticate(ctx, key)
    if resource.project_number != project_number:
        raise Forbidden(f"this key does not belong to project {project_number}")
    return resource


async def ingest_envelope(ctx: AppContext, resource: Resource, envelope: Envelope) -> str | None:
    """Store the envelope's events and count its client reports; the first event's id (None: no event).

    Every item is mapped before anything is stored: a malformed item refuses the whole envelope (400).
    Other item types (transactions, sessions, attachments, ...) are read and ignored.
    """
    # The header's event_id names the envelope's (first) event, for an event item that has none.
    header_id = envelope.headers.get("event_id")
    events = [
        to_native(item.json(), event_id=header_id if index == 0 else None)
        for index, item in enumerate(envelope.of_type("event"))
    ]
    drops = [drop for item in envelope.of_type("client_report") for drop in client_report_drops(item.json())]
    if drops:
        await ingest.record_client_drops(ctx, resource, drops)
    return await _store_all(ctx, resource, events)


async def ingest_store(ctx: AppContext, resource: Resource, event: Any) -> str | None:
    """The legacy store endpoint: one event JSON (transactions are accepted and ignored)."""
    if isinstance(event, dict) and event.get("type") == "transaction":
        return None
    return await _store_all(ctx, resource, [to_native(event)])


async def _store_all(ctx: AppContext, resource: Resource, events: list[dict[str, Any]]) -> str | None:
    """Each event through the native ingest path; over quota, the others still get their chance
    (the keep-one-per-issue rule may keep some) and the reply is the 429 so the SDK backs off."""
    ids: list[str] = []
    limited: RateLimited | None = None
    for event in events:
        try:
            ids.append(await ingest.ingest_event(ctx, resource, event))
        except RateLimited as exc:
            limited = limited or exc
    if limited is not None:
        raise limited
    return ids[0] if ids else None
