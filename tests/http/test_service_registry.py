"""The registry and the plug-in point: a service is a folder plus one line, and the kernel takes it as is.

A service defined only in this test (no kernel change) gets its routes mounted under ``/api/v1``, its
parts opened in the lifespan and closed after, its jobs handed to the worker and its command group to
``nsl``. The registry's own services are checked for unique names and for migration folders that match
what is on disk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import typer
from fastapi import APIRouter, Request
from typer.testing import CliRunner

from neo_service_layer.bootstrap import create_app, open_container, service_commands, worker_jobs
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.container import Container, OpenContainer
from neo_service_layer.kernel.db.migrate import MIGRATIONS_DIR, version_locations
from neo_service_layer.kernel.service_descriptor import Command, ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.registry import SERVICES
from tests.http.appclient import app_client

SERVICES_DIR = Path(__file__).resolve().parents[2] / "src" / "neo_service_layer" / "services"


@dataclass
class EchoParts:
    """Records what the kernel did with the service, so the test can assert it."""

    opened_for: str
    closed: list[str] = field(default_factory=list)


def echo_service(record: list[str]) -> ServiceDescriptor:
    router = APIRouter(prefix="/echo", tags=["echo"])

    @router.get("/{word}")
    async def echo(word: str, request: Request) -> dict[str, str]:
        container: Container = request.app.state.container
        return {"word": word, "opened_for": container.parts_of("echo", EchoParts).opened_for}

    @asynccontextmanager
    async def open_echo(container: Container) -> AsyncIterator[EchoParts]:
        parts = EchoParts(container.role)
        record.append(f"open:{container.role}")
        yield parts
        record.append(f"close:{container.role}")

    def jobs(container: Container) -> Sequence[PeriodicJob]:
        async def tick() -> None:
            record.append("tick")

        return [PeriodicJob("echo-tick", timedelta(seconds=1), tick)]

    def commands(opener: OpenContainer) -> Sequence[Command]:
        app = typer.Typer()

        @app.command("say")
        def say(word: str) -> None:
            typer.echo(f"echo {word}")

        @app.command("noop")
        def noop() -> None:
            """A second command keeps typer from collapsing the group into one command."""

        return [Command("echo", app)]

    return ServiceDescriptor(
        name="echo",
        summary="Test-only service",
        routers=(router,),
        open=open_echo,
        jobs=jobs,
        commands=commands,
    )


async def test_a_new_service_plugs_in_without_kernel_changes(make_settings: Callable[..., Settings]) -> None:
    record: list[str] = []
    services = (*SERVICES, echo_service(record))
    app = create_app(make_settings(), migrate=True, services=services)
    async with app_client(app) as client:
        answer = await client.get("/api/v1/echo/hello")
        assert answer.status_code == 200
        assert answer.json() == {"word": "hello", "opened_for": "api"}
        schema = (await client.get("/openapi.json")).json()
        assert "/api/v1/echo/{word}" in schema["paths"]
    assert record == ["open:api", "close:api"]


async def test_the_worker_gets_every_service_jobs(make_settings: Callable[..., Settings]) -> None:
    record: list[str] = []
    services = (*SERVICES, echo_service(record))
    async with open_container(make_settings(), "worker", migrate=True, services=services) as container:
        jobs = {job.name: job for job in worker_jobs(container, services)}
        assert "heartbeat" in jobs
        assert "key-destruction" in jobs
        await jobs["echo-tick"].run()
    assert record == ["open:worker", "tick", "close:worker"]


def test_the_cli_gets_every_service_command_group() -> None:
    services = (*SERVICES, echo_service([]))
    app = typer.Typer()
    for command in service_commands(open_container, services):
        app.add_typer(command.app, name=command.name)
    result = CliRunner().invoke(app, ["echo", "say", "hi"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "echo hi"


def test_registered_services_have_unique_names_and_every_service_folder_is_registered() -> None:
    names = [service.name for service in SERVICES]
    assert len(names) == len(set(names))
    folders = {p.name.replace("_", "-") for p in SERVICES_DIR.iterdir() if (p / "service.py").exists()}
    assert folders == {name.replace("_", "-") for name in names}


def test_migration_folders_on_disk_are_exactly_those_the_descriptors_name() -> None:
    declared = {service.migrations.resolve() for service in SERVICES if service.migrations is not None}
    found = {path.resolve() for path in version_locations()} - {(MIGRATIONS_DIR / "versions").resolve()}
    assert declared == found
    assert declared  # the oracle's templates live in its own folder
