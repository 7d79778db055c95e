"""Against a real Tracebin server on uvicorn: what is captured is stored (read back from the database)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from app.settings import Settings
from client_support import ROOT, client_drops, serve_on, stored_events, tracebin_url, wait_for
from tests.support.server import free_port

import tracebin
from tests.conftest import Provisioned


def _capture(message: str) -> None:
    try:
        raise ValueError(message)
    except ValueError:
        assert tracebin.capture_exception() is not None


def test_a_burst_of_2000_from_8_threads_is_all_stored(
    tracebin_server: str, server_settings: Settings, spool_dir: str
) -> None:
    tracebin.init(tracebin_server, spool_dir=spool_dir)

    def burst(thread: int) -> None:
        for i in range(250):
            _capture(f"burst {thread}-{i}")

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tracebin.flush(60)
    values = sorted(e["exception"][-1]["value"] for e in stored_events(server_settings.database_url))
    assert values == sorted(f"burst {t}-{i}" for t in range(8) for i in range(250))


def test_server_down_for_10_seconds_loses_nothing(
    server_settings: Settings, provisioned: Provisioned, spool_dir: str
) -> None:
    port = free_port()
    with serve_on(server_settings, port) as base_url:
        tracebin.init(tracebin_url(base_url, provisioned), spool_dir=spool_dir)
        for i in range(10):
            _capture(f"before {i}")
        assert tracebin.flush(10)
    # The server is stopped: capture for 10 s, as an app would while Tracebin is down.
    down_until = time.monotonic() + 10
    sent = 0
    while time.monotonic() < down_until:
        _capture(f"during {sent}")
        sent += 1
        time.sleep(0.05)
    with serve_on(server_settings, port):
        assert tracebin.flush(30)
        stored = [e["exception"][-1]["value"] for e in stored_events(server_settings.database_url)]
    assert sorted(stored) == sorted([f"before {i}" for i in range(10)] + [f"during {i}" for i in range(sent)])


def _script_env(url: str, spool_dir: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "TRACEBIN_URL": url, "SPOOL": spool_dir, "PYTHONPATH": str(ROOT / "client_lib"), **extra}


def _run_script(code: str, url: str, spool_dir: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=_script_env(url, spool_dir),
        capture_output=True,
        text=True,
        timeout=30,
    )


def _start_script(code: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_process_that_captures_and_exits_at_once_delivers(
    tracebin_server: str, server_settings: Settings, spool_dir: str
) -> None:
    proc = _run_script(
        """
        import os, tracebin
        tracebin.init(spool_dir=os.environ["SPOOL"])
        tracebin.capture_message("last words")
        raise SystemError("unhandled at top level")
        """,
        tracebin_server,
        spool_dir,
    )
    assert proc.returncode == 1 and "unhandled at top level" in proc.stderr
    events = stored_events(server_settings.database_url)
    assert sorted(e["message"] for e in events) == ["", "last words"]
    crash = next(e for e in events if e["exception"])
    assert crash["exception"][-1]["mechanism"] == {"type": "excepthook", "handled": False}


SIGTERM_SCRIPT = """
    import os, signal, sys, time, tracebin
    if os.environ.get("OWN_HANDLER"):
        signal.signal(signal.SIGTERM, lambda *args: (print("app handler ran", flush=True), sys.exit(3)))
    tracebin.init(spool_dir=os.environ["SPOOL"])
    for i in range(300):
        tracebin.capture_message(f"before sigterm {i}")
    print("ready", flush=True)
    time.sleep(30)
"""


def _terminate_when_ready(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    return out


def test_sigterm_flushes_then_dies_by_the_signal(
    tracebin_server: str, server_settings: Settings, spool_dir: str
) -> None:
    proc = _start_script(SIGTERM_SCRIPT, _script_env(tracebin_server, spool_dir))
    _terminate_when_ready(proc)
    assert proc.returncode == -signal.SIGTERM
    assert len(stored_events(server_settings.database_url)) == 300


def test_sigterm_chains_to_the_apps_own_handler(
    tracebin_server: str, server_settings: Settings, spool_dir: str
) -> None:
    proc = _start_script(SIGTERM_SCRIPT, _script_env(tracebin_server, spool_dir, OWN_HANDLER="1"))
    out = _terminate_when_ready(proc)
    assert proc.returncode == 3 and "app handler ran" in out
    assert len(stored_events(server_settings.database_url)) == 300


def test_forked_children_deliver_their_events(tracebin_server: str, server_settings: Settings, spool_dir: str) -> None:
    proc = _run_script(
        """
        import multiprocessing, os, sys, tracebin
        tracebin.init(spool_dir=os.environ["SPOOL"])
        tracebin.capture_message("parent before fork")

        def job():
            tracebin.capture_message("multiprocessing child")

        pid = os.fork()
        if pid == 0:
            tracebin.capture_message("os.fork child")
            sys.exit(0)
        os.waitpid(pid, 0)
        child = multiprocessing.get_context("fork").Process(target=job)
        child.start()
        child.join()
        tracebin.capture_message("parent after fork")
        """,
        tracebin_server,
        spool_dir,
    )
    assert proc.returncode == 0, proc.stderr
    messages = sorted(e["message"] for e in stored_events(server_settings.database_url))
    assert messages == ["multiprocessing child", "os.fork child", "parent after fork", "parent before fork"], (
        proc.stderr
    )


def test_drop_counts_reach_the_server(tracebin_server: str, server_settings: Settings, spool_dir: str) -> None:
    tracebin.init(tracebin_server, spool_dir=spool_dir, sample_rate=0.0)
    for i in range(3):
        try:
            raise ValueError(f"sampled out {i}")
        except ValueError:
            assert tracebin.capture_exception() is None
    assert tracebin.flush(10)
    assert wait_for(lambda: client_drops(server_settings.database_url) == {"sample_rate": 3})
    assert stored_events(server_settings.database_url) == []


def test_spooled_events_of_a_dead_process_are_delivered_by_the_next(
    tracebin_server: str, server_settings: Settings, spool_dir: str
) -> None:
    # The same resource's URL, but on a port where nothing listens.
    host_part, _, project = tracebin_server.rpartition("/")
    dead = host_part.rsplit(":", 1)[0] + f":{free_port()}/{project}"
    proc = _run_script(
        """
        import os, tracebin
        tracebin.init(spool_dir=os.environ["SPOOL"], shutdown_timeout=2)
        for i in range(5):
            tracebin.capture_message(f"spooled {i}")
        """,
        dead,
        spool_dir,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(list(Path(spool_dir).glob("*.event*"))) == 5  # a claim of a dead process is taken back
    tracebin.init(tracebin_server, spool_dir=spool_dir)
    assert tracebin.flush(10)
    assert sorted(e["message"] for e in stored_events(server_settings.database_url)) == [
        f"spooled {i}" for i in range(5)
    ]
