"""Enclave keys of the caller's tenant: create, list, sign (single and batch), verify, rotate, retire.

Scopes: ``keys:read`` (list, get, verify), ``keys:sign`` (sign, sign-batch), ``keys:admin`` (create,
rotate, disable, schedule or cancel destruction).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.encoding import decode, encode
from neo_service_layer.kernel.http.idempotency import IDEMPOTENT
from neo_service_layer.kernel.http.security import Meta, require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.services.keys.parts import KeysParts
from neo_service_layer.services.keys.routes.key_schemas import (
    KeyCreate,
    KeyOut,
    RotateRequest,
    SignBatchOut,
    SignBatchRequest,
    SignOut,
    SignRequest,
    VerifyOut,
    VerifyPublicRequest,
    VerifyRequest,
)
from neo_service_layer.services.keys.rules import default_format
from neo_service_layer.services.keys.scopes import KEYS_ADMIN, KEYS_READ, KEYS_SIGN

router = APIRouter(prefix="/keys", tags=["keys"])

Reader = Annotated[Principal, Depends(require_scope(KEYS_READ))]
Signer = Annotated[Principal, Depends(require_scope(KEYS_SIGN))]
Admin = Annotated[Principal, Depends(require_scope(KEYS_ADMIN))]


def services(request: Request) -> KeysParts:
    container: Container = request.app.state.container
    return container.parts_of("keys", KeysParts)


@router.post("", status_code=201, summary="Create a key inside the enclave", dependencies=[IDEMPOTENT])
async def create_key(body: KeyCreate, principal: Admin, request: Request, meta: Meta) -> KeyOut:
    view = await services(request).keys.create(
        principal,
        kind=body.kind,
        label=body.label,
        purposes=frozenset(body.purposes),
        max_signs_per_minute=body.max_signs_per_minute,
        meta=meta,
    )
    return KeyOut.of(view)


@router.get("", summary="The tenant's keys (public keys, addresses, versions, rotation due)")
async def list_keys(principal: Reader, request: Request) -> list[KeyOut]:
    return [KeyOut.of(v) for v in await services(request).keys.list_keys(principal)]


@router.post("/verify", summary="Verify a signature with any public key (no enclave involved)")
async def verify_public(body: VerifyPublicRequest, principal: Reader, request: Request) -> VerifyOut:
    fmt = body.format or default_format(body.kind)
    public_key = decode(body.public_key, body.encoding)
    valid = services(request).keys.verify_public(
        principal,
        body.kind,
        public_key,
        decode(body.message, body.encoding),
        decode(body.signature, body.encoding),
        fmt=fmt,
        network_magic=body.network_magic,
    )
    return VerifyOut(valid=valid, kind=body.kind, format=fmt, public_key=public_key.hex())


@router.get("/{key_id}", summary="One key")
async def get_key(key_id: str, principal: Reader, request: Request) -> KeyOut:
    return KeyOut.of(await services(request).keys.get(principal, key_id))


@router.post("/{key_id}/sign", summary="Sign one message (or a 32-byte digest)")
async def sign(key_id: str, body: SignRequest, principal: Signer, request: Request, meta: Meta) -> SignOut:
    found = services(request)
    signed = await found.keys.sign(
        principal,
        key_id,
        [body.data()],
        purpose=body.purpose,
        fmt=body.format,
        version=body.version,
        network_magic=body.network_magic,
        meta=meta,
    )
    found.metrics.signatures.labels(signed.kind.value, "sign").inc()
    return SignOut(
        key_id=key_id,
        version=signed.version,
        format=signed.fmt,
        encoding=body.encoding,
        public_key=signed.public_key.hex(),
        signature=encode(signed.signatures[0], body.encoding),
    )


@router.post("/{key_id}/sign-batch", summary="Sign up to 100 messages in one enclave round trip")
async def sign_batch(
    key_id: str, body: SignBatchRequest, principal: Signer, request: Request, meta: Meta
) -> SignBatchOut:
    found = services(request)
    signed = await found.keys.sign(
        principal,
        key_id,
        body.data(),
        purpose=body.purpose,
        fmt=body.format,
        version=body.version,
        network_magic=body.network_magic,
        batch=True,
        meta=meta,
    )
    found.metrics.signatures.labels(signed.kind.value, "sign-batch").inc(len(signed.signatures))
    return SignBatchOut(
        key_id=key_id,
        version=signed.version,
        format=signed.fmt,
        encoding=body.encoding,
        public_key=signed.public_key.hex(),
        signatures=[encode(s, body.encoding) for s in signed.signatures],
    )


@router.post("/{key_id}/verify", summary="Verify a signature of one of the tenant's keys (any version)")
async def verify(key_id: str, body: VerifyRequest, principal: Reader, request: Request) -> VerifyOut:
    found = services(request)
    view = await found.keys.get(principal, key_id)
    fmt = body.format or default_format(view.key.kind)
    valid, item = await found.keys.verify_held(
        principal,
        key_id,
        decode(body.message, body.encoding),
        decode(body.signature, body.encoding),
        fmt=fmt,
        version=body.version,
        network_magic=body.network_magic,
    )
    return VerifyOut(
        valid=valid, kind=view.key.kind, format=fmt, public_key=item.public_key.hex(), version=item.version
    )


@router.post(
    "/{key_id}/rotate",
    summary="Create the next version; older versions verify only",
    dependencies=[IDEMPOTENT],
)
async def rotate(
    key_id: str, principal: Admin, request: Request, meta: Meta, body: RotateRequest | None = None
) -> KeyOut:
    floor = body.min_sign_version if body else None
    return KeyOut.of(
        await services(request).keys.rotate(principal, key_id, min_sign_version=floor, meta=meta)
    )


@router.post("/{key_id}/disable", summary="Stop the key signing, for good (it still verifies)")
async def disable(key_id: str, principal: Admin, request: Request, meta: Meta) -> KeyOut:
    return KeyOut.of(await services(request).keys.disable(principal, key_id, meta=meta))


@router.post(
    "/{key_id}/destruction", summary="Schedule destruction after a 7-day grace (signs nothing meanwhile)"
)
async def schedule_destruction(key_id: str, principal: Admin, request: Request, meta: Meta) -> KeyOut:
    return KeyOut.of(await services(request).keys.schedule_destruction(principal, key_id, meta=meta))


@router.delete("/{key_id}/destruction", summary="Cancel a scheduled destruction")
async def cancel_destruction(key_id: str, principal: Admin, request: Request, meta: Meta) -> KeyOut:
    return KeyOut.of(await services(request).keys.cancel_destruction(principal, key_id, meta=meta))
