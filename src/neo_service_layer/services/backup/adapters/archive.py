"""The backup archive: ``STREAM-AES-256-GCM( gzip( tar( manifest.json, parts... ) ) )``.

``manifest.json`` is always the first tar member; reading checks every later member against it
(name, size, SHA-256) while streaming it to disk, so nothing is trusted before it is checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.backup.adapters.stream_cipher import (
    DEFAULT_CHUNK_SIZE,
    StreamHeader,
    decrypt_stream,
    encrypt_stream,
)
from neo_service_layer.services.backup.adapters.tar_stream import read_tar, write_tar
from neo_service_layer.services.backup.rules.backup import BackupCorrupted, Manifest

MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
_COMPRESS_BATCH = 1024 * 1024
_INFLATE_LIMIT = 4 * 1024 * 1024


def archive_header(
    key: Secret[bytes], manifest: Manifest, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> StreamHeader:
    """The public header of an archive: cipher parameters and non-secret facts about the backup."""
    info: dict[str, Any] = {
        "kind": "backup",
        "backup_id": manifest.backup_id,
        "created_at": manifest.created_at.isoformat(),
        "source_version": manifest.source_version,
        "schema_revision": manifest.schema_revision,
        "dialect": manifest.dialect,
        "compression": "gzip",
        "content": "tar",
    }
    return StreamHeader.create(key, info, chunk_size)


def write_archive(
    key: Secret[bytes], header: StreamHeader, manifest: Manifest, parts: Sequence[tuple[str, Path]]
) -> AsyncIterator[bytes]:
    """The encrypted archive as a stream of byte strings (memory flat in the archive size)."""
    members: list[tuple[str, Path | bytes]] = [(MANIFEST_NAME, manifest.to_json()), *parts]
    tar = write_tar(members, manifest.created_at.timestamp())
    return encrypt_stream(key, header, gzip_stream(tar))


async def gzip_stream(source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """gzip ``source`` in batches, compressing in a worker thread so the event loop stays free."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    batch = bytearray()
    async for piece in source:
        batch += piece
        if len(batch) >= _COMPRESS_BATCH:
            data, batch = bytes(batch), bytearray()
            out = await asyncio.to_thread(compressor.compress, data)
            if out:
                yield out
    yield await asyncio.to_thread(lambda: compressor.compress(bytes(batch)) + compressor.flush())


async def gunzip_stream(source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Inflate a gzip stream in bounded pieces; refuse trailing data and an early end."""
    inflater = zlib.decompressobj(31)
    async for piece in source:
        if inflater.eof:
            if piece:
                raise BackupCorrupted("data after the end of the compressed stream")
            continue
        data = piece
        while data:
            try:
                out = inflater.decompress(data, _INFLATE_LIMIT)
            except zlib.error:
                raise BackupCorrupted("the compressed stream is damaged") from None
            if out:
                yield out
            data = inflater.unconsumed_tail
            if inflater.eof and inflater.unused_data:
                raise BackupCorrupted("data after the end of the compressed stream")
    if not inflater.eof:
        raise BackupCorrupted("the compressed stream ends early")


class _CheckingSink:
    """Writes tar members under ``directory`` while checking them against the manifest."""

    def __init__(self, directory: Path, expected_id: str | None) -> None:
        self.directory = directory
        self.expected_id = expected_id
        self.manifest: Manifest | None = None
        self.seen: set[str] = set()
        self._name = ""
        self._size = 0
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._file: BinaryIO | None = None

    async def start(self, name: str, size: int) -> None:
        self._name, self._size, self._hash = name, size, hashlib.sha256()
        if self.manifest is None:
            if name != MANIFEST_NAME or size > MAX_MANIFEST_BYTES:
                raise BackupCorrupted("the archive does not begin with its manifest")
            return
        part = self.manifest.part(name)
        if name in self.seen or part.size != size:
            raise BackupCorrupted(f"part {name!r} is repeated or its size differs from the manifest")
        self.seen.add(name)
        path = self.directory / _safe(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("wb")

    async def write(self, data: bytes) -> None:
        self._hash.update(data)
        if self.manifest is None:
            self._buffer += data
        elif self._file is not None:
            await asyncio.to_thread(self._file.write, data)

    async def end(self) -> None:
        if self.manifest is None:
            self.manifest = Manifest.from_json(bytes(self._buffer))
            self._buffer.clear()
            if self.expected_id is not None and self.manifest.backup_id != self.expected_id:
                raise BackupCorrupted(
                    f"the archive holds backup {self.manifest.backup_id}, not {self.expected_id}"
                )
            return
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._hash.hexdigest() != self.manifest.part(self._name).sha256:
            raise BackupCorrupted(f"part {self._name!r} does not match its SHA-256 in the manifest")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _safe(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupCorrupted(f"unsafe member name {name!r} in the archive")
    return path


async def read_archive(
    key: Secret[bytes], stream: AsyncIterable[bytes], directory: Path, expected_id: str | None = None
) -> Manifest:
    """Decrypt, inflate and unpack an archive into ``directory``, checking every part.

    Raises:
        BackupKeyMismatch: the archive was made under another key.
        BackupCorrupted: any damage, truncation, or a part that differs from the manifest.
    """
    sink = _CheckingSink(directory, expected_id)
    try:
        await read_tar(gunzip_stream(decrypt_stream(key, stream)), sink)
    finally:
        sink.close()
    if sink.manifest is None:
        raise BackupCorrupted("the archive holds no manifest")
    missing = {p.name for p in sink.manifest.parts} - sink.seen
    if missing:
        raise BackupCorrupted(f"parts listed in the manifest are missing: {sorted(missing)}")
    return sink.manifest
