"""Keys held in the enclave: their public parts and versions, signatures and verdicts."""

from __future__ import annotations

from datetime import datetime

from nsl_client.models.base import ApiModel


class KeyVersion(ApiModel):
    version: int
    public_key: str
    created_at: datetime
    neo_address: str | None = None
    neo_script_hash: str | None = None
    evm_address: str | None = None
    can_sign: bool


class Key(ApiModel):
    key_id: str
    label: str
    kind: str
    purposes: list[str]
    status: str
    current_version: int
    min_sign_version: int
    max_signs_per_minute: int | None
    public_key: str
    neo_address: str | None
    neo_script_hash: str | None
    evm_address: str | None
    rotation_due: bool
    created_at: datetime
    rotated_at: datetime | None
    disabled_at: datetime | None
    destroy_after: datetime | None
    destroyed_at: datetime | None
    versions: list[KeyVersion]


class Signature(ApiModel):
    key_id: str
    version: int
    format: str
    encoding: str
    public_key: str
    signature: str


class SignatureCheck(ApiModel):
    valid: bool
    kind: str
    format: str
    public_key: str
    version: int | None = None


class SignatureBatch(ApiModel):
    """Signatures of a batch, in the order of the messages, all by one key version."""

    key_id: str
    version: int
    format: str
    encoding: str
    public_key: str
    signatures: list[str]
