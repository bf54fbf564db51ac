"""Ports of the backup service: where archives are stored, how they are encoded, how databases dump.

Adapters: ``adapters.backup.targets`` (local directory, S3), ``adapters.backup.codec`` (the encrypted
archive format), ``adapters.backup.sqlite`` and ``adapters.backup.postgres`` (snapshots and restores),
``adapters.backup.sources`` (enclave state and masked configuration).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from neo_service_layer.services.backup.rules.backup import Manifest


@dataclass(frozen=True, slots=True)
class StoredObject:
    """An object in a backup target (name relative to the target's prefix)."""

    name: str
    size: int
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class Retention:
    """Write-once retention for targets that support it (S3 Object Lock): mode and end date."""

    mode: str
    retain_until: datetime


class Progress(Protocol):
    """How far a backup, verification or restore is, for whoever watches (the CLI draws a bar): ``done``
    archive bytes so far, out of ``total`` when known. ``done`` only grows; the last call has
    ``done == total``."""

    def __call__(self, done: int, total: int | None, /) -> None: ...


class BackupTarget(Protocol):
    """Object storage for archives: streamed in and out, never held whole in memory."""

    @property
    def description(self) -> str:
        """Where the target stores objects, without credentials (for messages and ``dr plan``)."""
        ...

    async def put(self, name: str, chunks: AsyncIterable[bytes], retention: Retention | None = None) -> int:
        """Store ``chunks`` as object ``name`` (replacing nothing: names are unique); return its size.

        An object is only visible under ``name`` once it is complete.
        """
        ...

    def get(self, name: str) -> AsyncIterator[bytes]:
        """Stream object ``name``. Raises ``BackupNotFound`` when it does not exist."""
        ...

    async def read_prefix(self, name: str, length: int) -> bytes:
        """The first ``length`` bytes (or fewer) of object ``name``."""
        ...

    async def list_objects(self, prefix: str = "") -> list[StoredObject]:
        """Objects whose names start with ``prefix``, sorted by name."""
        ...

    async def delete(self, name: str) -> None:
        """Delete ``name`` (where retention forbids, the target keeps the locked version)."""
        ...


class ArchiveCodec(Protocol):
    """The archive format and its encryption; the backup key lives inside the codec."""

    def write(self, manifest: Manifest, parts: Sequence[tuple[str, Path]]) -> AsyncIterator[bytes]:
        """The encrypted archive of ``manifest`` and ``parts`` as a stream."""
        ...

    async def read(self, stream: AsyncIterable[bytes], directory: Path, expected_id: str) -> Manifest:
        """Decrypt and unpack into ``directory``, checking every part; raise ``BackupCorrupted``."""
        ...

    def public_header(self, prefix: bytes) -> Mapping[str, Any]:
        """The unencrypted (but authenticated) header fields from the first bytes of an archive."""
        ...


@dataclass(frozen=True, slots=True)
class DatabaseSnapshot:
    """A consistent dump of the database, with the facts read in the same snapshot."""

    part_name: str
    schema_revision: str | None
    row_counts: Mapping[str, int]


class RestoredDatabase(Protocol):
    """A database restored from a dump, not (yet) the live one."""

    @property
    def url(self) -> str:
        """Connection URL of the restored database (contains credentials: never print it)."""
        ...

    async def row_counts(self) -> dict[str, int]: ...

    async def schema_revision(self) -> str | None: ...

    async def switch_over(self) -> str:
        """Make this the live database; return what became of the previous one (for the operator)."""
        ...


class DatabaseBackend(Protocol):
    """Dump and restore of one database engine."""

    @property
    def dialect(self) -> str: ...

    async def snapshot(self, directory: Path) -> DatabaseSnapshot:
        """Write a consistent dump of the live database into ``directory``."""
        ...

    async def is_empty(self) -> bool:
        """True when the live database is missing or no table holds a row (``alembic_version`` aside)."""
        ...

    def restore(self, dump: Path, *, scratch: bool) -> AbstractAsyncContextManager[RestoredDatabase]:
        """Restore ``dump`` into a new database; dropped on exit unless switched over."""
        ...


class PartSource(Protocol):
    """Extra files that belong in a backup (enclave sealed state, masked configuration)."""

    async def stage(self, directory: Path) -> list[str]:
        """Copy this source's files under ``directory``; return their names relative to it."""
        ...

    async def install(self, directory: Path, names: Sequence[str]) -> list[str]:
        """Put restored files back where they belong; return what was written."""
        ...


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """The result of one named integrity check of a restored backup."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class NamedCheck:
    """An integrity check run against every restored backup (``verify`` and ``restore``).

    The built-in checks are the manifest hashes, migrations at head and the row counts; other areas
    add theirs here (the audit hash chain verifies; sealed blobs unseal inside the enclave).
    """

    name: str
    run: Callable[[RestoredDatabase, Manifest], Awaitable[CheckOutcome]]
    #: a failure stops ``restore`` (``verify`` reports every failure either way). Non-blocking: checks
    #: that a restore onto a new machine is expected to fail until a follow-up step (key migration)
    blocking: bool = True
