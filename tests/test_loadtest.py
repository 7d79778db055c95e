"""The load-test command itself (`python -m loadtests.run`), at a small rate for a few seconds.

It must run a real server and locust, write its reports, exit 0 when every SLO is met, and its
after-run count check must catch an acknowledged event that is missing from the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.check import compare
from loadtests.scenario import LedgerFile

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def run_loadtest(tmp_path: Path, *extra: str) -> tuple[int, str, Path]:
    report_dir = tmp_path / "reports"
    command = [
        sys.executable,
        "-m",
        "loadtests.run",
        "--users",
        "6",
        "--rate",
        "40",
        "--duration",
        "4",
        "--resources",
        "3",
        "--database-url",
        f"sqlite:///{tmp_path / 'load.sqlite3'}",
        "--report-dir",
        str(report_dir),
        *extra,
    ]
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    runs = list(report_dir.iterdir()) if report_dir.exists() else []
    assert len(runs) == 1, done.stdout + done.stderr
    return done.returncode, done.stdout + done.stderr, runs[0]


def test_loadtest_runs_reports_and_meets_its_slos(tmp_path: Path) -> None:
    code, output, report = run_loadtest(tmp_path, "--max-unexpected-failures", "0")
    assert code == 0, output
    for name in (
        "locust_stats.csv",
        "locust_failures.csv",
        "locust.html",
        "summary.txt",
        "summary.json",
        "ledger.json",
    ):
        assert (report / name).exists(), name
    assert "POST /exceptions" in output
    assert "count check: OK" in output
    assert "SLOs: all met" in output
    summary = json.loads((report / "summary.json").read_text())
    assert summary["check"]["ok"] is True
    # Events went through and were all found again; the 4xx probes were not counted as failures.
    assert summary["check"]["acked"] > 0
    assert summary["check"]["acked"] == summary["check"]["stored"]
    assert summary["unexpected_failures"] == 0
    assert summary["endpoints"]["POST /exceptions"]["requests"] >= summary["check"]["acked"]


def test_count_check_catches_a_lost_event(tmp_path: Path) -> None:
    code, output, report = run_loadtest(tmp_path, "--lose-one-event-for-test")
    assert code == 1, output
    assert "LOST: 1 acknowledged event(s) not in the database" in output
    assert "count check: FAILED" in output
    assert json.loads((report / "summary.json").read_text())["check"]["ok"] is False


def test_an_slo_that_is_missed_fails_the_command(tmp_path: Path) -> None:
    code, output, _ = run_loadtest(tmp_path, "--min-rps", "100000")
    assert code == 1, output
    assert "MISSED: throughput" in output
    assert "count check: OK" in output


def test_compare_flags_unacknowledged_and_unpurged_events() -> None:
    ledger = LedgerFile(
        acked={1: {"a" * 32, "b" * 32}},
        uncertain={1: {"c" * 32}},
        refused=3,
        deprovisioned={2},
    )
    # An event with an unknown outcome may be stored; one nobody acknowledged may not.
    result = compare(ledger, {1: {"a" * 32, "b" * 32, "c" * 32}})
    assert result.ok and result.unknown_stored == 1
    result = compare(ledger, {1: {"a" * 32, "b" * 32, "d" * 32}, 2: {"e" * 32}})
    assert not result.ok
    assert result.unexpected == {1: ["d" * 32]}
    assert result.not_purged == {2: 1}
    assert not result.lost
    # A resource whose deprovision was cut off by the end of the run is left out either way.
    cut_off = LedgerFile(acked={3: {"f" * 32}}, uncertain={}, refused=0, deprovisioned=set(), unknown_projects={3})
    assert compare(cut_off, {}).ok
    assert not compare(LedgerFile(acked={3: {"f" * 32}}, uncertain={}, refused=0, deprovisioned=set()), {}).ok
