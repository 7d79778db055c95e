"""Server-side scrubbing: denied keys at any depth, secret-shaped values anywhere, messages too."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from app.services import event_format, scrubbing
from app.services.scrubbing import FILTERED, is_denied_key, scrub, scrub_event, scrub_query_string, scrub_string

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "PASSWORD",
        "user_password",
        "passwd",
        "client-secret",
        "api_key",
        "X-Api-Key",
        "apiKey",
        "Authorization",
        "csrf_token",
        "sessionid",
        "Cookie",
        "Set-Cookie",
        "credit_card",
        "card-number",
        "cvv",
        "auth",
    ],
)
def test_denied_keys(key: str) -> None:
    assert is_denied_key(key)


@pytest.mark.parametrize("key", ["author", "username", "email", "path", "content-type", "id", "passage"])
def test_allowed_keys(key: str) -> None:
    assert not is_denied_key(key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.DEF-123_x", f"Authorization: Bearer {FILTERED}"),
        (f"token {JWT} expired", f"token {FILTERED} expired"),
        ("postgres://admin:hunter2@db.example.com/app", f"postgres://admin:{FILTERED}@db.example.com/app"),
        ("paid with 4111 1111 1111 1111 today", f"paid with {FILTERED} today"),
        ("card 4111-1111-1111-1111", f"card {FILTERED}"),
        ("card 5500005555555559.", f"card {FILTERED}."),
        # Not Luhn-valid, or not card-length: left alone (order numbers, timestamps).
        ("order 4111111111111112", "order 4111111111111112"),
        ("ts 1700000000", "ts 1700000000"),
        ("https://example.com/a:b@c", "https://example.com/a:b@c"),
        ("plain text", "plain text"),
    ],
)
def test_value_rules(text: str, expected: str) -> None:
    assert scrub_string(text) == expected


def test_nested_dicts_and_lists() -> None:
    data: dict[str, Any] = {
        "user": {"name": "ann", "profile": {"password": "p1", "prefs": [{"api_key": "k", "theme": "dark"}]}},
        "list": ["ok", {"secret": {"deep": "x"}}, [["token", "abc"], ["page", "2"]]],
        "note": "call with Bearer zzz",
    }
    assert scrub(data) == {
        "user": {"name": "ann", "profile": {"password": FILTERED, "prefs": [{"api_key": FILTERED, "theme": "dark"}]}},
        "list": ["ok", {"secret": FILTERED}, [["token", FILTERED], ["page", "2"]]],
        "note": f"call with Bearer {FILTERED}",
    }


def test_query_string() -> None:
    assert scrub_query_string("page=2&password=hunter2&q=ok") == f"page=2&password={FILTERED}&q=ok"


def test_scrub_event_covers_every_free_form_part() -> None:
    body = {
        "message": "charge failed for 4111 1111 1111 1111",
        "exception": [
            {
                "type": "ValueError",
                "value": f"bad jwt {JWT}",
                "frames": [
                    {
                        "function": "login",
                        "context_line": "connect('mysql://root:toor@db/x')",
                        "vars": {"password": "'hunter2'", "form": {"nested": {"csrf_token": "'abc'"}}, "n": "1"},
                    }
                ],
            }
        ],
        "request": {
            "url": "https://app/login",
            "query_string": "next=/&token=abc",
            "headers": {"Authorization": "Basic dXNlcjpwYXNz", "Accept": "text/html", "X-Forwarded-For": "1.2.3.4"},
            "cookies": "sessionid=s3cr3t; theme=dark",
            "data": {"username": "ann", "password": "hunter2", "card": {"number": "4111111111111111"}},
            "env": {"SECRET_KEY": "zzz", "PATH": "/usr/bin"},
        },
        "extra": {"config": {"db_url": "postgres://u:pw@h/db", "aws_secret_access_key": "AKIA"}},
        "contexts": {"app": {"session": "abc"}},
        "user": {"id": "1", "email": "a@b.c"},
        "breadcrumbs": [{"message": "GET with Bearer abcdef", "data": {"token": "x"}}],
        "tags": {"api_key": "k", "region": "eu"},
    }
    scrubbed = event_format.normalise(body, received_at=1_700_000_000)  # the server scrubs while normalising
    # ...with exactly scrubbing's rules: applying them again changes nothing.
    assert scrub_event(copy.deepcopy(scrubbed)) == scrubbed
    text = orjson.dumps(scrubbed).decode()
    for secret in ("hunter2", "toor", "s3cr3t", "dXNlcjpwYXNz", "4111", "zzz", "AKIA", ":pw@", "abcdef", JWT[:20]):
        assert secret not in text, secret
    assert scrubbed["request"]["headers"]["Accept"] == "text/html"
    assert scrubbed["request"]["env"]["PATH"] == "/usr/bin"
    assert scrubbed["request"]["data"]["username"] == "ann"
    assert scrubbed["exception"][0]["frames"][0]["vars"]["n"] == "1"
    assert scrubbed["tags"] == {"api_key": FILTERED, "region": "eu"}
    assert scrubbed["user"]["email"] == "a@b.c"


def test_scrub_event_on_a_raw_event_shape() -> None:
    """The pure entry point (mirrored by the client library) on an event nobody normalised."""
    event: dict[str, Any] = {
        "message": "Bearer abc",
        "exception": [{"value": "v", "frames": [{"context_line": "x", "vars": {"password": "p"}}]}],
        "request": {"cookies": "a=b", "query_string": "token=t&x=1", "headers": {"Cookie": "a=b"}},
        "extra": {},
        "contexts": {},
        "user": {},
        "tags": {},
        "breadcrumbs": [{"message": "m", "data": {"secret": "s"}}],
    }
    scrub_event(event)
    assert event["message"] == f"Bearer {FILTERED}"
    assert event["exception"][0]["frames"][0]["vars"] == {"password": FILTERED}
    assert event["request"] == {
        "cookies": FILTERED,
        "query_string": f"token={FILTERED}&x=1",
        "headers": {"Cookie": FILTERED},
    }
    assert event["breadcrumbs"][0]["data"] == {"secret": FILTERED}


SOURCE_SECRETS = [
    "    headers = {'Authorization': 'Bearer abc.DEF-123_x'}",
    "    db = connect('postgres://admin:hunter2@db.example.com/app')",
    f"    TOKEN = '{JWT}'",
    "    charge('4111 1111 1111 1111')",
]


def test_source_context_lines_get_the_value_rules() -> None:
    frame = {
        "function": "charge",
        "context_line": "    return gateway.charge(card)",
        "pre_context": ["def charge(card):", *SOURCE_SECRETS[:2]],
        "post_context": [*SOURCE_SECRETS[2:], "    # done"],
    }
    body = {"exception": [{"type": "ValueError", "value": "v", "frames": [frame]}]}
    normalised = event_format.normalise(body, received_at=1_700_000_000)
    stored = normalised["exception"][0]["frames"][0]
    assert stored["pre_context"] == [
        "def charge(card):",
        f"    headers = {{'Authorization': 'Bearer {FILTERED}'}}",
        f"    db = connect('postgres://admin:{FILTERED}@db.example.com/app')",
    ]
    assert stored["post_context"] == [f"    TOKEN = '{FILTERED}'", f"    charge('{FILTERED}')", "    # done"]
    # The pure entry point applies the same rules to source lines, on either shape.
    assert scrub_event(copy.deepcopy(normalised)) == normalised
    raw: dict[str, Any] = {
        "message": "",
        "exception": [{"value": "v", "frames": [{**frame, "vars": {}}]}],
        "request": {},
        "extra": {},
        "contexts": {},
        "user": {},
        "tags": {},
        "breadcrumbs": [],
    }
    assert scrub_event(raw)["exception"][0]["frames"][0]["post_context"] == stored["post_context"]


def test_the_fast_path_hints_are_the_rules_hints() -> None:
    hinted = [hints for _, hints, _, _ in scrubbing.VALUE_RULES if hints]
    unhinted = [name for name, hints, _, _ in scrubbing.VALUE_RULES if not hints]
    assert scrubbing.QUICK_HINTS == tuple(dict.fromkeys(hints[0] for hints in hinted))
    assert unhinted == ["card number"] and scrubbing.VALUE_RULES[-1][0] == "card number"


def _every_rule(text: str) -> str:
    """scrub_string without its fast path: every rule whose hints are all present."""
    for _name, hints, pattern, replacement in scrubbing.VALUE_RULES:
        if all(hint in text for hint in hints):
            text = pattern.sub(replacement, text)
    return text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x",
        "eyJab.cd.ef",
        "Bearer x",
        "4111111111111111",
        "id 4111111111111111-7",
        "ftp://u:p@h",
        "    return amount / count",
        "SELECT * FROM orders WHERE id = 1234",
        *SOURCE_SECRETS,
        "call 4111 1111 1111 1111 with BEARER abc and https://a:b@c/d",
    ],
)
def test_the_fast_path_changes_nothing(text: str) -> None:
    assert scrub_string(text) == _every_rule(text)


def test_the_memo_of_clean_strings_keeps_no_secret_and_stays_bounded() -> None:
    scrubbing.KNOWN_CLEAN.clear()
    clean, secret = "    return amount / count", "card 4111 1111 1111 1111"
    url, url_secret = "https://shop.example.com/orders/1234", "https://ann:hunter2@shop.example.com/"
    for _ in range(2):  # the second time through the memo: same answers
        assert scrub_string(clean) == clean
        assert scrub_string(secret) == f"card {FILTERED}"
        assert scrub_string(f"Bearer {JWT}") == f"Bearer {FILTERED}"
        assert scrub_string(url) == url  # every rule ran and found nothing: remembered too
        assert scrub_string(url_secret) == f"https://ann:{FILTERED}@shop.example.com/"
    assert scrubbing.KNOWN_CLEAN == {clean, url}
    assert scrub_string("x" * (scrubbing.MAX_CLEAN_LENGTH + 1)) and len(scrubbing.KNOWN_CLEAN) == 2  # long: not kept
    for i in range(scrubbing.MAX_CLEAN + 10):
        scrub_string(f"line {i}")
    assert len(scrubbing.KNOWN_CLEAN) <= scrubbing.MAX_CLEAN


def test_the_memo_of_key_answers_stays_bounded() -> None:
    scrubbing.KNOWN_KEYS.clear()
    assert is_denied_key("X-Api-Key") and not is_denied_key("author")
    assert scrubbing.KNOWN_KEYS == {"X-Api-Key": True, "author": False}
    for i in range(scrubbing.MAX_KNOWN_KEYS + 10):
        is_denied_key(f"field_{i}")
    assert len(scrubbing.KNOWN_KEYS) <= scrubbing.MAX_KNOWN_KEYS
    assert is_denied_key("X-Api-Key")  # the same answer after the memo was cleared
