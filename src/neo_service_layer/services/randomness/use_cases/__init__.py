"""The randomness service: answers ``RandomnessRequested`` on chain, and random words off chain.

For each request (``contracts/README.md`` has the exact encodings):

1-2. the enclave's ``randomness_fulfil`` builds, from the chain facts (network magic, contract, request id,
   consumer, seed), proof = its BLS signature over ``vrf_input``, output = SHA-256(proof) and signature =
   its ECDSA (secp256r1) signature over ``fulfil_message`` (``enclave/wire/randomness.py``);
3. ``fulfill(...)`` and ``deliver(requestId)`` in one transaction when the dry-run halts. Several requests
   share one transaction (``per_transaction``), so a burst of hundreds in one block is answered by a few
   transactions in the next block.

When a batch's dry-run faults, each of its requests is tried alone: ``[fulfill; deliver]``, else (the
callback aborts: NeoVM cannot catch that) ``[fulfill; markCallbackFailed(reason)]`` when the service's
sender owns the contract, else ``fulfill`` alone with the callback failure recorded here. A request whose
``fulfill`` alone faults is marked ``failed`` with the VM's reason and nothing is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER
from neo_service_layer.kernel.chain.ports.chain import Chain, ChainEvent, ChainObserver, ContractCall
from neo_service_layer.kernel.chain.ports.request_store import RequestReader, RequestStore
from neo_service_layer.kernel.chain.rules import (
    ChainEventKind,
    ChainRequest,
    Fulfilment,
    NewRequest,
    RequestUpdate,
    lease_until,
)
from neo_service_layer.kernel.chain.use_cases.callback_delivery import CallbackDelivery, faulted_on_chain
from neo_service_layer.kernel.chain.use_cases.request_lookup import RequestLookup, look_up_request
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.randomness import rules as randomness
from neo_service_layer.services.randomness.rules import (
    RandomnessContractState,
    RandomnessParams,
    RandomnessResult,
)

SERVICE = "randomness"
OFFCHAIN_SEED_TAG = b"NSL-RANDOMNESS-OFFCHAIN-SEED-V1"
#: the enclave signs at most this many messages per call
ENCLAVE_BATCH = 256


@dataclass(frozen=True, slots=True)
class RandomnessKeys:
    """The service's enclave keys (tenant ``__platform__``, purpose ``randomness``)."""

    ecdsa_key_id: str
    ecdsa_public_key: bytes
    bls_key_id: str
    bls_public_key: bytes


def script_hash_hex(value: bytes) -> str:
    """A 20-byte script hash as stored by NeoVM (little-endian) in the usual ``0x`` big-endian form."""
    return "0x" + value[::-1].hex()


#: a stored randomness request: what it asked, and the output and proof it was answered with
RandomnessRequest = ChainRequest[RandomnessParams, RandomnessResult]
#: the pipeline's store as the randomness service uses it
RandomnessStore = RequestStore[RandomnessParams, RandomnessResult]


def decode_events(
    events: Sequence[ChainEvent],
) -> tuple[list[NewRequest[RandomnessParams]], list[RequestUpdate]]:
    """The randomness contract's events as new requests and updates (other events are ignored)."""
    new: list[NewRequest[RandomnessParams]] = []
    updates: list[RequestUpdate] = []
    for event in events:
        values = event.values
        if event.name == "RandomnessRequested" and len(values) == 4:
            request_id, consumer, num_words, seed = values
            new.append(
                NewRequest(
                    int(request_id),
                    script_hash_hex(bytes(consumer)),
                    RandomnessParams(int(num_words), bytes(seed)),
                    event.block,
                    event.tx_hash,
                )
            )
        elif event.name == "RandomnessFulfilled" and values:
            updates.append(
                RequestUpdate(int(values[0]), ChainEventKind.FULFILLED, event.block, event.tx_hash)
            )
        elif event.name == "RandomnessDelivered" and values:
            updates.append(
                RequestUpdate(int(values[0]), ChainEventKind.DELIVERED, event.block, event.tx_hash)
            )
        elif event.name == "CallbackFailed" and len(values) == 2:
            reason = values[1].decode("utf-8", "replace") if isinstance(values[1], bytes) else str(values[1])
            updates.append(
                RequestUpdate(
                    int(values[0]), ChainEventKind.CALLBACK_FAILED, event.block, event.tx_hash, reason
                )
            )
    return new, updates


@dataclass(frozen=True, slots=True)
class Proved:
    request: RandomnessRequest
    output: bytes
    proof: bytes
    signature: bytes


async def prove(
    enclave: Enclave, keys: RandomnessKeys, items: Sequence[randomness.RandomnessFacts]
) -> list[randomness.SignedRandomness]:
    """(output, proof, signature) for each request's chain facts, built in the enclave in batches.

    The host passes only facts (network magic, contract, request id, consumer, seed); the enclave's
    ``randomness_fulfil`` builds and signs the messages itself (``enclave/wire/randomness.py``).
    """
    results: list[randomness.SignedRandomness] = []
    for start in range(0, len(items), ENCLAVE_BATCH):
        results.extend(
            await enclave.randomness_fulfil(
                bls_key_id=keys.bls_key_id,
                ecdsa_key_id=keys.ecdsa_key_id,
                items=items[start : start + ENCLAVE_BATCH],
                tenant=PLATFORM_KEY_OWNER,
            )
        )
    return results


def request_facts(magic: int, contract: str, request: RandomnessRequest) -> randomness.RandomnessFacts:
    """What an on-chain answer is bound to: this network, this contract, the request, its consumer."""
    return randomness.RandomnessFacts(
        magic=magic,
        contract=randomness.script_hash_bytes(contract),
        request_id=request.request_id,
        consumer=randomness.script_hash_bytes(request.consumer),
        seed=request.asked.seed,
    )


class RandomnessFulfiller(CallbackDelivery[Proved, RandomnessResult]):
    """Claims seen requests, proves and signs them in the enclave, and sends the fulfilments."""

    service = SERVICE

    def __init__(
        self,
        chain: Chain,
        store: RandomnessStore,
        enclave: Callable[[], Enclave],
        clock: Clock,
        observer: ChainObserver,
        *,
        contract: str,
        keys: RandomnessKeys,
        worker_id: str,
        lease_seconds: float = 30.0,
        claim_limit: int = 512,
        per_transaction: int = 20,
        max_callback_gas: int = 20 * 10**8,
        concurrency: int = 4,
    ) -> None:
        self._chain = chain
        self._store = store
        self._enclave = enclave
        self._clock = clock
        self._observer = observer
        self.contract = contract
        self._keys = keys
        self.worker_id = worker_id
        self._lease = lease_seconds
        self._limit = claim_limit
        self._per_tx = per_transaction
        self._max_callback_gas = max_callback_gas
        self._semaphore = asyncio.Semaphore(concurrency)

    async def run_once(self) -> int:
        """Claim and answer what is waiting; return how many requests were claimed."""
        now = self._clock.now()
        claimed = await self._store.claim(
            SERVICE, self.contract, self.worker_id, now, lease_until(now, self._lease), self._limit
        )
        if not claimed:
            return 0
        try:
            magic = self._chain.magic
            facts = [request_facts(magic, self.contract, r) for r in claimed]
            signed = await prove(self._enclave(), self._keys, facts)
        except Exception:
            await self._store.release(SERVICE, self.contract, self.worker_id, [r.request_id for r in claimed])
            raise
        proved = [Proved(r, s.output, s.proof, s.signature) for r, s in zip(claimed, signed, strict=True)]
        # a request whose transaction faulted on chain is never batched with others again
        batched = [p for p in proved if not faulted_on_chain(p.request)]
        groups = [batched[i : i + self._per_tx] for i in range(0, len(batched), self._per_tx)]
        groups += [[p] for p in proved if faulted_on_chain(p.request)]
        await asyncio.gather(*(self._limited(group) for group in groups))
        return len(claimed)

    async def _limited(self, group: list[Proved]) -> None:
        async with self._semaphore:
            try:
                await self._send_group(group)
            except Exception:
                await self._store.release(
                    SERVICE, self.contract, self.worker_id, [p.request.request_id for p in group]
                )
                raise

    def _fulfill(self, p: Proved) -> ContractCall:
        return ContractCall(self.contract, "fulfill", (p.request.request_id, p.output, p.proof, p.signature))

    def _fulfilment(
        self, p: Proved, with_delivery: bool, failure: str | None = None
    ) -> Fulfilment[RandomnessResult]:
        return Fulfilment(p.request.request_id, RandomnessResult(p.output, p.proof), with_delivery, failure)


class RandomnessRequests:
    """The state of on-chain randomness requests, for the API: stored, else as the contract says."""

    def __init__(
        self, store: RequestReader[RandomnessParams, RandomnessResult], chain: Chain, *, contract: str
    ) -> None:
        self._store = store
        self._chain = chain
        self.contract = contract

    async def state(self, request_id: int) -> RequestLookup[RandomnessParams, RandomnessResult]:
        """``NotFound`` when neither this installation nor the contract knows the request."""
        return await look_up_request(
            self._store,
            self._chain,
            RandomnessContractState,
            service=SERVICE,
            contract=self.contract,
            request_id=request_id,
        )


# Off-chain requests ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OffchainRandomness:
    request_id: int
    seed: bytes
    proof: bytes
    output: bytes
    words: list[int]
    signature: bytes
    public_key: bytes
    bls_public_key: bytes
    #: the facts the answer is bound to: ``OFFCHAIN_MAGIC``, ``OFFCHAIN_CONTRACT``, the tenant's consumer
    magic: int
    contract: bytes
    consumer: bytes


def offchain_seed(tenant: str, request_id: int, caller_seed: bytes) -> bytes:
    """The seed of an off-chain request: bound to the tenant and request, never equal to a chosen value."""
    tag = OFFCHAIN_SEED_TAG + len(tenant).to_bytes(2, "big") + tenant.encode()
    return hashlib.sha256(tag + randomness.encode_request_id(request_id) + caller_seed).digest()


async def generate_offchain(
    enclave: Enclave, keys: RandomnessKeys, tenant: str, num_words: int, caller_seed: bytes | None
) -> OffchainRandomness:
    """Random words with the same proof and signature as an on-chain fulfilment.

    Bound to network magic ``OFFCHAIN_MAGIC``, contract ``OFFCHAIN_CONTRACT`` and consumer
    ``offchain_consumer(tenant)``: facts no on-chain request has, so the answer cannot be replayed on chain.

    The request id and (without a caller seed) the seed material come from the enclave's CSPRNG.
    """
    randomness.check_request(num_words, b"")
    entropy = await enclave.random(40)
    request_id = int.from_bytes(entropy[:8], "little") >> 1  # 63 bits, as the contract's ids
    seed = offchain_seed(tenant, request_id, caller_seed if caller_seed is not None else entropy[8:])
    facts = randomness.RandomnessFacts(
        magic=randomness.OFFCHAIN_MAGIC,
        contract=randomness.OFFCHAIN_CONTRACT,
        request_id=request_id,
        consumer=randomness.offchain_consumer(tenant),
        seed=seed,
    )
    (signed,) = await prove(enclave, keys, [facts])
    return OffchainRandomness(
        request_id=request_id,
        seed=seed,
        proof=signed.proof,
        output=signed.output,
        words=randomness.derive_words(signed.output, num_words),
        signature=signed.signature,
        public_key=keys.ecdsa_public_key,
        bls_public_key=keys.bls_public_key,
        magic=facts.magic,
        contract=facts.contract,
        consumer=facts.consumer,
    )


def worker_identity() -> str:
    return f"{os.uname().nodename[:40]}-{os.getpid()}"
