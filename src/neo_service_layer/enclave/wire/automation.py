"""Tenant jobs calling a contract: what ``automation_grant`` answers (host and enclave share it)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class JobGrant:
    """A sealed grant and what the enclave read in it: the only call ``automation_sign`` signs for the job.

    Attributes:
        grant: the sealed blob the host stores with the job (opaque; only the enclave opens it).
        account: the signing key's account, ``0x`` + big-endian script hash (it pays the fees).
        public_key: the signing key's compressed public key (the witness's verification script).
        contract: the called contract as the enclave read it from the script.
        method: the called method.
        arguments: how many arguments the call passes.
    """

    grant: bytes = field(repr=False)
    account: str
    public_key: bytes
    contract: str
    method: str
    arguments: int
