"""Secrets (names and versions, never values), randomness, oracle, feeds, attestation, the network."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nsl_client.models.base import ApiModel, CamelModel


class Secret(ApiModel):
    name: str
    consumers: list[Any]
    current_version: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    expired: bool
    source: str
    allowed_hosts: list[str]


class SecretVersion(ApiModel):
    version: int
    created_at: datetime
    expires_at: datetime | None
    expired: bool
    source: str
    size: int


class SecretSource(ApiModel):
    """An import source remembered for re-sync (its credentials stay sealed on the server)."""

    name: str
    provider: str
    created_at: datetime


class SecretImportResult(ApiModel):
    name: str
    imported: bool
    #: the secret's new version when imported
    version: int | None = None
    #: why it was not: a code (``secret-source-not-found``, ...) and a sentence
    error: str | None = None
    detail: str | None = None


class SecretImport(ApiModel):
    """One result per name asked for, in order; a name the source lacks is not imported, the rest are."""

    results: list[SecretImportResult]


class RandomnessAnswer(CamelModel):
    """An off-chain answer; ``verify.verify_randomness`` checks it with no server call."""

    request_id: str
    seed: str
    proof: str
    output: str
    words: list[str]
    signature: str
    public_key: str
    bls_public_key: str
    network_magic: int
    contract: str
    consumer: str


class RandomnessRequestState(CamelModel):
    request_id: str
    contract: str
    status: str
    consumer: str | None = None
    num_words: int | None = None
    seed: str | None = None
    request_block: int | None = None
    request_tx: str | None = None
    fulfilled_block: int | None = None
    fulfilled_tx: str | None = None
    delivered_block: int | None = None
    #: the fulfilment transaction in flight, if any; ``attempts``: fulfilment transactions written so far
    pending_tx: str | None = None
    attempts: int | None = None
    output: str | None = None
    proof: str | None = None
    failure_reason: str | None = None
    source: str = "database"


class NeoXRandomnessRequestState(CamelModel):
    """A request to the Neo X (EVM) randomness contract: stored, or only as the contract knows it."""

    request_id: str
    chain_id: int
    contract: str
    #: stored: seen, fulfilling, fulfilled, delivered, callback_failed, failed; else pending, fulfilled
    status: str
    consumer: str
    seed: str
    request_block: int | None = None
    request_tx: str | None = None
    fulfilled_block: int | None = None
    fulfilled_tx: str | None = None
    pending_tx: str | None = None
    attempts: int | None = None
    randomness: str | None = None
    proof: str | None = None
    failure_reason: str | None = None
    source: str = "database"


class RandomnessVerdict(CamelModel):
    """The server's check of a randomness answer, the BLS pairing included; ``valid`` only if all held."""

    valid: bool
    proof: bool
    output: bool
    #: ``None`` when no words or no signature were given to check
    words: bool | None
    signature: bool | None
    #: the service's keys the answer was checked against
    bls_public_key: str
    public_key: str


class OracleAnswer(CamelModel):
    """A signed fetch; ``verify.verify_oracle_answer`` checks it with no server call."""

    request_id: str
    code: int
    code_name: str
    result: str
    result_text: str | None
    timestamp: int
    network_magic: int
    contract: str
    consumer: str
    url: str
    filter: str
    signature: str
    public_key: str
    key_version: int
    status: int | None
    content_type: str | None
    detail: str


class OracleRequestState(CamelModel):
    request_id: str
    contract: str
    status: str
    consumer: str | None = None
    url: str | None = None
    filter: str | None = None
    code: int | None = None
    result: str | None = None
    request_block: int | None = None
    fulfilled_block: int | None = None
    fulfilled_tx: str | None = None
    delivered_block: int | None = None
    #: the fulfilment transaction in flight, if any; ``attempts``: fulfilment transactions written so far
    pending_tx: str | None = None
    attempts: int | None = None
    failure_reason: str | None = None
    source: str = "database"


class OracleVerdict(CamelModel):
    valid: bool
    #: the oracle key the answer was checked against
    public_key: str


class OracleTemplate(CamelModel):
    id: str
    template_url: str
    url: str
    method: str
    headers: list[list[str]]
    body: str | None
    secrets: list[str]
    allowed_consumers: list[str]
    description: str
    created_at: str


class FeedRound(CamelModel):
    round_id: int
    answer: str
    value: str
    started_at: int
    updated_at: int


class FeedRounds(CamelModel):
    pair: str
    decimals: int
    #: newest first
    rounds: list[FeedRound]


class Feed(ApiModel):
    pair: str
    contract: str
    definition: dict[str, Any]
    latest: FeedRound | None


class PlatformAttestation(ApiModel):
    report: dict[str, Any]
    keys: dict[str, Any]


class AttestationVerdict(ApiModel):
    ok: bool
    mode: str | None
    measurement: str | None
    keys: list[dict[str, Any]]
    problems: list[str]
    notes: list[str]


class Network(ApiModel):
    network: str
    magic: int
    height: int
    contracts: dict[str, Any]
    service_public_keys: dict[str, Any]
    sender: str | None
    rpc_url: str | None = None
