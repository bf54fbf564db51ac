"""Secrets of the caller's tenant: values sealed by the enclave at write time, never returned.

Scopes: ``secrets:read`` (metadata: list, get, versions, remembered sources), ``secrets:write`` (put,
rotate, delete, import from Vault / AWS Secrets Manager / Azure Key Vault).
"""

from __future__ import annotations

from typing import Annotated, assert_never

from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam
from starlette.convertors import Convertor, register_url_convertor

from neo_service_layer.enclave.wire.secret_labels import SECRET_NAME_PATTERN
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.idempotency import IDEMPOTENT
from neo_service_layer.kernel.http.security import Meta, require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.ports import (
    AwsSourceConfig,
    AwsStaticCredentials,
    AzureSourceConfig,
    SecretSourceConfig,
    VaultAppRoleAuth,
    VaultSourceConfig,
    VaultTokenAuth,
)
from neo_service_layer.services.secrets.routes.schemas import (
    AwsIn,
    AzureIn,
    ImportOut,
    ImportRequest,
    ImportResultOut,
    RememberedSourceOut,
    SecretOut,
    SecretPut,
    SecretRotate,
    SecretVersionOut,
    VaultIn,
    VaultTokenIn,
)
from neo_service_layer.services.secrets.scopes import SECRETS_READ, SECRETS_WRITE
from neo_service_layer.services.secrets.use_cases.import_plan import VaultField
from neo_service_layer.services.secrets.use_cases.secrets import SecretsService

router = APIRouter(prefix="/secrets", tags=["secrets"])


class _SecretNameInPath(Convertor[str]):
    """A secret name in a path followed by ``/versions`` or ``/rotate`` (names may hold slashes); the
    name rule itself is checked by the use case, so a bad name is a 422 that says why, not a 404."""

    regex = r".+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _SecretNameAlone(_SecretNameInPath):
    """A secret name ending the path: never one ending in ``/versions`` or ``/rotate``, so
    ``PUT /secrets/x/rotate`` is not a PUT of a secret named ``x/rotate`` but a 405."""

    regex = r"(?!(?:import|sources)$)(?!.*/(?:rotate|versions)$).+"


# Starlette's convertor table is global; registering is idempotent and must precede the routes below.
register_url_convertor("secret_name", _SecretNameInPath())
register_url_convertor("secret_name_alone", _SecretNameAlone())
NameInPath = Annotated[str, PathParam(json_schema_extra={"pattern": SECRET_NAME_PATTERN, "maxLength": 100})]

Reader = Annotated[Principal, Depends(require_scope(SECRETS_READ))]
Writer = Annotated[Principal, Depends(require_scope(SECRETS_WRITE))]


def service(request: Request) -> SecretsService:
    container: Container = request.app.state.container
    return container.parts_of("secrets", SecretsService)


@router.get("", summary="Names and metadata of the tenant's secrets (never values)")
async def list_secrets(principal: Reader, request: Request) -> list[SecretOut]:
    now = request.app.state.container.clock.now()
    return [SecretOut.of(s, now) for s in await service(request).list_secrets(principal)]


@router.get("/sources", summary="Import sources remembered for re-sync (never their credentials)")
async def list_sources(principal: Reader, request: Request) -> list[RememberedSourceOut]:
    found = await service(request).remembered_sources(principal)
    return [RememberedSourceOut(name=s.name, provider=s.provider, created_at=s.created_at) for s in found]


@router.post(
    "/import",
    summary="Import secrets from Vault, AWS Secrets Manager or Azure Key Vault",
    dependencies=[IDEMPOTENT],
)
async def import_secrets(body: ImportRequest, principal: Writer, request: Request, meta: Meta) -> ImportOut:
    results = await service(request).import_secrets(
        principal,
        body.names,
        fields=[VaultField(f.path, f.field, f.name) for f in body.fields],
        config=None if body.source is None else _config(body.source),
        remembered=body.remembered,
        remember_as=body.remember_as,
        consumers=frozenset(body.consumers),
        ttl_seconds=body.ttl_seconds,
        meta=meta,
    )
    return ImportOut(
        results=[
            ImportResultOut(
                name=r.name, imported=r.imported, version=r.version, error=r.error, detail=r.detail
            )
            for r in results
        ]
    )


@router.get("/{name:secret_name}/versions", summary="Versions of one secret (metadata only)")
async def versions(name: NameInPath, principal: Reader, request: Request) -> list[SecretVersionOut]:
    now = request.app.state.container.clock.now()
    secret = await service(request).get(principal, name)
    return [SecretVersionOut.of(v, now) for v in secret.versions]


@router.post(
    "/{name:secret_name}/rotate", summary="Store a new value as the next version", dependencies=[IDEMPOTENT]
)
async def rotate(
    name: NameInPath, body: SecretRotate, principal: Writer, request: Request, meta: Meta
) -> SecretOut:
    secret = await service(request).rotate(
        principal, name, Secret(body.raw()), ttl_seconds=body.ttl_seconds, meta=meta
    )
    return SecretOut.of(secret, request.app.state.container.clock.now())


@router.get("/{name:secret_name_alone}", summary="Metadata of one secret")
async def get_secret(name: NameInPath, principal: Reader, request: Request) -> SecretOut:
    secret = await service(request).get(principal, name)
    return SecretOut.of(secret, request.app.state.container.clock.now())


@router.put(
    "/{name:secret_name_alone}",
    summary="Create a secret, or store a new version with these consumers",
    responses={201: {"model": SecretOut, "description": "the secret was created"}},
)
async def put_secret(
    name: NameInPath, body: SecretPut, principal: Writer, request: Request, response: Response, meta: Meta
) -> SecretOut:
    secret, created = await service(request).put(
        principal,
        name,
        Secret(body.raw()),
        consumers=frozenset(body.consumers),
        allowed_hosts=body.allowed_hosts,
        ttl_seconds=body.ttl_seconds,
        meta=meta,
    )
    response.status_code = 201 if created else 200
    return SecretOut.of(secret, request.app.state.container.clock.now())


@router.delete(
    "/{name:secret_name_alone}", status_code=204, summary="Delete a secret and all of its sealed versions"
)
async def delete_secret(name: NameInPath, principal: Writer, request: Request, meta: Meta) -> Response:
    await service(request).delete(principal, name, meta=meta)
    return Response(status_code=204)


def _config(source: VaultIn | AwsIn | AzureIn) -> SecretSourceConfig:
    match source:
        case VaultIn():
            auth = source.auth
            return VaultSourceConfig(
                url=source.url,
                auth=VaultTokenAuth(Secret(auth.token.get_secret_value()))
                if isinstance(auth, VaultTokenIn)
                else VaultAppRoleAuth(
                    Secret(auth.role_id.get_secret_value()),
                    Secret(auth.secret_id.get_secret_value()),
                    auth.mount_point,
                ),
                mount_point=source.mount_point,
                path_prefix=source.path_prefix,
                namespace=source.namespace,
                verify_tls=source.verify_tls,
                timeout_seconds=source.timeout_seconds,
            )
        case AwsIn():
            credentials = source.credentials
            return AwsSourceConfig(
                region=source.region,
                endpoint_url=source.endpoint_url,
                credentials=AwsStaticCredentials(
                    credentials.access_key_id,
                    Secret(credentials.secret_access_key.get_secret_value()),
                    None
                    if credentials.session_token is None
                    else Secret(credentials.session_token.get_secret_value()),
                ),
                name_prefix=source.name_prefix,
                timeout_seconds=source.timeout_seconds,
            )
        case AzureIn():
            return AzureSourceConfig(
                vault_url=source.vault_url,
                tenant_id=source.tenant_id,
                client_id=source.client_id,
                client_secret=Secret(source.client_secret.get_secret_value()),
                timeout_seconds=source.timeout_seconds,
            )
        case _:
            assert_never(source)
