"""The chunked AEAD: round trip, and every kind of damage refused."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.backup.adapters.keys import BackupKeyError, load_backup_key, parse_backup_key
from neo_service_layer.services.backup.adapters.stream_cipher import (
    TAG_BYTES,
    StreamHeader,
    decrypt_stream,
    encrypt_stream,
    key_id,
)
from neo_service_layer.services.backup.rules.backup import BackupCorrupted, BackupKeyMismatch

KEY = Secret(os.urandom(32))
CHUNK = 64


async def _pieces(data: bytes, size: int = 37) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _seal(data: bytes) -> tuple[bytes, int]:
    header = StreamHeader.create(KEY, {"kind": "test"}, CHUNK)
    sealed = b"".join([c async for c in encrypt_stream(KEY, header, _pieces(data))])
    return sealed, len(header.raw)


async def _open(sealed: bytes, key: Secret[bytes] = KEY) -> bytes:
    return b"".join([c async for c in decrypt_stream(key, _pieces(sealed, 50))])


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 10 * CHUNK, 10 * CHUNK + 5])
async def test_round_trip(size: int) -> None:
    data = os.urandom(size)
    sealed, header_len = await _seal(data)
    chunks = max(1, -(-size // CHUNK))
    assert len(sealed) == header_len + size + chunks * TAG_BYTES
    assert await _open(sealed) == data


async def test_every_single_bit_flip_is_refused() -> None:
    sealed, _ = await _seal(os.urandom(3 * CHUNK + 10))
    for offset in range(0, len(sealed), 7):
        damaged = bytearray(sealed)
        damaged[offset] ^= 0x80
        with pytest.raises((BackupCorrupted, BackupKeyMismatch)):
            await _open(bytes(damaged))


async def test_truncation_at_every_length_is_refused() -> None:
    sealed, _ = await _seal(os.urandom(3 * CHUNK))
    for length in range(len(sealed)):
        with pytest.raises(BackupCorrupted):
            await _open(sealed[:length])


async def test_reordered_dropped_and_appended_chunks_are_refused() -> None:
    sealed, header_len = await _seal(os.urandom(4 * CHUNK))
    block = CHUNK + TAG_BYTES
    header, body = sealed[:header_len], sealed[header_len:]
    chunks = [body[i : i + block] for i in range(0, len(body), block)]
    variants = [
        header + chunks[1] + chunks[0] + b"".join(chunks[2:]),  # swapped
        header + chunks[0] + b"".join(chunks[2:]),  # dropped
        header + b"".join(chunks[:-1]),  # final chunk missing
        sealed + chunks[-1],  # final chunk repeated
        sealed + b"x",  # appended byte
    ]
    for variant in variants:
        with pytest.raises(BackupCorrupted):
            await _open(variant)


async def test_wrong_key_is_named() -> None:
    sealed, _ = await _seal(b"data")
    other = Secret(os.urandom(32))
    with pytest.raises(BackupKeyMismatch, match=key_id(other)):
        await _open(sealed, other)


async def test_not_an_archive() -> None:
    with pytest.raises(BackupCorrupted, match="magic"):
        await _open(b"PK\x03\x04" + b"\0" * 100)


def test_key_parsing() -> None:
    raw = os.urandom(32)
    assert parse_backup_key(raw.hex()).reveal() == raw
    import base64

    assert parse_backup_key(base64.b64encode(raw).decode()).reveal() == raw
    assert parse_backup_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")).reveal() == raw
    with pytest.raises(BackupKeyError) as error:
        parse_backup_key("c2hvcnQ=")
    assert "c2hvcnQ" not in str(error.value)


def test_a_key_file_of_raw_bytes_is_refused_with_what_to_write(tmp_path: Path) -> None:
    """``head -c 32 /dev/urandom > key`` gave a traceback (UnicodeDecodeError); now the key error the CLI
    prints, naming the file and the forms it takes, never the bytes."""
    raw = b"\x99" + os.urandom(31)
    key_file = tmp_path / "backup.key"
    key_file.write_bytes(raw)
    key_file.chmod(0o600)
    with pytest.raises(BackupKeyError) as error:
        load_backup_key(None, key_file)
    assert str(key_file) in str(error.value)
    assert "64 hex digits or base64" in str(error.value)
    assert raw.hex() not in str(error.value)
    key_file.write_text(os.urandom(32).hex() + "\n")
    assert len(load_backup_key(None, key_file).reveal()) == 32
