"""`tracebin-server admin create --username NAME [--password-stdin]`: operator accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from app.errors import BadRequest
from app.services import operators
from app.settings import Settings
from app.storage.engine import Database


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = sub.add_parser("admin", help="operator accounts for the /admin console")
    actions = admin.add_subparsers(dest="admin_command", required=True)
    create = actions.add_parser("create", help="create an operator (or set a new password for an existing one)")
    create.add_argument("--username", required=True)
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.set_defaults(func=cmd_admin_create)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise BadRequest("the two passwords differ")
    return first


async def _create(settings: Settings, username: str, password: str) -> str:
    db = Database(settings.database_url)
    await db.connect()
    try:
        operator = await operators.create_operator(db, username=username, password=password)
    finally:
        await db.disconnect()
    return operator.username


def cmd_admin_create(args: argparse.Namespace, settings: Settings) -> int:
    try:
        password = _read_password(args.password_stdin)
        username = asyncio.run(_create(settings, args.username, password))
    except BadRequest as exc:
        print(f"tracebin-server admin create: {exc.message}", file=sys.stderr)
        return 1
    print(f"operator {username!r} can sign in at {settings.public_url}/admin")
    return 0
