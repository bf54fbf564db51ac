"""Automation in the chaos run: an event upkeep on the example target's ``Ping`` (``automation_support``),
pings sent among the other requests; every ping must be performed exactly once whatever was killed.

An occurrence is ``block * 1_000_000 + the ping's position among the block's pings`` (the automation
service's event trigger), so the pings on chain say which occurrences are due and the target's ``Ticked``
events say which ran.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from neo3.core import types

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.services.automation.rules.triggers import EventTrigger
from tests.e2e.chain.automation_support import deploy_target, events, register, ticks
from tests.e2e.chain.stack import Stack, call


@dataclass
class AutomationReport:
    pings: int = 0  # Ping notifications on chain (HALTed)
    performed_once: int = 0
    missing: list[int] = field(default_factory=list)  # occurrences with no run
    doubled: list[str] = field(default_factory=list)  # occurrences with more than one run
    unexpected: list[int] = field(default_factory=list)  # runs of no ping on chain

    @property
    def ok(self) -> bool:
        return not (self.missing or self.doubled or self.unexpected)


class AutomationMix:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.target: types.UInt160 | None = None
        self.upkeep = 0

    async def setup(self, pings: int) -> None:
        """Deploy the target and register its event upkeep, funded for ``pings`` runs and more."""
        self.target = await deploy_target(self.stack)
        self.upkeep = await register(
            self.stack,
            self.target,
            EventTrigger("0x" + str(self.target), "Ping"),
            fund=(50 + pings) * deploy.GAS,
        )

    async def ping(self) -> None:
        assert self.target is not None
        await self.stack.committee.invoke(call(self.target, "ping", 1))

    async def read(self, first_block: int) -> AutomationReport:
        """What is due (the pings on chain) against what ran (the target's ``Ticked``)."""
        assert self.target is not None
        report = AutomationReport()
        due: set[int] = set()
        by_block: Counter[int] = Counter()
        for block, _values in await events(self.stack, "0x" + str(self.target), "Ping", first_block):
            due.add(block * 1_000_000 + by_block[block])
            by_block[block] += 1
        ran = Counter(
            t.occurrence
            for t in await ticks(self.stack, self.target, first_block)
            if t.upkeep_id == self.upkeep
        )
        report.pings = len(due)
        report.performed_once = sum(1 for o in due if ran[o] == 1)
        report.missing = sorted(o for o in due if ran[o] == 0)
        report.doubled = [f"{o} x{n}" for o, n in sorted(ran.items()) if n > 1]
        report.unexpected = sorted(o for o in ran if o not in due)
        return report
