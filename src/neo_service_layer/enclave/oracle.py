"""The enclave's ``oracle_fetch`` op: unseal secrets, fetch behind the guard, filter, build and sign the
V2 answer (``wire/oracle.py``) from the request's facts.

Wire arguments (all binary values base64)::

    {"magic": int, "contract": b64 (20), "request_id": int, "consumer": b64 (20),
     "request_url": str, "filter": str, "code": int | null,
     "tenant": str, "key_id": str, "key_tenant": str, "key_version": int | null,
     "request": FetchSpec.to_dict() | null,
     "secrets": [{"name": str, "version": int, "blob": b64}, ...]}

Result::

    {"magic": int, "contract": b64, "request_id": int, "consumer": b64, "url": str, "filter": str,
     "code": int, "result": b64, "timestamp": int (ms), "signature": b64 (64-byte r||s), "key_id": str,
     "key_version": int, "public_key": b64, "status": int | null, "content_type": str | null,
     "detail": str}

The signed URL is ``request_url``, the URL as requested. Without ``code`` the enclave fetches ``request``:
its URL must equal ``request_url`` unless ``request_url`` is an ``nsl://template/<id>`` URL (then the host
passes the template's fetch spec: the template id is signed, the template's content is the host's word),
and its filter must equal ``filter``. With ``code`` (any ``ResultCode`` but ``SUCCESS``) nothing is
fetched: a refusal with an empty result is signed for the facts (the host can refuse a request, which it
could anyway by not answering, never give it a result). The oracle key signs nothing else: raw ``sign``
refuses oracle messages (``KeyStore.sign``).

``tenant`` owns the secrets (unsealed with label ``secret:<name>:v<version>``); ``key_tenant`` owns the
oracle key (purpose ``oracle``, secp256r1). Secret values appear nowhere in the result, the detail text or
logs; a response that echoes one is answered with ``FORBIDDEN`` and no result. The fetch, the filter and
the secret rules are ``oracle_fetching.py``'s, shared with ``oracle_evm_fetch``.
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
from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import (
    InvalidKeyRequest,
    KeyInfo,
    KeyKind,
    Purpose,
    SignatureFormat,
    check_name,
)
from neo_service_layer.enclave.wire.oracle import OracleFacts, response_message
from neo_service_layer.enclave.wire.protocol import Args

log = logging.getLogger(__name__)

_U63 = 2**63


class OracleFetchOp:
    """Runs ``oracle_fetch``; the fetch is awaited, so other requests are served meanwhile."""

    def __init__(
        self, keys: KeyStore, sealer: Sealer, fetcher: Fetcher, clock: Callable[[], float] = time.time
    ) -> None:
        self._keys = keys
        self._fetching = OracleFetching(sealer, fetcher)
        self._clock = clock

    async def __call__(self, args: Args) -> dict[str, Any]:
        facts = _facts(args)
        tenant = check_name(args.text("tenant"), "tenant")
        key_id, key_tenant = args.text("key_id"), args.text("key_tenant")
        key_version = args.opt_integer("key_version")
        plan = plan_fetch(args, facts.url, facts.filter)
        info = self._keys.info(key_id, key_version)  # fail before fetching if the key is not loaded
        if info.kind is not KeyKind.SECP256R1:
            raise InvalidKeyRequest("the oracle key must be a secp256r1 key")
        outcome = await self._fetching.outcome(tenant, plan, args)
        return self._signed(facts, key_id, key_tenant, info, outcome)

    def _signed(
        self, facts: OracleFacts, key_id: str, key_tenant: str, info: KeyInfo, outcome: OracleOutcome
    ) -> dict[str, Any]:
        """Build the V2 message from the facts and the outcome, sign it with the oracle key."""
        timestamp = int(self._clock() * 1000)
        message = response_message(facts, outcome.code, timestamp, outcome.result)
        (signature,) = self._keys.sign_for_operation(
            key_id,
            [message],
            tenant=key_tenant,
            purpose=Purpose.ORACLE,
            fmt=SignatureFormat.ECDSA_SHA256,
            version=info.version,
        )
        log.info("oracle fetch answered", extra={"request_id": facts.request_id, "code": int(outcome.code)})
        return {
            "magic": facts.magic,
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


def _facts(args: Args) -> OracleFacts:
    """The chain facts the answer is bound to."""
    request_id = args.integer("request_id")
    if not 0 <= request_id < _U63:
        raise InvalidKeyRequest("request_id must be between 0 and 2^63-1")
    try:
        return OracleFacts(
            magic=args.integer("magic"),
            contract=args.blob("contract"),
            request_id=request_id,
            consumer=args.blob("consumer"),
            url=args.text("request_url"),
            filter=args.opt_text("filter") or "",
        )
    except InvalidInput as exc:
        raise InvalidKeyRequest(str(exc)) from None
