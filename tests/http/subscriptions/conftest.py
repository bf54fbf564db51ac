"""An API on SQLite (and PostgreSQL with the application role, so row-level security applies) without an
enclave or a chain, tenants with API keys, the oracle's operator allowance for receivers on 127.0.0.1
over plain http, and a real aiohttp receiver that checks Standard Webhooks signatures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI
from sqlalchemy import text

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.events.adapters import publish
from neo_service_layer.kernel.events.rules import TenantEvent
from neo_service_layer.kernel.identity.adapters.secret_box import AesGcmBox, resolve_kek
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, SUPERADMIN
from neo_service_layer.services.subscriptions.adapters.delivery_store import SqlDeliveryStore, SqlRelayStore
from neo_service_layer.services.subscriptions.parts import NAME, SubscriptionParts
from neo_service_layer.services.subscriptions.ports import Mailer, WebhookSigner
from neo_service_layer.services.subscriptions.rules.signing import InvalidSignature, verify
from neo_service_layer.services.subscriptions.service import deliverer, poster
from neo_service_layer.services.subscriptions.use_cases.deliver import Deliverer
from neo_service_layer.services.subscriptions.use_cases.relay import Relay
from tests.http.appclient import app_client
from tests.http.keys.conftest import MovableClock
from tests.scopes import ALL_SCOPES, TENANT_SCOPES

BASE = "/api/v1/subscriptions"


@dataclass
class Tenant:
    id: str
    container: Container
    client: httpx.AsyncClient
    keys: dict[tuple[str, ...], str] = field(default_factory=dict)

    async def key(self, *scopes: str) -> str:
        wanted = tuple(sorted(scopes or TENANT_SCOPES))
        if wanted not in self.keys:
            owner = Principal(
                tenant_id=self.id,
                subject="usr_test_owner",
                kind=PrincipalKind.USER,
                roles=frozenset({"owner"}),
                scopes=TENANT_SCOPES,
            )
            _, secret = await self.container.iam.api_keys.create(
                owner, self.id, name="t", scopes=list(wanted)
            )
            self.keys[wanted] = secret
        return self.keys[wanted]

    async def call(self, method: str, path: str, *scopes: str, **kwargs: Any) -> httpx.Response:
        """``path`` under ``/api/v1/subscriptions`` with an API key holding ``scopes`` (default: all)."""
        headers = {"authorization": f"Bearer {await self.key(*scopes)}"}
        return await self.client.request(method, f"{BASE}{path}", headers=headers, **kwargs)

    async def subscribe(self, types: list[str], url: str | None = None) -> tuple[str, str | None]:
        channel: dict[str, Any] = {"webhook": {"url": url}} if url else {"stream": {}}
        answer = await self.call(
            "POST", "", json={"name": "s", "source": {"types": types}, "channel": channel}
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        return body["subscription"]["subscriptionId"], body["webhookSecret"]

    async def publish(self, *types: str) -> list[str]:
        """Events as a producer writes them, in its own tenant-scoped transaction; their ids."""
        engine = self.container.engine
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": self.id})
            now = datetime.now(UTC)
            ids = await publish(conn, [TenantEvent(self.id, t, now, {"n": i}) for i, t in enumerate(types)])
        return [str(i) for i in ids]


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    clock: MovableClock
    #: deliverers this test made: closed after it (their posters keep connections open)
    opened: list[Deliverer] = field(default_factory=list)

    @property
    def container(self) -> Container:
        return self.app.state.container  # type: ignore[no-any-return]

    async def tenant(self, name: str) -> Tenant:
        admin = Principal(
            tenant_id=PLATFORM_TENANT,
            subject="usr_test_admin",
            kind=PrincipalKind.USER,
            roles=frozenset({SUPERADMIN}),
            scopes=ALL_SCOPES,
        )
        created = await self.container.iam.identity.create_tenant(admin, name)
        return Tenant(created.id, self.container, self.client)

    def worker(self, name: str = "w1") -> tuple[Relay, Deliverer]:
        relay = Relay(SqlRelayStore(self.container.engine), self.container.clock)
        return relay, self.closes(deliverer(self.container, name))

    def sender(
        self, name: str, *, mailer: Mailer | None = None, signer: WebhookSigner | None = None
    ) -> Deliverer:
        """A deliverer on this API's database with its own mailer or ``v1a`` signer (none by default),
        closed when the test ends."""
        container = self.container
        return self.closes(
            Deliverer(
                SqlDeliveryStore(container.engine),
                poster(container),
                AesGcmBox(resolve_kek(container.settings)),
                self.clock,
                container.parts_of(NAME, SubscriptionParts).metrics,
                worker_id=name,
                mailer=mailer,
                signer=signer,
            )
        )

    def closes(self, sender: Deliverer) -> Deliverer:
        """``sender``, closed when the test ends."""
        self.opened.append(sender)
        return sender

    async def close(self) -> None:
        for sender in self.opened:
            await sender.close()

    async def round(self, relay: Relay, sender: Deliverer) -> None:
        """One worker round, waiting for the deliveries it started."""
        await relay.run_once()
        await sender.run_once()
        await sender.drain()


@pytest.fixture
def subs_settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'nsl.db'}",
            "rate_limit_enabled": False,
            "password_hash_time_cost": 1,
            "password_hash_memory_kib": 64,
            "password_hash_parallelism": 1,
            "oracle_allow_hosts": ["127.0.0.1"],
            "oracle_allow_http": True,
        }
        values.update(overrides)
        return make_settings(**values)

    return make


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_settings(request: pytest.FixtureRequest, subs_settings: Callable[..., Settings]) -> Settings:
    if request.param == "postgres":
        return subs_settings(database_url=request.getfixturevalue("postgres_url"), db_app_role="nsl_app")
    return subs_settings()


@pytest.fixture
async def api(backend_settings: Settings, clock: MovableClock) -> AsyncIterator[Api]:
    app = create_app(backend_settings, clock=clock)
    async with app_client(app) as client:
        api = Api(app, client, clock)
        try:
            yield api
        finally:
            await api.close()


@dataclass
class Receiver:
    """Endpoints by path: ``/ok`` 200; ``/flaky`` 500 to an id's first attempt, then 200; ``/gone``
    410 while ``gone``; ``/fail`` 500 while ``failing``; ``/slow`` waits for ``release``;
    ``/plain/...`` 204 unchecked. Each request's signature is checked against ``secrets[path]`` per
    the spec; ``hits`` keeps (path, webhook-id, verified)."""

    base: str
    secrets: dict[str, str] = field(default_factory=dict)
    hits: list[tuple[str, str, bool]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = True
    gone: bool = True
    release: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    def ids(self, path: str, *, verified: bool = True) -> list[str]:
        return [i for p, i, ok in self.hits if p == path and ok == verified]


@pytest.fixture
async def receiver(clock: MovableClock) -> AsyncIterator[Receiver]:
    """Checks the timestamp against the test's clock (the one the app signs with)."""
    state = Receiver("")

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.path.startswith("/plain/"):  # not a subscription's endpoint (a tenant job's)
            return web.Response(status=204)
        path = request.path.rstrip("/").rsplit("/", 1)[-1]
        path = "/" + path
        secret = state.secrets.get(request.path)
        try:
            if secret is None:
                raise InvalidSignature("no secret")
            verify(secret, dict(request.headers), body, now=int(clock.now().timestamp()))
            ok = True
        except InvalidSignature:
            ok = False
        msg_id = request.headers.get("webhook-id", "")
        earlier = [i for p, i, _ in state.hits if p == request.path and i == msg_id]
        state.hits.append((request.path, msg_id, ok))
        if not ok:
            return web.Response(status=401)
        if path == "/slow":
            state.entered.set()
            await state.release.wait()
        if path == "/gone" and state.gone:
            return web.Response(status=410)
        if path == "/fail" and state.failing:
            return web.Response(status=500)
        if path == "/flaky" and not earlier:
            return web.Response(status=500)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()
