"""Request and response bodies of the keys routes: create, show, sign (single and batch), verify, rotate.

Strict pydantic models; messages, digests, signatures and public keys are text in the request's
``encoding`` (see ``encoding``), checked while the body is validated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.config import JsonDict

from neo_service_layer.enclave.wire.keys import PLATFORM_ONLY_PURPOSES, KeyKind, Purpose, SignatureFormat
from neo_service_layer.kernel.http.encoding import (
    BASE64_PATTERN,
    HEX_PATTERN,
    MAX_MESSAGE_TEXT,
    Encoding,
    Strict,
    check_encoded,
    decode,
    encoded_fields,
)
from neo_service_layer.services.keys.ports import KeyAddresses
from neo_service_layer.services.keys.rules import (
    LABEL_PATTERN,
    MAX_BATCH_MESSAGES,
    MAX_LABEL,
    KeyState,
    ManagedKey,
)
from neo_service_layer.services.keys.use_cases.tenant_keys import KeyView


def _needs_kind(purpose: Purpose, kind: KeyKind) -> dict[str, Any]:
    return {
        "if": {"properties": {"purposes": {"contains": {"const": purpose.value}}}, "required": ["purposes"]},
        "then": {"properties": {"kind": {"const": kind.value}}},
    }


#: what ``check_purposes`` refuses, stated: a purpose reserved for platform keys, and the curve a
#: transaction purpose needs
_TENANT_PURPOSES = [p.value for p in Purpose if p not in PLATFORM_ONLY_PURPOSES]


def _key_create_rules(schema: dict[str, Any]) -> None:
    schema["properties"]["purposes"]["items"] = {"enum": _TENANT_PURPOSES}
    schema["allOf"] = [
        _needs_kind(Purpose.NEO_TX, KeyKind.SECP256R1),
        _needs_kind(Purpose.EVM_TX, KeyKind.SECP256K1),
    ]


class KeyCreate(Strict):
    model_config = ConfigDict(json_schema_extra=_key_create_rules)

    kind: KeyKind
    label: str = Field(pattern=LABEL_PATTERN, max_length=MAX_LABEL)
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


_ONE_OF_MESSAGE_OR_DIGEST: list[dict[str, Any]] = [
    {"required": ["message"], "properties": {"message": {"type": "string"}, "digest": {"type": "null"}}},
    {"required": ["digest"], "properties": {"digest": {"type": "string"}, "message": {"type": "null"}}},
]
#: a digest is signed only as a transaction hash or an EVM digest
_DIGEST_NEEDS_FORMAT: dict[str, Any] = {
    "if": {"required": ["digest"], "properties": {"digest": {"type": "string"}}},
    "then": {
        "required": ["format"],
        "properties": {
            "format": {"enum": [f.value for f in (SignatureFormat.NEO_TX, SignatureFormat.EVM_DIGEST)]}
        },
    },
}


#: the message in the body's encoding; the digest exactly 32 bytes in it
_SIGN_ENCODING: dict[str, Any] = {
    "allOf": [
        {
            "if": {"properties": {"encoding": {"const": "base64"}}, "required": ["encoding"]},
            "then": {
                "properties": {
                    "message": {"pattern": BASE64_PATTERN},
                    "digest": {"pattern": "^[A-Za-z0-9+/]{43}=$"},
                }
            },
            "else": {
                "properties": {
                    "message": {"pattern": HEX_PATTERN},
                    "digest": {"pattern": "^(0[xX])?[0-9a-fA-F]{64}$"},
                }
            },
        }
    ]
}


class SignRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra=cast(
            JsonDict,
            {"allOf": [*_SIGN_ENCODING["allOf"], _DIGEST_NEEDS_FORMAT], "oneOf": _ONE_OF_MESSAGE_OR_DIGEST},
        )
    )

    encoding: Encoding = "hex"
    message: str | None = Field(default=None, max_length=MAX_MESSAGE_TEXT)
    digest: str | None = Field(default=None, max_length=130, description="32-byte pre-computed hash")
    purpose: Purpose = Purpose.MESSAGE
    format: SignatureFormat | None = Field(default=None, description="default: by key kind")
    version: int | None = Field(default=None, ge=1)
    network_magic: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)

    _message = field_validator("message", "digest")(check_encoded)

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
    model_config = ConfigDict(json_schema_extra=encoded_fields(lists=("messages",)))

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
    model_config = ConfigDict(json_schema_extra=encoded_fields("message", "signature"))

    encoding: Encoding = "hex"
    message: str = Field(max_length=MAX_MESSAGE_TEXT)
    signature: str = Field(max_length=400)
    format: SignatureFormat | None = None
    version: int | None = Field(default=None, ge=1)
    network_magic: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)

    _decodable = field_validator("message", "signature")(check_encoded)


class VerifyPublicRequest(VerifyRequest):
    model_config = ConfigDict(json_schema_extra=encoded_fields("message", "signature", "public_key"))

    kind: KeyKind
    public_key: str = Field(max_length=200, description="compressed public key, in `encoding`")

    _key = field_validator("public_key")(check_encoded)


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
