"""Provisioning rules: create, re-plan and deprovision Heroku resources (PROTOCOL.md section 1)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from app.errors import NotFound, Unprocessable
from app.plans import get_plan
from app.settings import Settings
from app.storage import resources as store
from app.storage.engine import Database
from app.storage.resources import Resource

CONFIG_VAR = "TRACEBIN_URL"


@dataclass(frozen=True)
class Provisioned:
    resource: Resource
    config: dict[str, str]
    message: str


def hash_key(key: str) -> str:
    """What is stored of an API key: its sha256 (keys are 128 random bits, so no slow hash is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def derive_key(settings: Settings, salt: str) -> str:
    """The API key of a resource: HMAC of its random salt under the server secret.

    Only the salt and the key's hash are stored, yet a retried provision can answer with the same
    key: Heroku delivers at least once and every retry must get the same TRACEBIN_URL.
    """
    mac = hmac.new(settings.session_secret.encode(), b"tracebin-api-key:" + salt.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def tracebin_url(settings: Settings, key: str, project_number: int) -> str:
    parts = urlsplit(settings.public_url)
    return f"{parts.scheme}://{key}@{parts.netloc}/{project_number}"


def config_for(settings: Settings, resource: Resource) -> dict[str, str]:
    assert resource.key_salt is not None
    return {CONFIG_VAR: tracebin_url(settings, derive_key(settings, resource.key_salt), resource.project_number)}


def _require_str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Unprocessable(f"'{name}' is required and must be a non-empty string", field=name)
    return value.strip()


def _optional_str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Unprocessable(f"'{name}' must be a string", field=name)
    return value


def _known_plan(name: str) -> str:
    if get_plan(name) is None:
        raise Unprocessable(f"unknown plan '{name}'", field="plan")
    return name


async def provision(db: Database, settings: Settings, body: Mapping[str, Any]) -> Provisioned:
    """Create the resource for a provision request (v1 or v3 body); a retry gets the same answer."""
    heroku_uuid = _require_str(body, "uuid")
    plan = _known_plan(_require_str(body, "plan"))
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise Unprocessable("'options' must be an object", field="options")
    # v3 names the app in `name`; v1 only has `heroku_id` (app123@heroku.com).
    app_name = _optional_str(body, "name") or _optional_str(body, "heroku_id")
    salt = secrets.token_hex(16)
    resource = await store.insert_if_absent(
        db,
        heroku_uuid=heroku_uuid,
        plan=plan,
        region=_optional_str(body, "region"),
        app_name=app_name[:255],
        callback_url=_optional_str(body, "callback_url"),
        options=orjson.dumps(options).decode(),
        key_salt=salt,
        key_hash=hash_key(derive_key(settings, salt)),
        now=int(time.time()),
    )
    if not resource.is_active:
        raise Unprocessable(f"resource {heroku_uuid} was deprovisioned", field="uuid")
    return Provisioned(
        resource=resource,
        config=config_for(settings, resource),
        message=f"Tracebin is ready on the {resource.plan} plan: your app reports to it through TRACEBIN_URL.",
    )


async def change_plan(db: Database, settings: Settings, heroku_uuid: str, body: Mapping[str, Any]) -> Provisioned:
    plan = _known_plan(_require_str(body, "plan"))
    resource = await store.set_plan(db, heroku_uuid=heroku_uuid, plan=plan, now=int(time.time()))
    if resource is None:
        raise NotFound(f"no resource {heroku_uuid}")
    return Provisioned(
        resource=resource,
        config=config_for(settings, resource),
        message=f"Tracebin is now on the {plan} plan; its limits apply at once.",
    )


async def deprovision(db: Database, heroku_uuid: str) -> Resource | None:
    """Revoke the key at once; the caller purges the data (`purge`). Repeats are harmless."""
    return await store.mark_deprovisioned(db, heroku_uuid=heroku_uuid, now=int(time.time()))


async def purge(db: Database, resource: Resource) -> None:
    await store.purge_resource_data(db, resource_id=resource.id)


async def purge_leftovers(db: Database) -> int:
    """Finish purges a restart interrupted; returns how many resources it cleaned."""
    ids = await store.deprovisioned_with_data(db)
    for resource_id in ids:
        await store.purge_resource_data(db, resource_id=resource_id)
    return len(ids)
