"""Compiled functions: the wasmtime engine, and artefacts compiled once and kept sealed on disk.

An artefact is named by the SHA-256 of its bytes, computed here: the host names what it wants run, the
enclave checks the bytes are that. Compiling an 18 MB Python component takes 12 to 45 s on two busy
cores; its sealed compiled form loads in about 0.4 s (bench/RESULTS.md), so it is kept, sealed by the
enclave (wasmtime runs
deserialized machine code, so only bytes this enclave compiled and sealed are ever deserialized), in
``<state>/compute/`` and in a small in-memory LRU.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import version
from pathlib import Path

import wasmtime
from wasmtime import component

from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.wire.keys import InvalidKeyRequest

log = logging.getLogger(__name__)

#: the epoch ticker's period: wall-time limits are enforced to within about this much
TICK_SECONDS = 0.01
_WASM_MAGIC = b"\x00asm"
_CORE_VERSION = b"\x01\x00\x00\x00"
_COMPONENT_VERSION = b"\x0d\x00\x01\x00"
WASMTIME_VERSION = version("wasmtime")


class ArtifactKind(StrEnum):
    COMPONENT = "component"
    MODULE = "module"


@dataclass(frozen=True, slots=True)
class Artifact:
    """A compiled artefact ready to instantiate."""

    digest: bytes
    kind: ArtifactKind
    compiled: component.Component | wasmtime.Module


def artifact_kind(data: bytes) -> ArtifactKind:
    """Component or core module, from the header; ``InvalidKeyRequest`` for anything else."""
    if data[:4] != _WASM_MAGIC:
        raise InvalidKeyRequest("not a WebAssembly binary (it does not start with \\0asm)")
    if data[4:8] == _CORE_VERSION:
        return ArtifactKind.MODULE
    if data[4:8] == _COMPONENT_VERSION:
        return ArtifactKind.COMPONENT
    raise InvalidKeyRequest("unknown WebAssembly binary version (neither a core module nor a component)")


class ComputeEngine:
    """One wasmtime engine (fuel and epoch interruption on), its ticker, and the artefact cache."""

    def __init__(self, sealer: Sealer, cache_dir: Path | None, *, max_loaded: int = 8) -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        config.epoch_interruption = True
        config.wasm_component_model = True
        self.engine = wasmtime.Engine(config)
        self._sealer = sealer
        self._dir = cache_dir
        self._max_loaded = max_loaded
        self._loaded: OrderedDict[bytes, Artifact] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def start_clock(self) -> None:
        """Start the epoch ticker (once, in the process that runs functions: the worker processes)."""
        with self._lock:
            if self._ticker is not None:
                return
            self._ticker = threading.Thread(target=self._tick, name="compute-epoch", daemon=True)
            self._ticker.start()
        atexit.register(self._stop.set)  # no wasmtime call while the interpreter tears down

    def _tick(self) -> None:
        """One epoch per ``TICK_SECONDS`` of real time: on a busy machine the thread wakes late, so it
        catches up with the ticks it missed rather than stretching every wall-time limit."""
        started = time.monotonic()
        ticks = 0
        while not self._stop.wait(TICK_SECONDS):
            due = int((time.monotonic() - started) / TICK_SECONDS)
            while ticks < due:
                self.engine.increment_epoch()
                ticks += 1

    @property
    def cache_dir(self) -> Path | None:
        return self._dir

    def close(self) -> None:
        """Stop the ticker (before the interpreter exits: wasmtime must not be called during teardown)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=1)

    def compile(self, data: bytes) -> Artifact:
        """Compile ``data`` (blocking; seconds for a large component), keep it, and return it."""
        digest = hashlib.sha256(data).digest()
        found = self.get(digest)
        if found is not None:
            return found
        kind = artifact_kind(data)
        try:
            compiled: component.Component | wasmtime.Module = (
                component.Component(self.engine, data)
                if kind is ArtifactKind.COMPONENT
                else wasmtime.Module(self.engine, data)
            )
        except wasmtime.WasmtimeError as exc:
            raise InvalidKeyRequest(f"the {kind.value} does not compile: {_first_line(exc)}") from None
        artifact = Artifact(digest, kind, compiled)
        self._persist(artifact)
        self._remember(artifact)
        return artifact

    def has(self, digest: bytes) -> bool:
        """Whether the artefact was compiled here (in memory, or sealed on disk), without loading it."""
        with self._lock:
            if digest in self._loaded:
                return True
        path = self._path(digest)
        return path is not None and path.exists()

    def get(self, digest: bytes) -> Artifact | None:
        """The compiled artefact, from memory or the sealed disk cache; ``None`` if never compiled here."""
        with self._lock:
            found = self._loaded.get(digest)
            if found is not None:
                self._loaded.move_to_end(digest)
                return found
        artifact = self._read(digest)
        if artifact is not None:
            self._remember(artifact)
        return artifact

    def _remember(self, artifact: Artifact) -> None:
        with self._lock:
            self._loaded[artifact.digest] = artifact
            self._loaded.move_to_end(artifact.digest)
            while len(self._loaded) > self._max_loaded:
                self._loaded.popitem(last=False)

    def _path(self, digest: bytes) -> Path | None:
        return None if self._dir is None else self._dir / f"{digest.hex()}.sealed"

    def _context(self, digest: bytes, kind: ArtifactKind) -> dict[str, str | int]:
        return {"label": f"compute:{digest.hex()}:{kind.value}:wasmtime-{WASMTIME_VERSION}"}

    def _persist(self, artifact: Artifact) -> None:
        path = self._path(artifact.digest)
        if path is None:
            return
        blob = self._sealer.seal(
            SealUse.ENCLAVE_STATE,
            self._context(artifact.digest, artifact.kind),
            bytes(artifact.compiled.serialize()),
        )
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(artifact.kind.value.encode() + b"\n" + blob)
        temporary.replace(path)

    def _read(self, digest: bytes) -> Artifact | None:
        path = self._path(digest)
        if path is None or not path.exists():
            return None
        try:
            head, _, blob = path.read_bytes().partition(b"\n")
            kind = ArtifactKind(head.decode())
            serialized = self._sealer.unseal(SealUse.ENCLAVE_STATE, self._context(digest, kind), blob)
            compiled: component.Component | wasmtime.Module = (
                component.Component.deserialize(self.engine, serialized)
                if kind is ArtifactKind.COMPONENT
                else wasmtime.Module.deserialize(self.engine, serialized)
            )
        except Exception as exc:  # unreadable, from another wasmtime or tampered: compile again
            log.warning(
                "compiled artefact not usable, it will be compiled again",
                extra={"reason": type(exc).__name__},
            )
            return None
        return Artifact(digest, kind, compiled)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__
