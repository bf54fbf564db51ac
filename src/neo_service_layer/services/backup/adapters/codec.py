"""The encrypted archive format as an ``ArchiveCodec`` (the backup key stays inside this object)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.backup.adapters.archive import archive_header, read_archive, write_archive
from neo_service_layer.services.backup.adapters.stream_cipher import DEFAULT_CHUNK_SIZE, StreamHeader
from neo_service_layer.services.backup.rules.backup import Manifest


class EncryptedArchiveCodec:
    """``STREAM-AES-256-GCM(gzip(tar))`` under one backup key."""

    def __init__(self, key: Secret[bytes], chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._key = key
        self._chunk_size = chunk_size

    def __repr__(self) -> str:
        return f"EncryptedArchiveCodec(chunk_size={self._chunk_size})"

    def write(self, manifest: Manifest, parts: Sequence[tuple[str, Path]]) -> AsyncIterator[bytes]:
        header = archive_header(self._key, manifest, self._chunk_size)
        return write_archive(self._key, header, manifest, parts)

    async def read(self, stream: AsyncIterable[bytes], directory: Path, expected_id: str) -> Manifest:
        return await read_archive(self._key, stream, directory, expected_id)

    def public_header(self, prefix: bytes) -> Mapping[str, Any]:
        return StreamHeader.parse(prefix).fields
