"""Sentry events mapped to native events: payloads the real sentry-sdk produced, and hand-written ones
in the shapes other SDKs (JavaScript, Ruby, legacy store clients) send."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from app.errors import BadRequest
from app.services.sentry_events import client_report_drops, format_params, parse_timestamp, to_native


class CapturingTransport(Transport):
    """Keeps what the SDK would send, so the test sees the exact payload of this SDK version."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)


@pytest.fixture
def capture() -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """Run a function under a fresh sentry-sdk client; return the events it produced."""

    def run(action: Callable[[], None], **options: Any) -> list[dict[str, Any]]:
        transport = CapturingTransport()
        sentry_sdk.init(
            dsn="https://public@tracebin.test/1",
            transport=transport,
            auto_enabling_integrations=False,
            **options,
        )
        try:
            action()
            sentry_sdk.flush()
        finally:
            sentry_sdk.get_client().close()
            sentry_sdk.init()  # back to a disabled client: nothing leaks into other tests
        items = [item for env in transport.envelopes for item in env.items if item.type == "event"]
        return [item.payload.json for item in items if item.payload.json is not None]

    yield run


def _raise_chained() -> None:
    def parse(text: str) -> int:
        token = {"password": "hunter2", "text": text}
        return int(token["text"])

    try:
        parse("abc")
    except ValueError as exc:
        raise RuntimeError("could not load settings") from exc


def _capture_chained() -> None:
    try:
        _raise_chained()
    except RuntimeError as exc:
        sentry_sdk.capture_exception(exc)


def test_sdk_exception_with_locals(capture: Callable[..., list[dict[str, Any]]]) -> None:
    sentry_event = capture(
        _capture_chained, include_local_variables=True, release="v42", environment="staging", server_name="web.1"
    )[0]
    event = to_native(sentry_event)
    assert event["event_id"] == sentry_event["event_id"]
    assert event["level"] == "error"
    assert event["platform"] == "python"
    assert (event["release"], event["environment"], event["server_name"]) == ("v42", "staging", "web.1")
    assert [exc["type"] for exc in event["exception"]] == ["ValueError", "RuntimeError"]  # root cause first
    root, raised = event["exception"]
    assert raised["value"] == "could not load settings"
    assert raised["mechanism"]["handled"] is True
    crashing = root["frames"][-1]  # the crashing frame last
    assert crashing["function"] == "parse"
    assert crashing["context_line"].strip() == 'return int(token["text"])'
    assert crashing["pre_context"] and crashing["post_context"]
    assert crashing["filename"].endswith("test_sentry_events.py")
    assert crashing["module"] == "tests.test_sentry_events"
    assert crashing["in_app"] is True
    assert isinstance(crashing["lineno"], int)
    assert crashing["vars"]["text"] == "'abc'"
    assert "token" in crashing["vars"]
    assert [frame["function"] for frame in raised["frames"]] == ["_capture_chained", "_raise_chained"]
    assert event["sdk"]["name"].startswith("sentry.python")
    assert event["contexts"]["runtime"]["name"] == "CPython"
    assert isinstance(event["timestamp"], float)
    assert abs(event["timestamp"] - datetime.now(UTC).timestamp()) < 3600


def test_sdk_exception_without_locals(capture: Callable[..., list[dict[str, Any]]]) -> None:
    event = to_native(capture(_capture_chained, include_local_variables=False)[0])
    assert all(frame["vars"] == {} for exc in event["exception"] for frame in exc["frames"])
    assert event["exception"][0]["frames"][-1]["context_line"]


def test_sdk_standard_library_frames_are_not_in_app(capture: Callable[..., list[dict[str, Any]]]) -> None:
    def action() -> None:
        try:
            json.loads("{broken")
        except ValueError as exc:
            sentry_sdk.capture_exception(exc)

    sentry_event = capture(action)[0]
    frames = to_native(sentry_event)["exception"][-1]["frames"]
    library = [frame for frame in frames if frame["module"].startswith("json")]
    assert library, "the stack should reach into the json module"
    # sentry-python leaves in_app unset there (outside its project root); the mapping decides.
    raw = sentry_event["exception"]["values"][-1]["stacktrace"]["frames"]
    assert all(frame.get("in_app") is None for frame in raw if frame["module"].startswith("json"))
    assert all(frame["in_app"] is False for frame in library)
    assert frames[0]["in_app"] is True


def test_sdk_message_with_scope_data(capture: Callable[..., list[dict[str, Any]]]) -> None:
    def action() -> None:
        sentry_sdk.set_tag("tenant", "acme")
        sentry_sdk.set_user({"id": 7, "email": "ann@example.com"})
        sentry_sdk.add_breadcrumb(category="auth", message="signed in", level="info", data={"via": "sso"})
        sentry_sdk.capture_message("cache miss storm", level="warning", fingerprint=["{{ default }}", "cache"])

    event = to_native(capture(action)[0])
    assert event["message"] == "cache miss storm"
    assert event["level"] == "warning"
    assert "exception" not in event
    assert event["tags"]["tenant"] == "acme"
    assert event["user"] == {"id": "7", "email": "ann@example.com"}
    crumb = event["breadcrumbs"][-1]
    assert (crumb["category"], crumb["message"], crumb["level"], crumb["data"]) == (
        "auth",
        "signed in",
        "info",
        {"via": "sso"},
    )
    assert isinstance(crumb["timestamp"], float)
    assert event["fingerprint"] == ["{{ default }}", "cache"]


def test_sdk_logging_integration(capture: Callable[..., list[dict[str, Any]]]) -> None:
    def action() -> None:
        logging.getLogger("shop.checkout").error("payment failed for order %s", 1042)

    event = to_native(capture(action)[0])
    assert event["logger"] == "shop.checkout"
    assert event["message"] == "payment failed for order 1042"
    assert event["level"] == "error"


# What @sentry/browser and @sentry/node send: no module, columns, frames without in_app for libraries.
JAVASCRIPT_EVENT: dict[str, Any] = {
    "event_id": "0f7a2b8c-5d4e-4f1a-9b3c-2e1d0c9b8a7f",
    "timestamp": 1763800000.25,
    "platform": "javascript",
    "level": "error",
    "exception": {
        "values": [
            {
                "type": "TypeError",
                "value": "Cannot read properties of undefined (reading 'id')",
                "mechanism": {"type": "onunhandledrejection", "handled": False},
                "stacktrace": {
                    "frames": [
                        {
                            "filename": "/app/node_modules/express/lib/router/layer.js",
                            "function": "Layer.handle [as handle_request]",
                            "lineno": 95,
                            "colno": 5,
                        },
                        {
                            "filename": "/app/src/routes/users.js",
                            "function": "show",
                            "lineno": 12,
                            "colno": 30,
                            "context_line": "  res.json(user.id);",
                        },
                    ]
                },
            }
        ]
    },
    "request": {
        "method": "GET",
        "url": "https://shop.example.com/users/12?x=1",
        "query_string": [["x", "1"]],
        "headers": [["Accept", "application/json"]],
        "cookies": "session=abc; theme=dark",
    },
    "tags": [["runtime", "node"], ["region", "eu"]],
    "breadcrumbs": [{"timestamp": "2025-11-22T08:00:00.123Z", "category": "console", "message": "hi", "level": "log"}],
    "transaction": "GET /users/:id",
    "sdk": {"name": "sentry.javascript.node", "version": "8.40.0", "integrations": ["Http"]},
}


def test_javascript_shaped_event() -> None:
    event = to_native(JAVASCRIPT_EVENT)
    assert event["event_id"] == "0f7a2b8c5d4e4f1a9b3c2e1d0c9b8a7f"
    assert event["timestamp"] == 1763800000.25
    library, app_frame = event["exception"][0]["frames"]
    assert library["in_app"] is False  # node_modules, inferred when the SDK did not say
    assert app_frame["in_app"] is True
    assert app_frame["abs_path"] == "/app/src/routes/users.js"
    assert app_frame["colno"] == 30
    assert event["exception"][0]["mechanism"] == {"type": "onunhandledrejection", "handled": False}
    assert event["request"]["query_string"] == "x=1"
    assert event["request"]["headers"] == {"Accept": "application/json"}
    assert event["request"]["cookies"] == {"session": "abc", "theme": "dark"}
    assert event["tags"] == {"runtime": "node", "region": "eu", "transaction": "GET /users/:id"}
    assert event["breadcrumbs"][0]["level"] == "info"
    assert event["breadcrumbs"][0]["timestamp"] == datetime(2025, 11, 22, 8, 0, 0, 123000, tzinfo=UTC).timestamp()
    assert event["sdk"] == {"name": "sentry.javascript.node", "version": "8.40.0"}


def test_exception_as_a_bare_list_and_as_one_object() -> None:
    value = {"type": "KeyError", "value": "'id'", "stacktrace": {"frames": [{"function": "f", "lineno": 1}]}}
    from_list = to_native({"exception": [value]})
    from_object = to_native({"exception": value})
    assert from_list["exception"] == from_object["exception"]
    assert from_list["exception"][0]["frames"][0]["function"] == "f"


def test_ruby_shaped_event_with_legacy_message_object() -> None:
    event = to_native(
        {
            "level": "fatal",
            "platform": "ruby",
            "message": {"message": "User %s not found in %s", "params": ["ann", "db"]},
            "timestamp": "2025-11-22T08:00:00+01:00",
            "user": {"id": 5, "ip_address": "{{auto}}", "segment": "vip"},
            "fingerprint": ["{{default}}", 42, None],
            "exception": {
                "values": [
                    {
                        "type": "ActiveRecord::RecordNotFound",
                        "value": "Couldn't find User",
                        "stacktrace": {
                            "frames": [
                                {"abs_path": "/app/vendor/bundle/ruby/3.3.0/gems/ar/lib/x.rb", "function": "find"},
                                {"abs_path": "/app/app/models/user.rb", "function": "load", "in_app": True},
                            ]
                        },
                    }
                ]
            },
        }
    )
    assert event["message"] == "User ann not found in db"
    assert event["level"] == "fatal"
    assert event["timestamp"] == datetime(2025, 11, 22, 7, 0, tzinfo=UTC).timestamp()
    assert event["user"] == {"id": "5", "ip_address": "{{auto}}"}
    assert event["fingerprint"] == ["{{ default }}", "42"]
    gem, model = event["exception"][0]["frames"]
    assert gem["filename"] == gem["abs_path"]  # filename falls back to abs_path
    assert (gem["in_app"], model["in_app"]) == (False, True)


def test_logentry_wins_over_message_and_formatted_wins_over_params() -> None:
    assert (
        to_native({"logentry": {"formatted": "done", "message": "x %s", "params": [1]}, "message": "m"})["message"]
        == "done"
    )
    assert to_native({"logentry": {"message": "x %s of %d", "params": ["a", 2]}})["message"] == "x a of 2"
    assert to_native({"logentry": {"message": "plain"}, "message": "ignored"})["message"] == "plain"
    assert to_native({"message": "just text"})["message"] == "just text"


def test_format_params_is_bounded_and_never_raises() -> None:
    assert format_params("%999999999s and %s", ["a"]) == "%999999999s and a"
    assert format_params("%(user)s did %(what)s", {"user": "ann"}) == "ann did %(what)s"
    assert format_params("{} then {0} then {5}", ["a"]) == "a then a then {5}"
    assert format_params("100%% of %s", ["b", "extra"]) == "100% of b"
    assert format_params("%s %s", ["only"]) == "only %s"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1763800000.5, 1763800000.5),
        (1763800000, 1763800000.0),
        ("1763800000.5", 1763800000.5),
        ("2025-11-22T08:00:00Z", datetime(2025, 11, 22, 8, tzinfo=UTC).timestamp()),
        ("2025-11-22T08:00:00.5", datetime(2025, 11, 22, 8, 0, 0, 500000, tzinfo=UTC).timestamp()),
        ("2025-11-22T10:00:00+02:00", datetime(2025, 11, 22, 8, tzinfo=UTC).timestamp()),
        ("yesterday", None),
        (None, None),
        (True, None),
        (-5, None),
        (1763800000123, None),  # milliseconds
        ("nan", None),
        ("9999-12-31T23:59:59Z", None),
    ],
)
def test_timestamps(value: Any, expected: float | None) -> None:
    assert parse_timestamp(value) == expected


def test_an_unparseable_timestamp_is_left_to_the_server() -> None:
    assert "timestamp" not in to_native({"message": "m", "timestamp": "soon"})


def test_levels_ids_and_header_event_id() -> None:
    assert to_native({"level": "warn"})["level"] == "warning"
    assert to_native({"level": "critical"})["level"] == "fatal"
    assert to_native({"level": "bogus"})["level"] == "error"
    assert to_native({})["level"] == "error"
    header_id = "ab" * 16
    assert to_native({}, event_id=header_id)["event_id"] == header_id
    assert to_native({"event_id": "cd" * 16}, event_id=header_id)["event_id"] == "cd" * 16
    assert "event_id" not in to_native({"event_id": "not-hex"})


def test_tags_as_dict_with_non_string_values() -> None:
    assert to_native({"tags": {"n": 3, "ok": True, "gone": None}})["tags"] == {"n": "3", "ok": "true"}


def test_nothing_is_invented_for_absent_fields() -> None:
    assert to_native({"message": "m"}) == {"level": "error", "message": "m"}


def test_an_event_without_message_or_exception_is_unlabeled() -> None:
    assert to_native({})["message"] == "<unlabeled event>"
    assert to_native({"exception": {"values": []}, "logentry": {"message": ""}})["message"] == "<unlabeled event>"
    assert "message" not in to_native({"exception": [{"type": "E"}]})


@pytest.mark.parametrize("event", [[], "text", 3])
def test_an_event_that_is_not_an_object_is_refused(event: Any) -> None:
    with pytest.raises(BadRequest, match="JSON object"):
        to_native(event)


def test_an_exception_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(BadRequest) as caught:
        to_native({"exception": "boom"})
    assert caught.value.field == "exception"


def test_client_report_counts_only_event_drops() -> None:
    report = {
        "timestamp": 1763800000,
        "discarded_events": [
            {"reason": "queue_overflow", "category": "error", "quantity": 3},
            {"reason": "sample_rate", "category": "transaction", "quantity": 50},
            {"reason": "before_send", "category": "default", "quantity": 1},
            {"reason": "network_error", "category": "error", "quantity": 0},
            {"reason": "bad", "category": "error", "quantity": "2"},
        ],
    }
    assert client_report_drops(report) == [("queue_overflow", 3), ("before_send", 1)]
    assert client_report_drops({}) == []
    with pytest.raises(BadRequest):
        client_report_drops([1])
