"""Request and response bodies of the keys, secrets and attestation routes (strict pydantic models).

Binary values travel as text in the encoding the request names (``hex``, with or without ``0x``, or
standard ``base64``); a value that does not decode is a 422 problem naming the field. Responses use the
request's encoding. Messages of validation errors never repeat the value.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from neo_service_layer.enclave.wire.keys import KeyKind, Purpose, SignatureFormat
from neo_service_layer.services.keys.ports import KeyAddresses
from neo_service_layer.services.keys.rules import MAX_BATCH_MESSAGES, KeyState, ManagedKey
from neo_service_layer.services.keys.use_cases.keys import KeyView
from neo_service_layer.services.secrets.rules import Consumer, SecretVersion, TenantSecret

Encoding = Literal["hex", "base64"]
MAX_MESSAGE_TEXT = 2 * 64 * 1024  # 64 KiB as hex


def decode(text: str, encoding: Encoding) -> bytes:
    """Strictly decode ``text``; ``ValueError`` (without the value) when it is not valid."""
    if encoding == "hex":
        body = text[2:] if text.startswith(("0x", "0X")) else text
        try:
            data = bytes.fromhex(body)
        except ValueError:
            return _fail(encoding)
        if 2 * len(data) != len(body):  # ``fromhex`` skips whitespace, which is not valid here
            return _fail(encoding)
        return data
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return _fail(encoding)


def _fail(encoding: Encoding) -> bytes:
    raise ValueError(f"not valid {encoding}")


def encode(data: bytes, encoding: Encoding) -> str:
    return data.hex() if encoding == "hex" else base64.b64encode(data).decode()


def _check(value: str, info: ValidationInfo) -> str:
    decode(value, info.data.get("encoding", "hex"))
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Keys -------------------------------------------------------------------------------------------


class KeyCreate(Strict):
    kind: KeyKind
    label: str = Field(min_length=1, max_length=100)
    purposes: list[Purpose] = Field(min_length=1, max_length=len(Purpose))
    max_signs_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)


class VersionOut(BaseModel):
    version: int
    public_key: str = Field(description="compressed public key, hex")
    created_at: datetime
    neo_address: str | None = None
    neo_script_hash: str | None = Field(default=None, description="0x + big-endian hex (as Neo shows it)")
    evm_address: str | None = Field(default=None, description="EIP-55 checksummed")
    can_sign: bool


class KeyOut(BaseModel):
    key_id: str
    label: str
    kind: KeyKind
    purposes: list[Purpose]
    status: KeyState
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
    versions: list[VersionOut]

    @classmethod
    def of(cls, view: KeyView) -> KeyOut:
        key: ManagedKey = view.key
        versions = [
            VersionOut(
                version=v.version,
                public_key=v.public_key.hex(),
                created_at=v.created_at,
                can_sign=key.state is KeyState.ACTIVE and v.version >= key.min_sign_version,
                **_addresses(view.addresses.get(v.version, KeyAddresses())),
            )
            for v in key.versions
        ]
        current = next(v for v in versions if v.version == key.current_version)
        return cls(
            key_id=key.key_id,
            label=key.label,
            kind=key.kind,
            purposes=sorted(key.purposes),
            status=key.state,
            current_version=key.current_version,
            min_sign_version=key.min_sign_version,
            max_signs_per_minute=key.max_signs_per_minute,
            public_key=current.public_key,
            neo_address=current.neo_address,
            neo_script_hash=current.neo_script_hash,
            evm_address=current.evm_address,
            rotation_due=view.rotation_due,
            created_at=key.created_at,
            rotated_at=key.rotated_at,
            disabled_at=key.disabled_at,
            destroy_after=key.destroy_after,
            destroyed_at=key.destroyed_at,
            versions=versions,
        )


def _addresses(found: KeyAddresses) -> dict[str, str | None]:
    return {
        "neo_address": found.neo_address,
        "neo_script_hash": found.neo_script_hash,
        "evm_address": found.evm_address,
    }


_DIGEST_FORMATS = (SignatureFormat.NEO_TX, SignatureFormat.EVM_DIGEST)


class SignRequest(Strict):
    encoding: Encoding = "hex"
    message: str | None = Field(default=None, max_length=MAX_MESSAGE_TEXT)
    digest: str | None = Field(default=None, max_length=130, description="32-byte pre-computed hash")
    purpose: Purpose = Purpose.MESSAGE
    format: SignatureFormat | None = Field(default=None, description="default: by key kind")
    version: int | None = Field(default=None, ge=1)
    network_magic: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)

    _message = field_validator("message", "digest")(_check)

    @model_validator(mode="after")
    def _one_input(self) -> Self:
        if (self.message is None) == (self.digest is None):
            raise ValueError("give exactly one of message or digest")
        if self.digest is not None:
            if len(decode(self.digest, self.encoding)) != 32:
                raise ValueError("digest must be 32 bytes")
            if self.format not in _DIGEST_FORMATS:
                raise ValueError("digest needs format neo-tx or evm-digest")
        return self

    def data(self) -> bytes:
        text = self.message if self.message is not None else self.digest
        assert text is not None
        return decode(text, self.encoding)


class SignBatchRequest(Strict):
    encoding: Encoding = "hex"
    messages: list[Annotated[str, Field(max_length=MAX_MESSAGE_TEXT)]] = Field(
        min_length=1, max_length=MAX_BATCH_MESSAGES
    )
    purpose: Purpose = Purpose.MESSAGE
    format: SignatureFormat | None = None
    version: int | None = Field(default=None, ge=1)
    network_magic: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)

    @field_validator("messages")
    @classmethod
    def _decodable(cls, values: list[str], info: ValidationInfo) -> list[str]:
        encoding = info.data.get("encoding", "hex")
        for index, value in enumerate(values):
            try:
                decode(value, encoding)
            except ValueError:
                raise ValueError(f"item {index} is not valid {encoding}") from None
        return values

    def data(self) -> list[bytes]:
        return [decode(m, self.encoding) for m in self.messages]


class SignOut(BaseModel):
    key_id: str
    version: int
    format: SignatureFormat
    encoding: Encoding
    public_key: str
    signature: str


class SignBatchOut(BaseModel):
    key_id: str
    version: int
    format: SignatureFormat
    encoding: Encoding
    public_key: str
    signatures: list[str]


class VerifyRequest(Strict):
    encoding: Encoding = "hex"
    message: str = Field(max_length=MAX_MESSAGE_TEXT)
    signature: str = Field(max_length=400)
    format: SignatureFormat | None = None
    version: int | None = Field(default=None, ge=1)
    network_magic: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)

    _decodable = field_validator("message", "signature")(_check)


class VerifyPublicRequest(VerifyRequest):
    kind: KeyKind
    public_key: str = Field(max_length=200, description="compressed public key, in `encoding`")

    _key = field_validator("public_key")(_check)


class VerifyOut(BaseModel):
    valid: bool
    kind: KeyKind
    format: SignatureFormat
    public_key: str
    version: int | None = None


class RotateRequest(Strict):
    min_sign_version: int | None = Field(
        default=None, ge=1, description="lowest version that may still sign (default: the new version)"
    )


# Secrets ----------------------------------------------------------------------------------------


def _check_secret(value: SecretStr, info: ValidationInfo) -> SecretStr:
    if info.data.get("encoding") == "base64":
        decode(value.get_secret_value(), "base64")
    return value


class SecretRotate(Strict):
    encoding: Literal["utf8", "base64"] = "utf8"
    value: SecretStr = Field(min_length=1, max_length=2 * 64 * 1024)
    ttl_seconds: int | None = Field(default=None, ge=1, le=3650 * 86400)

    _decodable = field_validator("value")(_check_secret)

    def raw(self) -> bytes:
        text = self.value.get_secret_value()
        return decode(text, "base64") if self.encoding == "base64" else text.encode()


class SecretPut(SecretRotate):
    consumers: list[Consumer] = Field(default_factory=list, max_length=len(Consumer))


class SecretVersionOut(BaseModel):
    version: int
    created_at: datetime
    expires_at: datetime | None
    expired: bool
    source: str
    size: int

    @classmethod
    def of(cls, item: SecretVersion, now: datetime) -> SecretVersionOut:
        return cls(
            version=item.version,
            created_at=item.created_at,
            expires_at=item.expires_at,
            expired=item.expired(now),
            source=item.source,
            size=item.size,
        )


class SecretOut(BaseModel):
    """Metadata only: the value is never returned."""

    name: str
    consumers: list[Consumer]
    current_version: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    expired: bool
    source: str

    @classmethod
    def of(cls, secret: TenantSecret, now: datetime) -> SecretOut:
        current = secret.current
        return cls(
            name=secret.name,
            consumers=sorted(secret.consumers),
            current_version=secret.current_version,
            created_at=secret.created_at,
            updated_at=secret.updated_at,
            expires_at=current.expires_at,
            expired=current.expired(now),
            source=current.source,
        )


class VaultTokenIn(Strict):
    token: SecretStr


class VaultAppRoleIn(Strict):
    role_id: SecretStr
    secret_id: SecretStr
    mount_point: str = "approle"


class VaultIn(Strict):
    provider: Literal["vault"]
    url: str = Field(pattern=r"^https?://", max_length=500)
    auth: VaultTokenIn | VaultAppRoleIn
    mount_point: str = "secret"
    path_prefix: str = ""
    namespace: str | None = None
    verify_tls: bool = True
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)


class AwsCredentialsIn(Strict):
    access_key_id: str = Field(min_length=1, max_length=128)
    secret_access_key: SecretStr
    session_token: SecretStr | None = None


class AwsIn(Strict):
    provider: Literal["aws"]
    region: str = Field(pattern=r"^[a-z0-9-]{1,32}$")
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://", max_length=500)
    credentials: AwsCredentialsIn | None = None
    name_prefix: str = ""
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)


class AzureIn(Strict):
    provider: Literal["azure"]
    vault_url: str = Field(pattern=r"^https://", max_length=500)
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)


class ImportRequest(Strict):
    source: Annotated[VaultIn | AwsIn | AzureIn, Field(discriminator="provider")] | None = Field(
        default=None, description="provider configuration; its credentials are used for this request only"
    )
    remembered: str | None = Field(default=None, description="name of a source remembered earlier")
    remember_as: str | None = Field(
        default=None, description="keep this source (sealed by the enclave, credentials included) for re-sync"
    )
    names: list[str] = Field(min_length=1, max_length=100)
    consumers: list[Consumer] = Field(default_factory=list, max_length=len(Consumer))
    ttl_seconds: int | None = Field(default=None, ge=1, le=3650 * 86400)


class ImportResultOut(BaseModel):
    name: str
    imported: bool
    version: int | None = None
    error: str | None = None
    detail: str | None = None


class ImportOut(BaseModel):
    results: list[ImportResultOut]


class RememberedSourceOut(BaseModel):
    name: str
    provider: str
    created_at: datetime


# Attestation ------------------------------------------------------------------------------------


class AttestationVerifyRequest(Strict):
    report: dict[str, object]
    nonce: str = Field(min_length=16, max_length=128, description="hex")
    expected_public_keys: list[str] = Field(default_factory=list, max_length=64, description="hex")

    @field_validator("nonce", "expected_public_keys")
    @classmethod
    def _hex(cls, value: str | list[str]) -> str | list[str]:
        for item in [value] if isinstance(value, str) else value:
            decode(item, "hex")
        return value


class AttestationVerdictOut(BaseModel):
    ok: bool
    mode: str | None
    measurement: str | None
    keys: list[dict[str, object]]
    problems: list[str]
    notes: list[str]
