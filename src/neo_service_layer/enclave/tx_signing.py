"""``sign_transaction`` and ``allow_contracts``: the transaction sender signs only what it has read.

The host sends the whole unsigned transaction; the enclave parses it (``neo_tx``), checks it against
``tx_rules.check_transaction`` and signs ``u32le(magic) || hash`` with the sender key (a
``__platform__`` secp256r1 key with purpose ``neo-tx``). The contracts a network's transactions may
call are registered by the ``cli`` client (``allow_contracts``, at deployment) and kept in the
enclave's own sealed state file (``transactions.sealed``), like ``revocations.py``.

**The height high-water mark.** The enclave has no chain of its own: the host tells it the current
height with every request, and the enclave keeps, per network, the highest height it was told.
``validUntilBlock`` must be above that mark and at most ``valid_until_window`` blocks after it.
What a lying host can and cannot do with it:

- it cannot lower the mark (a lower height is ignored), so it cannot get a transaction that expired
  by a height it once reported signed;
- it can claim a height in the future and get a transaction whose ``validUntilBlock`` is far ahead:
  nodes accept a transaction only within ``MaxValidUntilBlockIncrement`` of the real height, so that
  one becomes usable only then — and every honest transaction is refused until the real chain reaches
  the claimed height (the claim stops the service; it cannot hide);
- every transaction it gets signed is still only allow-listed calls with bounded fees.

The mark is written to the state file when it moved ``PERSIST_STEP`` blocks past the written one
(not on every signature: one fsync per block would cost latency); after a restart it is at most that
far behind. Without a hardware monotonic counter, a rollback of the state file is not detected (a
registration or a mark can be rolled back to an older one).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.neo_tx import account_of, hash_text, parse_unsigned, tx_hash
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.tx_rules import SERVICE_METHODS, TxLimits, check_transaction
from neo_service_layer.enclave.wire.encoding import b64encode
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

_CONTEXT = {"name": "transactions"}
_HASH = re.compile(r"^0x[0-9a-f]{40}$")
#: the mark is written when it moved this many blocks past the written one
PERSIST_STEP = 100
MAX_HEIGHT = 2**32 - 1


class TransactionSigning:
    """Registered contracts per network magic and the height marks; persisted when ``path`` is given."""

    def __init__(
        self, sealer: Sealer, keys: KeyStore, path: Path | None, limits: TxLimits | None = None
    ) -> None:
        self._sealer = sealer
        self._keys = keys
        self._path = path
        self._limits = limits or TxLimits()
        self._contracts: dict[int, dict[str, bytes]] = {}
        self._marks: dict[int, int] = {}
        self._saved_marks: dict[int, int] = {}
        if path is not None and path.exists():
            self._read(path)

    # operations ----------------------------------------------------------------------------------

    def allow_contracts(self, args: Args) -> dict[str, Any]:
        """Register ``{service: "0x<hash>"}`` for ``network_magic``; a service's earlier hash is replaced."""
        magic = _magic(args.integer("network_magic"))
        given = args.mapping("contracts")
        if not given:
            raise InvalidKeyRequest("name at least one contract")
        parsed: dict[str, bytes] = {}
        for service, text in given.items():
            if service not in SERVICE_METHODS:
                raise InvalidKeyRequest(f"unknown service {str(service)[:32]!r}")
            if not isinstance(text, str) or not _HASH.match(text.lower()):
                raise InvalidKeyRequest(f"the {service} contract must be a 0x-prefixed script hash")
            parsed[service] = bytes.fromhex(text[2:])[::-1]
        self._contracts.setdefault(magic, {}).update(parsed)
        self._save()
        return {"contracts": self.registered(magic)}

    def sign_transaction(self, args: Args) -> dict[str, Any]:
        """Parse, check and sign an unsigned transaction with the sender key ``key_id``."""
        key_id = args.text("key_id")
        version = args.opt_integer("version")
        magic = _magic(args.integer("network_magic"))
        height = args.integer("height")
        if not 0 <= height <= MAX_HEIGHT:
            raise InvalidKeyRequest("height out of range")
        info = self._keys.info(key_id, version)
        if info.tenant != PLATFORM_KEY_OWNER or info.kind is not KeyKind.SECP256R1:
            raise PolicyDenied("sign_transaction signs with the platform's transaction sender only")
        tx = parse_unsigned(args.blob("transaction"))
        contracts = {contract: service for service, contract in self._contracts.get(magic, {}).items()}
        check_transaction(
            tx,
            sender=account_of(info.public_key),
            contracts=contracts,
            limits=self._limits,
            height=self.advance(magic, height),
        )
        digest = tx_hash(tx)
        (signature,) = self._keys.sign_for_operation(
            key_id,
            [digest],
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.NEO_TX,
            fmt=SignatureFormat.NEO_TX,
            version=info.version,
            network_magic=magic,
        )
        return {"signature": b64encode(signature), "hash": hash_text(digest)}

    # state -----------------------------------------------------------------------------------------

    @property
    def limits(self) -> TxLimits:
        return self._limits

    def registered(self, magic: int) -> dict[str, str]:
        """``{service: "0x<hash>"}`` registered for ``magic``."""
        return {s: hash_text(h) for s, h in sorted(self._contracts.get(magic, {}).items())}

    def mark(self, magic: int) -> int | None:
        """The highest height the enclave was told for ``magic``."""
        return self._marks.get(magic)

    def advance(self, magic: int, height: int) -> int:
        """The height mark of ``magic`` after being told ``height`` (it never goes down)."""
        mark = max(self._marks.get(magic, 0), height)
        self._marks[magic] = mark
        if mark >= self._saved_marks.get(magic, 0) + PERSIST_STEP:
            self._save()
        return mark

    def _read(self, path: Path) -> None:
        try:
            data = json.loads(self._sealer.unseal(SealUse.ENCLAVE_STATE, _CONTEXT, path.read_bytes()))
            self._contracts = {
                int(magic): {str(s): bytes.fromhex(h) for s, h in services.items()}
                for magic, services in data["contracts"].items()
            }
            self._marks = {int(magic): int(mark) for magic, mark in data["marks"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SealedDataInvalid("enclave transaction state file is malformed") from None
        self._saved_marks = dict(self._marks)

    def _save(self) -> None:
        if self._path is None:
            return
        body = json.dumps(
            {
                "contracts": {
                    str(m): {s: h.hex() for s, h in services.items()}
                    for m, services in self._contracts.items()
                },
                "marks": {str(m): mark for m, mark in self._marks.items()},
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
        self._saved_marks = dict(self._marks)


def _magic(value: int) -> int:
    if not 0 < value <= 0xFFFFFFFF:
        raise InvalidKeyRequest("network_magic must be between 1 and 2^32-1")
    return value
