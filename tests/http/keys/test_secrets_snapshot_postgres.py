"""Reading secrets on PostgreSQL is one snapshot: a secret deleted while a listing reads is seen whole or
not at all. Found by ``bench.soak``: a listing read the secrets, a delete committed, then the listing read
the versions (read committed: a new snapshot per statement), found a secret without its current version
and answered 404 for the whole listing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.util import await_only

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from tests.http.appclient import app_client
from tests.http.keys.conftest import Api, MovableClock

pytestmark = pytest.mark.postgres


async def test_a_listing_racing_a_delete_answers_a_consistent_list(
    api_settings: Callable[..., Settings], postgres_url: str, clock: MovableClock
) -> None:
    settings = api_settings(database_url=postgres_url, db_app_role="nsl_app")
    app = create_app(settings, clock=clock)
    async with app_client(app) as client:
        api = Api(app, client, settings, None)  # type: ignore[arg-type]
        acme = await api.tenant("acme")
        for name in ("a", "b"):
            put = await acme.call("PUT", f"/api/v1/secrets/{name}", json={"value": "v1"})
            assert put.status_code == 201, put.text
        assert (await acme.call("PUT", "/api/v1/secrets/a", json={"value": "v2"})).status_code == 200
        other = await asyncpg.connect(postgres_url)
        deleted: list[str] = []

        def delete_after_the_first_read(*args: Any) -> None:
            """Right after the listing's first statement on ``tenant_secrets``, another client deletes
            secret ``a`` and commits (the window between two statements of one read)."""
            statement = str(args[2])
            if not deleted and statement.lstrip().startswith("SELECT") and "FROM tenant_secrets" in statement:
                deleted.append(statement)
                await_only(
                    other.execute(
                        "DELETE FROM tenant_secret_versions WHERE name = 'a'; "
                        "DELETE FROM tenant_secrets WHERE name = 'a'"
                    )
                )

        engine = api.container.engine.sync_engine
        event.listen(engine, "after_cursor_execute", delete_after_the_first_read)
        try:
            listed = await acme.call("GET", "/api/v1/secrets")
        finally:
            event.remove(engine, "after_cursor_execute", delete_after_the_first_read)
            await other.close()
        assert deleted, "the listing never read tenant_secrets"
        assert listed.status_code == 200, listed.text
        # read before the delete committed: both secrets, ``a`` whole at its second version
        assert [(s["name"], s["current_version"]) for s in listed.json()] == [("a", 2), ("b", 1)]
        after = await acme.call("GET", "/api/v1/secrets")
        assert [s["name"] for s in after.json()] == ["b"]
        assert (await acme.call("GET", "/api/v1/secrets/a")).status_code == 404
