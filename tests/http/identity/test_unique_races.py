"""Requests creating the same tenant or user at once: one is made, the others get a 409 (the
database's unique constraint decides; the look-up before the insert cannot see the other request)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.http.identity.conftest import PASSWORD, Api, bearer


async def _race(api: Api) -> None:
    root = await api.root_token()
    tenants = [
        api.client.post("/api/v1/tenants", headers=bearer(root), json={"name": "acme"}) for _ in range(4)
    ]
    answers = await asyncio.gather(*tenants)
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
    assert {a.json()["type"].rsplit("/", 1)[1] for a in answers if a.status_code == 409} == {"already-exists"}
    tenant_id = next(a.json()["id"] for a in answers if a.status_code == 201)
    members = [
        api.client.post(
            f"/api/v1/tenants/{tenant_id}/members",
            headers=bearer(root),
            json={"username": "bob", "role": "admin", "password": PASSWORD},
        )
        for _ in range(4)
    ]
    added = await asyncio.gather(*members)
    assert sorted(a.status_code for a in added) == [201, 409, 409, 409], [a.text for a in added]
    listed = await api.client.get("/api/v1/tenants", headers=bearer(root))
    assert [t["name"] for t in listed.json() if t["name"] == "acme"] == ["acme"]


async def test_same_tenant_at_once_on_sqlite(api: Api) -> None:
    await _race(api)


@pytest.mark.postgres
async def test_same_tenant_at_once_on_postgres(make_api: Callable[..., Any], postgres_url: str) -> None:
    async with make_api(database_url=postgres_url) as api:
        await _race(api)
