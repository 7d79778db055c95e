"""The complete schema: every table module registered on one MetaData (used by Alembic)."""

from __future__ import annotations

from app.storage import ops_tables, tables
from app.storage.tables import metadata

# Tables whose rows belong to one resource and go when it is deprovisioned.
RESOURCE_OWNED = (*tables.RESOURCE_OWNED, *ops_tables.OPS_RESOURCE_OWNED)

__all__ = ["RESOURCE_OWNED", "metadata", "ops_tables", "tables"]
