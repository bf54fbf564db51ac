"""Key ids the enclave was told to disable or destroy, kept in its own sealed state file.

The database stores sealed key records and could hand back an older one after a key was disabled;
this list, sealed under the enclave's own key in its data directory (an encrypted mount under
Gramine), makes the enclave refuse such records. Without a hardware monotonic counter a rollback of
this file itself is not detected.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.wire.keys import KeyStatus, SealedDataInvalid

_CONTEXT = {"name": "revocations"}


class Revocations:
    """Disabled and destroyed key ids; persisted when ``path`` is given, else memory only."""

    def __init__(self, sealer: Sealer, path: Path | None) -> None:
        self._sealer = sealer
        self._path = path
        self._disabled: set[str] = set()
        self._destroyed: set[str] = set()
        if path is not None and path.exists():
            data = json.loads(sealer.unseal(SealUse.ENCLAVE_STATE, _CONTEXT, path.read_bytes()))
            if not isinstance(data, dict):
                raise SealedDataInvalid("enclave state file is malformed")
            self._disabled = set(data.get("disabled", []))
            self._destroyed = set(data.get("destroyed", []))

    def is_destroyed(self, key_id: str) -> bool:
        return key_id in self._destroyed

    def status(self, key_id: str) -> KeyStatus:
        return KeyStatus.DISABLED if key_id in self._disabled | self._destroyed else KeyStatus.ACTIVE

    def disable(self, key_id: str) -> None:
        self._disabled.add(key_id)
        self._save()

    def destroy(self, key_id: str) -> None:
        self._destroyed.add(key_id)
        self._disabled.discard(key_id)
        self._save()

    def _save(self) -> None:
        if self._path is None:
            return
        body = json.dumps({"disabled": sorted(self._disabled), "destroyed": sorted(self._destroyed)})
        blob = self._sealer.seal(SealUse.ENCLAVE_STATE, _CONTEXT, body.encode())
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._path)
