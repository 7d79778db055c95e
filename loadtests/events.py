"""Event bodies for the load test, made by the real client library's event builder.

`tracebin.event_from_exception(exc)` (client_lib, contract 5) turns a real exception from
`loadtests.sample_app` into the native event. Building one costs far more than the load generator can
spend per request at thousands of req/s, so recurring events are built once into templates whose
event id and timestamp are spliced in per request (`Template.body`). New exceptions (a new issue on
the server) are built live each time, as a real app would.

Until the client library has `event_from_exception`, `fallback_event` builds the same format here.
"""

from __future__ import annotations

import gzip
import random
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from loadtests import sample_app

ID_MARK = "00000000000000000000000000ffffff"  # a 32-hex placeholder, replaced per request
TS_MARK = "__tracebin_loadtest_timestamp__"
MAX_BODY = 1024 * 1024  # the server's limit on one event (after decompression)

ENVIRONMENTS = ("production", "production", "production", "staging")
RELEASES = ("v41", "v42", "v42", "v43")


def _builder() -> tuple[Callable[..., dict[str, Any]], str]:
    try:
        from tracebin import event_from_exception
    except ImportError:
        return fallback_event, "loadtests.events.fallback_event (tracebin.event_from_exception not available)"
    return event_from_exception, "tracebin.event_from_exception"


def builder_name() -> str:
    return _builder()[1]


def build_event(exc: BaseException) -> dict[str, Any]:
    builder, _ = _builder()
    return builder(exc)


def fallback_event(exc: BaseException, **_: Any) -> dict[str, Any]:
    """The native event format (common brief, contract 1) for `exc`: chain root-cause first, frames caller first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    values = []
    for item in reversed(chain):
        frames = []
        for frame, lineno in traceback.walk_tb(item.__traceback__):
            code = frame.f_code
            summary = traceback.FrameSummary(code.co_filename, lineno, code.co_name)
            frames.append(
                {
                    "filename": code.co_filename.rsplit("/", 2)[-2] + "/" + code.co_filename.rsplit("/", 1)[-1],
                    "abs_path": code.co_filename,
                    "function": code.co_name,
                    "module": frame.f_globals.get("__name__", ""),
                    "lineno": lineno,
                    "colno": None,
                    "context_line": (summary.line or "").strip(),
                    "pre_context": [],
                    "post_context": [],
                    "in_app": "site-packages" not in code.co_filename,
                    "vars": {name: repr(value)[:200] for name, value in list(frame.f_locals.items())[:50]},
                }
            )
        values.append(
            {
                "type": type(item).__name__,
                "value": str(item),
                "module": type(item).__module__,
                "mechanism": {"type": "generic", "handled": True},
                "frames": frames,
            }
        )
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": time.time(),
        "level": "error",
        "platform": "python",
        "exception": values,
        "contexts": {"runtime": {"name": "CPython", "version": sys.version.split()[0]}},
        "sdk": {"name": "tracebin.loadtest", "version": "0.1.0"},
    }


def decorate(event: dict[str, Any], rng: random.Random, variant: int) -> dict[str, Any]:
    """What an app adds around the exception: request, user, tags, breadcrumbs, release."""
    event = dict(event)
    event.setdefault("environment", rng.choice(ENVIRONMENTS))
    event["release"] = event.get("release") or rng.choice(RELEASES)
    event["server_name"] = f"web.{rng.randint(1, 4)}"
    event["logger"] = event.get("logger") or "loadtest.views"
    event["tags"] = {**(event.get("tags") or {}), "region": rng.choice(["us", "eu"]), "variant": str(variant)}
    event["user"] = {"id": str(rng.randint(1, 5000)), "email": f"user{rng.randint(1, 5000)}@example.com"}
    event["request"] = {
        "method": rng.choice(["GET", "POST"]),
        "url": f"https://shop.example.com/orders/{rng.randint(1, 99999)}",
        "query_string": "page=2&sort=desc",
        "headers": {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)", "Accept": "text/html"},
    }
    event["breadcrumbs"] = [
        {
            "timestamp": time.time() - 5 + i,
            "type": "default",
            "category": "http",
            "level": "info",
            "message": f"GET /step/{i}",
            "data": {"status": 200},
        }
        for i in range(rng.randint(0, 6))
    ]
    return event


@dataclass(frozen=True)
class Template:
    """A serialised event with holes for the event id and timestamp."""

    head: bytes
    middle: bytes
    tail: bytes
    large: bool

    @classmethod
    def from_event(cls, event: dict[str, Any], *, large: bool = False) -> Template:
        event = {**event, "event_id": ID_MARK, "timestamp": TS_MARK}
        raw = orjson.dumps(event)
        head, rest = raw.split(ID_MARK.encode(), 1)
        middle, tail = rest.split(f'"{TS_MARK}"'.encode(), 1)
        return cls(head=head, middle=middle, tail=tail, large=large)

    def body(self, event_id: str, timestamp: float) -> bytes:
        return b"".join((self.head, event_id.encode(), self.middle, repr(round(timestamp, 3)).encode(), self.tail))

    @property
    def size(self) -> int:
        return len(self.head) + len(self.middle) + len(self.tail) + 48


def recurring_templates(rng: random.Random, variants: int = 6) -> list[Template]:
    """Every failure kind of the sample app times a few variants (different messages and request data)."""
    found = []
    for kind in sample_app.KINDS:
        for variant in range(variants):
            event = decorate(build_event(sample_app.raise_kind(kind, variant)), rng, variant)
            found.append(Template.from_event(event))
    return found


def large_templates(rng: random.Random, count: int = 4) -> list[Template]:
    """Large stacks with bulky locals (what the client keeps of them after its own limits)."""
    return [
        Template.from_event(decorate(build_event(sample_app.deep_failure(i, depth=25 + 10 * i)), rng, i), large=True)
        for i in range(count)
    ]


def new_issue_body(serial: int, rng: random.Random) -> tuple[str, bytes]:
    """A fresh exception class raised live and built by the client library: a new issue on the server."""
    event = decorate(build_event(sample_app.new_failure(serial)), rng, serial)
    event_id = uuid.uuid4().hex
    event["event_id"] = event_id
    event["timestamp"] = time.time()
    return event_id, orjson.dumps(event)


def oversized_body() -> bytes:
    """A well-formed event just over the 1 MiB limit: the server must answer 413."""
    event = {
        "event_id": uuid.uuid4().hex,
        "level": "error",
        "message": "oversized",
        "extra": {"blob": "x" * (MAX_BODY + 4096)},
    }
    return orjson.dumps(event)


def compressed_bomb_body() -> bytes:
    """A gzip body of a few KiB that inflates past 1 MiB: refused with 413, not inflated in memory."""
    event = {"event_id": uuid.uuid4().hex, "level": "error", "message": "bomb", "extra": {"blob": "0" * (4 * MAX_BODY)}}
    return gzip.compress(orjson.dumps(event), compresslevel=9)


def new_event_id() -> str:
    return uuid.uuid4().hex
