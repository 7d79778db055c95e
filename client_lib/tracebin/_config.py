"""Options: one table of defaults, environment fallbacks, and the parsed TRACEBIN_URL."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tracebin._guard import logger

BeforeSend = Callable[[dict[str, Any]], "dict[str, Any] | None"]

# name -> default. An option not in this table is a TypeError at init().
DEFAULTS: dict[str, Any] = {
    "url": None,  # TRACEBIN_URL
    "environment": None,  # TRACEBIN_ENVIRONMENT, else "production"
    "release": None,  # HEROKU_RELEASE_VERSION / HEROKU_SLUG_COMMIT / SOURCE_VERSION
    "server_name": None,  # DYNO, else the host name
    "sample_rate": 1.0,
    "before_send": None,
    "ignore_exceptions": (),
    "include_locals": True,
    "scrub": True,
    "scrub_keys": (),
    "in_app_include": (),
    "in_app_exclude": (),
    "max_breadcrumbs": 100,
    "tags": None,
    "queue_size": 1000,
    "spool_dir": None,  # <tmp>/tracebin-spool/<digest of the URL>
    "spool_max_bytes": 20 * 1024 * 1024,
    "shutdown_timeout": 10.0,
    "timeout": 5.0,
    "handle_sigterm": True,
    "default_integrations": True,
}

RELEASE_VARS = ("HEROKU_RELEASE_VERSION", "HEROKU_SLUG_COMMIT", "SOURCE_VERSION")


class InvalidURL(ValueError):
    """TRACEBIN_URL is not https://<key>@<host>/<project_number>."""


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int | None
    prefix: str  # path before /<project_number>, usually ""
    key: str
    project: int

    @property
    def authorization(self) -> str:
        """What any HTTP client sends for https://<key>@host/...: Basic auth with the key as user."""
        return "Basic " + base64.b64encode(f"{self.key}:".encode()).decode()

    def path(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    @property
    def digest(self) -> str:
        identity = f"{self.scheme}://{self.key}@{self.host}:{self.port}{self.prefix}/{self.project}"
        return hashlib.sha256(identity.encode()).hexdigest()[:16]


def parse_url(url: str) -> Endpoint:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise InvalidURL("the scheme must be https (or http)")
    if not parts.username:
        raise InvalidURL("the key is missing (expected https://<key>@<host>/<project_number>)")
    if not parts.hostname:
        raise InvalidURL("the host is missing")
    try:
        port = parts.port
    except ValueError:
        raise InvalidURL("the port is not a number") from None
    prefix, _, number = parts.path.rstrip("/").rpartition("/")
    if not number.isdigit() or int(number) <= 0:
        raise InvalidURL("the path must end with the project number")
    return Endpoint(parts.scheme, parts.hostname, port, prefix, parts.username, int(number))


def _default_release(env: Mapping[str, str]) -> str | None:
    for name in RELEASE_VARS:
        if env.get(name):
            return env[name]
    return None


@dataclass(frozen=True)
class Config:
    endpoint: Endpoint | None
    environment: str
    release: str | None
    server_name: str
    sample_rate: float
    before_send: BeforeSend | None
    ignore_exceptions: tuple[type[BaseException], ...]
    include_locals: bool
    scrub: bool
    scrub_keys: tuple[str, ...]
    in_app_include: tuple[str, ...]
    in_app_exclude: tuple[str, ...]
    max_breadcrumbs: int
    tags: dict[str, str] = field(default_factory=dict)
    queue_size: int = 1000
    spool_dir: str = ""
    spool_max_bytes: int = 0
    shutdown_timeout: float = 10.0
    timeout: float = 5.0
    handle_sigterm: bool = True
    default_integrations: bool = True


def _number(name: str, value: Any, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"tracebin option {name!r} must be a number")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"tracebin option {name!r} must be {bound}, not {value!r}")
    return float(value)


def _names(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"tracebin option {name!r} must be a list of strings")
    return tuple(value)


def _exception_types(value: Any) -> tuple[type[BaseException], ...]:
    items = (value,) if isinstance(value, type) else tuple(value)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise TypeError(f"tracebin option 'ignore_exceptions' must list exception classes, not {item!r}")
    return items


def _resolve_endpoint(url: str | None) -> Endpoint | None:
    if not url:
        return None
    try:
        return parse_url(url)
    except InvalidURL as exc:
        # A bad config var must not take the app down: say so once and stay disabled.
        logger.warning("tracebin: TRACEBIN_URL is malformed (%s); the client is disabled", exc)
        return None


def build_config(options: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Config:
    """Check `options` against DEFAULTS (unknown name → TypeError) and fill in environment defaults."""
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"unknown tracebin option(s): {', '.join(unknown)}")
    env = os.environ if env is None else env
    o = {**DEFAULTS, **options}
    before_send = o["before_send"]
    if before_send is not None and not callable(before_send):
        raise TypeError("tracebin option 'before_send' must be callable")
    tags = o["tags"] or {}
    if not isinstance(tags, Mapping):
        raise TypeError("tracebin option 'tags' must be a mapping")
    endpoint = _resolve_endpoint(o["url"] if o["url"] is not None else env.get("TRACEBIN_URL"))
    spool_dir = o["spool_dir"] or os.path.join(
        tempfile.gettempdir(), "tracebin-spool", endpoint.digest if endpoint else "none"
    )
    return Config(
        endpoint=endpoint,
        environment=str(o["environment"] or env.get("TRACEBIN_ENVIRONMENT") or "production"),
        release=o["release"] or _default_release(env),
        server_name=str(o["server_name"] or env.get("DYNO") or socket.gethostname()),
        sample_rate=_number("sample_rate", o["sample_rate"], 0.0, 1.0),
        before_send=before_send,
        ignore_exceptions=_exception_types(o["ignore_exceptions"]),
        include_locals=bool(o["include_locals"]),
        scrub=bool(o["scrub"]),
        scrub_keys=tuple(key.lower() for key in _names("scrub_keys", o["scrub_keys"])),
        in_app_include=_names("in_app_include", o["in_app_include"]),
        in_app_exclude=_names("in_app_exclude", o["in_app_exclude"]),
        max_breadcrumbs=int(_number("max_breadcrumbs", o["max_breadcrumbs"], 0, 1000)),
        tags={str(k): str(v) for k, v in tags.items()},
        queue_size=int(_number("queue_size", o["queue_size"], 1)),
        spool_dir=str(spool_dir),
        spool_max_bytes=int(_number("spool_max_bytes", o["spool_max_bytes"], 0)),
        shutdown_timeout=_number("shutdown_timeout", o["shutdown_timeout"], 0.0, 30.0),
        timeout=_number("timeout", o["timeout"], 0.1),
        handle_sigterm=bool(o["handle_sigterm"]),
        default_integrations=bool(o["default_integrations"]),
    )
