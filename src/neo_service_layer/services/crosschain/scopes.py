"""The cross-chain service's scope. Standard library only; the roles that hold it: ``service.SERVICE``."""

from __future__ import annotations

#: the state of cross-chain messages (public on-chain data, as the relayer carried it)
CROSSCHAIN_READ = "crosschain:read"
