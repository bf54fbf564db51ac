"""Key ids the enclave was told to disable (and when) or destroy, kept in its own sealed state file.

The database stores sealed key records and could hand back an older one after a key was disabled;
this list, sealed under the enclave's own key in its data directory (an encrypted mount under
Gramine), makes the enclave refuse such records.

Destruction is the enclave's decision, not the caller's: ``destroy`` is refused unless the key was
disabled (by its tenant, through ``disable``) at least ``grace_seconds`` before, by the enclave's own
clock, and not enabled again since. So a host process holding the worker's token cannot destroy a key
its tenant still uses.

What a host that controls the machine can still do (simulation mode; there is no hardware monotonic
counter or trusted clock, and under Gramine the time also comes from the host):

- set the clock forward: a key its tenant disabled can be destroyed before the grace has passed;
- roll the state file back: records of a destroyed or disabled key are accepted again, and a key its
  tenant disabled and enabled again counts as disabled since the older time (so it can be destroyed).

Neither lets it destroy a key that was never disabled in this state file.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.wire.keys import DestructionRefused, KeyDisabled, KeyStatus, SealedDataInvalid

_CONTEXT = {"name": "revocations"}

#: a key must have been disabled this long before the enclave destroys it (the keys service's 7 days)
DESTRUCTION_GRACE_SECONDS = 7 * 24 * 3600.0


class Revocations:
    """Disabled key ids with the enclave time they were disabled, and destroyed key ids.

    Persisted when ``path`` is given, else memory only. ``clock`` is wall-clock seconds (it must
    survive restarts, so not a monotonic clock).
    """

    def __init__(
        self,
        sealer: Sealer,
        path: Path | None,
        *,
        grace_seconds: float = DESTRUCTION_GRACE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sealer = sealer
        self._path = path
        self._grace = grace_seconds
        self._clock = clock
        self._disabled: dict[str, float] = {}
        self._destroyed: set[str] = set()
        if path is not None and path.exists():
            self._read(path)

    def _read(self, path: Path) -> None:
        data = json.loads(self._sealer.unseal(SealUse.ENCLAVE_STATE, _CONTEXT, path.read_bytes()))
        if not isinstance(data, dict):
            raise SealedDataInvalid("enclave state file is malformed")
        disabled = data.get("disabled", {})
        self._destroyed = set(data.get("destroyed", []))
        if isinstance(disabled, list):  # a state file from before the times were kept
            now = self._clock()  # the grace counts from the upgrade: later, never earlier
            self._disabled = {key_id: now for key_id in disabled}
            self._save()
            return
        if not isinstance(disabled, dict) or not all(
            isinstance(t, int | float) and not isinstance(t, bool) for t in disabled.values()
        ):
            raise SealedDataInvalid("enclave state file is malformed")
        self._disabled = {str(k): float(t) for k, t in disabled.items()}

    @property
    def grace_seconds(self) -> float:
        return self._grace

    def is_destroyed(self, key_id: str) -> bool:
        return key_id in self._destroyed

    def status(self, key_id: str) -> KeyStatus:
        if key_id in self._disabled or key_id in self._destroyed:
            return KeyStatus.DISABLED
        return KeyStatus.ACTIVE

    def disabled_at(self, key_id: str) -> float | None:
        """When (enclave clock) the key was disabled; None if it is not disabled."""
        return self._disabled.get(key_id)

    def disable(self, key_id: str) -> None:
        """Record the disable; disabling again keeps the first time (the grace is not restarted)."""
        if key_id in self._disabled:
            return
        self._disabled[key_id] = self._clock()
        self._save()

    def enable(self, key_id: str) -> None:
        """Forget the disable (its time too: a later destroy needs a new disable and a full grace)."""
        if key_id in self._destroyed:
            raise KeyDisabled("key was destroyed")
        if self._disabled.pop(key_id, None) is not None:
            self._save()

    def destroy(self, key_id: str) -> None:
        """Refuse (``DestructionRefused``) unless disabled at least the grace period ago; then record."""
        if key_id in self._destroyed:
            return
        since = self._disabled.get(key_id)
        if since is None:
            raise DestructionRefused("key is not disabled: its tenant must disable it first")
        waited = self._clock() - since
        if waited < self._grace:
            raise DestructionRefused(
                f"key was disabled {max(waited, 0.0):.0f} s ago; the enclave destroys it "
                f"{self._grace:.0f} s after the disable"
            )
        self._destroyed.add(key_id)
        del self._disabled[key_id]
        self._save()

    def _save(self) -> None:
        if self._path is None:
            return
        body = json.dumps(
            {"disabled": dict(sorted(self._disabled.items())), "destroyed": sorted(self._destroyed)}
        )
        blob = self._sealer.seal(SealUse.ENCLAVE_STATE, _CONTEXT, body.encode())
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._path)
