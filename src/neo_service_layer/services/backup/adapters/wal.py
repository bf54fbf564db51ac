"""Single files (PostgreSQL WAL segments, base backups) pushed to a target encrypted with the backup key.

Same envelope as archives (``stream_cipher``) around a gzip of the file, with ``kind = "file"`` and
the object name in the authenticated header, so a segment renamed in the target is refused.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.backup.adapters.archive import gunzip_stream, gzip_stream
from neo_service_layer.services.backup.adapters.stream_cipher import (
    DEFAULT_CHUNK_SIZE,
    StreamHeader,
    decrypt_stream,
    encrypt_stream,
)
from neo_service_layer.services.backup.ports import BackupTarget
from neo_service_layer.services.backup.rules.backup import BackupCorrupted, BackupError, BackupNotFound

READ_SIZE = 1024 * 1024


async def _file_pieces(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while piece := await asyncio.to_thread(handle.read, READ_SIZE):
            yield piece


def _object_name(name: str) -> str:
    if not name or "/" in name or name.startswith("."):
        raise BackupError(f"invalid file name {name!r}")
    return name + ".enc"


async def push_file(key: Secret[bytes], target: BackupTarget, path: Path, name: str | None = None) -> int:
    """Encrypt ``path`` into ``target`` as ``<name>.enc``; refuse to replace an existing object.

    Returns the stored size. PostgreSQL calls this through ``archive_command``: a non-zero exit
    makes it retry, so an error here never loses a segment.
    """
    name = name or path.name
    object_name = _object_name(name)
    try:
        await target.read_prefix(object_name, 1)
    except BackupNotFound:
        pass
    else:
        raise BackupError(f"{object_name} already exists in {target.description}")
    header = StreamHeader.create(
        key, {"kind": "file", "name": name, "compression": "gzip"}, DEFAULT_CHUNK_SIZE
    )
    return await target.put(object_name, encrypt_stream(key, header, gzip_stream(_file_pieces(path))))


async def fetch_file(key: Secret[bytes], target: BackupTarget, name: str, destination: Path) -> int:
    """Decrypt ``<name>.enc`` from ``target`` into ``destination`` (written atomically).

    Raises:
        BackupNotFound: no such object (``restore_command`` then reports the segment missing).
        BackupCorrupted: damaged, tampered with, or stored under another name.
    """

    def check(fields: Mapping[str, Any]) -> None:
        if fields.get("kind") != "file" or fields.get("name") != name:
            raise BackupCorrupted(f"the object stored as {name!r} holds {fields.get('name')!r}")

    partial = destination.with_name(destination.name + ".partial")
    size = 0
    try:
        with partial.open("wb") as handle:
            stream = decrypt_stream(key, target.get(_object_name(name)), check)
            async for piece in gunzip_stream(stream):
                await asyncio.to_thread(handle.write, piece)
                size += len(piece)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return size
