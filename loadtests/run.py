"""`make loadtest` / `python -m loadtests.run`: one command that says where Tracebin stands.

Starts a real server (`tracebin-server serve`, production mode, pinned to core 0) on a fresh database
(a temporary SQLite file, or a new PostgreSQL database next to $DATABASE_URL / --database-url),
provisions resources through the partner API, runs locust headless (pinned to core 1) at a target
rate for a set time, prints req/s, p50/p95/p99 per endpoint, failures by kind and the CPU of the
server and of the generator, then checks that the database holds exactly the acknowledged events.
Exits 1 when an SLO given on the command line is missed or the check fails (2 on a setup error).
Reports (locust CSV + HTML, summary.json/.txt, server and locust logs) go to --report-dir.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtests import check, harness
from loadtests.scenario import CONFIG_ENV, LedgerFile, Mix, ResourceRef, ScenarioConfig

DEFAULT_REPORT_DIR = harness.REPO_ROOT / "loadtests" / "reports"
LOCUSTFILE = harness.REPO_ROOT / "loadtests" / "locustfile.py"
CONSUME_ENDPOINT = "POST /exceptions"
# Requests per task of the low-rate users (to budget the target rate).
DASHBOARD_REQUESTS_PER_VISIT = 2
CHURN_REQUESTS_PER_CYCLE = 6


def _postgres_from_env() -> str | None:
    url = os.environ.get("DATABASE_URL") or ""
    return url if url.startswith(("postgres://", "postgresql://")) else None


def parse_mix(text: str) -> Mix:
    """'large=0,new_issue=0.05' → Mix with those shares changed."""
    changes: dict[str, float] = {}
    for part in filter(None, (item.strip() for item in text.split(","))):
        name, _, value = part.partition("=")
        if name not in Mix.__dataclass_fields__:
            raise argparse.ArgumentTypeError(f"unknown share {name!r} (known: {', '.join(Mix.__dataclass_fields__)})")
        changes[name] = float(value)
    return replace(Mix(), **changes)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="locust users in total (default 50)")
    parser.add_argument(
        "--rate", type=float, default=500.0, help="target total req/s (constant_throughput; default 500)"
    )
    parser.add_argument("--duration", type=int, default=30, help="seconds of load (default 30)")
    parser.add_argument(
        "--database-url",
        default=_postgres_from_env(),
        help="postgres URL: a fresh database is created next to it (and dropped); sqlite:///new-file; "
        "default: $DATABASE_URL when it is PostgreSQL, else SQLite in a temporary directory",
    )
    parser.add_argument("--resources", type=int, default=20, help="projects posting events (default 20)")
    parser.add_argument("--dashboard-users", type=int, default=1, help="SSO users browsing the dashboard (default 1)")
    parser.add_argument(
        "--churn-users", type=int, default=1, help="users cycling provision/plan/deprovision (default 1)"
    )
    parser.add_argument("--max-p99-ms", type=float, help="SLO: p99 of --slo-endpoint at most this many ms")
    parser.add_argument(
        "--slo-endpoint",
        default=CONSUME_ENDPOINT,
        help=f"endpoint of --max-p99-ms (default '{CONSUME_ENDPOINT}'; 'Aggregated' for all)",
    )
    parser.add_argument("--min-rps", type=float, help="SLO: at least this many req/s in total")
    parser.add_argument(
        "--max-unexpected-failures", type=int, help="SLO: at most this many failed requests (expected 4xx excluded)"
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=DEFAULT_REPORT_DIR,
        help="default loadtests/reports/ (a subdirectory per run)",
    )
    parser.add_argument("--server-cores", default="0", help="taskset cores of the server (default 0; '' for none)")
    parser.add_argument("--generator-cores", default="1", help="taskset cores of locust (default 1; '' for none)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument(
        "--mix",
        type=parse_mix,
        default=Mix(),
        help="shares of the event requests, e.g. large=0,new_issue=0.05 "
        f"(default {','.join(f'{k}={v:g}' for k, v in asdict(Mix()).items())})",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards (its URL is printed)")
    parser.add_argument(
        "--lose-one-event-for-test",
        action="store_true",
        help="delete one acknowledged event before the check (proves the check catches a loss; exits 1)",
    )
    args = parser.parse_args(argv)
    if args.duration < 1 or args.rate <= 0 or args.resources < 1:
        parser.error("--duration, --rate and --resources must be positive")
    if args.users < args.dashboard_users + args.churn_users + 1:
        parser.error("--users must leave at least one app user after the dashboard and churn users")
    return args


# --- locust's CSV --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointStats:
    name: str
    requests: int
    failures: int
    rps: float
    p50: float | None
    p95: float | None
    p99: float | None
    max_ms: float | None


def read_stats(path: Path) -> tuple[dict[str, EndpointStats], list[tuple[str, str, int]]]:
    """Per-endpoint stats and failures by kind, as the locust process saw them when it quit."""
    raw = json.loads(path.read_text())
    stats = {item["name"]: EndpointStats(**item) for item in raw["endpoints"]}
    failures = sorted(((e["name"], e["error"], int(e["count"])) for e in raw["errors"]), key=lambda item: -item[2])
    return stats, failures


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Outcome:
    lines: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def say(self, line: str = "") -> None:
        self.lines.append(line)
        print(line, flush=True)


def probe(base_url: str, path: str) -> int:
    """Status of an empty POST (404 means the route is not there)."""
    request = urllib.request.Request(base_url + path, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def rates(args: argparse.Namespace, dashboard_users: int, churn_users: int) -> tuple[float, float, float]:
    """(req/s per app user, visits/s per dashboard user, seconds per churn cycle) for the target rate."""
    dashboard_rate = 1.0  # visits/s per dashboard user: 2 pages each
    churn_cycle = 10.0
    background = (
        dashboard_users * dashboard_rate * DASHBOARD_REQUESTS_PER_VISIT
        + churn_users * CHURN_REQUESTS_PER_CYCLE / churn_cycle
    )
    if background > args.rate / 4:  # a tiny rate (the suite's smoke run): slow the extras down
        dashboard_rate, churn_cycle = 0.5, 4.0
        background = (
            dashboard_users * dashboard_rate * DASHBOARD_REQUESTS_PER_VISIT
            + churn_users * CHURN_REQUESTS_PER_CYCLE / churn_cycle
        )
    app_users = args.users - dashboard_users - churn_users
    per_user = max(args.rate - background, args.rate / 2) / app_users
    return per_user, dashboard_rate, churn_cycle


@dataclass(frozen=True)
class Readings:
    code: int  # locust's exit code
    wall: float  # seconds
    server_cpu: float  # CPU seconds used by the server during the run
    server_waited: float  # seconds the server was runnable but had no CPU
    generator_cpu: float  # CPU seconds of locust (start-up included)
    generator_waited: float  # seconds locust was runnable but had no CPU (inflates its timings)
    cpu_pressure: float | None  # share of the run in which some task on the machine waited for a CPU


def run_locust(
    args: argparse.Namespace, server: harness.Server, config_path: Path, report: Path, user_classes: list[str]
) -> Readings:
    """Run locust to completion, reading the CPU and run-queue wait of the server and of locust."""
    command = [
        *harness.taskset_prefix(args.generator_cores),
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(args.users),
        "-r",
        str(args.users),
        "-t",
        f"{args.duration}s",
        "--host",
        server.base_url,
        "--csv",
        str(report / "locust"),
        "--html",
        str(report / "locust.html"),
        # Users finish the request they are in: an event cut off mid-request has no known outcome.
        "--stop-timeout",
        "10",
        "--exit-code-on-error",
        "0",
        "--only-summary",
        "--loglevel",
        "WARNING",
        *user_classes,
    ]
    env = {**os.environ, CONFIG_ENV: str(config_path), "PYTHONPATH": str(harness.REPO_ROOT)}
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = harness.cpu_seconds(server.pid)
    waited_before = harness.run_queue_wait_seconds(server.pid)
    generator_waited = 0.0
    pressure_before = harness.cpu_pressure_seconds()
    started = time.monotonic()
    deadline = started + args.duration + 120
    with (report / "locust.log").open("wb") as log:
        proc = subprocess.Popen(command, env=env, cwd=harness.REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        # Sample the generator's run-queue wait while it lives (it is gone once it has exited).
        while proc.poll() is None and time.monotonic() < deadline:
            generator_waited = harness.run_queue_wait_seconds(proc.pid) or generator_waited
            time.sleep(0.25)
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
    wall = time.monotonic() - started
    pressure_after = harness.cpu_pressure_seconds()
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Readings(
        code=code,
        wall=wall,
        server_cpu=harness.cpu_seconds(server.pid) - server_before,
        server_waited=harness.run_queue_wait_seconds(server.pid) - waited_before,
        generator_cpu=(after_children.ru_utime - before_children.ru_utime)
        + (after_children.ru_stime - before_children.ru_stime),
        generator_waited=generator_waited,
        cpu_pressure=(pressure_after - pressure_before) / wall
        if pressure_before is not None and pressure_after is not None
        else None,
    )


def summarise(
    out: Outcome, args: argparse.Namespace, stats: dict[str, EndpointStats], failures: list[tuple[str, str, int]]
) -> None:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    out.say(
        f"{'endpoint':<50} {'requests':>9} {'fails':>6} {'req/s':>8} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}  (ms)"
    )
    ordered = sorted((s for s in stats.values() if s.name != "Aggregated"), key=lambda s: -s.requests)
    for item in [*ordered, *(s for s in stats.values() if s.name == "Aggregated")]:
        out.say(
            f"{item.name[:50]:<50} {item.requests:>9} {item.failures:>6} {item.rps:>8.1f} "
            f"{ms(item.p50):>6} {ms(item.p95):>6} {ms(item.p99):>6} {ms(item.max_ms):>7}"
        )
    expected = {s.name: s.requests - s.failures for s in ordered if "expect" in s.name}
    if expected:
        out.say(
            "expected refusals (not failures): " + ", ".join(f"{name}: {count}" for name, count in expected.items())
        )
    total_failures = sum(count for _, _, count in failures)
    out.say(f"unexpected failures: {total_failures}")
    for name, error, count in failures[:15]:
        out.say(f"  {count:>7} x {name}: {error[:110]}")
    out.summary["endpoints"] = {s.name: s.__dict__ for s in stats.values()}
    out.summary["failures"] = [{"endpoint": n, "error": e, "count": c} for n, e, c in failures]
    out.summary["unexpected_failures"] = total_failures


def check_slos(
    out: Outcome, args: argparse.Namespace, stats: dict[str, EndpointStats], unexpected_failures: int
) -> None:
    aggregated = stats.get("Aggregated")
    if args.max_p99_ms is not None:
        target = stats.get(args.slo_endpoint)
        p99 = target.p99 if target else None
        if p99 is None or p99 > args.max_p99_ms:
            out.missed.append(f"p99 of {args.slo_endpoint} = {p99} ms > {args.max_p99_ms:g} ms")
    if args.min_rps is not None:
        rps = aggregated.rps if aggregated else 0.0
        if rps < args.min_rps:
            out.missed.append(f"throughput {rps:.0f} req/s < {args.min_rps:g} req/s")
    if args.max_unexpected_failures is not None and unexpected_failures > args.max_unexpected_failures:
        out.missed.append(f"{unexpected_failures} unexpected failures > {args.max_unexpected_failures}")


def lose_one_event(out: Outcome, database_url: str, ledger: LedgerFile) -> None:
    live = {p: ids for p, ids in ledger.acked.items() if ids and p not in ledger.deprovisioned}
    if not live:
        out.say("--lose-one-event-for-test: no acknowledged event to lose")
        return
    project = min(live)
    event_id = min(live[project])
    asyncio.run(check.delete_one_event(database_url, project, event_id))
    out.say(f"--lose-one-event-for-test: deleted acknowledged event {event_id} of project {project}")


def execute(args: argparse.Namespace) -> int:
    started_at = datetime.now(UTC)
    dialect = "postgresql" if args.database_url and not args.database_url.startswith("sqlite") else "sqlite"
    report = args.report_dir.resolve() / f"{started_at:%Y%m%d-%H%M%S}-{dialect}"
    report.mkdir(parents=True, exist_ok=True)
    out = Outcome()
    out.say(
        f"Tracebin load test: {args.rate:g} req/s target, {args.users} users, {args.duration} s; reports in {report}"
    )
    with harness.fresh_database(args.database_url, keep=args.keep_db) as database:
        out.say(f"database: {database.description}" + (f" — kept: {database.url}" if args.keep_db else ""))
        with harness.running_server(
            database.url, cores=args.server_cores or None, workers=args.workers, log_path=report / "server.log"
        ) as server:
            if probe(server.base_url, "/exceptions") == 404:
                out.say("POST /exceptions is not there (404): nothing to load-test yet")
                return 2
            classes = ["AppUser"]
            dashboard_users = args.dashboard_users if probe(server.base_url, "/sso/login") != 404 else 0
            if args.dashboard_users and not dashboard_users:
                out.say("note: /sso/login is not there (404): the dashboard user is left out")
            if dashboard_users:
                classes.append("DashboardUser")
            if args.churn_users:
                classes.append("ChurnUser")
            resources = server.partner.provision_many(args.resources, plan="pro")
            per_user, dashboard_rate, churn_cycle = rates(args, dashboard_users, args.churn_users)
            config = ScenarioConfig(
                resources=[ResourceRef(project=r.project, key=r.key, heroku_uuid=r.heroku_uuid) for r in resources],
                addon_password=server.secrets.addon_password,
                sso_salt=server.secrets.sso_salt,
                ledger_path=str(report / "ledger.json"),
                stats_path=str(report / "stats.json"),
                event_user_rate=per_user,
                dashboard_users=dashboard_users,
                dashboard_rate=dashboard_rate,
                churn_users=args.churn_users,
                churn_cycle_seconds=churn_cycle,
                mix=args.mix,
                seed=args.seed,
            )
            config_path = report / "scenario.json"
            config_path.write_text(config.to_json())
            config_path.chmod(0o600)  # it holds the partner password and the keys of this run
            out.say(
                f"server pid {server.pid} on {server.base_url} (cores {server.pinned_to or 'any'}), "
                f"{len(resources)} resources provisioned; locust on cores {args.generator_cores or 'any'}: {' '.join(classes)}"
            )
            readings = run_locust(args, server, config_path, report, classes)
        code, wall, server_cpu, generator_cpu = (
            readings.code,
            readings.wall,
            readings.server_cpu,
            readings.generator_cpu,
        )
        server_waited, generator_waited = readings.server_waited, readings.generator_waited
        # The server has stopped (gracefully): every in-flight commit and purge is done.
        stats_path = report / "stats.json"
        ledger_path = report / "ledger.json"
        if code != 0 or not stats_path.exists() or not ledger_path.exists():
            out.say(f"locust failed (exit {code}); see {report / 'locust.log'}")
            print((report / "locust.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            return 2
        stats, failures = read_stats(stats_path)
        out.say()
        summarise(out, args, stats, failures)
        out.say(
            f"CPU over {wall:.1f} s: server {server_cpu / wall:.2f} cores ({server_cpu:.1f} s), "
            f"generator {generator_cpu / wall:.2f} cores ({generator_cpu:.1f} s, includes its start-up)"
        )
        total = stats["Aggregated"].requests if "Aggregated" in stats else 0
        if total and server_cpu > 0:
            per_request = server_cpu / total
            out.say(
                f"server CPU per request: {per_request * 1000:.2f} ms "
                f"(so one fully available core would serve about {1 / per_request:.0f} req/s of this mix)"
            )
            out.summary["server_cpu_ms_per_request"] = round(per_request * 1000, 3)
        out.say(
            f"server waited {server_waited:.1f} s for a CPU while runnable "
            f"({server_waited / wall:.0%} of the run: its own threads or other processes on its core); "
            f"locust waited {generator_waited:.1f} s ({generator_waited / wall:.0%}: its timings include that)"
        )
        if readings.cpu_pressure is not None:
            out.say(
                f"machine CPU pressure during the run: {readings.cpu_pressure:.0%} "
                "(share of time some task waited for a CPU; near 0 on an idle machine)"
            )
        ledger = LedgerFile.read(ledger_path)
        if args.lose_one_event_for_test:
            lose_one_event(out, database.url, ledger)
        result = check.check_database(database.url, ledger)
        out.say()
        for line in result.describe():
            out.say(line)
        if not result.ok:
            out.missed.append("count check failed")
        elif result.acked == 0:
            out.missed.append("no event was acknowledged: the count check proved nothing")
        check_slos(out, args, stats, out.summary["unexpected_failures"])
    aggregated = stats.get("Aggregated")
    consume = stats.get(CONSUME_ENDPOINT)
    out.say()
    if consume and aggregated:
        out.say(
            f"RESULT: p99 {consume.p99:.0f} ms (p50 {consume.p50:.0f}, p95 {consume.p95:.0f}) of {CONSUME_ENDPOINT} "
            f"at {aggregated.rps:.0f} req/s in total ({consume.rps:.0f} events/s) on {database.dialect}"
        )
    if aggregated and aggregated.rps < 0.9 * args.rate:
        if generator_cpu / wall > 0.9:
            bound = "the generator is CPU-bound"
        elif (server_waited + generator_waited) / wall > 0.2:
            bound = (
                f"users waited for answers, and the cores are contended by the server's own threads or "
                f"other processes (server without a CPU "
                f"{server_waited / wall:.0%} of the run, locust {generator_waited / wall:.0%})"
            )
        else:
            bound = "users waited for answers: the server is the bottleneck"
        out.say(f"note: target {args.rate:g} req/s not reached ({aggregated.rps:.0f}); {bound}")
    out.say("SLOs: " + ("all met" if not out.missed else "MISSED: " + "; ".join(out.missed)))
    out.summary.update(
        {
            "started_at": started_at.isoformat(timespec="seconds"),
            "command": shlex.join([Path(sys.executable).name, "-m", "loadtests.run", *sys.argv[1:]]),
            "machine": harness.machine_description(),
            "database": database.description,
            "event_builder": _builder_name(),
            "target_rate": args.rate,
            "mix": asdict(args.mix),
            "users": args.users,
            "duration_s": args.duration,
            "wall_s": round(wall, 2),
            "server_cpu_cores": round(server_cpu / wall, 3),
            "server_run_queue_wait_s": round(server_waited, 2),
            "generator_cpu_cores": round(generator_cpu / wall, 3),
            "generator_run_queue_wait_s": round(generator_waited, 2),
            "machine_cpu_pressure": None if readings.cpu_pressure is None else round(readings.cpu_pressure, 3),
            "check": {"ok": result.ok, "acked": result.acked, "stored": result.stored, "lines": result.describe()},
            "slo_missed": out.missed,
        }
    )
    (report / "summary.json").write_text(json.dumps(out.summary, indent=2, default=str))
    (report / "summary.txt").write_text("\n".join(out.lines) + "\n")
    return 1 if out.missed else 0


def _builder_name() -> str:
    from loadtests.events import builder_name

    return builder_name()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return execute(args)
    except (harness.PartnerApiError, RuntimeError, ValueError) as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
