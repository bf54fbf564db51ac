"""What the oracle operations share: read the fetch (or refusal) from the request, unseal the secrets it
references, fetch behind the guard, filter, and refuse a response that echoes a secret.

``oracle_fetch`` (Neo N3 and off-chain answers, ``oracle.py``) and ``oracle_evm_fetch`` (Neo X,
``oracle_evm.py``) differ only in the facts an answer is bound to and in how it is signed; both get the
outcome they sign from here, so the guard, the filter and the secret rules are one code path.

Wire arguments read here (beside each op's own facts and key)::

    {"code": int | null, "request": FetchSpec.to_dict() | null,
     "secrets": [{"name": str, "version": int, "blob": b64}, ...]}

Without ``code`` the enclave fetches ``request``: its URL must equal the requested URL unless that is an
``nsl://template/<id>`` URL (then the host passes the template's fetch spec: the template id is signed, the
template's content is the host's word), and its filter must equal the request's filter. With ``code`` (any
``ResultCode`` but ``SUCCESS``) nothing is fetched: a refusal with an empty result. Secrets are unsealed for
the op's ``tenant`` (label ``secret:<name>:v<version>``), only towards a host pinned in the sealed value;
their values appear nowhere in the outcome, and a response that echoes one becomes ``FORBIDDEN`` with no
result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from neo_service_layer.enclave.fetch import Fetched, Fetcher, FetchRequest
from neo_service_layer.enclave.oracle_filter import apply_filter, media_type
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.wire.encoding import b64decode
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import InvalidKeyRequest
from neo_service_layer.enclave.wire.oracle import (
    FetchSpec,
    ResultCode,
    inject_secrets,
    is_template_url,
    secret_references,
)
from neo_service_layer.enclave.wire.protocol import Args, BadRequest
from neo_service_layer.enclave.wire.secret_labels import (
    InvalidSecretInput,
    check_allowed_host,
    open_payload,
    seal_label,
)

MAX_SECRETS = 16


@dataclass(frozen=True, slots=True)
class FetchPlan:
    """What an answer will be: a fetch of ``spec``, or the refusal ``refusal`` (nothing fetched)."""

    spec: FetchSpec | None
    refusal: ResultCode | None


@dataclass(frozen=True, slots=True)
class OracleOutcome:
    """What gets signed (``code``, ``result``) and what is reported beside it (never a secret value)."""

    code: ResultCode
    result: bytes
    status: int | None
    content_type: str | None
    detail: str


def plan_fetch(args: Args, url: str, filter_: str) -> FetchPlan:
    """The fetch or refusal ``args`` ask for, checked against the requested ``url`` and ``filter_``."""
    code_arg = args.opt_integer("code")
    if code_arg is None:
        try:
            spec = FetchSpec.from_dict(args.mapping("request"))
        except InvalidInput as exc:
            raise InvalidKeyRequest(str(exc)) from None
        if url != spec.url and not is_template_url(url):
            raise InvalidKeyRequest("request_url must equal the fetched URL or be an nsl://template/ URL")
        if filter_ != spec.filter:
            raise InvalidKeyRequest("filter must equal the request's filter")
        return FetchPlan(spec, None)
    if code_arg in set(ResultCode) and code_arg != ResultCode.SUCCESS:
        return FetchPlan(None, ResultCode(code_arg))
    raise InvalidKeyRequest("code must be a result code other than SUCCESS")


class OracleFetching:
    """Runs a :class:`FetchPlan` to its outcome: unseal, fetch, filter, check for echoed secrets."""

    def __init__(self, sealer: Sealer, fetcher: Fetcher) -> None:
        self._sealer = sealer
        self._fetcher = fetcher

    async def outcome(self, tenant: str, plan: FetchPlan, args: Args) -> OracleOutcome:
        """The outcome of ``plan``; the secrets ``args`` carries (sealed) are unsealed for ``tenant``."""
        spec = plan.spec
        if plan.refusal is not None or spec is None:  # a refusal: nothing is fetched, the result is empty
            return OracleOutcome(plan.refusal or ResultCode.FORBIDDEN, b"", None, None, "")
        values = self._unseal(tenant, spec, args.opt_list("secrets"))
        fetched = await self._fetch(spec, values)
        code, result, detail = fetched.code, b"", fetched.message
        if code is ResultCode.SUCCESS:
            filtered = apply_filter(fetched.body, fetched.content_type, spec.filter, spec.max_result_bytes)
            code, result, detail = filtered.code, filtered.result, filtered.message
        content_type = media_type(fetched.content_type)[0][:100] or None
        if _echoes(values, result, detail, content_type or ""):
            code, result, content_type = ResultCode.FORBIDDEN, b"", None
            detail = "the response contains an injected secret value"
        return OracleOutcome(code, result, fetched.status, content_type, detail)

    def _unseal(self, tenant: str, spec: FetchSpec, supplied: list[Any]) -> dict[str, str]:
        """Values of the secrets the spec references, unsealed for ``tenant``; never logged."""
        if len(supplied) > MAX_SECRETS:
            raise InvalidKeyRequest(f"at most {MAX_SECRETS} secrets")
        blobs: dict[str, tuple[int, bytes]] = {}
        for item in supplied:
            if not isinstance(item, dict):
                raise BadRequest("secrets must be a list of objects")
            name, version, blob = item.get("name"), item.get("version"), item.get("blob")
            if not isinstance(name, str) or not isinstance(version, int) or not isinstance(blob, str):
                raise BadRequest("each secret needs name, version and blob")
            try:
                blobs[name] = (version, b64decode(blob))
            except ValueError:
                raise BadRequest("secret blob is not base64") from None
        values: dict[str, str] = {}
        for name in spec.secret_names():
            if name not in blobs:
                raise InvalidKeyRequest(f"secret {name} is referenced but its sealed value was not supplied")
            version, blob = blobs[name]
            try:
                label = seal_label(name, version)
            except InvalidSecretInput:
                raise InvalidKeyRequest(f"secret name {name!r} is not valid") from None
            plaintext = self._sealer.unseal(SealUse.DATA, {"tenant": tenant, "label": label}, blob)
            try:
                pinned, raw = open_payload(plaintext)
            except InvalidSecretInput:
                raise InvalidKeyRequest(f"secret {name} has an unreadable host list") from None
            if _url_host(spec.url) not in pinned:
                # the host list is sealed with the value: the host process cannot widen it
                raise InvalidKeyRequest(
                    f"secret {name} may not be sent to this host: it is not among the secret's pinned hosts"
                )
            try:
                value = raw.decode()
            except UnicodeDecodeError:
                raise InvalidKeyRequest(f"secret {name} is not UTF-8 text") from None
            if any(c in value for c in "\r\n\0"):
                raise InvalidKeyRequest(f"secret {name} contains a line break or NUL")
            values[name] = value
        return values

    async def _fetch(self, spec: FetchSpec, values: dict[str, str]) -> Fetched:
        secret_headers = frozenset(name.lower() for name, value in spec.headers if secret_references(value))
        headers = tuple((name, inject_secrets(value, values)) for name, value in spec.headers)
        body = None if spec.body is None else inject_secrets(spec.body, values).encode()
        request = FetchRequest(
            method=spec.method,
            url=spec.url,
            headers=headers,
            body=body,
            secret_headers=secret_headers,
            body_has_secrets=bool(secret_references(spec.body or "")),
            max_response_bytes=spec.max_response_bytes,
            timeout=spec.timeout_seconds,
            max_redirects=spec.max_redirects,
        )
        return await self._fetcher.fetch(request)


def _url_host(url: str) -> str | None:
    """The canonical host name of ``url`` (as pinned hosts are written), or ``None``."""
    try:
        host = urlsplit(url).hostname
        return check_allowed_host(host) if host else None
    except (ValueError, InvalidSecretInput):
        return None


def _echoes(values: dict[str, str], *outputs: bytes | str) -> bool:
    """True if any secret value occurs in any of ``outputs``."""
    for value in values.values():
        if not value:
            continue
        encoded = value.encode()
        for output in outputs:
            if (encoded in output) if isinstance(output, bytes) else (value in output):
                return True
    return False
