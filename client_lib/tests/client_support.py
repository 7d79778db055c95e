"""Test helpers for the client library: a tiny recording HTTP server, and a real Tracebin server."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from app.settings import Settings
from tests.support import query
from tests.support.server import settings_env, wait_until_up

from tests.conftest import Provisioned

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class Sink:
    """Answers each POST from `script` (status, headers) in turn, then with `default`."""

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    default: tuple[int, dict[str, str]] = (202, {})
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0

    @property
    def url(self) -> str:
        return f"http://testkey@127.0.0.1:{self.server.server_port}/1"

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.body for r in self.received if r.path == "/exceptions"]

    def accepted(self) -> list[dict[str, Any]]:
        """Events the sink answered with 2xx (stored, as far as the client can know)."""
        with self.lock:
            return [r.body for r in self.received if r.path == "/exceptions" and r.status < 300]

    def reports(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.body for r in self.received if r.path == "/client-reports"]

    def answer(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            return self.script.pop(0) if self.script else self.default


def start_sink() -> Sink:
    sink: Sink

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

        def setup(self) -> None:
            super().setup()
            with sink.lock:
                sink.connections += 1

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            status, headers = sink.answer()
            with sink.lock:
                sink.received.append(Received(self.path, dict(self.headers), json.loads(raw), status))
            reply = b'{"id": "x"}'
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sink = Sink(server)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return sink


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@contextmanager
def serve_on(settings: Settings, port: int) -> Iterator[str]:
    """`tracebin-server serve` as its own process on a given port (so it can be stopped and restarted)."""
    env = {**os.environ, **settings_env(settings)}
    env.pop("TRACEBIN_DEV", None)
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen([*command, "--log-level", "warning"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tracebin_url(base_url: str, provisioned: Provisioned) -> str:
    """The resource's TRACEBIN_URL, pointed at a local server."""
    scheme, _, host = base_url.partition("://")
    return f"{scheme}://{provisioned.key}@{host}/{provisioned.project_number}"


def stored_events(database_url: str) -> list[dict[str, Any]]:
    rows = query.rows(database_url, "SELECT payload FROM events ORDER BY id")
    return [json.loads(row["payload"]) for row in rows]


def client_drops(database_url: str) -> dict[str, int]:
    rows = query.rows(database_url, "SELECT reason, count FROM drops_daily WHERE source = 'client'")
    return {row["reason"]: row["count"] for row in rows}
