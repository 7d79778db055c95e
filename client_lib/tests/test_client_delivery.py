"""Delivery against a tiny real HTTP server: retries, Retry-After, 413, rejections, spool, reports."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import pytest
from client_support import Sink, wait_for

import tracebin
from tracebin._delivery import SENDERS


def _capture(n: int = 1) -> list[str]:
    ids = []
    for i in range(n):
        try:
            raise ValueError(f"event {i}")
        except ValueError:
            event_id = tracebin.capture_exception()
            assert event_id is not None
            ids.append(event_id)
    return ids


def _reported(sink: Sink) -> dict[str, int]:
    totals: dict[str, int] = {}
    for report in sink.reports():
        for entry in report["discarded_events"]:
            totals[entry["reason"]] = totals.get(entry["reason"], 0) + entry["quantity"]
    return totals


def test_events_go_gzipped_with_basic_auth_over_one_connection(sink: Sink, spool_dir: str) -> None:
    tracebin.init(sink.url, spool_dir=spool_dir)
    ids = _capture(20)
    assert tracebin.flush(5)
    assert sorted(e["event_id"] for e in sink.events()) == sorted(ids)
    first = sink.received[0]
    assert first.headers["Authorization"] == "Basic dGVzdGtleTo="  # "testkey:"
    assert first.headers["Content-Encoding"] == "gzip"
    assert sink.connections <= SENDERS  # kept alive: not one connection per event


def test_server_errors_are_retried_with_backoff(sink: Sink, spool_dir: str) -> None:
    sink.script = [(500, {}), (502, {})]
    tracebin.init(sink.url, spool_dir=spool_dir)
    ids = _capture()
    assert wait_for(lambda: len(sink.received) == 3)
    assert [e["event_id"] for e in sink.events()] == ids * 3
    assert tracebin.flush(5)


def test_retry_after_is_honoured(sink: Sink, spool_dir: str) -> None:
    sink.script = [(429, {"Retry-After": "1"})]
    tracebin.init(sink.url, spool_dir=spool_dir)
    _capture()
    started = time.monotonic()
    assert wait_for(lambda: len(sink.received) == 2)
    assert time.monotonic() - started >= 0.9  # not before the server said so
    assert tracebin.flush(5)


def test_too_large_is_resent_trimmed(sink: Sink, spool_dir: str) -> None:
    def before_send(event: dict[str, Any]) -> dict[str, Any]:
        event["tags"] = {"checked": "yes"}
        return event

    sink.script = [(413, {})]
    tracebin.init(sink.url, spool_dir=spool_dir, before_send=before_send)
    try:
        raise ValueError("Bearer abc123")
    except ValueError:
        tracebin.capture_exception()
    assert tracebin.flush(5)
    full, trimmed = sink.events()
    assert full["event_id"] == trimmed["event_id"]
    # The trimmed copy is made from what was sent: before_send applied, scrubbed.
    assert trimmed["tags"] == {"checked": "yes"}
    assert trimmed["exception"][-1]["value"] == "Bearer [Filtered]"
    assert any(f.get("vars") for f in full["exception"][-1]["frames"])
    assert not any(f.get("vars") for f in trimmed["exception"][-1]["frames"])


def test_too_large_twice_is_counted_and_reported(sink: Sink, spool_dir: str) -> None:
    sink.script = [(413, {}), (413, {})]
    tracebin.init(sink.url, spool_dir=spool_dir)
    _capture()
    assert tracebin.flush(5)
    assert _reported(sink) == {"too_large": 1}


def test_rejected_events_are_counted_and_reported(sink: Sink, spool_dir: str) -> None:
    sink.script = [(400, {}), (401, {})]
    tracebin.init(sink.url, spool_dir=spool_dir)
    _capture(3)
    assert tracebin.flush(5)
    assert len(sink.events()) == 3
    assert _reported(sink) == {"rejected": 2}


def test_filters_are_counted(sink: Sink, spool_dir: str) -> None:
    def before_send(event: dict[str, Any]) -> dict[str, Any] | None:
        if event.get("message") == "drop me":
            return None
        event["tags"] = {"seen": "yes"}
        return event

    tracebin.init(sink.url, spool_dir=spool_dir, before_send=before_send, ignore_exceptions=[KeyError])
    tracebin.capture_message("drop me")
    tracebin.capture_message("keep me")
    try:
        raise KeyError("ignored")
    except KeyError:
        assert tracebin.capture_exception() is None
    assert tracebin.flush(5)
    assert [(e["message"], e["tags"]) for e in sink.events()] == [("keep me", {"seen": "yes"})]
    assert _reported(sink) == {"before_send": 1, "ignored": 1}


def test_sample_rate_zero_counts_every_event(sink: Sink, spool_dir: str) -> None:
    tracebin.init(sink.url, spool_dir=spool_dir, sample_rate=0.0)
    assert tracebin.capture_message("never") is None
    assert tracebin.flush(5)
    assert sink.events() == [] and _reported(sink) == {"sample_rate": 1}


def test_a_failing_before_send_does_not_lose_the_event(
    sink: Sink, spool_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    def before_send(event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("app bug")

    tracebin.init(sink.url, spool_dir=spool_dir, before_send=before_send)
    tracebin.capture_message("still sent")
    assert tracebin.flush(5)
    assert [e["message"] for e in sink.events()] == ["still sent"]
    assert any("before_send raised" in r.getMessage() for r in caplog.records)


def test_a_full_memory_queue_spills_to_the_spool_and_everything_arrives(sink: Sink, spool_dir: str) -> None:
    sink.script = [(503, {"Retry-After": "0.5"})]
    tracebin.init(sink.url, spool_dir=spool_dir, queue_size=2)
    ids = _capture(50)
    assert wait_for(lambda: len({e["event_id"] for e in sink.accepted()}) == 50)
    assert {e["event_id"] for e in sink.accepted()} == set(ids)
    assert tracebin.flush(5)
    assert not [name for name in os.listdir(spool_dir) if not name.startswith(".")]


def test_queue_and_spool_full_is_counted_not_silent(sink: Sink, spool_dir: str) -> None:
    sink.script = [(503, {"Retry-After": "0.3"})]
    tracebin.init(sink.url, spool_dir=spool_dir, queue_size=1, spool_max_bytes=0)
    _capture(30)
    assert tracebin.flush(5)
    delivered = len({e["event_id"] for e in sink.accepted()})
    assert _reported(sink).get("queue_full", 0) + delivered == 30
    assert _reported(sink)["queue_full"] > 0


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://testkey@127.0.0.1:{port}/1"


def test_unreachable_server_keeps_events_on_disk_for_the_next_process(sink: Sink, spool_dir: str) -> None:
    tracebin.init(_dead_url(), spool_dir=spool_dir)
    ids = _capture(5)
    assert tracebin.flush(2) is False  # not delivered, but kept
    tracebin.close(timeout=1)
    assert len([n for n in os.listdir(spool_dir) if n.endswith(".event")]) == 5

    # The next process (same spool, server reachable again) delivers them.
    tracebin.init(sink.url, spool_dir=spool_dir)
    assert tracebin.flush(5)
    assert sorted(e["event_id"] for e in sink.events()) == sorted(ids)
    assert os.listdir(spool_dir) == []


def test_calls_never_raise_into_the_app(sink: Sink, spool_dir: str) -> None:
    tracebin.init(sink.url, spool_dir=spool_dir)
    tracebin.set_tag(object(), object())  # type: ignore[arg-type]
    tracebin.set_context("weird", {"self": object(), 1: {2: 3}})  # type: ignore[dict-item]
    tracebin.set_extra("cycle", cycle := [])  # type: ignore[var-annotated]
    cycle.append(cycle)
    tracebin.capture_message("odd data")
    assert tracebin.flush(5)
    assert sink.events()[0]["contexts"]["weird"]["1"] == {"2": 3}
