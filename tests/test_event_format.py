"""The memo of normalised frames (app.services.event_format): same answers, no secrets, bounded."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.errors import BadRequest
from app.services import event_format
from app.services.scrubbing import FILTERED


def frame(**fields: Any) -> dict[str, Any]:
    return {
        "filename": "app/views.py",
        "function": "checkout",
        "module": "app.views",
        "lineno": 42,
        "context_line": "    return total / count",
        "in_app": True,
        **fields,
    }


def normalise(*frames: dict[str, Any]) -> dict[str, Any]:
    body = {"exception": [{"type": "ZeroDivisionError", "value": "division by zero", "frames": list(frames)}]}
    return event_format.normalise(body, received_at=1_700_000_000)


def frames_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = event["exception"][0]["frames"]
    return frames


@pytest.fixture(autouse=True)
def empty_memo() -> None:
    event_format._FRAME_MEMO.clear()


def test_a_repeated_frame_is_normalised_once_and_keeps_its_own_locals() -> None:
    first = frames_of(normalise(frame(vars={"count": "0"})))[0]
    second = frames_of(normalise(frame(vars={"count": "1", "password": "hunter2"})))[0]
    assert len(event_format._FRAME_MEMO) == 1  # locals are not part of the key
    assert first["vars"] == {"count": "0"}
    assert second["vars"] == {"count": "1", "password": FILTERED}
    assert {k: v for k, v in first.items() if k != "vars"} == {k: v for k, v in second.items() if k != "vars"}
    without_memo = event_format._frame(frame(vars={"count": "1", "password": "hunter2"}))
    assert second == without_memo


def test_the_memo_gives_what_normalising_gives() -> None:
    cases = [
        frame(),
        frame(vars={}),
        frame(pre_context=["a", "b"], post_context=["c"], colno=3, abs_path="/srv/app/views.py"),
        frame(lineno=None, module=None, in_app=False),
        frame(lineno=7.0),
    ]
    for case in cases:
        expected = event_format._frame(copy.deepcopy(case))
        for _ in range(2):  # the first time fills the memo, the second reads it
            assert frames_of(normalise(copy.deepcopy(case)))[0] == expected


def test_frames_with_secrets_unknown_fields_or_cut_values_are_not_kept() -> None:
    secret = frame(context_line="    token = 'Bearer abcdef0123456789'")
    stored = frames_of(normalise(secret))[0]
    assert stored["context_line"] == f"    token = 'Bearer {FILTERED}'"
    normalise(frame(password="hunter2"))  # a field frames do not have: dropped, and not kept as a key
    normalise(frame(context_line="x" * (event_format.MAX_LINE + 10)))
    assert event_format._FRAME_MEMO == {}  # none of the three is kept


def test_bad_frames_are_named_with_or_without_the_memo() -> None:
    normalise(frame())  # in the memo now
    for bad, field in [
        (frame(vars="x"), "exception[0].frames[1].vars"),
        (frame(in_app="yes"), "exception[0].frames[1].in_app"),
        ("not a frame", "exception[0].frames[1]"),
    ]:
        with pytest.raises(BadRequest) as refused:
            normalise(frame(), bad)
        assert refused.value.field == field


def test_the_body_is_left_as_it_came_and_the_memo_stays_bounded() -> None:
    for raw in (frame(vars={"count": "0"}), frame(vars=None), frame()):
        before = copy.deepcopy(raw)
        normalise(raw)
        assert raw == before
    for i in range(event_format.MAX_FRAME_MEMO + 10):
        normalise(frame(lineno=i))
    assert len(event_format._FRAME_MEMO) <= event_format.MAX_FRAME_MEMO


def test_a_free_form_object_is_copied_only_when_something_in_it_changes() -> None:
    clean = {"id": "1234", "email": "ann@example.com", "address": {"city": "Oslo"}}
    assert event_format.free_form(clean) is clean  # nothing to change: the parsed value itself
    with_list = {"id": "1234", "roles": ["admin"]}
    assert event_format.free_form(with_list) == with_list  # lists are always copied

    nested = {"id": "1234", "headers": {"Accept": "text/html", "Authorization": "Basic abc"}, "n": 1}
    before = copy.deepcopy(nested)
    out = event_format.free_form(nested)
    assert out == {"id": "1234", "headers": {"Accept": "text/html", "Authorization": FILTERED}, "n": 1}
    assert list(out) == list(nested)  # keys keep their order
    assert nested == before  # the input is left as it came

    wide = {f"k{i}": "v" for i in range(event_format.MAX_FREE_ITEMS + 5)}
    wide["password"] = "hunter2"
    trimmed = event_format.free_form(wide)
    assert len(trimmed) == event_format.MAX_FREE_ITEMS + 1
    assert trimmed[event_format.TRUNCATED] == 6


def test_a_query_string_is_filtered_without_changing_the_body() -> None:
    body = {
        "message": "boom",
        "request": {"url": "https://shop.example.com/search", "query_string": "q=shoes&password=hunter2"},
    }
    before = copy.deepcopy(body)
    stored = event_format.normalise(body, received_at=1_700_000_000)
    assert stored["request"]["query_string"] == f"q=shoes&password={FILTERED}"
    assert body == before  # the parsed body is left as it came
    clean = {"message": "boom", "request": {"query_string": "q=shoes&page=2"}}
    assert event_format.normalise(clean, received_at=1_700_000_000)["request"] is clean["request"]
