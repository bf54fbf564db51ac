"""The oracle service: answers ``OracleRequested`` on chain, and web fetches off chain.

For each on-chain request (``contracts/README.md`` and ``docs/oracle.md`` have the encodings):

1. The URL is an ``https://`` URL fetched with GET and the consumer's filter, or ``nsl://template/<id>``:
   the tenant's template (method, URL, headers, body) with the sealed values of the secrets it references
   (``SecretsService.sealed_for_consumer(..., consumer="oracle")``), unsealed only in the enclave.
2. ``Enclave.oracle_fetch`` fetches behind the SSRF guard, filters, and builds and signs the V2 message
   with the oracle key from the request's facts (network magic, contract, request id, consumer, URL,
   filter). A request that cannot be fetched at all (unknown template, consumer not allowed, secret
   missing) is answered with a refusal the enclave signs for the same facts (``Enclave.oracle_refuse``:
   ``NOT_FOUND`` / ``FORBIDDEN``): no request stays pending.
3. ``fulfill`` and ``deliver`` go in one transaction through the outbox, several requests per
   transaction; a batch whose dry-run faults is retried request by request with the same fallbacks as
   randomness: ``[fulfill; deliver]``, else ``[fulfill; markCallbackFailed(reason)]``, else ``fulfill``
   alone; a request whose ``fulfill`` alone faults is marked ``failed`` with the VM's reason.

Exactly once: the shared chain machinery (idempotent request rows, leases, outbox, at most one
includable transaction per request) and the contract, which refuses a second ``fulfill``.

Leases (issue #19): while a claimed batch is fetched and sent, ``LeaseKeeper`` renews its claims, so a
batch slower than its lease (slow or timing-out sources) keeps it instead of being claimed and fetched
again; before the sends the claims are renewed once more, which takes back a lease that ran out with no
other worker claiming it, so an answer fetched is sent, never fetched again. Only a request another
worker took meanwhile is dropped (``lease_lost``, a warning).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.enclave.wire.errors import InvalidInput, NotFound, PermissionDenied
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, InvalidKeyRequest
from neo_service_layer.enclave.wire.oracle import (
    FetchSpec,
    OracleFacts,
    OracleResponse,
    ResultCode,
    SealedSecret,
)
from neo_service_layer.enclave.wire.randomness import script_hash_bytes
from neo_service_layer.kernel.chain.ports.chain import Chain, ChainEvent, ChainObserver, ContractCall
from neo_service_layer.kernel.chain.ports.request_store import RequestStore
from neo_service_layer.kernel.chain.rules import (
    ChainEventKind,
    ChainRequest,
    Fulfilment,
    NewRequest,
    RequestUpdate,
    lease_until,
)
from neo_service_layer.kernel.chain.use_cases.callback_delivery import CallbackDelivery, group_answers
from neo_service_layer.kernel.chain.use_cases.lease_keeper import LeaseKeeper
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.oracle.rules import (
    OracleParams,
    OracleResult,
    OracleTemplate,
    template_id_of,
)

SERVICE = "oracle"
_U63 = 2**63

log = get_logger("nsl.oracle")


@dataclass(frozen=True, slots=True)
class OracleKey:
    """The oracle's enclave key (secp256r1, purpose ``oracle``, tenant ``__platform__``)."""

    key_id: str
    public_key: bytes


class TemplateStore(Protocol):
    async def add(self, template: OracleTemplate) -> None: ...

    async def get(self, tenant_id: str, template_id: str) -> OracleTemplate | None: ...

    async def list(self, tenant_id: str) -> list[OracleTemplate]: ...

    async def resolve(self, template_id: str) -> OracleTemplate | None:
        """The template named on chain, whoever owns it."""
        ...


#: (tenant, secret name) -> (seal label ``secret:<name>:v<version>``, sealed blob), for consumer "oracle"
SealedSecretReader = Callable[[str, str], Awaitable[tuple[str, bytes]]]


def script_hash_hex(value: bytes) -> str:
    return "0x" + value[::-1].hex()


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


#: a stored oracle request: the URL and filter it asked, and the answer last sent
OracleRequest = ChainRequest[OracleParams, OracleResult]
#: the pipeline's store as the oracle service uses it
OracleStore = RequestStore[OracleParams, OracleResult]


def decode_events(events: Sequence[ChainEvent]) -> tuple[list[NewRequest[OracleParams]], list[RequestUpdate]]:
    """The oracle contract's events as new requests and updates (other events are ignored)."""
    new: list[NewRequest[OracleParams]] = []
    updates: list[RequestUpdate] = []
    for event in events:
        values = event.values
        if event.name == "OracleRequested" and len(values) == 4:
            request_id, consumer, url, filter_ = values
            params = OracleParams(_text(url), _text(filter_))
            new.append(
                NewRequest(
                    int(request_id), script_hash_hex(bytes(consumer)), params, event.block, event.tx_hash
                )
            )
        elif event.name == "OracleFulfilled" and values:
            updates.append(
                RequestUpdate(int(values[0]), ChainEventKind.FULFILLED, event.block, event.tx_hash)
            )
        elif event.name == "OracleDelivered" and values:
            updates.append(
                RequestUpdate(int(values[0]), ChainEventKind.DELIVERED, event.block, event.tx_hash)
            )
        elif event.name == "CallbackFailed" and len(values) == 2:
            updates.append(
                RequestUpdate(
                    int(values[0]),
                    ChainEventKind.CALLBACK_FAILED,
                    event.block,
                    event.tx_hash,
                    _text(values[1]),
                )
            )
    return new, updates


def version_of(label: str) -> int:
    """The version in a seal label ``secret:<name>:v<version>``."""
    return int(label.rsplit(":v", 1)[1])


class OracleAnswerer:
    """Turns a request's facts (network, contract, id, consumer, URL, filter) into a signed answer, through
    the enclave: the enclave builds and signs the message (``enclave.wire.oracle.response_message``)."""

    def __init__(
        self,
        enclave: Callable[[], Enclave],
        key: OracleKey,
        templates: TemplateStore,
        secrets: SealedSecretReader,
        clock: Clock,
    ) -> None:
        self._enclave = enclave
        self._key = key
        self._templates = templates
        self._secrets = secrets
        self._clock = clock

    async def answer(self, facts: OracleFacts) -> OracleResponse:
        """The signed answer to an on-chain request; fetch problems are result codes, never exceptions."""
        url, filter_ = facts.url, facts.filter
        try:
            template_id = template_id_of(url)
        except InvalidInput as exc:
            return await self.refusal(facts, ResultCode.FORBIDDEN, str(exc))
        if template_id is None:
            try:
                spec = FetchSpec(url=url, filter=filter_).check()
            except InvalidInput as exc:
                return await self.refusal(facts, ResultCode.FORBIDDEN, str(exc))
            return await self._fetch(facts, spec, PLATFORM_KEY_OWNER, ())
        template = await self._templates.resolve(template_id)
        if template is None:
            return await self.refusal(facts, ResultCode.NOT_FOUND, "unknown template")
        if not template.allows(script_hash_hex(facts.consumer)):
            return await self.refusal(facts, ResultCode.FORBIDDEN, "the consumer may not use this template")
        try:
            spec = template.spec_for(filter_)
            sealed = await self.sealed(template.tenant_id, spec)
        except (InvalidInput, NotFound, PermissionDenied) as exc:
            return await self.refusal(facts, ResultCode.FORBIDDEN, str(exc)[:200])
        try:
            return await self._fetch(facts, spec, template.tenant_id, sealed)
        except InvalidKeyRequest as exc:  # e.g. a secret sent to a host not pinned on it
            return await self.refusal(facts, ResultCode.FORBIDDEN, str(exc)[:200])

    async def sealed(self, tenant: str, spec: FetchSpec) -> list[SealedSecret]:
        """The sealed values of the secrets ``spec`` references (``NotFound`` / ``PermissionDenied``)."""
        found: list[SealedSecret] = []
        for name in spec.secret_names():
            label, blob = await self._secrets(tenant, name)
            found.append(SealedSecret(name, version_of(label), blob))
        return found

    async def _fetch(
        self,
        facts: OracleFacts,
        spec: FetchSpec,
        tenant: str,
        secrets: Sequence[SealedSecret],
        credential: ApiKeyCredential | None = None,
    ) -> OracleResponse:
        enclave = self._enclave().with_credential(credential)  # an enforcing tenant's secrets need it
        return await enclave.oracle_fetch(
            facts,
            spec,
            tenant=tenant,
            key_id=self._key.key_id,
            key_tenant=PLATFORM_KEY_OWNER,
            secrets=secrets,
        )

    async def fetch_offchain(
        self,
        tenant: str,
        spec: FetchSpec,
        template: OracleTemplate | None = None,
        credential: ApiKeyCredential | None = None,
    ) -> OracleResponse:
        """An answer for the API: a fresh request id from the enclave, secrets of ``tenant``, bound to the
        off-chain facts (magic 0, the zero contract, consumer ``offchain_consumer(tenant)``).

        With ``template`` (owned by ``tenant``) the template's request is fetched with ``spec.filter``
        and its ``nsl://template/<id>`` URL is signed. ``credential`` (the caller's API key) goes to the
        enclave: a tenant enforcing enclave-checked credentials needs it for its secrets to be used.
        """
        request_id = int.from_bytes(await self._enclave().random(8), "little") % _U63
        if template is not None:
            spec = template.spec_for(spec.filter)
        facts = OracleFacts.offchain(request_id, tenant, template.url if template else spec.url, spec.filter)
        sealed = await self.sealed(tenant, spec)
        return await self._fetch(facts, spec, tenant, sealed, credential)

    async def refusal(self, facts: OracleFacts, code: ResultCode, detail: str) -> OracleResponse:
        """A signed answer without fetching (code other than SUCCESS, empty result), built in the enclave."""
        refused = await self._enclave().oracle_refuse(
            facts, code, key_id=self._key.key_id, key_tenant=PLATFORM_KEY_OWNER
        )
        return replace(refused, detail=detail)


@dataclass(frozen=True, slots=True)
class Answered:
    request: OracleRequest
    response: OracleResponse

    @property
    def size(self) -> int:
        return len(self.response.result) + 200


class OracleFulfiller(CallbackDelivery[Answered, OracleResult]):
    """Claims seen oracle requests, answers them through the enclave, and sends the fulfilments."""

    service = SERVICE

    def __init__(
        self,
        chain: Chain,
        store: OracleStore,
        answerer: OracleAnswerer,
        clock: Clock,
        observer: ChainObserver,
        *,
        contract: str,
        worker_id: str,
        lease_seconds: float = 30.0,
        claim_limit: int = 64,
        per_transaction: int = 10,
        max_transaction_result_bytes: int = 48 * 1024,
        max_callback_gas: int = 20 * 10**8,
        fetch_concurrency: int = 8,
        renew_every: float | None = None,
    ) -> None:
        self._chain = chain
        self._store = store
        self._answerer = answerer
        self._renew_every = renew_every
        self._clock = clock
        self._observer = observer
        self.contract = contract
        self.worker_id = worker_id
        self._lease = lease_seconds
        self._limit = claim_limit
        self._per_tx = per_transaction
        self._max_bytes = max_transaction_result_bytes
        self._max_callback_gas = max_callback_gas
        self._fetches = asyncio.Semaphore(fetch_concurrency)

    async def run_once(self) -> int:
        """Claim and answer what is waiting; return how many requests were claimed.

        A request whose answer could not be produced (enclave unreachable) is released for a later try;
        the first such error is raised after the others were sent.
        """
        now = self._clock.now()
        claimed = await self._store.claim(
            SERVICE, self.contract, self.worker_id, now, lease_until(now, self._lease), self._limit
        )
        if not claimed:
            return 0
        keeper = LeaseKeeper(
            self._store,
            self._clock,
            service=SERVICE,
            contract=self.contract,
            worker=self.worker_id,
            lease_seconds=self._lease,
            request_ids=[r.request_id for r in claimed],
            every=self._renew_every,
        )
        async with keeper:  # the claims last as long as the fetches and the sends
            return await self._answer_claimed(claimed, keeper)

    async def _answer_claimed(self, claimed: list[OracleRequest], keeper: LeaseKeeper) -> int:
        results = await asyncio.gather(*(self._answer(r) for r in claimed), return_exceptions=True)
        answered = [
            Answered(r, a) for r, a in zip(claimed, results, strict=True) if isinstance(a, OracleResponse)
        ]
        lost: list[int] = []
        errors: list[BaseException] = []
        for r, a in zip(claimed, results, strict=True):
            if isinstance(a, BaseException):
                lost.append(r.request_id)
                errors.append(a)
        if lost:
            keeper.forget(lost)
            await self._store.release(SERVICE, self.contract, self.worker_id, lost)
        # a lease that ran out unclaimed is taken back; a request another worker took is left to it
        held = await keeper.renew_now(a.request.request_id for a in answered)
        taken = sorted(a.request.request_id for a in answered if a.request.request_id not in held)
        if taken:
            self._lease_lost(taken)
        groups = self._groups([a for a in answered if a.request.request_id in held])
        for index, group in enumerate(groups):
            try:
                await self._send_group(group)
            except Exception:  # this group and the ones not tried yet go back for a later run
                rest = [a.request.request_id for g in groups[index:] for a in g]
                await self._store.release(SERVICE, self.contract, self.worker_id, rest)
                raise
        if errors:
            raise errors[0]
        return len(claimed)

    def _lease_lost(self, request_ids: list[int]) -> None:
        """Another worker claimed these requests while this one fetched: their answers are dropped unsent
        (that worker answers them). Steady, it means the work outlasts the lease."""
        for _ in request_ids:
            self._observer.transaction_outcome(SERVICE, "lease_lost")
        log.warning(
            "oracle lease lost: answers dropped unsent, another worker holds the requests",
            requests=len(request_ids),
            request_ids=request_ids[:10],
            lease_seconds=self._lease,
            worker=self.worker_id,
        )

    async def _answer(self, request: OracleRequest) -> OracleResponse:
        asked = request.asked
        facts = OracleFacts(
            magic=self._chain.magic,
            contract=script_hash_bytes(self.contract),
            request_id=request.request_id,
            consumer=script_hash_bytes(request.consumer),
            url=asked.url,
            filter=asked.filter,
        )
        async with self._fetches:
            return await self._answerer.answer(facts)

    def _groups(self, answered: list[Answered]) -> list[list[Answered]]:
        return group_answers(answered, self._per_tx, self._max_bytes)

    def _fulfill(self, a: Answered) -> ContractCall:
        r = a.response
        return ContractCall(
            self.contract,
            "fulfill",
            (a.request.request_id, int(r.code), r.result, r.timestamp_ms, r.signature),
        )

    def _fulfilment(
        self, a: Answered, with_delivery: bool, failure: str | None = None
    ) -> Fulfilment[OracleResult]:
        r = a.response
        result = OracleResult(int(r.code), r.result, r.timestamp_ms)
        return Fulfilment(a.request.request_id, result, with_delivery, failure)
