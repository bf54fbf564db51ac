"""Tenant automation jobs that call a contract: the enclave signs only the call the tenant granted.

A tenant job's action "call ``contract.method(args)`` with my key" is fixed when the job is created:

- ``automation_grant`` (the ``api`` client, for an enforcing tenant with one of its API keys holding
  ``automation:write``): the enclave reads the call's script itself (``neo_script.contract_calls``:
  exactly one ``System.Contract.Call``, nothing else), checks that the key is the tenant's, secp256r1,
  active, with purpose ``automation``, and seals ``(tenant, job, key, network, script, fee bound)``
  under its own state key (``SealUse.ENCLAVE_STATE``, a context naming the tenant and the job): the
  host stores that grant with the job. No client can seal such a blob itself (``seal`` uses
  ``SealUse.DATA``), so a grant is always the enclave's reading of a call the tenant's side asked for.
- ``automation_sign`` (the ``worker`` client, which otherwise signs with no tenant key): with the grant,
  the enclave parses the transaction the worker built and signs it with the tenant's key only if its
  script is byte for byte the granted one, the key's account is its only signer with scope
  ``CalledByEntry`` (the witness counts in the called contract only, never further down), it has no
  attributes, the network is the granted one, the system fee is within the grant's bound and the
  network fee and ``validUntilBlock`` within the transaction sender's (``tx_rules.TxLimits``, the same
  height mark as ``sign_transaction``).

What a worker token can still do with a grant: send the granted call more often than the job's
trigger says (each at most the grant's fee bound, paid by the tenant's account); never another call,
another key, more GAS per transaction or another network. Standard library and the enclave's own codec.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.neo_script import MalformedTransaction, contract_calls
from neo_service_layer.enclave.neo_tx import account_of, hash_text, parse_unsigned, tx_hash
from neo_service_layer.enclave.neo_tx_model import WitnessScope
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.tx_rules import TransactionRefused, TxLimits
from neo_service_layer.enclave.wire.encoding import b64encode, canonical_json
from neo_service_layer.enclave.wire.keys import (
    InvalidKeyRequest,
    KeyDisabled,
    KeyKind,
    KeyStatus,
    PolicyDenied,
    Purpose,
    SealedDataInvalid,
    SignatureFormat,
    check_key_id,
    check_name,
)
from neo_service_layer.enclave.wire.protocol import Args

_JOB_ID = re.compile(r"^job_[0-9a-f]{24}$")
_GRANT_VERSION = 1
#: the longest call script a grant holds (a call with a few arguments is well under 1 KiB)
MAX_SCRIPT_BYTES = 4096
MAX_HEIGHT = 2**32 - 1


@dataclass(frozen=True, slots=True)
class Grant:
    """What a sealed grant says, once the enclave opened it."""

    tenant: str
    job_id: str
    key_id: str
    magic: int
    script: bytes
    max_system_fee: int


def _context(tenant: str, job_id: str) -> dict[str, str]:
    return {"name": "automation-grant", "tenant": tenant, "job": job_id}


def _job_id(value: str) -> str:
    if not _JOB_ID.fullmatch(value):
        raise InvalidKeyRequest("job_id must be job_ and 24 hex digits")
    return value


def _magic(value: int) -> int:
    if not 0 < value <= 0xFFFFFFFF:
        raise InvalidKeyRequest("network_magic must be between 1 and 2^32-1")
    return value


class JobSigning:
    """The two operations; ``advance`` is the transaction sender's height mark (shared with it)."""

    def __init__(
        self, sealer: Sealer, keys: KeyStore, advance: Callable[[int, int], int], limits: TxLimits
    ) -> None:
        self._sealer = sealer
        self._keys = keys
        self._advance = advance
        self._limits = limits

    def grant(self, args: Args) -> dict[str, Any]:
        """``automation_grant``: tenant, job_id, key_id, network_magic, script, max_system_fee ->
        ``{"grant", "account", "public_key", "contract", "method", "arguments"}`` (the sealed grant, the
        key's account and what the grant allows)."""
        tenant = check_name(args.text("tenant"), "tenant")
        job_id = _job_id(args.text("job_id"))
        key_id = check_key_id(args.text("key_id"))
        magic = _magic(args.integer("network_magic"))
        script = args.blob("script")
        max_fee = args.integer("max_system_fee")
        if not 0 < max_fee <= self._limits.max_system_fee:
            raise InvalidKeyRequest(
                f"max_system_fee must be between 1 and {self._limits.max_system_fee} GAS fractions"
            )
        if not 0 < len(script) <= MAX_SCRIPT_BYTES:
            raise InvalidKeyRequest(f"the call script must be 1-{MAX_SCRIPT_BYTES} bytes")
        try:
            calls = contract_calls(script)
        except MalformedTransaction as exc:
            raise InvalidKeyRequest(f"the call script: {exc}") from None
        if len(calls) != 1:
            raise InvalidKeyRequest("a job's script is exactly one contract call")
        public_key = self._job_key(key_id, tenant)
        body = {
            "v": _GRANT_VERSION,
            "tenant": tenant,
            "job": job_id,
            "key_id": key_id,
            "magic": magic,
            "script": script.hex(),
            "max_system_fee": max_fee,
        }
        blob = self._sealer.seal(SealUse.ENCLAVE_STATE, _context(tenant, job_id), canonical_json(body))
        (call,) = calls
        return {
            "grant": b64encode(blob),
            "account": hash_text(account_of(public_key)),
            "public_key": public_key.hex(),
            "contract": call.contract_text,
            "method": call.method,
            "arguments": len(call.args),
        }

    def sign(self, args: Args) -> dict[str, Any]:
        """``automation_sign``: tenant, job_id, grant, transaction (unsigned), network_magic, height ->
        ``{"signature", "hash"}``; ``TransactionRefused`` saying why for anything the grant does not allow."""
        tenant = check_name(args.text("tenant"), "tenant")
        job_id = _job_id(args.text("job_id"))
        grant = self.open(tenant, job_id, args.blob("grant"))
        magic = _magic(args.integer("network_magic"))
        height = args.integer("height")
        if not 0 <= height <= MAX_HEIGHT:
            raise InvalidKeyRequest("height out of range")
        if magic != grant.magic:
            raise TransactionRefused("the job's grant is for another network")
        public_key = self._job_key(grant.key_id, tenant)
        tx = parse_unsigned(args.blob("transaction"))
        if len(tx.signers) != 1 or tx.signers[0].account != account_of(public_key):
            raise TransactionRefused("the job key's account must be the transaction's only signer")
        if tx.signers[0].scopes != WitnessScope.CALLED_BY_ENTRY:
            raise TransactionRefused("a job's transaction is signed with scope CalledByEntry only")
        if tx.attributes:
            raise TransactionRefused("a job's transaction has no attributes")
        if tx.script != grant.script:
            raise TransactionRefused("the script is not the job's granted call")
        if tx.system_fee > grant.max_system_fee:
            raise TransactionRefused(
                f"system fee above the job's bound of {grant.max_system_fee} GAS fractions"
            )
        if tx.network_fee > self._limits.max_network_fee:
            raise TransactionRefused(
                f"network fee above the bound of {self._limits.max_network_fee} GAS fractions"
            )
        mark = self._advance(magic, height)
        if not mark < tx.valid_until_block <= mark + self._limits.valid_until_window:
            raise TransactionRefused(
                f"validUntilBlock must be after block {mark} and at most "
                f"{self._limits.valid_until_window} blocks later"
            )
        digest = tx_hash(tx)
        (signature,) = self._keys.sign_for_operation(
            grant.key_id,
            [digest],
            tenant=tenant,
            purpose=Purpose.AUTOMATION,
            fmt=SignatureFormat.NEO_TX,
            network_magic=magic,
        )
        return {"signature": b64encode(signature), "hash": hash_text(digest)}

    def open(self, tenant: str, job_id: str, blob: bytes) -> Grant:
        """The grant sealed for this tenant's job (``SealedDataInvalid`` for anything else)."""
        try:
            data = json.loads(self._sealer.unseal(SealUse.ENCLAVE_STATE, _context(tenant, job_id), blob))
            grant = Grant(
                tenant=str(data["tenant"]),
                job_id=str(data["job"]),
                key_id=str(data["key_id"]),
                magic=int(data["magic"]),
                script=bytes.fromhex(data["script"]),
                max_system_fee=int(data["max_system_fee"]),
            )
        except (ValueError, KeyError, TypeError):
            raise SealedDataInvalid("the job's grant is malformed") from None
        if data.get("v") != _GRANT_VERSION or (grant.tenant, grant.job_id) != (tenant, job_id):
            raise SealedDataInvalid("the grant is not this job's")
        return grant

    def _job_key(self, key_id: str, tenant: str) -> bytes:
        """The public key of the tenant's active secp256r1 key with purpose ``automation``."""
        info = self._keys.info(key_id)
        if info.tenant != tenant:
            raise PolicyDenied("key belongs to another tenant")
        if info.kind is not KeyKind.SECP256R1:
            raise PolicyDenied("a job signs Neo transactions: the key must be secp256r1")
        if info.status is not KeyStatus.ACTIVE:
            raise KeyDisabled("key is disabled")
        if Purpose.AUTOMATION not in self._keys.purposes(key_id):
            raise PolicyDenied("key policy does not allow purpose automation")
        return info.public_key
