"""The enclave's ``oracle_fetch`` op: unseal secrets, fetch behind the guard, filter, build and sign the
V2 answer (``wire/oracle.py``) from the request's facts.

Wire arguments (all binary values base64)::

    {"magic": int, "contract": b64 (20), "request_id": int, "consumer": b64 (20),
     "request_url": str, "filter": str, "code": int | null,
     "tenant": str, "key_id": str, "key_tenant": str, "key_version": int | null,
     "request": FetchSpec.to_dict() | null,
     "secrets": [{"name": str, "version": int, "blob": b64}, ...]}

Result::

    {"magic": int, "contract": b64, "request_id": int, "consumer": b64, "url": str, "filter": str,
     "code": int, "result": b64, "timestamp": int (ms), "signature": b64 (64-byte r||s), "key_id": str,
     "key_version": int, "public_key": b64, "status": int | null, "content_type": str | null,
     "detail": str}

The signed URL is ``request_url``, the URL as requested. Without ``code`` the enclave fetches ``request``:
its URL must equal ``request_url`` unless ``request_url`` is an ``nsl://template/<id>`` URL (then the host
passes the template's fetch spec: the template id is signed, the template's content is the host's word),
and its filter must equal ``filter``. With ``code`` (any ``ResultCode`` but ``SUCCESS``) nothing is
fetched: a refusal with an empty result is signed for the facts (the host can refuse a request, which it
could anyway by not answering, never give it a result). The oracle key signs nothing else: raw ``sign``
refuses oracle messages (``KeyStore.sign``).

``tenant`` owns the secrets (unsealed with label ``secret:<name>:v<version>``); ``key_tenant`` owns the
oracle key (purpose ``oracle``, secp256r1). Secret values appear nowhere in the result, the detail text or
logs; a response that echoes one is answered with ``FORBIDDEN`` and no result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from neo_service_layer.enclave.fetch import Fetched, Fetcher, FetchRequest
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.oracle_filter import apply_filter, media_type
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import (
    InvalidKeyRequest,
    KeyInfo,
    KeyKind,
    Purpose,
    SignatureFormat,
    check_name,
)
from neo_service_layer.enclave.wire.oracle import (
    FetchSpec,
    OracleFacts,
    ResultCode,
    inject_secrets,
    is_template_url,
    response_message,
    secret_references,
)
from neo_service_layer.enclave.wire.protocol import Args, BadRequest
from neo_service_layer.enclave.wire.secret_labels import (
    InvalidSecretInput,
    check_allowed_host,
    open_payload,
    seal_label,
)

log = logging.getLogger(__name__)

MAX_SECRETS = 16
_U63 = 2**63


class OracleFetchOp:
    """Runs ``oracle_fetch``; the fetch is awaited, so other requests are served meanwhile."""

    def __init__(
        self, keys: KeyStore, sealer: Sealer, fetcher: Fetcher, clock: Callable[[], float] = time.time
    ) -> None:
        self._keys = keys
        self._sealer = sealer
        self._fetcher = fetcher
        self._clock = clock

    async def __call__(self, args: Args) -> dict[str, Any]:
        facts = _facts(args)
        tenant = check_name(args.text("tenant"), "tenant")
        key_id, key_tenant = args.text("key_id"), args.text("key_tenant")
        key_version = args.opt_integer("key_version")
        code_arg = args.opt_integer("code")
        spec: FetchSpec | None = None
        refusal: ResultCode | None = None
        if code_arg is None:
            try:
                spec = FetchSpec.from_dict(args.mapping("request"))
            except InvalidInput as exc:
                raise InvalidKeyRequest(str(exc)) from None
            if facts.url != spec.url and not is_template_url(facts.url):
                raise InvalidKeyRequest("request_url must equal the fetched URL or be an nsl://template/ URL")
            if facts.filter != spec.filter:
                raise InvalidKeyRequest("filter must equal the request's filter")
        elif code_arg in set(ResultCode) and code_arg != ResultCode.SUCCESS:
            refusal = ResultCode(code_arg)
        else:
            raise InvalidKeyRequest("code must be a result code other than SUCCESS")
        info = self._keys.info(key_id, key_version)  # fail before fetching if the key is not loaded
        if info.kind is not KeyKind.SECP256R1:
            raise InvalidKeyRequest("the oracle key must be a secp256r1 key")

        if refusal is not None or spec is None:  # a refusal: nothing is fetched, the result is empty
            code = refusal or ResultCode.FORBIDDEN
            return self._signed(facts, key_id, key_tenant, info, code, b"", None, None, "")
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
        return self._signed(
            facts, key_id, key_tenant, info, code, result, fetched.status, content_type, detail
        )

    def _signed(
        self,
        facts: OracleFacts,
        key_id: str,
        key_tenant: str,
        info: KeyInfo,
        code: ResultCode,
        result: bytes,
        status: int | None,
        content_type: str | None,
        detail: str,
    ) -> dict[str, Any]:
        """Build the V2 message from the facts and the outcome, sign it with the oracle key."""
        timestamp = int(self._clock() * 1000)
        message = response_message(facts, code, timestamp, result)
        (signature,) = self._keys.sign_for_operation(
            key_id,
            [message],
            tenant=key_tenant,
            purpose=Purpose.ORACLE,
            fmt=SignatureFormat.ECDSA_SHA256,
            version=info.version,
        )
        log.info("oracle fetch answered", extra={"request_id": facts.request_id, "code": int(code)})
        return {
            "magic": facts.magic,
            "contract": b64encode(facts.contract),
            "request_id": facts.request_id,
            "consumer": b64encode(facts.consumer),
            "url": facts.url,
            "filter": facts.filter,
            "code": int(code),
            "result": b64encode(result),
            "timestamp": timestamp,
            "signature": b64encode(signature),
            "key_id": info.key_id,
            "key_version": info.version,
            "public_key": b64encode(info.public_key),
            "status": status,
            "content_type": content_type,
            "detail": detail,
        }

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


def _facts(args: Args) -> OracleFacts:
    """The chain facts the answer is bound to."""
    request_id = args.integer("request_id")
    if not 0 <= request_id < _U63:
        raise InvalidKeyRequest("request_id must be between 0 and 2^63-1")
    try:
        return OracleFacts(
            magic=args.integer("magic"),
            contract=args.blob("contract"),
            request_id=request_id,
            consumer=args.blob("consumer"),
            url=args.text("request_url"),
            filter=args.opt_text("filter") or "",
        )
    except InvalidInput as exc:
        raise InvalidKeyRequest(str(exc)) from None


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
