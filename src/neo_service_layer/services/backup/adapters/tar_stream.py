"""A streaming tar writer and reader (regular files only), so archives never sit in memory.

The output is an ordinary ustar/GNU tar: once decrypted and gunzipped, ``tar tvf`` lists it.
"""

from __future__ import annotations

import asyncio
import tarfile
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from pathlib import Path
from typing import Protocol

from neo_service_layer.services.backup.rules.backup import BackupCorrupted

BLOCK = 512
READ_SIZE = 1024 * 1024
MAX_NAME = 99


def _pad(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def _header(name: str, size: int, mtime: float) -> bytes:
    if len(name.encode()) > MAX_NAME:
        raise ValueError(f"archive member name too long: {name!r}")
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(mtime)
    return info.tobuf(format=tarfile.GNU_FORMAT)


async def write_tar(members: Sequence[tuple[str, Path | bytes]], mtime: float) -> AsyncIterator[bytes]:
    """Yield a tar stream of ``members``: in-memory bytes, or files read piece by piece."""
    for name, source in members:
        if isinstance(source, bytes):
            yield _header(name, len(source), mtime) + source + _pad(len(source))
            continue
        size = source.stat().st_size
        yield _header(name, size, mtime)
        written = 0
        with source.open("rb") as handle:
            while piece := await asyncio.to_thread(handle.read, min(READ_SIZE, size - written)):
                written += len(piece)
                yield piece
                if written >= size:
                    break
        if written != size:
            raise OSError(f"{source} changed size while being archived")
        yield _pad(size)
    yield b"\0" * (2 * BLOCK)


class TarSink(Protocol):
    """Receives the members of a tar stream as they are parsed."""

    async def start(self, name: str, size: int) -> None: ...

    async def write(self, data: bytes) -> None: ...

    async def end(self) -> None: ...


async def read_tar(stream: AsyncIterable[bytes], sink: TarSink) -> None:
    """Parse a tar stream of regular files into ``sink``.

    Raises:
        BackupCorrupted: a damaged header, a member type other than a regular file, or an early end.
    """
    buffer = bytearray()
    remaining = 0  # content bytes of the current member still to come
    padding = 0
    finished = False
    async for piece in stream:
        if finished:
            if piece.strip(b"\0"):
                raise BackupCorrupted("data after the end of the archive")
            continue
        buffer += piece
        while True:
            if remaining:
                take = min(remaining, len(buffer))
                if not take:
                    break
                await sink.write(bytes(buffer[:take]))
                del buffer[:take]
                remaining -= take
                if remaining:
                    break
                await sink.end()
                continue
            if padding:
                take = min(padding, len(buffer))
                del buffer[:take]
                padding -= take
                if padding:
                    break
            if len(buffer) < BLOCK:
                break
            block = bytes(buffer[:BLOCK])
            del buffer[:BLOCK]
            if block == b"\0" * BLOCK:
                finished = True
                if bytes(buffer).strip(b"\0"):
                    raise BackupCorrupted("data after the end of the archive")
                buffer.clear()
                break
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
            except tarfile.HeaderError as exc:
                raise BackupCorrupted(f"damaged archive member header ({exc})") from None
            if not info.isreg():
                raise BackupCorrupted(f"unexpected archive member type for {info.name!r}")
            await sink.start(info.name, info.size)
            remaining, padding = info.size, -info.size % BLOCK
            if not remaining:
                await sink.end()
    if not finished or remaining:
        raise BackupCorrupted("the archive ends early: a member or the end marker is missing")
