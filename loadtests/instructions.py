"""CPU instructions per request of the application's own work, counted by valgrind's callgrind.

This machine's speed drifts by 20 % and more between quarter-hours, so a wall-clock A/B of a small
speed-up needs many runs to mean anything. Callgrind counts instructions instead: the same code on
the same input gives the same count (within a fraction of a percent), whatever else the machine does.

The app runs in-process (no uvicorn, no sockets: that part costs every endpoint the same) on a fresh
SQLite database. The realistic benchmark event of `make bench` (a unique event_id per request) goes
through the ASGI interface with 50 requests in flight, so the writer commits batches as it does under
load. Each figure is the difference of two runs (`--base` and `--base + --requests` requests), so
start-up and set-up cancel out. Reported per request: the event loop's thread, the other threads
(SQLite's), and the total, for POST /exceptions and POST /ping.

    python -m loadtests.instructions [--requests 1000]   (about 90 s for 1,000 requests on 2 cores)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import orjson
from starlette.types import Message

from loadtests.bench import KINDS, realistic_event
from loadtests.harness import REPO_ROOT, migrate

IN_FLIGHT = 50
ENDPOINTS = ("/exceptions", "/ping")


# --- the child: one run of the app, in-process ------------------------------------------------------


def _bodies(count: int) -> list[bytes]:
    """Always the same bodies for the same count (event ids from a fixed sequence)."""
    templates = [realistic_event(kind) for kind in range(KINDS)]
    return [orjson.dumps({**templates[i % KINDS], "event_id": f"{i:032x}"}) for i in range(count)]


async def _serve(path: str, bodies: list[bytes], count: int) -> dict[int, int]:
    from app import gc_tuning
    from app.main import create_app
    from app.services import provisioning

    app = create_app()
    gc_tuning.tune_for_serving()  # as `tracebin-server serve` does (app.main.create_served_app)
    ctx = app.state.ctx
    await ctx.start()
    statuses: dict[int, int] = {}
    try:
        provisioned = await provisioning.provision(ctx.db, ctx.settings, {"uuid": str(uuid.UUID(int=1)), "plan": "pro"})
        key = provisioned.config["TRACEBIN_URL"].split("//", 1)[1].split("@", 1)[0]
        auth = b"Basic " + base64.b64encode(key.encode() + b":")

        async def post(body: bytes) -> None:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0", "spec_version": "2.3"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "query_string": b"",
                "root_path": "",
                "headers": [
                    (b"host", b"127.0.0.1"),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"authorization", auth),
                ],
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
                "state": {},
            }
            delivered = False

            async def receive() -> Message:
                nonlocal delivered
                if delivered:  # the app asks again only to watch for a disconnect
                    await asyncio.Event().wait()
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    statuses[message["status"]] = statuses.get(message["status"], 0) + 1

            await app(scope, receive, send)

        queue = iter(bodies[:count])

        async def client() -> None:
            for body in queue:
                await post(body)

        await asyncio.gather(*(client() for _ in range(IN_FLIGHT)))
    finally:
        await ctx.stop()
    return statuses


def child(path: str, count: int, total: int) -> int:
    import uvloop

    bodies = _bodies(total)
    statuses = uvloop.run(_serve(path, bodies, count))
    print(f"statuses {statuses}")
    return 0 if set(statuses) <= {200, 202} else 1


# --- the parent: callgrind runs and the report ------------------------------------------------------


@dataclass(frozen=True)
class Count:
    loop: int  # instructions of the thread running the event loop
    others: int  # every other thread (the SQLite connections')

    @property
    def total(self) -> int:
        return self.loop + self.others


def _database(workdir: Path, path: str, count: int) -> str:
    name = path.strip("/")
    return f"sqlite:///{workdir / f'run-{name}-{count}.sqlite3'}"


def _callgrind(path: str, count: int, total: int, workdir: Path) -> Count:
    url = _database(workdir, path, count)
    out = workdir / f"callgrind-{path.strip('/')}-{count}.out"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TRACEBIN_PUBLIC_URL": "https://tracebin.example.com",
        "ADDON_PASSWORD": "instructions-benchmark-password",
        "SSO_SALT": "instructions-benchmark-sso-salt",
        "SESSION_SECRET": "instructions-benchmark-session-secret",
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": str(REPO_ROOT),
    }
    env.pop("TRACEBIN_DEV", None)
    command = [
        "valgrind",
        "--tool=callgrind",
        "--separate-threads=yes",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "loadtests.instructions",
        "--child",
        path,
        str(count),
        str(total),
    ]
    done = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"callgrind run failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    loop = others = 0
    for part in sorted(workdir.glob(f"{out.name}-*")):
        text = part.read_text(errors="replace")
        thread = re.search(r"^thread: (\d+)", text, re.MULTILINE)
        summary = re.search(r"^summary: (\d+)", text, re.MULTILINE)
        if thread is None or summary is None:
            continue
        if thread.group(1) == "1":
            loop += int(summary.group(1))
        else:
            others += int(summary.group(1))
    return Count(loop, others)


def measure(paths: tuple[str, ...], base: int, requests: int, workdir: Path) -> dict[str, Count]:
    """Per request of each path; the callgrind runs go two at a time (one per core)."""
    total = base + requests
    for path in paths:  # one at a time: Alembic's configuration is global
        for count in (base, total):
            migrate(_database(workdir, path, count))
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {
            (path, count): pool.submit(_callgrind, path, count, total, workdir)
            for path in paths
            for count in (base, total)
        }
        counts = {key: run.result() for key, run in runs.items()}
    return {
        path: Count(
            (counts[path, total].loop - counts[path, base].loop) // requests,
            (counts[path, total].others - counts[path, base].others) // requests,
        )
        for path in paths
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="requests measured per endpoint (default 1000)")
    parser.add_argument("--base", type=int, default=200, help="requests of the baseline run (default 200)")
    parser.add_argument("--child", nargs=3, metavar=("PATH", "COUNT", "TOTAL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        path, count, total = args.child
        return child(path, int(count), int(total))
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian package valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tracebin-instructions-") as tmp:
        counts = measure(ENDPOINTS, args.base, args.requests, Path(tmp))
    print(f"instructions per request ({args.requests} requests, {IN_FLIGHT} in flight, in-process, SQLite):")
    print(f"{'endpoint':<18}{'event loop':>12}{'other threads':>15}{'total':>12}")
    for path, count in counts.items():
        print(f"POST {path:<13}{count.loop:>12,}{count.others:>15,}{count.total:>12,}")
    exceptions, ping = counts["/exceptions"], counts["/ping"]
    print(f"/exceptions costs {exceptions.total / ping.total:.2f} times /ping (uvicorn and the sockets not included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
