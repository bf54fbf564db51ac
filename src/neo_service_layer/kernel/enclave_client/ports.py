"""The ``Enclave`` port: everything the services may ask of the process that holds the keys.

Services depend on this Protocol only. The implementation (``adapters.enclave.client``) talks to the
enclave process over its Unix socket; a test can supply any object with these methods.
Errors: the domain errors of ``domain.keys`` (``PolicyDenied``, ``KeyDisabled``, ...) for refusals,
``EnclaveUnavailable`` when the enclave cannot be reached (the HTTP edge maps it to 503).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from neo_service_layer.enclave.wire.automation import JobGrant
from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.enclave.wire.feeds import FeedRound, FeedRoundFacts, FeedSources
from neo_service_layer.enclave.wire.keys import (
    KeyId,
    KeyInfo,
    KeyKind,
    KeyPolicy,
    Purpose,
    SealedKey,
    SignatureFormat,
    TenantId,
)
from neo_service_layer.enclave.wire.native_oracle import NativeResponse
from neo_service_layer.enclave.wire.oracle import (
    FetchSpec,
    OracleFacts,
    OracleResponse,
    ResultCode,
    SealedSecret,
)
from neo_service_layer.enclave.wire.randomness import RandomnessFacts, SignedRandomness

AttestationReport: TypeAlias = Mapping[str, Any]
"""A JSON document; check it with ``neo_service_layer.enclave.attestation.verify_report``."""

SealedRecordLoader: TypeAlias = Callable[[KeyId, int | None], Awaitable[bytes]]
"""Fetches the sealed record of (key id, version or latest) from the database, for re-provisioning."""


class EnclaveUnavailable(Exception):
    """The enclave process cannot be reached or did not answer (socket down, reset, timed out)."""


class EnclaveTimeout(EnclaveUnavailable):
    """The enclave did not answer within the client's timeout."""


@dataclass(frozen=True, slots=True)
class EnclaveStatus:
    """What the enclave says about itself (for readiness checks)."""

    platform: str
    mode: str
    protocol_version: int
    loaded_keys: int


class Enclave(Protocol):
    """Asynchronous operations of the key-holding enclave."""

    async def status(self) -> EnclaveStatus: ...

    def with_credential(self, credential: ApiKeyCredential | None) -> Enclave:
        """The same enclave, sending ``credential`` (the caller's API key) with each call: a tenant that
        enforces enclave-checked credentials has its key operations refused without it."""
        ...

    async def create_key(self, kind: KeyKind, policy: KeyPolicy) -> SealedKey:
        """Generate a key inside the enclave; store the returned sealed record to survive restarts."""
        ...

    async def load_key(self, key_id: KeyId, sealed_record: bytes) -> KeyInfo:
        """Re-provision a key (version) from its sealed record."""
        ...

    async def public_key(self, key_id: KeyId, version: int | None = None) -> KeyInfo: ...

    async def sign(
        self,
        key_id: KeyId,
        message: bytes,
        *,
        tenant: TenantId,
        purpose: Purpose,
        fmt: SignatureFormat,
        version: int | None = None,
        network_magic: int | None = None,
    ) -> bytes:
        """Sign one message; ``network_magic`` is required for ``SignatureFormat.NEO_TX``."""
        ...

    async def sign_batch(
        self,
        key_id: KeyId,
        messages: Sequence[bytes],
        *,
        tenant: TenantId,
        purpose: Purpose,
        fmt: SignatureFormat,
        version: int | None = None,
        network_magic: int | None = None,
    ) -> list[bytes]:
        """Sign up to ``MAX_SIGN_BATCH`` messages in one round trip; signatures in message order."""
        ...

    async def randomness_fulfil(
        self,
        *,
        bls_key_id: KeyId,
        ecdsa_key_id: KeyId,
        items: Sequence[RandomnessFacts],
        tenant: TenantId,
    ) -> list[SignedRandomness]:
        """The randomness answers for up to ``MAX_SIGN_BATCH`` requests, built in the enclave from the
        chain facts (``enclave/wire/randomness.py``): BLS proof, output, ECDSA fulfil signature. The
        randomness keys sign nothing else (raw ``sign``/``sign_batch`` refuse them)."""
        ...

    async def rotate(self, key_id: KeyId, *, tenant: TenantId) -> SealedKey:
        """Create the next version of a key (same kind and policy); older versions stay verifiable."""
        ...

    async def disable(self, key_id: KeyId, *, tenant: TenantId) -> list[SealedKey]:
        """Stop a key signing; returns the re-sealed records (status disabled) of its loaded versions."""
        ...

    async def enable(self, key_id: KeyId, *, tenant: TenantId) -> list[SealedKey]:
        """Undo a disable (a cancelled destruction); returns the re-sealed records (status active)."""
        ...

    async def destroy(self, key_id: KeyId, *, tenant: TenantId) -> None:
        """Forget every version of a key and refuse to load it again; delete its records too.

        Raises ``DestructionRefused`` unless its tenant disabled it at least the enclave's grace
        period (7 days) before and did not enable it again since.
        """
        ...

    async def seal(self, tenant: TenantId, label: str, plaintext: bytes) -> bytes: ...

    async def unseal(self, tenant: TenantId, label: str, blob: bytes) -> bytes: ...

    async def webhook_sign(
        self, key_id: KeyId, *, tenant: TenantId, subscription: str, msg_id: str, timestamp: int, body: bytes
    ) -> bytes:
        """A Standard Webhooks ``v1a`` Ed25519 signature of a fresh webhook of ``subscription`` with the
        platform's webhook key (the enclave checks the message: ``wire/webhooks.py``)."""
        ...

    async def random(self, n: int) -> bytes:
        """``n`` bytes from the enclave's CSPRNG."""
        ...

    async def attest(self, nonce: bytes, key_ids: Sequence[KeyId] = ()) -> AttestationReport:
        """A platform report binding the listed keys' public keys and the caller's nonce."""
        ...

    async def oracle_fetch(
        self,
        facts: OracleFacts,
        spec: FetchSpec,
        *,
        tenant: TenantId,
        key_id: KeyId,
        key_tenant: TenantId,
        key_version: int | None = None,
        secrets: Sequence[SealedSecret] = (),
    ) -> OracleResponse:
        """Fetch ``spec`` inside the enclave (SSRF guard, limits, filter) and sign the answer for ``facts``.

        ``secrets`` are the sealed values (sealed for ``tenant``) of the secrets the spec references as
        ``{{secret:name}}``; they are unsealed and injected inside the enclave only. The enclave builds
        the V2 message (``enclave.wire.oracle.response_message``) from ``facts`` (network magic,
        contract, request id, consumer, the URL as requested, the filter) and signs it with ``key_id``
        (secp256r1, purpose ``oracle``, owned by ``key_tenant``). ``spec.url`` must equal ``facts.url``
        unless that is an ``nsl://template/<id>`` URL; ``spec.filter`` must equal ``facts.filter``.
        Fetch failures come back as result codes, never as exceptions; bad arguments raise
        ``InvalidKeyRequest``, key refusals the key errors.
        """
        ...

    async def oracle_refuse(
        self,
        facts: OracleFacts,
        code: ResultCode,
        *,
        key_id: KeyId,
        key_tenant: TenantId,
        key_version: int | None = None,
    ) -> OracleResponse:
        """A signed refusal for ``facts`` without fetching (``code`` other than ``SUCCESS``, empty result);
        the enclave's ``oracle_fetch`` with its ``code`` argument."""
        ...

    async def sign_transaction(
        self,
        key_id: KeyId,
        transaction: bytes,
        *,
        network_magic: int,
        height: int,
        version: int | None = None,
    ) -> bytes:
        """The transaction sender's 64-byte signature of ``transaction`` (its unsigned bytes) on
        ``network_magic``; ``height`` is the chain height the caller sees. The enclave parses it and
        refuses (``PolicyDenied``) anything but the services' own calls on registered contracts, with
        bounded fees and ``validUntilBlock`` (``enclave/tx_rules.py``)."""
        ...

    async def automation_grant(
        self,
        *,
        tenant: TenantId,
        job_id: str,
        key_id: KeyId,
        network_magic: int,
        script: bytes,
        max_system_fee: int,
    ) -> JobGrant:
        """The enclave's reading of a tenant job's one contract call, sealed as the only call the job's
        key (the tenant's, purpose ``automation``) signs for it (``enclave/job_signing.py``)."""
        ...

    async def automation_sign(
        self,
        *,
        tenant: TenantId,
        job_id: str,
        key_id: KeyId,
        grant: bytes,
        transaction: bytes,
        network_magic: int,
        height: int,
    ) -> bytes:
        """The job key's signature of ``transaction`` if it is the granted call within the grant's bounds."""
        ...

    async def allow_contracts(self, network_magic: int, contracts: Mapping[str, str]) -> dict[str, str]:
        """Register ``{service: "0x<script hash>"}`` as the contracts ``sign_transaction`` may call on
        ``network_magic`` (the ``cli`` client, at deployment); returns every contract registered there."""
        ...

    async def allow_evm_contracts(self, chain_id: int, contracts: Mapping[str, str]) -> dict[str, str]:
        """Register ``{service: "0x<address>"}`` as the contracts ``evm_sign_transaction`` may call on
        the EVM chain ``chain_id`` (the ``cli`` client, at deployment); returns every contract registered
        there."""
        ...

    async def feed_round(
        self,
        facts: FeedRoundFacts,
        sources: FeedSources,
        *,
        key_id: KeyId,
        key_tenant: TenantId,
        key_version: int | None = None,
    ) -> FeedRound:
        """One price feed round computed and signed in the enclave (``enclave/feeds.py``): it fetches every
        source of ``sources`` itself, aggregates, and signs the V2 round message bound to ``facts`` and the
        sources digest with ``key_id`` (secp256r1, purpose ``oracle``). Too few sources or a non-positive
        answer: nothing is signed, ``refusal`` says why. The oracle key signs no feed message raw."""
        ...

    async def native_oracle_respond(
        self, key_id: KeyId, *, magic: int, request_ids: Sequence[int], valid_until_blocks: int
    ) -> list[NativeResponse]:
        """Answers to Neo's native Oracle requests built and signed in the enclave
        (``enclave/native_oracle.py``): it reads each request from its own node, fetches and filters
        the URL, builds the response transaction and signs it with the node key ``key_id``; the host
        picks only the ids and the ``validUntilBlock`` window. Wire code ``chain_unavailable`` when
        the enclave's node does not answer."""
        ...

    def bls_message_point(self, message: bytes) -> bytes:
        """Compressed G2 point H(message) (96 bytes) for the on-chain BLS pairing check."""
        ...


@dataclass(frozen=True, slots=True)
class MigrationExport:
    """What an old enclave answers to ``migration_export``: the bundle and what it left out (and why)."""

    bundle: Mapping[str, Any]
    exported: Sequence[tuple[KeyId, int]]
    skipped: Sequence[tuple[KeyId, int | None, str]]


class KeyMigrationEnclave(Protocol):
    """Attested key migration between enclaves (see ``neo_service_layer.enclave.migration``)."""

    async def migration_offer(self) -> Mapping[str, Any]:
        """New enclave: an offer (ephemeral X25519 public key bound in an attestation report)."""
        ...

    async def migration_export(
        self, offer: Mapping[str, Any], records: Sequence[tuple[KeyId, int, bytes]]
    ) -> MigrationExport:
        """Old enclave: the keys of ``records`` (key id, version, sealed record) encrypted to ``offer``."""
        ...

    async def migration_import(self, bundle: Mapping[str, Any]) -> list[SealedKey]:
        """New enclave: the keys of ``bundle``, re-sealed under its own sealing key (store them)."""
        ...
