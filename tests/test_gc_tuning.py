"""The collector tuning of `tracebin-server serve` (a process-wide setting: restored after the test)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app import gc_tuning


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_serving_freezes_startup_objects_and_collects_less_often(restore_gc: None) -> None:
    gc_tuning.tune_for_serving()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == gc_tuning.THRESHOLDS
    assert gc.isenabled()  # cycles are still collected
