"""What a migration that creates tables does on PostgreSQL: grant them to the application role.

The API and worker connect as ``NSL_DB_APP_ROLE`` (default ``nsl_app``) when it exists; a service's
revision calls :func:`grant_to_app_role` with its new tables. Revisions written before this module keep
their own copy (a revision is not edited once released).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from alembic import op


def app_role() -> str:
    """The application role's name, validated (it is spliced into SQL)."""
    from neo_service_layer.kernel.config import ConfigurationError, load_settings

    try:
        role = load_settings().db_app_role or "nsl_app"
    except ConfigurationError:
        role = "nsl_app"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"NSL_DB_APP_ROLE {role!r}: lowercase letters, digits and '_' only")
    return role


def grant_to_app_role(tables: Sequence[str]) -> None:
    """On PostgreSQL, when the application role exists: it may read and write ``tables``."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", table):
            raise ValueError(f"table name {table!r}")
    role = app_role()
    op.execute(f"""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON {", ".join(tables)} TO {role};
  END IF;
END $$;
""")  # noqa: S608 (role and table names are validated above)
