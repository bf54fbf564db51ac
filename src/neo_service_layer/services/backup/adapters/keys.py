"""Loading the backup key: 32 bytes, base64 or hex, from a setting or a file (never from the backup).

The file form suits a secrets provider that mounts secrets as files (a Kubernetes Secret, the Vault
agent, the AWS/Azure CSI drivers). Error messages never include the value.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import stat
from pathlib import Path

from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.backup.rules.backup import BackupError

KEY_BYTES = 32


class BackupKeyError(BackupError):
    """No usable backup key is configured."""

    code = "backup-key-error"


def parse_backup_key(text: str) -> Secret[bytes]:
    """Decode 32 bytes from hex (64 characters) or base64 (standard or URL-safe)."""
    value = text.strip()
    candidates: list[bytes] = []
    if len(value) == 2 * KEY_BYTES:
        with contextlib.suppress(ValueError):
            candidates.append(bytes.fromhex(value))
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            candidates.append(decode(value + "=" * (-len(value) % 4)))
        except (binascii.Error, ValueError):
            continue
    for candidate in candidates:
        if len(candidate) == KEY_BYTES:
            return Secret(candidate)
    raise BackupKeyError("the backup key must be 32 bytes written as 64 hex digits or base64")


def load_backup_key(value: str | None, key_file: Path | None) -> Secret[bytes]:
    """The key from ``NSL_BACKUP_KEY`` or ``NSL_BACKUP_KEY_FILE`` (exactly one must be set)."""
    if value and key_file is not None:
        raise BackupKeyError("set NSL_BACKUP_KEY or NSL_BACKUP_KEY_FILE, not both")
    if value:
        return parse_backup_key(value)
    if key_file is None:
        raise BackupKeyError("no backup key: set NSL_BACKUP_KEY or NSL_BACKUP_KEY_FILE")
    try:
        mode = key_file.stat().st_mode
        if stat.S_IMODE(mode) & 0o007:
            raise BackupKeyError(f"{key_file} is readable by others; chmod o-rwx it")
        return parse_backup_key(key_file.read_text())
    except UnicodeDecodeError:  # raw bytes (head -c 32 /dev/urandom), not the key written as text
        raise BackupKeyError(
            f"{key_file} is not text: write the 32-byte key in it as 64 hex digits or base64"
            " (openssl rand -hex 32)"
        ) from None
    except OSError as exc:
        raise BackupKeyError(f"cannot read the backup key file {key_file}: {exc.strerror}") from None
