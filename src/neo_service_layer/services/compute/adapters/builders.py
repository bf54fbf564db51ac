"""Turns a tenant's Python or JavaScript function source into a WebAssembly component for the
``function`` world (wit/function.wit).

The user writes a module with ``run(input)``; the builder bundles the ``nsl`` host helper and a
generated entry module around it, then runs componentize-py or componentize-js in a fresh temporary
directory. Every failure the author can fix is a BuildFailed with a message in their terms.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Literal, get_args

from neo_service_layer.services.compute.adapters.build_common import BuildFailed, BuildSettings, check_source
from neo_service_layer.services.compute.adapters.build_javascript import build_javascript
from neo_service_layer.services.compute.adapters.build_python import build_python

__all__ = ["LANGUAGES", "BuildFailed", "BuildSettings", "Language", "build"]

Language = Literal["python", "javascript"]
LANGUAGES: tuple[str, ...] = get_args(Language)

# Build slots per event loop and limit: a build keeps a core busy for 15-45 s and uses several hundred
# MB, so a process runs at most ``settings.max_concurrent`` at once and the others wait their turn.
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _slot(limit: int) -> asyncio.Semaphore:
    per_limit = _slots.setdefault(asyncio.get_running_loop(), {})
    return per_limit.setdefault(limit, asyncio.Semaphore(limit))


async def build(language: str, source: str, settings: BuildSettings | None = None) -> bytes:
    """The component bytes for ``source`` in ``language``; raises BuildFailed when it cannot be built."""
    settings = settings or BuildSettings()
    if language not in LANGUAGES:
        raise BuildFailed(f"unknown language {language!r}: choose one of {', '.join(LANGUAGES)}")
    check_source(source, settings)
    async with _slot(settings.max_concurrent):
        if language == "python":
            return await build_python(source, settings)
        return await build_javascript(source, settings)
