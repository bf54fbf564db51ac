"""Files that belong in a backup besides the database: enclave state and the masked configuration.

Only sealed or public enclave files are taken (``*.sealed``, ``*.pub``). The simulation sealing
secret (``sealing.secret``) and the simulated platform key (``platform.key``) are never copied: a
backup must not hold a key in the clear. Restoring sealed files therefore only helps on a machine
that derives the same sealing key (see ``docs/dr.md``, key recovery).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ENCLAVE_PREFIX = "enclave/"
CONFIG_PART = "config/settings.json"
_INCLUDED_SUFFIXES = (".sealed", ".pub")


class EnclaveStateSource:
    """Sealed and public files of ``<data_dir>/enclave`` (never ``sealing.secret`` or ``platform.key``)."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / "enclave"

    async def stage(self, directory: Path) -> list[str]:
        if not self.directory.is_dir():
            return []
        names = []
        for path in sorted(self.directory.iterdir()):
            if path.is_file() and path.suffix in _INCLUDED_SUFFIXES:
                target = directory / ENCLAVE_PREFIX / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                names.append(ENCLAVE_PREFIX + path.name)
        return names

    async def install(self, directory: Path, names: Sequence[str]) -> list[str]:
        """Put back missing files; an existing, different file is kept and the backup's copy is
        written beside it as ``<name>.from-backup`` (an old revocation list must not silently
        replace a newer one)."""
        written = []
        for name in names:
            if not name.startswith(ENCLAVE_PREFIX):
                continue
            source = directory / name
            live = self.directory / name.removeprefix(ENCLAVE_PREFIX)
            if live.exists() and live.read_bytes() == source.read_bytes():
                continue
            destination = live if not live.exists() else live.with_name(live.name + ".from-backup")
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            _write_private(destination, source.read_bytes())
            written.append(str(destination))
        return written


class ConfigSource:
    """The effective configuration with every secret masked (``Settings.masked()``), for reference."""

    def __init__(self, masked: Mapping[str, Any]) -> None:
        self.masked = dict(masked)

    async def stage(self, directory: Path) -> list[str]:
        target = directory / CONFIG_PART
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.masked, indent=2, sort_keys=True, default=str))
        return [CONFIG_PART]

    async def install(self, directory: Path, names: Sequence[str]) -> list[str]:
        """Configuration is not installed: it is a record to compare against, not a source of truth."""
        return []


def _write_private(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
