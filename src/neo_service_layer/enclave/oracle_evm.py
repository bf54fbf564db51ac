"""The enclave's ``oracle_evm_fetch`` op: an oracle answer for an EVM (Neo X) request, fetched, filtered and
signed inside the enclave so the EVM contract's ``ecrecover`` accepts it.

Wire arguments (binary values base64)::

    {"chain_id": int, "contract": b64 (20), "request_id": int, "consumer": b64 (20),
     "request_url": str, "filter": str, "code": int | null,
     "tenant": str, "key_id": str, "key_version": int | null,
     "request": FetchSpec.to_dict() | null,
     "secrets": [{"name": str, "version": int, "blob": b64}, ...]}

Result::

    {"chain_id": int, "contract": b64, "request_id": int, "consumer": b64, "url": str, "filter": str,
     "code": int, "result": b64, "timestamp": int (ms), "signature": b64 (65-byte r||s||v), "key_id": str,
     "key_version": int, "public_key": b64, "status": int | null, "content_type": str | null,
     "detail": str}

The fetch (or refusal), the guard, the filter and the secret rules are those of ``oracle_fetch``
(``oracle_fetching.py``): only the facts and the signature differ. The enclave builds the fulfil preimage
(``wire/oracle_evm.py``) from the facts and what it fetched and signs its Keccak-256 with the secp256k1 key
of purpose ``oracle-evm`` (a platform key; 65 bytes r || s || v). The host supplies no result, code or
message, so a host that can talk to the enclave gets only answers the enclave fetched itself, or refusals
with an empty result (which it could give anyway by not answering). Keys of purpose ``oracle-evm`` are
refused by the raw ``sign`` operations (``TYPED_ONLY_PURPOSES``): this op is their only use. ``tenant``
owns the secrets the fetch references.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from neo_service_layer.enclave.fetch import Fetcher
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.oracle_fetching import OracleFetching, OracleOutcome, plan_fetch
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.signing import keccak256
from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyInfo,
    KeyKind,
    PolicyDenied,
    Purpose,
    SignatureFormat,
    check_name,
)
from neo_service_layer.enclave.wire.oracle_evm import EvmOracleFacts, fulfil_preimage
from neo_service_layer.enclave.wire.protocol import Args

log = logging.getLogger(__name__)


class EvmOracleFetchOp:
    """Runs ``oracle_evm_fetch``; the fetch is awaited, so other requests are served meanwhile."""

    def __init__(
        self, keys: KeyStore, sealer: Sealer, fetcher: Fetcher, clock: Callable[[], float] = time.time
    ) -> None:
        self._keys = keys
        self._fetching = OracleFetching(sealer, fetcher)
        self._clock = clock

    async def __call__(self, args: Args) -> dict[str, Any]:
        facts = _facts(args)
        tenant = check_name(args.text("tenant"), "tenant")
        key_id, key_version = args.text("key_id"), args.opt_integer("key_version")
        plan = plan_fetch(args, facts.url, facts.filter)
        # the key is checked before fetching: no fetch is made for an answer this op cannot sign
        info = self._keys.info(key_id, key_version)
        if info.kind is not KeyKind.SECP256K1:
            raise InvalidKeyRequest("the EVM oracle key must be a secp256k1 key")
        if Purpose.ORACLE_EVM not in self._keys.purposes(key_id, info.version):
            raise PolicyDenied("key policy does not allow purpose oracle-evm")
        outcome = await self._fetching.outcome(tenant, plan, args)
        return self._signed(facts, info, outcome)

    def _signed(self, facts: EvmOracleFacts, info: KeyInfo, outcome: OracleOutcome) -> dict[str, Any]:
        """Build the fulfil preimage from the facts and the outcome, sign it with the EVM oracle key."""
        timestamp = int(self._clock() * 1000)
        preimage = fulfil_preimage(facts, outcome.code, outcome.result, timestamp, keccak256)
        (signature,) = self._keys.sign_for_operation(
            info.key_id,
            [preimage],
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.ORACLE_EVM,
            fmt=SignatureFormat.EVM_RECOVERABLE,
            version=info.version,
        )
        log.info(
            "evm oracle fetch answered", extra={"request_id": facts.request_id, "code": int(outcome.code)}
        )
        return {
            "chain_id": facts.chain_id,
            "contract": b64encode(facts.contract),
            "request_id": facts.request_id,
            "consumer": b64encode(facts.consumer),
            "url": facts.url,
            "filter": facts.filter,
            "code": int(outcome.code),
            "result": b64encode(outcome.result),
            "timestamp": timestamp,
            "signature": b64encode(signature),
            "key_id": info.key_id,
            "key_version": info.version,
            "public_key": b64encode(info.public_key),
            "status": outcome.status,
            "content_type": outcome.content_type,
            "detail": outcome.detail,
        }


def _facts(args: Args) -> EvmOracleFacts:
    """The chain facts the answer is bound to."""
    try:
        return EvmOracleFacts(
            chain_id=args.integer("chain_id"),
            contract=args.blob("contract"),
            request_id=args.integer("request_id"),
            consumer=args.blob("consumer"),
            url=args.text("request_url"),
            filter=args.opt_text("filter") or "",
        )
    except InvalidInput as exc:
        raise InvalidKeyRequest(str(exc)) from None
