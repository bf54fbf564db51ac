"""The chain jobs while the enclave restarts: one warning per interval, not a traceback per poll (the
chaos test's enclave kills showed a traceback every few milliseconds until the enclave was back)."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest

from neo_service_layer.kernel.chain.jobs import watch_jobs
from neo_service_layer.kernel.chain.parts import ChainKernel
from neo_service_layer.kernel.enclave_client.ports import EnclaveTimeout, EnclaveUnavailable


class Watcher:
    async def poll(self) -> object:
        return None


class Fulfiller:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)

    async def run_once(self) -> int:
        raise self.errors.pop(0)


class Relay:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def run_once(self) -> Any:
        raise self.error


def kernel(relay: Relay) -> ChainKernel:
    return cast(
        ChainKernel,
        SimpleNamespace(
            relay=lambda _service: relay, poll_interval=0.01, network=SimpleNamespace(block_time=0.1)
        ),
    )


async def test_an_enclave_that_is_down_is_one_warning_per_interval_and_other_errors_still_raise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    down = EnclaveUnavailable("enclave at e.sock is not accepting connections")
    fulfiller = Fulfiller(down, EnclaveTimeout("no answer"), down, RuntimeError("a bug"))
    watch, relay = watch_jobs(kernel(Relay(down)), "randomness", Watcher(), fulfiller)
    for _ in range(3):
        await watch.run()  # not raised: the worker loop would log a traceback each time
        await relay.run()
    with pytest.raises(RuntimeError, match="a bug"):
        await watch.run()  # anything else still reaches the worker loop
    warnings = [r.getMessage() for r in caplog.records if "cannot proceed" in r.getMessage()]
    assert len(warnings) == 2  # one for the watch job, one for the relay, within the interval
    assert all("EnclaveUnavailable" in w for w in warnings)
