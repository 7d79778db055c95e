"""Initial schema (development placeholder: regenerated as explicit operations before release).

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

from alembic import op

from app.storage.schema import metadata

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
