"""Operator accounts: argon2 password hashes and a login throttle kept in the database.

The throttle counts failed logins per username and per client address over a window, in the
database, so it holds across server processes: after USER_LIMIT failures for one username (or
IP_LIMIT from one address) further attempts are refused with 429 until the window has passed,
whether or not the password is right.
"""

from __future__ import annotations

import asyncio
import re
import time
import warnings

from app.errors import BadRequest, RateLimited, Unauthorized
from app.storage import ops_operators
from app.storage.engine import Database
from app.storage.ops_operators import Operator

with warnings.catch_warnings():
    # passlib 1.7.4 imports the deprecated `crypt` module (the same filter as in pyproject).
    warnings.filterwarnings("ignore", "'crypt' is deprecated", DeprecationWarning)
    from passlib.context import CryptContext

passwords = CryptContext(schemes=["argon2", "pbkdf2_sha256"], deprecated="auto")
WINDOW = 15 * 60
USER_LIMIT = 5
IP_LIMIT = 20
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12
with warnings.catch_warnings():
    # The first hash loads passlib's argon2 backend, which reads the deprecated argon2.__version__.
    warnings.filterwarnings("ignore", "Accessing argon2.__version__ is deprecated", DeprecationWarning)
    # Verified when the username is unknown, so the reply takes as long as for a known one.
    _DUMMY_HASH = passwords.hash("tracebin-no-such-operator")


def validate_credentials(username: str, password: str) -> str:
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise BadRequest("usernames are 2-64 characters: lower-case letters, digits, '.', '_' or '-'", field="username")
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"passwords need at least {MIN_PASSWORD} characters", field="password")
    return username


async def create_operator(db: Database, *, username: str, password: str) -> Operator:
    """Create an operator (or reset the password of an existing one)."""
    username = validate_credentials(username, password)
    hashed = await asyncio.to_thread(passwords.hash, password)
    return await ops_operators.upsert_operator(db, username=username, password_hash=hashed, now=int(time.time()))


def _keys(username: str, client_ip: str) -> tuple[str, str]:
    return f"user:{username[:64]}", f"ip:{client_ip[:64]}"


async def authenticate(
    db: Database, *, username: str, password: str, client_ip: str, now: int | None = None
) -> Operator:
    now = int(time.time()) if now is None else now
    username = username.strip().lower()
    user_key, ip_key = _keys(username, client_ip)
    since = now - WINDOW
    failures = await ops_operators.count_failures(db, keys=[user_key, ip_key], since=since)
    for key, limit in ((user_key, USER_LIMIT), (ip_key, IP_LIMIT)):
        if failures[key] >= limit:
            oldest = await ops_operators.oldest_failure(db, key=key, since=since) or now
            raise RateLimited(
                "too many failed sign-ins; wait a few minutes and try again", retry_after=max(1, oldest + WINDOW - now)
            )
    operator = await ops_operators.get_by_username(db, username=username)
    hashed = operator.password_hash if operator else _DUMMY_HASH
    valid, new_hash = await asyncio.to_thread(passwords.verify_and_update, password, hashed)
    if operator is None or not valid:
        await ops_operators.record_failure(db, keys=[user_key, ip_key], now=now, prune_before=now - WINDOW)
        raise Unauthorized("wrong username or password")
    if new_hash:
        await ops_operators.set_password_hash(db, operator_id=operator.id, password_hash=new_hash)
    await ops_operators.clear_failures(db, key=user_key)
    await ops_operators.touch_login(db, operator_id=operator.id, now=now)
    return operator


async def get_operator(db: Database, operator_id: int) -> Operator | None:
    return await ops_operators.get_by_id(db, operator_id=operator_id)
