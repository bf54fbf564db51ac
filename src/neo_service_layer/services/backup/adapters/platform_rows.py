"""Queries counting the rows the platform wrote itself (``rules.backup.holds_user_data``).

Plain SQL both SQLite and PostgreSQL run; a table missing (a database not migrated yet) is skipped.
"""

from __future__ import annotations

from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT

#: table -> query counting its platform-owned rows
PLATFORM_ROW_QUERIES = {
    "tenants": f"SELECT count(*) FROM tenants WHERE id = '{PLATFORM_TENANT}'",  # noqa: S608 - a constant
    "key_sealed_records": (
        "SELECT count(*) FROM key_sealed_records WHERE key_id IN (SELECT key_id FROM chain_service_keys)"
    ),
}
