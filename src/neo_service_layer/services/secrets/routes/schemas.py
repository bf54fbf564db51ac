"""Request and response bodies of the secrets routes: put and rotate values, metadata, imports.

A value comes in as ``utf8`` text or ``base64`` and is never sent back: responses carry metadata only.
An import names an external store (Vault, AWS Secrets Manager, Azure Key Vault) inline, with its
credentials for this request only, or a source remembered earlier.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.config import JsonDict

from neo_service_layer.enclave.wire.secret_labels import HOST_PATTERN, SECRET_NAME, SECRET_NAME_PATTERN
from neo_service_layer.kernel.http.encoding import BASE64_PATTERN, Strict, decode
from neo_service_layer.services.secrets.rules import Consumer, SecretVersion, TenantSecret

#: the schema states https only; ``NSL_SECRET_SOURCES_ALLOW_HTTP`` (an operator's allowance for sources on
#: a private network, off in production) lets the code accept http too
_HTTPS_ONLY: JsonDict = {"pattern": "^https://"}


def _secret_name(value: str) -> str:
    if not SECRET_NAME.fullmatch(value):
        raise ValueError(
            "1-100 characters of letters, digits and _ . @ / - (no colon), not ending in /rotate or "
            "/versions, not import or sources"
        )
    return value


#: a secret's (or a remembered source's) name; the pattern has a lookahead, which pydantic's own regex
#: engine lacks, so Python's ``re`` checks it and the schema states it
SECRET_NAME_SCHEMA = {"type": "string", "pattern": SECRET_NAME_PATTERN, "maxLength": 100}
SecretName = Annotated[str, AfterValidator(_secret_name), WithJsonSchema(SECRET_NAME_SCHEMA)]
_BASE64_VALUE: JsonDict = {
    "allOf": [
        {
            "if": {"properties": {"encoding": {"const": "base64"}}, "required": ["encoding"]},
            "then": {"properties": {"value": {"pattern": BASE64_PATTERN}}},
        }
    ]
}


def _check_secret(value: SecretStr, info: ValidationInfo) -> SecretStr:
    if info.data.get("encoding") == "base64":
        decode(value.get_secret_value(), "base64")
    return value


class SecretRotate(Strict):
    model_config = ConfigDict(json_schema_extra=_BASE64_VALUE)

    encoding: Literal["utf8", "base64"] = "utf8"
    value: SecretStr = Field(min_length=1, max_length=2 * 64 * 1024)
    ttl_seconds: int | None = Field(default=None, ge=1, le=3650 * 86400)

    _decodable = field_validator("value")(_check_secret)

    def raw(self) -> bytes:
        text = self.value.get_secret_value()
        return decode(text, "base64") if self.encoding == "base64" else text.encode()


class SecretPut(SecretRotate):
    consumers: list[Consumer] = Field(default_factory=list, max_length=len(Consumer))
    allowed_hosts: list[Annotated[str, Field(pattern=HOST_PATTERN, max_length=253)]] = Field(
        default_factory=list,
        max_length=16,
        description=(
            "host names the oracle may send this secret to (sealed with the value; ASCII, an IDN in its "
            "xn-- form); none: nowhere"
        ),
    )


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
    allowed_hosts: list[str]

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
            allowed_hosts=list(secret.allowed_hosts),
        )


class VaultTokenIn(Strict):
    token: SecretStr = Field(min_length=1, max_length=4096)


class VaultAppRoleIn(Strict):
    role_id: SecretStr = Field(min_length=1, max_length=512)
    secret_id: SecretStr = Field(min_length=1, max_length=512)
    mount_point: str = "approle"


class VaultIn(Strict):
    provider: Literal["vault"]
    url: str = Field(pattern=r"^https?://", max_length=500, json_schema_extra=_HTTPS_ONLY)
    auth: VaultTokenIn | VaultAppRoleIn
    mount_point: str = "secret"
    path_prefix: str = ""
    namespace: str | None = None
    verify_tls: bool = True
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)


class AwsCredentialsIn(Strict):
    access_key_id: str = Field(min_length=1, max_length=128)
    secret_access_key: SecretStr = Field(min_length=1, max_length=512)
    session_token: SecretStr | None = Field(default=None, min_length=1, max_length=4096)


class AwsIn(Strict):
    provider: Literal["aws"]
    region: str = Field(pattern=r"^[a-z0-9-]{1,32}$")
    endpoint_url: str | None = Field(
        default=None, pattern=r"^https?://", max_length=500, json_schema_extra=_HTTPS_ONLY
    )
    credentials: AwsCredentialsIn = Field(description="the tenant's own access key (required)")
    name_prefix: str = ""
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)


class AzureIn(Strict):
    provider: Literal["azure"]
    vault_url: str = Field(pattern=r"^https://", max_length=500)
    tenant_id: str = Field(min_length=1, max_length=100)
    client_id: str = Field(min_length=1, max_length=100)
    client_secret: SecretStr = Field(
        min_length=1, max_length=512, description="the tenant's own service principal (required)"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)


#: a field of a Vault KV v2 secret (its map's key)
VAULT_FIELD_PATTERN = r"^[A-Za-z0-9_.@-]{1,100}$"


class VaultFieldIn(Strict):
    """One field of a Vault KV v2 secret (a map of fields), sealed here as the secret ``name``."""

    path: SecretName = Field(description="the Vault secret's path (below the source's path_prefix)")
    field: str = Field(pattern=VAULT_FIELD_PATTERN, description="the field of that secret to import")
    name: SecretName = Field(description="the name the value gets here")


class ImportRequest(Strict):
    """``source`` or ``remembered``, exactly one of them; ``names`` or ``fields``, at least one of them.

    A name in ``names`` is read whole (from Vault: the secret's map of fields as JSON) and sealed under
    the same name; each entry of ``fields`` (Vault only) reads one field and seals it as its ``name``.
    Every secret is named once across both.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["source"],
                    "properties": {"source": {"type": "object"}, "remembered": {"type": "null"}},
                },
                {
                    "required": ["remembered"],
                    "properties": {"remembered": {"type": "string"}, "source": {"type": "null"}},
                },
            ],
            "anyOf": [
                {"required": ["names"], "properties": {"names": {"minItems": 1}}},
                {"required": ["fields"], "properties": {"fields": {"minItems": 1}}},
            ],
        },
    )

    source: Annotated[VaultIn | AwsIn | AzureIn, Field(discriminator="provider")] | None = Field(
        default=None, description="provider configuration; its credentials are used for this request only"
    )
    remembered: SecretName | None = Field(default=None, description="name of a source remembered earlier")
    remember_as: SecretName | None = Field(
        default=None, description="keep this source (sealed by the enclave, credentials included) for re-sync"
    )
    names: list[SecretName] = Field(
        default_factory=list, max_length=100, json_schema_extra={"uniqueItems": True}
    )
    fields: list[VaultFieldIn] = Field(
        default_factory=list, max_length=100, description="single fields of Vault secrets (Vault only)"
    )
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
