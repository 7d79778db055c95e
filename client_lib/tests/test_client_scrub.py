from __future__ import annotations

import copy
from typing import Any

import pytest
from app.services import scrubbing as server

from tracebin import _scrub as client
from tracebin._scrub import FILTERED, Scrubber

CASES: list[Any] = [
    {"password": "p", "user": {"name": "ann", "credentials": {"api_key": "k", "ok": 1}}},
    {"level1": {"level2": {"level3": {"Session-Id": "s", "X-CSRF-Token": "t", "author": "kept"}}}},
    {"headers": [["Authorization", "Bearer abc"], ["Accept", "*/*"]], "auth": "x", "pwd": "y"},
    {"card": "4111 1111 1111 1111", "not_card": "4111 1111 1111 1112", "order": "12345"},
    {"dsn": "postgres://app:s3cret@db.example.com/app", "jwt": "eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl"},
    ["Bearer abc.def", {"secret": 1}, ("pin", 1234)],
    "plain text with no secret",
    {"short": "Bearer x", "url": "ftp://u:p@h", "mixed": "BEARER abc and https://a:b@c/d"},
    ["order 123456789012345678901", "card 4111-1111-1111-1111.", "id 4111111111111111-7", "x" * 40],
]


@pytest.mark.parametrize("value", CASES)
def test_client_scrubs_exactly_like_the_server(value: Any) -> None:
    assert Scrubber().value(copy.deepcopy(value)) == server.scrub(copy.deepcopy(value))


def test_rule_tables_mirror_the_server() -> None:
    assert client.DENIED_KEY_PARTS == server.DENIED_KEY_PARTS
    assert client.DENIED_KEYS == server.DENIED_KEYS
    assert [(name, hints, pattern.pattern) for name, hints, pattern, _ in client.VALUE_RULES] == [
        (name, hints, pattern.pattern) for name, hints, pattern, _ in server.VALUE_RULES
    ]
    assert client.QUICK_HINTS == server.QUICK_HINTS


SOURCE_LINES = [
    "def login(request):",
    "    headers = {'Authorization': 'Bearer abc.DEF-123_x'}",
    "    db = connect('postgres://admin:hunter2@db.example.com/app')",
    "    TOKEN = 'eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl'",
    "    charge('4111 1111 1111 1111')",
]


@pytest.mark.parametrize("line", [*SOURCE_LINES, "short", "eyJab.cd.ef", "id 4111111111111111-7"])
def test_client_strings_scrub_exactly_like_the_server(line: str) -> None:
    assert Scrubber().string(line) == server.scrub_string(line)


def test_source_context_lines_are_scrubbed() -> None:
    frame = {"context_line": SOURCE_LINES[1], "pre_context": SOURCE_LINES[:3], "post_context": SOURCE_LINES[3:]}
    out = Scrubber().event({"exception": [{"value": "v", "frames": [frame]}]})
    scrubbed = out["exception"][0]["frames"][0]
    assert scrubbed["pre_context"] == [server.scrub_string(line) for line in SOURCE_LINES[:3]]
    assert scrubbed["post_context"] == [server.scrub_string(line) for line in SOURCE_LINES[3:]]
    assert scrubbed["pre_context"][0] == "def login(request):"
    for secret in ("abc.DEF", "hunter2", "eyJzdWIi", "4111"):
        assert secret not in repr(scrubbed), secret


def test_nested_secrets_are_filtered_at_any_depth() -> None:
    scrubbed = Scrubber().value({"a": {"b": {"c": {"db_password": "x", "list": [{"token": "y"}]}}}})
    assert scrubbed == {"a": {"b": {"c": {"db_password": FILTERED, "list": [{"token": FILTERED}]}}}}


def test_extra_keys_from_options() -> None:
    assert Scrubber(("Tax-Id",)).value({"tax_id": "1", "name": "n"}) == {"tax_id": FILTERED, "name": "n"}


def test_event_scrubbing_covers_every_part_and_leaves_shared_data_alone() -> None:
    crumb = {"message": "login with Bearer abc", "data": {"password": "p"}}
    request = {"url": "/x", "query_string": "a=1&token=t", "cookies": "sid=1", "headers": {"Cookie": "sid=1"}}
    event = {
        "message": "card 4111-1111-1111-1111",
        "extra": {"secret": "s"},
        "user": {"id": "1", "password": "p"},
        "request": request,
        "breadcrumbs": [crumb],
        "exception": [{"value": "Bearer xyz", "frames": [{"vars": {"apikey": "'k'"}, "context_line": "x"}]}],
    }
    out = Scrubber().event(event)
    assert out["message"] == f"card {FILTERED}"
    assert out["extra"] == {"secret": FILTERED} and out["user"] == {"id": "1", "password": FILTERED}
    assert out["request"]["query_string"] == f"a=1&token={FILTERED}"
    assert out["request"]["cookies"] == FILTERED and out["request"]["headers"] == {"Cookie": FILTERED}
    assert out["breadcrumbs"] == [{"message": f"login with Bearer {FILTERED}", "data": {"password": FILTERED}}]
    assert out["exception"][0]["value"] == f"Bearer {FILTERED}"
    assert out["exception"][0]["frames"][0]["vars"] == {"apikey": FILTERED}
    # The scope's breadcrumb and request are shared with later events: they stay as they were.
    assert crumb["message"] == "login with Bearer abc" and request["cookies"] == "sid=1"
