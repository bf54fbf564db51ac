"""How a service plugs into the kernel: one small, typed descriptor per service.

A service package exposes a ``ServiceDescriptor`` in its ``service`` module; ``neo_service_layer.registry``
lists them, and the composition root (``neo_service_layer.bootstrap``) is the only reader. The kernel
never imports a service: it hands each descriptor's hooks the :class:`~neo_service_layer.kernel.container.
Container` and collects what they give back (routers, jobs, command groups, migrations, contracts,
scopes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from fastapi import APIRouter
from typer import Typer

from neo_service_layer.kernel.chain.adapters.provisioning import ChainHooks
from neo_service_layer.kernel.identity.rules.access import ScopeGrant
from neo_service_layer.kernel.worker.jobs import PeriodicJob

if TYPE_CHECKING:
    from neo_service_layer.kernel.container import Container, OpenContainer

#: builds the service's parts (its use cases over adapters) for one process, opened in the lifespan
OpenParts: TypeAlias = "Callable[[Container], AbstractAsyncContextManager[object]]"
#: the worker jobs of the service (an empty list when the service is not configured here)
JobsOf: TypeAlias = "Callable[[Container], Sequence[PeriodicJob]]"
#: the service's ``nsl`` command groups, given the root's way to open a container for a command
CommandsOf: TypeAlias = "Callable[[OpenContainer], Sequence[Command]]"


@dataclass(frozen=True, slots=True)
class Command:
    """A ``nsl <name> ...`` command group."""

    name: str
    app: Typer


@dataclass(frozen=True, slots=True)
class ServiceDescriptor:
    """Everything the kernel needs to know of a service, and nothing more.

    Attributes:
        name: unique, lower case; the key of the service's parts in the container.
        summary: one line for ``nsl services`` and the docs.
        routers: mounted under ``/api/v1``.
        open: builds the service's parts for a process (``None``: the service has no state).
        jobs: the service's periodic worker jobs.
        commands: ``nsl`` command groups.
        migrations: the folder of the service's Alembic revisions (``None``: it has no tables).
        chain: keys and contracts the service provisions on the local chain.
        scopes: the service's own scopes (declared in its package) and the tenant roles that hold each
            besides owner and admin; the composition root adds them to the kernel's. A scope another
            service or the kernel already declares is refused at start-up.
    """

    name: str
    summary: str
    routers: tuple[APIRouter, ...] = ()
    open: OpenParts | None = None
    jobs: JobsOf | None = None
    commands: CommandsOf | None = None
    migrations: Path | None = None
    chain: ChainHooks = field(default_factory=ChainHooks)
    scopes: tuple[ScopeGrant, ...] = ()
