"""The in-process run that `python -m loadtests.instructions` counts under callgrind.

Valgrind makes the real measurement a minute long, so it is not run here; the run it measures is:
every request must be acknowledged and every event stored, or the counts would measure an error path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.harness import migrate
from tests.support import query

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("path", "status"), [("/exceptions", 202), ("/ping", 200)])
def test_the_measured_run_acknowledges_every_request(tmp_path: Path, path: str, status: int) -> None:
    url = f"sqlite:///{tmp_path / 'run.sqlite3'}"
    migrate(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TRACEBIN_PUBLIC_URL": "https://tracebin.example.com",
        "ADDON_PASSWORD": "test-password-for-the-instructions-run",
        "SSO_SALT": "test-sso-salt-for-the-instructions-run",
        "SESSION_SECRET": "test-session-secret-for-the-instructions-run",
        "PYTHONPATH": str(REPO),
    }
    env.pop("TRACEBIN_DEV", None)
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.instructions", "--child", path, "120", "150"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"statuses {{{status}: 120}}" in done.stdout
    stored = query.value(url, "SELECT COUNT(*) FROM events")
    assert stored == (120 if path == "/exceptions" else 0)
