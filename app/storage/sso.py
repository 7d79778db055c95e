"""SSO bookkeeping: used tokens (replay protection) and the contacts seen in sign-ins."""

from __future__ import annotations

import sqlalchemy as sa

from app.storage.engine import Database
from app.storage.tables import contacts, sso_tokens


async def burn_tokens(db: Database, *, token_hashes: list[str], expires_at: int, now: int) -> bool:
    """Record the tokens as used; False when any was used before (a replay).

    The primary key on token_hash settles a replay, even two concurrent posts of one form: the
    INSERT of an already used token inserts nothing and returns no row.
    """
    async with db.transaction() as conn:
        # The table only ever holds the last few minutes of tokens.
        await conn.execute(sa.delete(sso_tokens).where(sso_tokens.c.expires_at < now))
        for token_hash in token_hashes:
            insert = (
                db.insert(sso_tokens)
                .values(token_hash=token_hash, expires_at=expires_at)
                .on_conflict_do_nothing(index_elements=["token_hash"])
                .returning(sso_tokens.c.token_hash)
            )
            if await conn.fetch_val(insert) is None:
                return False
    return True


async def note_contact(db: Database, *, resource_id: int, email: str, now: int) -> None:
    """Remember an SSO email as a notification contact of the resource (it grants nothing)."""
    upsert = (
        db.insert(contacts)
        .values(resource_id=resource_id, email=email, first_seen=now, last_seen=now)
        .on_conflict_do_update(index_elements=["resource_id", "email"], set_={"last_seen": now})
    )
    async with db.transaction() as conn:
        await conn.execute(upsert)
