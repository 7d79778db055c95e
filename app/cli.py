"""`tracebin-server`: serve, migrate and the operator commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

import uvicorn

from app import ops_cli, seed, sso_demo
from app.errors import ConfigError
from app.services import retention
from app.settings import Settings, load_settings
from app.storage import migrate as migrations

Command = Callable[[argparse.Namespace, Settings], int]


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    workers = args.workers or settings.workers
    port = args.port or settings.port
    # Worker processes build their own Settings from the environment: hand them the chosen port.
    os.environ["PORT"] = str(port)
    settings = load_settings()
    if settings.is_sqlite and workers > 1:
        print("SQLite takes one server process; serving with 1 worker (use PostgreSQL to scale out).")
        workers = 1
    if settings.generated_secrets:
        print(f"Development secrets (generated, kept in var/dev-secrets.json): {', '.join(settings.generated_secrets)}")
        print(f"  ADDON_PASSWORD={settings.addon_password}")
        print(f"  SSO_SALT={settings.sso_salt}")
    print(f"Tracebin on {settings.public_url} (database: {settings.database_url.split('://', 1)[0]})")
    uvicorn.run(
        "app.main:create_served_app",
        factory=True,
        host=args.host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
        forwarded_allow_ips="*",
        log_level=args.log_level,
        access_log=args.access_log,
    )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    migrations.upgrade(settings.database_url)
    print("database is at the latest schema")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracebin-server", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web service (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="default: $PORT or 8000")
    serve.add_argument("--workers", type=int, default=0, help="default: $WEB_CONCURRENCY or 1")
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--access-log", action="store_true")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="bring the database schema up to date (idempotent)")
    migrate.set_defaults(func=cmd_migrate)

    # Feature commands register themselves here (purge, seed-demo, admin).
    for register in _feature_commands():
        register(sub)
    return parser


def _feature_commands() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    return [seed.register, sso_demo.register, retention.register, ops_cli.register]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"tracebin-server: configuration error: {exc}", file=sys.stderr)
        return 2
    func: Command = args.func
    return func(args, settings)


if __name__ == "__main__":
    sys.exit(main())
