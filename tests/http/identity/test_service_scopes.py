"""A service brings its own scope: declared in its descriptor, no kernel change, and identity grants it.

The ``shout`` service exists only in this test. It declares the scope ``shout:say`` and grants it to
developers; owners and admins hold it as every tenant scope. A developer's token carries it, an API key
can be created with it, and the service's route accepts both; a viewer's token does not carry it. With
the registry's services alone the scope does not exist: an API key cannot ask for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute

from neo_service_layer.bootstrap import create_app, scope_catalogue
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.http.security import declared_scopes, require_scope
from neo_service_layer.kernel.identity.rules.access import Principal, ScopeGrant
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.registry import SERVICES
from tests.http.appclient import app_client
from tests.http.identity.conftest import PASSWORD, Api, bearer
from tests.http.identity.test_auth_routes import _problem
from tests.unit.identity.fakes import FakeClock

SHOUT_SAY = "shout:say"


def shout_service() -> ServiceDescriptor:
    router = APIRouter(prefix="/shout", tags=["shout"])

    @router.get("/{word}")
    async def shout(
        word: str, principal: Annotated[Principal, Depends(require_scope(SHOUT_SAY))]
    ) -> dict[str, str]:
        return {"word": word.upper(), "by": principal.actor}

    return ServiceDescriptor(
        name="shout",
        summary="Test-only service with its own scope",
        routers=(router,),
        scopes=(ScopeGrant(SHOUT_SAY, (Role.DEVELOPER,)),),
    )


@pytest.fixture
async def shout_api(identity_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    clock = FakeClock()
    services = (*SERVICES, shout_service())
    app = create_app(identity_settings(), migrate=True, clock=clock, services=services)
    async with app_client(app) as client:
        yield Api(client, app, clock)


async def test_a_service_scope_reaches_tokens_api_keys_and_its_route(shout_api: Api) -> None:
    api = shout_api
    assert SHOUT_SAY in api.container.iam.scope_catalogue.tenant_scopes
    root = await api.root_token()
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    for username, role in (("dev", "developer"), ("vic", "viewer")):
        added = await api.client.post(
            f"/api/v1/tenants/{tenant_id}/members",
            headers=bearer(owner),
            json={"username": username, "role": role, "password": PASSWORD},
        )
        assert added.status_code == 201, added.text

    # a developer's token carries the service's scope, and the service's route accepts it
    signed_in = await api.sign_in("dev")
    assert SHOUT_SAY in signed_in["scopes"]
    dev = signed_in["access_token"]
    shouted = await api.client.get("/api/v1/shout/hello", headers=bearer(dev))
    assert shouted.status_code == 200, shouted.text
    assert shouted.json()["word"] == "HELLO"
    # a viewer's does not
    viewer = await api.sign_in("vic")
    assert SHOUT_SAY not in viewer["scopes"]
    _problem(
        await api.client.get("/api/v1/shout/hello", headers=bearer(viewer["access_token"])),
        403,
        "missing-scope",
    )
    # the owner holds it as every tenant scope
    assert (await api.client.get("/api/v1/shout/x", headers=bearer(owner))).status_code == 200

    # an API key created by the developer can hold it, and only what it asked for
    keys = f"/api/v1/tenants/{tenant_id}/api-keys"
    created = await api.client.post(keys, headers=bearer(dev), json={"name": "bot", "scopes": [SHOUT_SAY]})
    assert created.status_code == 201, created.text
    assert created.json()["scopes"] == [SHOUT_SAY]
    key = created.json()["key"]
    me = (await api.client.get("/api/v1/auth/me", headers=bearer(key))).json()
    assert me["scopes"] == [SHOUT_SAY]
    by_key = await api.client.get("/api/v1/shout/hi", headers=bearer(key))
    assert by_key.status_code == 200, by_key.text
    assert by_key.json() == {"word": "HI", "by": f"api_key:{created.json()['id']}"}
    _problem(await api.client.get("/api/v1/keys", headers=bearer(key)), 403, "missing-scope")
    # a scope of the same service that nobody declared is still unknown
    unknown = await api.client.post(keys, headers=bearer(owner), json={"name": "x", "scopes": ["shout:all"]})
    _problem(unknown, 422, "invalid-input")


def test_the_service_route_declares_a_scope_of_the_catalogue() -> None:
    services = (*SERVICES, shout_service())
    route = next(
        r for r in services[-1].routers[0].routes if isinstance(r, APIRoute) and r.path == "/shout/{word}"
    )
    assert declared_scopes(route.dependant) == [SHOUT_SAY]
    assert SHOUT_SAY in scope_catalogue(services).all_scopes


async def test_without_the_service_its_scope_does_not_exist(api: Api, root: str) -> None:
    assert SHOUT_SAY not in scope_catalogue().all_scopes
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    refused = await api.client.post(
        f"/api/v1/tenants/{tenant_id}/api-keys",
        headers=bearer(owner),
        json={"name": "bot", "scopes": [SHOUT_SAY]},
    )
    _problem(refused, 422, "invalid-input")
    signed_in = await api.sign_in("alice", totp=api.totp_secrets["alice"])
    assert SHOUT_SAY not in signed_in["scopes"]
