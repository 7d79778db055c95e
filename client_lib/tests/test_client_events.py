from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest

import tracebin
from tracebin._values import MAX_BREADTH, MAX_DEPTH, MAX_STRING


def _raise_chain() -> None:
    try:
        try:
            {}["missing"]
        except KeyError as exc:
            raise ValueError("bad input") from exc
    except ValueError:
        raise RuntimeError("while handling")  # noqa: B904 - implicit chaining is what is tested


def test_chain_is_root_cause_first_and_raised_last() -> None:
    try:
        _raise_chain()
    except RuntimeError as exc:
        event = tracebin.event_from_exception(exc)
    assert [(e["type"], e["value"]) for e in event["exception"]] == [
        ("KeyError", "'missing'"),
        ("ValueError", "bad input"),
        ("RuntimeError", "while handling"),
    ]
    assert event["exception"][-1]["mechanism"] == {"type": "generic", "handled": True}
    json.dumps(event)  # JSON-ready


def test_suppressed_context_is_left_out() -> None:
    try:
        try:
            raise KeyError("hidden")
        except KeyError:
            raise ValueError("shown") from None
    except ValueError as exc:
        event = tracebin.event_from_exception(exc)
    assert [e["type"] for e in event["exception"]] == ["ValueError"]


def test_a_cyclic_chain_terminates() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    event = tracebin.event_from_exception(first)
    assert len(event["exception"]) == 2


def _outer() -> None:
    _inner(3)


def _inner(n: int) -> None:
    local_marker = "here"  # noqa: F841 - read back from the frame's locals
    raise ValueError(f"n={n}")


def test_frames_are_caller_first_with_context_and_locals() -> None:
    try:
        _outer()
    except ValueError as exc:
        event = tracebin.event_from_exception(exc)
    frames = event["exception"][-1]["frames"]
    assert [f["function"] for f in frames][-3:] == [
        "test_frames_are_caller_first_with_context_and_locals",
        "_outer",
        "_inner",
    ]
    crashing = frames[-1]
    assert crashing["context_line"].strip() == 'raise ValueError(f"n={n}")'
    assert crashing["pre_context"][-1].strip().startswith("local_marker")
    assert crashing["vars"] == {"n": "3", "local_marker": "'here'"}
    assert crashing["module"] == __name__ and crashing["in_app"] is True
    assert crashing["filename"].endswith("test_client_events.py") and not crashing["filename"].startswith("/")


def test_stdlib_and_site_packages_frames_are_not_in_app() -> None:
    import pytest as site_package

    try:
        json.loads("{not json")
    except ValueError as exc:
        frames = tracebin.event_from_exception(exc)["exception"][-1]["frames"]
    assert frames[0]["in_app"] is True
    assert all(not f["in_app"] for f in frames[1:]) and frames[-1]["module"].startswith("json")

    try:
        site_package.fail("from a library")
    except BaseException as exc:  # pytest's Failed is not an Exception
        frames = tracebin.event_from_exception(exc)["exception"][-1]["frames"]
    assert frames[-1]["in_app"] is False and "site-packages" in frames[-1]["abs_path"]


def test_in_app_include_and_exclude() -> None:
    try:
        json.loads("{")
    except ValueError as exc:
        frames = tracebin.event_from_exception(exc, in_app_include=["json"], in_app_exclude=[__name__])["exception"][
            -1
        ]["frames"]
    assert frames[0]["in_app"] is False and frames[-1]["in_app"] is True


class _BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def _with_locals(**values: Any) -> dict[str, Any]:
    try:
        raise ValueError("x")
    except ValueError as exc:
        vars_: dict[str, Any] = tracebin.event_from_exception(exc)["exception"][-1]["frames"][-1]["vars"]
    return vars_["values"]


def test_locals_are_capped_in_depth_breadth_and_length() -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(MAX_DEPTH + 2):
        deep = {"d": deep}
    captured = _with_locals(
        long="x" * 10_000,
        wide=list(range(1000)),
        deep=deep,
        broken=_BrokenRepr(),
        big_dict={f"k{i}": i for i in range(100)},
    )
    assert len(captured["long"]) < MAX_STRING + 10
    assert len(captured["wide"]) == MAX_BREADTH + 1 and captured["wide"][-1].endswith("more")
    assert len(captured["big_dict"]) == MAX_BREADTH + 1
    level = captured["deep"]
    for _ in range(MAX_DEPTH - 1):
        level = level["d"]
    assert isinstance(level, str) and level.startswith("{")  # depth cap: the rest is a repr
    assert captured["broken"] == "<_BrokenRepr object (repr failed)>"


def test_include_locals_false_sends_no_vars() -> None:
    try:
        raise ValueError("x")
    except ValueError as exc:
        event = tracebin.event_from_exception(exc, include_locals=False)
    assert all("vars" not in f for f in event["exception"][-1]["frames"])


def test_event_from_exception_is_scrubbed() -> None:
    password = "hunter2"  # noqa: F841
    try:
        raise ValueError("token Bearer abc.def.ghi")
    except ValueError as exc:
        event = tracebin.event_from_exception(exc)
    assert event["exception"][-1]["value"] == "token Bearer [Filtered]"
    assert event["exception"][-1]["frames"][-1]["vars"]["password"] == "[Filtered]"


def test_scope_data_and_breadcrumbs_are_attached(sink: Any, spool_dir: str) -> None:
    tracebin.init(sink.url, spool_dir=spool_dir, release="v7", tags={"team": "core"})
    db_logger = logging.getLogger("myapp.db")
    db_logger.setLevel(logging.INFO)  # breadcrumbs come from the records the app's logging lets through
    db_logger.info("query took %d ms", 12)
    db_logger.setLevel(logging.NOTSET)
    with tracebin.scope():
        tracebin.set_user({"id": "42", "email": "a@example.com"})
        tracebin.set_tag("path", "/checkout")
        tracebin.set_context("cart", {"items": 3})
        tracebin.capture_message("inside", level="warning")
    tracebin.capture_message("outside")
    assert tracebin.flush(5)
    inside, outside = sorted(sink.events(), key=lambda e: e["message"])
    assert inside["user"] == {"id": "42", "email": "a@example.com"}
    assert inside["tags"] == {"team": "core", "path": "/checkout"}
    assert inside["contexts"]["cart"] == {"items": 3} and "runtime" in inside["contexts"]
    assert inside["level"] == "warning" and inside["release"] == "v7"
    assert [c["message"] for c in inside["breadcrumbs"]] == ["query took 12 ms"]
    assert inside["breadcrumbs"][0]["category"] == "myapp.db"
    assert "user" not in outside and outside["tags"] == {"team": "core"}


def test_scopes_are_isolated_between_threads(sink: Any, spool_dir: str) -> None:
    tracebin.init(sink.url, spool_dir=spool_dir)

    def request(user_id: str) -> None:
        with tracebin.scope():
            tracebin.set_user({"id": user_id})
            tracebin.capture_message(f"from {user_id}")

    threads = [threading.Thread(target=request, args=(str(i),)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tracebin.flush(5)
    assert sorted((e["message"], e["user"]["id"]) for e in sink.events()) == [(f"from {i}", str(i)) for i in range(8)]


def test_the_same_exception_is_reported_once(sink: Any, spool_dir: str) -> None:
    tracebin.init(sink.url, spool_dir=spool_dir)
    try:
        raise ValueError("once")
    except ValueError as exc:
        first = tracebin.capture_exception(exc)
        logging.getLogger("app").exception("logged too")
        assert tracebin.capture_exception(exc) is None
    assert first is not None and tracebin.flush(5)
    assert len(sink.events()) == 1


@pytest.mark.parametrize("level", ["fatal", "error", "warning", "info", "debug"])
def test_message_levels(level: str, sink: Any, spool_dir: str) -> None:
    tracebin.init(sink.url, spool_dir=spool_dir)
    tracebin.capture_message("m", level=level)
    assert tracebin.flush(5)
    assert sink.events()[0]["level"] == level
