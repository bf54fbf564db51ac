"""Request and response bodies: ``POST /attestation/verify`` (a report to check, and the verdict) and
``GET /attestation/platform`` (a report binding the platform keys, and the role of each)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from neo_service_layer.kernel.http.encoding import HEX_PATTERN, Strict, decode

#: 8-64 bytes as hex (``0x`` allowed): what ``decode`` and a report accept
NONCE_PATTERN = r"^(0[xX])?([0-9a-fA-F]{2}){8,64}$"


class AttestationVerifyRequest(Strict):
    report: dict[str, object]
    nonce: str = Field(pattern=NONCE_PATTERN, max_length=130, description="hex")
    expected_public_keys: list[Annotated[str, Field(pattern=HEX_PATTERN, max_length=200)]] = Field(
        default_factory=list, max_length=64, description="hex"
    )

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


class PlatformKeyOut(BaseModel):
    key_id: str
    kind: str
    public_key: str = Field(description="hex, as the contracts and the report show it")


class PlatformAttestationOut(BaseModel):
    report: dict[str, object] = Field(
        description="the enclave's report; check it with POST /attestation/verify"
    )
    keys: dict[str, PlatformKeyOut] = Field(
        description="platform role (sender, randomness-ecdsa, randomness-bls, oracle-ecdsa, native-oracle)"
        " -> the key playing it; the report binds exactly these public keys"
    )
