"""The randomness service's scope. Standard library only; the roles that hold it: ``service.SERVICE``."""

from __future__ import annotations

#: random words off chain, verification of proofs, the state of on-chain requests (and, in the kernel,
#: ``GET /api/v1/neo/network``, where callers find the keys that verify the proofs)
RANDOMNESS_REQUEST = "randomness:request"
