"""neo3-boa's command line, with one lookup of its code generator made linear: what contracts/build.py
runs instead of the ``neo3-boa`` script.

neo3-boa 1.5.0's ``StackMemento.stack_map`` finds the address of every instruction that recorded a
stack with ``VMCodeMap.get_start_address`` (a ``list.index`` over every instruction generated so far),
and is rebuilt at each push and pop of the simulated stack, so a function costs the cube of its size:
96.6 % of the 116 s that ``randomness_service.py`` took to compile (py-spy, 2026-12-05). The same map
is built here in one pass: ``list.index`` finds the first instruction *equal* to the one asked for, and
``VMCode`` (with ``CallCode`` and ``TryCode``) defines no ``__eq__``, so equal is identical and an
identity index gives the same answer. Every contract of this repository (21) compiled to the same
``.nef`` bytes with and without it, and to the same manifest up to the order of its events and union
types, which neo3-boa takes from sets in memory order (build.py sorts them). With another neo3-boa
version nothing is replaced (its internals may differ): the compiler runs as shipped.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from typing import Any

PATCHED_VERSION = "1.5.0"


def _stack_map(self: Any) -> dict[int, Any]:
    from boa3.internal.compiler.codegenerator.vmcodemapping import VMCodeMapping

    code_map = VMCodeMapping.instance()._code_map
    codes, addresses = code_map._vm_code_list, code_map._vm_code_addresses
    first: dict[int, int] = {}
    for index, code in enumerate(codes):
        first.setdefault(id(code), index)  # list.index: the first one

    def start(vm_code: Any) -> int:
        index = first.get(id(vm_code))
        return 0 if index is None else int(addresses[index])  # get_start_address: 0 when absent

    return {start(vm_code): stack for vm_code, stack in self._stacks}


def main() -> int:
    if version("neo3-boa") == PATCHED_VERSION:
        from boa3.internal.compiler.codegenerator.engine import stackmemento

        stackmemento.StackMemento.stack_map = property(_stack_map)  # type: ignore[assignment,method-assign]
    from boa3.cli import main as boa_main

    return int(boa_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
