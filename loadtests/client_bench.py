"""Client library benchmark: tracebin vs sentry-sdk, both reporting to a live local Tracebin server.

    .venv/bin/python -m loadtests.client_bench [--calls 300] [--burst 500]

1. What `capture_exception()` costs the calling thread, on the same 10-frame exception (a fresh one
   per call, same code path), with each SDK's default settings: wall time of the call and CPU time
   of the calling thread (`time.thread_time`). A short pause between calls lets background work
   finish, so each call is measured on its own.
2. A burst: N captures back to back, then `flush()`; how many events the server stored.

Tracebin's client posts to POST /exceptions; sentry-sdk to Tracebin's Sentry endpoint
/api/<project>/envelope/. Every SDK runs in its own process (pinned to core 1 when there is one),
the server in another (core 0), on a fresh SQLite database. Counts are read from the database.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from loadtests.harness import REPO_ROOT, Resource, fresh_database, running_server, taskset_prefix

FRAMES = 10


def _recurse(depth: int, payload: dict[str, Any]) -> None:
    # A few locals of common shapes per frame, as in real code.
    label = f"level-{depth}"
    items = list(range(5))
    if depth == 0:
        raise ValueError(f"benchmark failure at {label} with {len(items)} items and {payload['user']}")
    _recurse(depth - 1, payload)


def _raise_and_capture(capture: Any) -> tuple[int, int]:
    """Raise a 10-frame exception (this frame + 9 nested) and time the capture only."""
    try:
        _recurse(FRAMES - 2, {"user": "ann", "cart": [1, 2, 3], "password": "hunter2"})
    except ValueError as exc:
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        capture(exc)
        return time.perf_counter_ns() - wall, time.thread_time_ns() - cpu
    raise AssertionError("unreachable")


def _init(sdk: str, url: str, spool_dir: str) -> tuple[Any, Any]:
    """(capture, flush) of `sdk` with its default settings."""
    if sdk == "tracebin":
        import tracebin

        tracebin.init(url, spool_dir=spool_dir)  # a fresh spool: earlier runs must not add events
        return tracebin.capture_exception, tracebin.flush
    import sentry_sdk

    sentry_sdk.init(dsn=url)
    return sentry_sdk.capture_exception, lambda timeout: sentry_sdk.flush(timeout)


def child(sdk: str, phase: str, url: str, count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tracebin-bench-spool-") as spool_dir:
        capture, flush = _init(sdk, url, spool_dir)
        if phase == "timing":
            for _ in range(20):  # warm up: imports, caches, the connection
                _raise_and_capture(capture)
            flush(30)
            walls, cpus = [], []
            for _ in range(count):
                wall, cpu = _raise_and_capture(capture)
                walls.append(wall / 1000)
                cpus.append(cpu / 1000)
                time.sleep(0.004)
            flush(30)
            walls.sort()
            cpus.sort()
            return {
                "wall_median_us": statistics.median(walls),
                "wall_p95_us": walls[int(len(walls) * 0.95)],
                "wall_mean_us": statistics.fmean(walls),
                "cpu_median_us": statistics.median(cpus),
                "cpu_mean_us": statistics.fmean(cpus),
                "captured": count + 20,
            }
        started = time.perf_counter()
        for _ in range(count):
            _raise_and_capture(capture)
        captured_in = time.perf_counter() - started
        flush(60)
        return {"captured": count, "capture_seconds": captured_in, "flush_seconds": time.perf_counter() - started}


def _local_url(base_url: str, resource: Resource) -> str:
    return base_url.replace("http://", f"http://{resource.key}@") + f"/{resource.project}"


def _stored(database_url: str, project: int) -> int:
    with sqlite3.connect(database_url[len("sqlite:///") :]) as conn:
        (count,) = conn.execute("SELECT count(*) FROM events WHERE resource_id = ?", (project,)).fetchone()
    return int(count)


def _run_child(sdk: str, phase: str, url: str, count: int) -> dict[str, Any]:
    command = [*taskset_prefix("1"), sys.executable, "-m", "loadtests.client_bench"]
    command += ["--child", sdk, "--phase", phase, "--url", url, "--count", str(count)]
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'client_lib'}"}
    env.pop("TRACEBIN_URL", None)
    done = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{sdk} {phase} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300, help="timed captures per SDK")
    parser.add_argument("--burst", type=int, default=500, help="captures in the burst")
    parser.add_argument("--child", choices=["tracebin", "sentry"], help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=["timing", "burst"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.phase, args.url, args.count)))
        return 0

    results: dict[tuple[str, str], dict[str, Any]] = {}
    with fresh_database() as db, running_server(db.url, cores="0") as server:
        for phase, count in (("timing", args.calls), ("burst", args.burst)):
            for sdk in ("tracebin", "sentry"):
                resource = server.partner.provision("pro")
                result = _run_child(sdk, phase, _local_url(server.base_url, resource), count)
                time.sleep(0.5)  # the last group commit
                result["stored"] = _stored(db.url, resource.project)
                results[(sdk, phase)] = result

    ours, theirs = results[("tracebin", "timing")], results[("sentry", "timing")]
    print(f"capture_exception() on a {FRAMES}-frame exception, default settings, {args.calls} calls each")
    print(f"{'sdk':<12}{'wall median':>14}{'wall p95':>12}{'wall mean':>12}{'cpu median':>13}{'stored':>10}")
    for name, r in (("tracebin", ours), ("sentry-sdk", theirs)):
        print(
            f"{name:<12}{r['wall_median_us']:>11.0f} µs{r['wall_p95_us']:>9.0f} µs{r['wall_mean_us']:>9.0f} µs"
            f"{r['cpu_median_us']:>10.0f} µs{r['stored']:>6}/{r['captured']}"
        )
    ratio = ours["wall_median_us"] / theirs["wall_median_us"]
    cpu_ratio = ours["cpu_median_us"] / theirs["cpu_median_us"]
    print(f"ours / sentry-sdk: wall {ratio:.3f}, cpu {cpu_ratio:.3f} (target ≤ 0.25)")
    print()
    print(f"burst of {args.burst} captures back to back, then flush()")
    for name, sdk in (("tracebin", "tracebin"), ("sentry-sdk", "sentry")):
        r = results[(sdk, "burst")]
        print(
            f"{name:<12}stored {r['stored']}/{r['captured']}  (captures took {r['capture_seconds']:.2f} s, "
            f"all delivered after {r['flush_seconds']:.2f} s)"
        )
    ok = ratio <= 0.25 and results[("tracebin", "burst")]["stored"] == args.burst
    print("target met" if ok else "target NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
