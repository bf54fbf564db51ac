"""Chunked AES-256-GCM (the STREAM construction) for archives of any size in flat memory.

Layout of an encrypted file::

    magic "NSLBAK\\0\\1" (8 bytes) | header length (u32, big-endian) | header (canonical JSON)
    chunk 0 | chunk 1 | ... | chunk n          each chunk = AES-GCM ciphertext + 16-byte tag

Every chunk but the last holds exactly ``chunk_size`` plaintext bytes; the last holds 0 to
``chunk_size``. The per-file key is HKDF-SHA256(backup key, salt from the header); the nonce of chunk
``i`` is ``nonce_prefix (7 bytes) || i (u32) || last-flag (1 byte)``; the whole header is the
associated data of every chunk. So a flipped bit anywhere, a dropped, repeated or reordered chunk,
a truncated tail or appended bytes all fail authentication, and the header cannot be edited.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.backup.rules.backup import BackupCorrupted, BackupKeyMismatch

MAGIC = b"NSLBAK\x00\x01"
CIPHER = "AES-256-GCM/STREAM/HKDF-SHA256"
DEFAULT_CHUNK_SIZE = 1024 * 1024
TAG_BYTES = 16
MAX_HEADER_BYTES = 64 * 1024
_PREFIX_BYTES = 7
_MAX_CHUNKS = 2**32
_HKDF_INFO = b"nsl-backup/v1 chunk key"


def key_id(key: Secret[bytes]) -> str:
    """A public fingerprint of the backup key (HMAC, so it reveals nothing about the key)."""
    return hmac.new(key.reveal(), b"nsl-backup key id", hashlib.sha256).hexdigest()[:16]


def _file_key(key: Secret[bytes], salt: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_HKDF_INFO).derive(key.reveal())
    return AESGCM(derived)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= _MAX_CHUNKS:
        raise BackupCorrupted("too many chunks for one archive")
    return prefix + struct.pack(">IB", index, 1 if last else 0)


@dataclass(frozen=True, slots=True)
class StreamHeader:
    """The authenticated, unencrypted header: cipher parameters plus public descriptive fields."""

    fields: Mapping[str, Any]
    raw: bytes

    @property
    def chunk_size(self) -> int:
        return int(self.fields["chunk_size"])

    @classmethod
    def create(cls, key: Secret[bytes], info: Mapping[str, Any], chunk_size: int) -> StreamHeader:
        fields = dict(info)
        fields.update(
            cipher=CIPHER,
            chunk_size=chunk_size,
            salt=os.urandom(32).hex(),
            nonce_prefix=os.urandom(_PREFIX_BYTES).hex(),
            key_id=key_id(key),
        )
        body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
        return cls(fields, MAGIC + struct.pack(">I", len(body)) + body)

    @classmethod
    def parse(cls, data: bytes) -> StreamHeader:
        """Parse the header at the start of ``data`` (which may hold more bytes after it)."""
        if len(data) < len(MAGIC) + 4:
            raise BackupCorrupted("the archive is truncated: its header is incomplete")
        if data[: len(MAGIC)] != MAGIC:
            raise BackupCorrupted("not a Neo Service Layer backup archive (bad magic bytes)")
        (length,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
        if length > MAX_HEADER_BYTES:
            raise BackupCorrupted("the archive header is too long: damaged or not a backup")
        end = len(MAGIC) + 4 + length
        if len(data) < end:
            raise BackupCorrupted("the archive is truncated: its header is incomplete")
        try:
            fields = json.loads(data[len(MAGIC) + 4 : end])
            if fields["cipher"] != CIPHER or not 0 < int(fields["chunk_size"]) <= 64 * 1024 * 1024:
                raise BackupCorrupted(f"unsupported cipher or chunk size in {fields['cipher']!r}")
            bytes.fromhex(fields["salt"])
            if len(bytes.fromhex(fields["nonce_prefix"])) != _PREFIX_BYTES:
                raise ValueError("nonce prefix length")
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupCorrupted(f"the archive header is damaged ({type(exc).__name__})") from None
        return cls(fields, data[:end])


async def encrypt_stream(
    key: Secret[bytes], header: StreamHeader, plaintext: AsyncIterable[bytes]
) -> AsyncIterator[bytes]:
    """Yield the header, then one sealed chunk per ``chunk_size`` bytes of ``plaintext``."""
    aead = _file_key(key, bytes.fromhex(header.fields["salt"]))
    prefix = bytes.fromhex(header.fields["nonce_prefix"])
    size = header.chunk_size
    yield header.raw
    buffer = bytearray()
    index = 0
    async for piece in plaintext:
        buffer += piece
        while len(buffer) > size:
            yield aead.encrypt(_nonce(prefix, index, False), bytes(buffer[:size]), header.raw)
            del buffer[:size]
            index += 1
    yield aead.encrypt(_nonce(prefix, index, True), bytes(buffer), header.raw)


async def decrypt_stream(
    key: Secret[bytes],
    ciphertext: AsyncIterable[bytes],
    check_header: Callable[[Mapping[str, Any]], None] | None = None,
) -> AsyncIterator[bytes]:
    """Check the header (and ``check_header`` on its fields) and the key, then yield authenticated
    plaintext chunk by chunk.

    Raises:
        BackupKeyMismatch: the archive was made under another key.
        BackupCorrupted: truncation, reordering, appended data or any altered bit.
    """
    buffer = bytearray()
    header: StreamHeader | None = None
    aead: AESGCM | None = None
    prefix = b""
    index = 0
    block = 0
    async for piece in ciphertext:
        buffer += piece
        if header is None:
            if len(buffer) >= len(MAGIC) and buffer[: len(MAGIC)] != MAGIC:
                raise BackupCorrupted("not a Neo Service Layer backup archive (bad magic bytes)")
            if len(buffer) < len(MAGIC) + 4 or len(buffer) < len(MAGIC) + 4 + _declared(buffer):
                continue
            header = StreamHeader.parse(bytes(buffer))
            if check_header is not None:
                check_header(header.fields)
            aead, prefix, block = _opener(key, header)
            del buffer[: len(header.raw)]
        assert aead is not None
        while len(buffer) > block:
            yield _open(aead, prefix, index, False, bytes(buffer[:block]), header.raw)
            del buffer[:block]
            index += 1
    if header is None:
        StreamHeader.parse(bytes(buffer))
        raise BackupCorrupted("the archive is truncated: its header is incomplete")
    assert aead is not None
    if len(buffer) < TAG_BYTES:
        raise BackupCorrupted(f"the archive is truncated after chunk {index - 1}")
    yield _open(aead, prefix, index, True, bytes(buffer), header.raw)


def _declared(buffer: bytearray) -> int:
    (length,) = struct.unpack(">I", buffer[len(MAGIC) : len(MAGIC) + 4])
    return min(int(length), MAX_HEADER_BYTES + 1)


def _opener(key: Secret[bytes], header: StreamHeader) -> tuple[AESGCM, bytes, int]:
    if header.fields.get("key_id") != key_id(key):
        raise BackupKeyMismatch(
            f"the archive was encrypted under another backup key (key id {header.fields.get('key_id')}, "
            f"configured key id {key_id(key)}), or its header was altered"
        )
    aead = _file_key(key, bytes.fromhex(header.fields["salt"]))
    return aead, bytes.fromhex(header.fields["nonce_prefix"]), header.chunk_size + TAG_BYTES


def _open(aead: AESGCM, prefix: bytes, index: int, last: bool, sealed: bytes, aad: bytes) -> bytes:
    try:
        return aead.decrypt(_nonce(prefix, index, last), sealed, aad)
    except InvalidTag:
        where = "the final chunk" if last else f"chunk {index}"
        raise BackupCorrupted(
            f"{where} failed authentication: the archive is truncated, reordered or tampered with"
        ) from None
