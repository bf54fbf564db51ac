"""``evm_sign_transaction`` and ``allow_evm_contracts``: the EVM sender key signs only what it built.

The host sends the structured fields of an EIP-1559 transaction (``wire/evm_tx.py``), never bytes or a
digest; the enclave checks them against ``evm_tx_rules.check_evm_transaction``, builds the unsigned
payload itself, signs its Keccak-256 with the EVM sender key (a ``__platform__`` secp256k1 key with
purpose ``evm-sender``, which raw ``sign`` refuses: ``TYPED_ONLY_PURPOSES``) and returns the raw signed
transaction, its hash and the sender's address. The contracts an EVM chain's transactions may call are
registered per chain id by the ``cli`` client (``allow_evm_contracts``, at deployment) and kept in the
enclave's own sealed state file (``evm_transactions.sealed``), as ``tx_signing.py`` keeps the Neo N3
ones. Without a hardware monotonic counter a rollback of that file is not detected (a registration can
be rolled back to an older one).

The nonce is the host's (``NonceKeeper``): a wrong nonce makes a transaction the node refuses or one
that waits, never a different call. Every transaction the enclave signs is an allow-listed call with
zero value and bounded gas and fee.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import coincurve

from neo_service_layer.enclave.evm_tx_rules import (
    SELECTOR_BYTES,
    SERVICE_FUNCTIONS,
    EvmTxLimits,
    check_evm_transaction,
)
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.signing import keccak256
from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.evm_tx import (
    Eip1559Transaction,
    signed_payload,
    unsigned_payload,
)
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    PolicyDenied,
    Purpose,
    SealedDataInvalid,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.protocol import Args

_CONTEXT = {"name": "evm-transactions"}
_ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")
_U64_LIMIT = 2**64


def selector_table() -> dict[bytes, str]:
    """Selector -> signature of every function in ``SERVICE_FUNCTIONS``."""
    table: dict[bytes, str] = {}
    for signatures in SERVICE_FUNCTIONS.values():
        for signature in signatures:
            table[keccak256(signature.encode())[:SELECTOR_BYTES]] = signature
    return table


def evm_address(public_key: bytes) -> bytes:
    """The 20-byte EVM address of a secp256k1 public key."""
    return keccak256(coincurve.PublicKey(public_key).format(compressed=False)[1:])[-20:]


def _transaction(args: Args) -> Eip1559Transaction:
    to = None if args.raw("to") is None else args.blob("to")
    return Eip1559Transaction(
        chain_id=args.integer("chain_id"),
        nonce=args.integer("nonce"),
        to=to,
        data=args.blob("data"),
        gas=args.integer("gas"),
        max_fee_per_gas=args.integer("max_fee_per_gas"),
        max_priority_fee_per_gas=args.integer("max_priority_fee_per_gas"),
        value=args.integer("value"),
    )


class EvmTransactionSigning:
    """Registered contracts per chain id; persisted when ``path`` is given."""

    def __init__(
        self, sealer: Sealer, keys: KeyStore, path: Path | None, limits: EvmTxLimits | None = None
    ) -> None:
        self._sealer = sealer
        self._keys = keys
        self._path = path
        self._limits = limits or EvmTxLimits()
        self._functions = selector_table()
        self._contracts: dict[int, dict[str, bytes]] = {}
        if path is not None and path.exists():
            self._read(path)

    # operations ----------------------------------------------------------------------------------

    def allow_evm_contracts(self, args: Args) -> dict[str, Any]:
        """Register ``{service: "0x<address>"}`` for ``chain_id``; a service's earlier address is replaced."""
        chain_id = _chain_id(args.integer("chain_id"))
        given = args.mapping("contracts")
        if not given:
            raise InvalidKeyRequest("name at least one contract")
        parsed: dict[str, bytes] = {}
        for service, text in given.items():
            if service not in SERVICE_FUNCTIONS:
                raise InvalidKeyRequest(f"unknown EVM service {str(service)[:32]!r}")
            if not isinstance(text, str) or not _ADDRESS.match(text.lower()):
                raise InvalidKeyRequest(f"the {service} contract must be a 0x-prefixed 20-byte address")
            parsed[service] = bytes.fromhex(text[2:])
        self._contracts.setdefault(chain_id, {}).update(parsed)
        self._save()
        return {"contracts": self.registered(chain_id)}

    def evm_sign_transaction(self, args: Args) -> dict[str, Any]:
        """Check, build and sign an EIP-1559 transaction with the EVM sender key ``key_id``."""
        key_id = args.text("key_id")
        info = self._keys.info(key_id, args.opt_integer("version"))
        if info.tenant != PLATFORM_KEY_OWNER or info.kind is not KeyKind.SECP256K1:
            raise PolicyDenied("evm_sign_transaction signs with the platform's EVM sender only")
        tx = _transaction(args)
        registered = self._contracts.get(tx.chain_id)
        contracts = None if not registered else {a: s for s, a in registered.items()}
        check_evm_transaction(tx, contracts=contracts, functions=self._functions, limits=self._limits)
        (signature,) = self._keys.sign_for_operation(
            key_id,
            [unsigned_payload(tx)],
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.EVM_SENDER,
            fmt=SignatureFormat.EVM_RECOVERABLE,
            version=info.version,
        )
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")
        raw = signed_payload(tx, signature[64] - 27, r, s)
        return {
            "raw": b64encode(raw),
            "hash": b64encode(keccak256(raw)),
            "sender": b64encode(evm_address(info.public_key)),
        }

    # state -----------------------------------------------------------------------------------------

    @property
    def limits(self) -> EvmTxLimits:
        return self._limits

    def registered(self, chain_id: int) -> dict[str, str]:
        """``{service: "0x<address>"}`` registered for ``chain_id``."""
        return {s: "0x" + a.hex() for s, a in sorted(self._contracts.get(chain_id, {}).items())}

    def _read(self, path: Path) -> None:
        try:
            data = json.loads(self._sealer.unseal(SealUse.ENCLAVE_STATE, _CONTEXT, path.read_bytes()))
            contracts: Mapping[str, Mapping[str, str]] = data["contracts"]
            self._contracts = {
                int(chain): {str(s): bytes.fromhex(a) for s, a in services.items()}
                for chain, services in contracts.items()
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SealedDataInvalid("enclave EVM transaction state file is malformed") from None

    def _save(self) -> None:
        if self._path is None:
            return
        body = json.dumps(
            {
                "contracts": {
                    str(c): {s: a.hex() for s, a in services.items()}
                    for c, services in self._contracts.items()
                }
            },
            sort_keys=True,
        )
        blob = self._sealer.seal(SealUse.ENCLAVE_STATE, _CONTEXT, body.encode())
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._path)


def _chain_id(value: int) -> int:
    if not 0 < value < _U64_LIMIT:
        raise InvalidKeyRequest("chain_id must be between 1 and 2^64-1")
    return value
