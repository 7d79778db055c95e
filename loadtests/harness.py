"""A real Tracebin server on a fresh database, for load tests and benchmarks.

Reusable pieces (bench.py and dashboard_bench.py can use them too):

- `fresh_database(url)`: a context manager yielding a migrated, empty database URL — a new SQLite file
  in a temporary directory (url None or sqlite), or a new PostgreSQL database created next to the
  given one on the same server and dropped afterwards (unless keep=True).
- `running_server(database_url, cores="0")`: `tracebin-server serve` as its own process in production
  mode (random secrets), pinned with `taskset` when the machine has a core to spare; yields a `Server`.
- `PartnerApi`: provision / change plan / deprovision through the Heroku partner API, like Heroku does.
- `cpu_seconds(pid)`: user+system CPU of a process so far (psutil; it comes with locust).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
# What TRACEBIN_URL carries as host: the server runs in production mode, which requires https here.
# The load generator talks plain HTTP to 127.0.0.1 and only takes the key and project from the URL.
PUBLIC_URL = "https://tracebin.loadtest.invalid"
ADDON_ID = "tracebin"


# --- processes and cores -------------------------------------------------------------------------


def taskset_prefix(cores: str | None) -> list[str]:
    """`taskset -c CORES` when asked, available and the machine has more than one core; else nothing."""
    if not cores or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return []
    return ["taskset", "-c", cores]


def _family(pid: int) -> list[psutil.Process]:
    """A process and its live descendants (uvicorn's worker processes with --workers > 1)."""
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process and its live children have used."""
    total = 0.0
    for proc in _family(pid):
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def run_queue_wait_seconds(pid: int) -> float:
    """Seconds the process's threads were ready to run but waited for a CPU (/proc/PID/task/*/schedstat).

    On a shared machine this is the time other processes took from the server's core: a server that
    is slow but waits here is starved, not busy.
    """
    total = 0
    for proc in _family(pid) or [None]:
        try:
            tasks = list(Path(f"/proc/{proc.pid if proc else pid}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                total += int((task / "schedstat").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return total / 1e9


def cpu_pressure_seconds() -> float | None:
    """Machine-wide seconds during which some task waited for a CPU (/proc/pressure/cpu, Linux PSI).

    The difference over a run, divided by its length, says how contended the machine was.
    """
    try:
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some "):
                fields = dict(item.split("=", 1) for item in line.split()[1:])
                return int(fields["total"]) / 1e6
    except (OSError, KeyError, ValueError):
        pass
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine_description() -> str:
    """'2 cores (AMD EPYC), 23.5 GiB RAM' — for reports."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    cores = os.cpu_count() or 1
    return f"{cores} cores{f' ({model})' if model else ''}, {memory:.1f} GiB RAM"


# --- databases -----------------------------------------------------------------------------------


def migrate(database_url: str) -> None:
    from app.storage import migrate as migrations

    migrations.upgrade(database_url)


async def _pg_execute(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def postgres_sibling(url: str, name: str) -> str:
    """The URL of database `name` on the same server as `url` (same credentials and query)."""
    from app.settings import normalize_database_url

    parts = urlsplit(normalize_database_url(url))
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass(frozen=True)
class FreshDatabase:
    url: str
    dialect: str  # "sqlite" | "postgresql"
    description: str  # for reports: "SQLite (file in /tmp/...)" / "PostgreSQL 16.4 (127.0.0.1:5432)"


@contextmanager
def fresh_database(
    base_url: str | None = None, *, keep: bool = False, prefix: str = "tracebin_load"
) -> Iterator[FreshDatabase]:
    """A new, migrated, empty database; removed afterwards unless `keep`.

    base_url None → SQLite in a temporary directory. A sqlite:/// URL → that file, which must not exist
    yet. A postgres(ql):// URL → a new database on that server (the given database is left untouched).
    """
    if base_url and base_url.startswith(("postgres://", "postgresql://", "postgresql+asyncpg://")):
        name = f"{prefix}_{int(time.time())}_{os.getpid()}"
        admin = postgres_sibling(base_url, _db_name(base_url))  # the given database: only to CREATE/DROP
        asyncio.run(_pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'))
        url = postgres_sibling(base_url, name)
        try:
            migrate(url)
            yield FreshDatabase(url=url, dialect="postgresql", description=_postgres_description(url))
        finally:
            if not keep:
                asyncio.run(_pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    if base_url and not base_url.startswith("sqlite:///"):
        raise ValueError(f"unsupported database URL: {base_url.split(':', 1)[0]} (use sqlite or postgres)")
    tmpdir: str | None = None
    if base_url:
        path = Path(base_url[len("sqlite:///") :]).resolve()
        if path.exists():
            raise ValueError(f"{path} exists; the load test needs a fresh database (give a new file name)")
    else:
        tmpdir = tempfile.mkdtemp(prefix="tracebin-load-")
        path = Path(tmpdir) / "tracebin.sqlite3"
    url = f"sqlite:///{path}"
    try:
        migrate(url)
        import sqlite3

        yield FreshDatabase(
            url=url, dialect="sqlite", description=f"SQLite {sqlite3.sqlite_version} (WAL, file {path})"
        )
    finally:
        if tmpdir and not keep:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def _postgres_description(url: str) -> str:
    async def version() -> str:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=10)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    try:
        found = asyncio.run(version()).split()[0]
    except Exception:  # the description is cosmetic
        found = "?"
    return f"PostgreSQL {found} ({urlsplit(url).hostname}:{urlsplit(url).port or 5432})"


# --- the server ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSecrets:
    addon_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    sso_salt: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    session_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))


@dataclass(frozen=True)
class Server:
    base_url: str  # http://127.0.0.1:PORT
    pid: int
    database_url: str
    secrets: ServerSecrets
    public_url: str
    pinned_to: str | None  # the cores given to taskset, or None

    @property
    def partner(self) -> PartnerApi:
        return PartnerApi(self.base_url, self.secrets.addon_password)


def server_env(
    database_url: str, server_secrets: ServerSecrets, port: int, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TRACEBIN_PUBLIC_URL": PUBLIC_URL,
        "ADDON_PASSWORD": server_secrets.addon_password,
        "SSO_SALT": server_secrets.sso_salt,
        "SESSION_SECRET": server_secrets.session_secret,
        "PORT": str(port),
        "PYTHONPATH": str(REPO_ROOT),
        **(extra or {}),
    }
    env.pop("TRACEBIN_DEV", None)  # production mode: what customers get
    return env


def wait_until_up(base_url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=1) as reply:
                if reply.status < 500:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server at {base_url} did not come up in {timeout} s")


@contextmanager
def running_server(
    database_url: str,
    *,
    cores: str | None = "0",
    workers: int = 1,
    extra_env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
) -> Iterator[Server]:
    """`tracebin-server serve` in its own process on a free port; stopped (SIGTERM, then kill) on exit.

    The server's stderr goes to `log_path` (or is discarded) so a chatty server cannot block on a pipe.
    """
    port = free_port()
    server_secrets = ServerSecrets()
    command = [
        *taskset_prefix(cores),
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # closed in the finally below
    proc = subprocess.Popen(
        command,
        env=server_env(database_url, server_secrets, port, extra_env),
        cwd=REPO_ROOT,
        stdout=log,
        stderr=log,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_up(base_url, proc)
        except RuntimeError as exc:
            tail = log_path.read_text(errors="replace")[-3000:] if log_path and log_path.exists() else ""
            raise RuntimeError(f"{exc}\n{tail}") from None
        yield Server(
            base_url=base_url,
            pid=proc.pid,
            database_url=database_url,
            secrets=server_secrets,
            public_url=PUBLIC_URL,
            pinned_to=cores if taskset_prefix(cores) else None,
        )
    finally:
        stop_process(proc)
        if log is not subprocess.DEVNULL:
            log.close()  # type: ignore[union-attr]


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Graceful stop (uvicorn finishes in-flight requests on SIGTERM), then kill."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


# --- the partner API -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """A provisioned add-on as its app sees it: TRACEBIN_URL = https://<key>@host/<project>."""

    heroku_uuid: str
    tracebin_url: str
    plan: str

    @property
    def key(self) -> str:
        return urlsplit(self.tracebin_url).username or ""

    @property
    def project(self) -> int:
        return int(urlsplit(self.tracebin_url).path.strip("/"))

    def to_json(self) -> dict[str, Any]:
        return {"heroku_uuid": self.heroku_uuid, "tracebin_url": self.tracebin_url, "plan": self.plan}


class PartnerApiError(RuntimeError):
    pass


class PartnerApi:
    """Heroku's side of the Add-on Partner API (Basic auth tracebin:ADDON_PASSWORD)."""

    def __init__(self, base_url: str, addon_password: str) -> None:
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{ADDON_ID}:{addon_password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                raw = reply.read()
                return reply.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as exc:
            raise PartnerApiError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None

    def provision(self, plan: str = "pro", *, name: str = "loadtest-app", heroku_uuid: str | None = None) -> Resource:
        heroku_uuid = heroku_uuid or str(uuid.uuid4())
        body = {"uuid": heroku_uuid, "plan": plan, "region": "amazon-web-services::us-east-1", "name": name}
        _, reply = self._call("POST", "/heroku/resources", body)
        return Resource(heroku_uuid=heroku_uuid, tracebin_url=reply["config"]["TRACEBIN_URL"], plan=plan)

    def provision_many(self, count: int, plan: str = "pro") -> list[Resource]:
        return [self.provision(plan, name=f"loadtest-app-{i}") for i in range(count)]

    def change_plan(self, heroku_uuid: str, plan: str) -> None:
        self._call("PUT", f"/heroku/resources/{heroku_uuid}", {"plan": plan})

    def deprovision(self, heroku_uuid: str) -> None:
        self._call("DELETE", f"/heroku/resources/{heroku_uuid}")


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True))


def run_quietly(command: Sequence[str]) -> str:
    """Output of a short command, or '' (used for cosmetic report details)."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
