"""Attestation reports of the enclave, binding the tenant's key public keys and the caller's nonce.

Scope: ``attestation:read``. ``GET /attestation?nonce=<hex>[&key_id=...]`` returns the report;
``GET /attestation/platform?nonce=<hex>`` a report binding the platform's keys (the ones the contracts
trust) with the role of each; ``POST /attestation/verify`` checks a report with this installation's
trust settings.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.encoding import decode
from neo_service_layer.kernel.http.security import Meta, require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.services.attestation.routes.schemas import (
    NONCE_PATTERN,
    AttestationVerdictOut,
    AttestationVerifyRequest,
    PlatformAttestationOut,
    PlatformKeyOut,
)
from neo_service_layer.services.attestation.scopes import ATTESTATION_READ
from neo_service_layer.services.attestation.use_cases import AttestationService

router = APIRouter(prefix="/attestation", tags=["attestation"])

Reader = Annotated[Principal, Depends(require_scope(ATTESTATION_READ))]


class InvalidNonce(InvalidInput):
    code = "invalid-nonce"


def service(request: Request) -> AttestationService:
    container: Container = request.app.state.container
    return container.parts_of("attestation", AttestationService)


@router.get("", summary="A fresh report binding your nonce and the public keys of your keys")
async def report(
    principal: Reader,
    request: Request,
    meta: Meta,
    nonce: Annotated[str, Query(pattern=NONCE_PATTERN, max_length=130, description="8-64 bytes, hex")],
    key_id: Annotated[list[str] | None, Query(max_length=64, description="bind these keys only")] = None,
) -> dict[str, Any]:
    try:
        raw = decode(nonce, "hex")
    except ValueError:
        raise InvalidNonce("nonce: not valid hex") from None
    found = await service(request).report(principal, raw, key_id, meta=meta)
    return dict(found)


@router.get(
    "/platform",
    summary="A fresh report binding your nonce and the platform's public keys (the keys the contracts trust)",
)
async def platform_report(
    principal: Reader,
    request: Request,
    meta: Meta,
    nonce: Annotated[str, Query(pattern=NONCE_PATTERN, max_length=130, description="8-64 bytes, hex")],
) -> PlatformAttestationOut:
    try:
        raw = decode(nonce, "hex")
    except ValueError:
        raise InvalidNonce("nonce: not valid hex") from None
    found = await service(request).platform_report(principal, raw, meta=meta)
    return PlatformAttestationOut(
        report=dict(found.report),
        keys={
            role: PlatformKeyOut(key_id=k.key_id, kind=k.kind, public_key=k.public_key.hex())
            for role, k in found.roles.items()
        },
    )


@router.post("/verify", summary="Verify a report against a nonce and this installation's trust settings")
async def verify(
    body: AttestationVerifyRequest, principal: Reader, request: Request
) -> AttestationVerdictOut:
    verdict = service(request).verify(
        principal,
        body.report,
        decode(body.nonce, "hex"),
        [decode(k, "hex") for k in body.expected_public_keys],
    )
    return AttestationVerdictOut(
        ok=verdict.ok,
        mode=verdict.mode,
        measurement=verdict.measurement,
        keys=[dict(k) for k in verdict.keys],
        problems=list(verdict.problems),
        notes=list(verdict.notes),
    )
