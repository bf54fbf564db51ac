"""AES-256-GCM encryption of secrets at rest under the key-encryption key ``NSL_JWT_KEK``.

The KEK never encrypts anything itself: HKDF-SHA256 derives one sub-key per purpose (sealing, API-key
pepper, refresh-token pepper, backup-code pepper), so a leak of one derived value says nothing about the
others. Sealed blobs are ``version (1) || nonce (12) || ciphertext+tag``, with the label (``totp:<user>``,
``jwt-signing-key:<kid>``) as associated data, so a blob moved to another row does not open.

In development and test, when ``NSL_JWT_KEK`` is unset, a random KEK is generated once into
``<data_dir>/secrets/jwt.kek`` (mode 0600). Production refuses to start without ``NSL_JWT_KEK``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.config_values import decode_kek

_VERSION = b"\x01"
KEK_FILE = Path("secrets") / "jwt.kek"


def resolve_kek(settings: Settings) -> bytes:
    """The configured KEK, or (outside production) the generated development KEK file."""
    if settings.jwt_kek is not None:
        return decode_kek(settings.jwt_kek.get_secret_value())
    if settings.is_production:
        raise ValueError("NSL_JWT_KEK is required in production")
    path = settings.data_dir / KEK_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staging = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(staging, path)  # atomic, complete, and never replaces a KEK another process made
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    return decode_kek(path.read_text())


class AesGcmBox:
    """Implements ``ports.identity.SecretBox``."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != 32:
            raise ValueError("the KEK must be 32 bytes")
        self._kek = kek
        self._aead = AESGCM(self._derive("nsl seal v1"))
        self._peppers: dict[str, bytes] = {}

    def _derive(self, info: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(self._kek)

    def seal(self, label: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, label.encode())

    def open(self, label: str, sealed: bytes) -> bytes:
        if len(sealed) < 1 + 12 + 16 or sealed[:1] != _VERSION:
            raise ValueError("not a sealed secret")
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], label.encode())
        except Exception as exc:  # InvalidTag: altered, other label or other KEK
            raise ValueError("sealed secret does not open (altered, moved or another KEK)") from exc

    def mac(self, purpose: str, value: str) -> str:
        pepper = self._peppers.get(purpose)
        if pepper is None:
            pepper = self._peppers[purpose] = self._derive(f"nsl pepper {purpose}")
        return hmac.new(pepper, value.encode(), hashlib.sha256).hexdigest()
