from __future__ import annotations

import os
import subprocess
import sys
from email.utils import formatdate
from pathlib import Path

from tracebin._payload import trim
from tracebin._spool import Spool
from tracebin._transport import parse_retry_after


def test_spool_keeps_order_and_hands_each_event_out_once(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_bytes=10_000)
    for i in range(3):
        assert spool.put(f"event {i}".encode())
    first = spool.claim()
    other_process_view = Spool(str(tmp_path), max_bytes=10_000)
    second = other_process_view.claim()
    assert first is not None and second is not None
    assert (first[1], second[1]) == (b"event 0", b"event 1")
    spool.release(first[0])  # failed: back in the spool
    spool.done(second[0], len(second[1]))
    assert sorted(body for _, body in iter(spool.claim, None)) == [b"event 0", b"event 2"]


def test_spool_is_bounded(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_bytes=25)
    assert spool.put(b"x" * 20)
    assert not spool.put(b"y" * 10)
    assert not Spool(str(tmp_path), max_bytes=0).put(b"z")


def test_claims_of_a_dead_process_are_taken_back(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_bytes=10_000)
    spool.put(b"orphan")
    name = next(n for n in os.listdir(tmp_path) if n.endswith(".event"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / name).rename(tmp_path / f"{name}.claimed-{dead.stdout.strip()}")
    claimed = Spool(str(tmp_path), max_bytes=10_000).claim()
    assert claimed is not None and claimed[1] == b"orphan"


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    when = parse_retry_after(formatdate(1_000_060, usegmt=True), now=1_000_000)
    assert when is not None and abs(when - 60) < 1


def test_trim_keeps_the_story_and_drops_the_bulk() -> None:
    frame = {"function": "f", "vars": {"a": "1"}, "pre_context": ["x"], "post_context": ["y"], "context_line": "z"}
    event = {
        "event_id": "e" * 32,
        "message": "m" * 10_000,
        "extra": {"big": "x" * 10_000},
        "breadcrumbs": [{"message": str(i)} for i in range(100)],
        "exception": [{"type": "E", "value": "v", "frames": [dict(frame) for _ in range(200)]}],
    }
    small = trim(event)
    assert small["event_id"] == event["event_id"] and "extra" not in small
    assert len(small["message"]) == 2048 and len(small["breadcrumbs"]) == 10
    frames = small["exception"][0]["frames"]
    assert len(frames) == 30 and frames[0]["vars"] == {} and frames[0]["context_line"] == "z"
    assert len(event["exception"][0]["frames"]) == 200  # the original is untouched
