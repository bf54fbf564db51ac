"""What an on-chain oracle request asks and is answered, and the tenant's request templates.

The chain pipeline stores an oracle request's state; its URL and filter (``OracleParams``) and the signed
answer last sent (``OracleResult``) are kept by the service itself (``adapters.tables.oracle_requests``).

A template (``nsl://template/<id>``) is registered off chain by a tenant: the real URL, method, headers
(which may reference the tenant's secrets as ``{{secret:name}}``) and body. A template that references
secrets must name the consumer contracts allowed to use it: otherwise any contract that learnt the id
could spend the tenant's paid API quota and publish the answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.oracle import TEMPLATE_URL_PREFIX, FetchSpec

_ID = re.compile(r"^[a-z0-9]{8,40}$")
_CONTRACT = re.compile(r"^0x[0-9a-f]{40}$")
MAX_TEMPLATE_CONSUMERS: Final = 32
MAX_DESCRIPTION: Final = 200


@dataclass(frozen=True, slots=True)
class OracleParams:
    """What an on-chain request asked: the URL (``https://`` or ``nsl://template/<id>``) and the filter."""

    url: str
    filter: str


@dataclass(frozen=True, slots=True)
class OracleResult:
    """The answer sent to a request: the result code, the result and the fetch time the enclave signed."""

    code: int
    result: bytes
    timestamp_ms: int


def template_id_of(url: str) -> str | None:
    """The template id of an ``nsl://template/<id>`` URL, ``None`` for any other URL.

    Raises:
        InvalidInput: the URL has the template prefix but no valid id.
    """
    if not url.startswith(TEMPLATE_URL_PREFIX):
        return None
    template_id = url[len(TEMPLATE_URL_PREFIX) :]
    if not _ID.fullmatch(template_id):
        raise InvalidInput("a template URL is nsl://template/<id> with 8-40 lowercase letters or digits")
    return template_id


def template_url(template_id: str) -> str:
    return TEMPLATE_URL_PREFIX + template_id


def check_consumer_hash(value: str) -> str:
    """A consumer script hash in the ``0x`` + 40 lowercase hex form; ``InvalidInput`` otherwise."""
    text = value.strip().lower()
    if not text.startswith("0x"):
        text = "0x" + text
    if not _CONTRACT.fullmatch(text):
        raise InvalidInput("a consumer is a contract script hash: 0x followed by 40 hex characters")
    return text


@dataclass(frozen=True, slots=True)
class OracleTemplate:
    """A tenant's request template (no secret values: secrets are referenced by name only)."""

    template_id: str
    tenant_id: str
    spec: FetchSpec
    allowed_consumers: tuple[str, ...]
    description: str
    created_at: datetime

    @property
    def url(self) -> str:
        return template_url(self.template_id)

    def allows(self, consumer: str) -> bool:
        """Whether ``consumer`` (0x script hash) may use the template (empty list: anyone)."""
        return not self.allowed_consumers or consumer.lower() in self.allowed_consumers

    def spec_for(self, filter_: str) -> FetchSpec:
        """The fetch for an on-chain request with ``filter_`` (the filter is the consumer's)."""
        return FetchSpec(
            url=self.spec.url,
            method=self.spec.method,
            headers=self.spec.headers,
            body=self.spec.body,
            filter=filter_,
            timeout_seconds=self.spec.timeout_seconds,
        ).check()


def new_template(
    template_id: str,
    tenant_id: str,
    spec: FetchSpec,
    allowed_consumers: list[str],
    description: str,
    now: datetime,
) -> OracleTemplate:
    """A checked template; ``InvalidInput`` says what is wrong."""
    if not _ID.fullmatch(template_id):
        raise InvalidInput("template id must be 8-40 lowercase letters or digits")
    if not spec.url.startswith(("https://", "http://")):
        raise InvalidInput("a template fetches an https:// URL")
    if spec.filter:
        raise InvalidInput("the filter comes from the on-chain request, not the template")
    spec.check()
    consumers = tuple(dict.fromkeys(check_consumer_hash(c) for c in allowed_consumers))
    if len(consumers) > MAX_TEMPLATE_CONSUMERS:
        raise InvalidInput(f"at most {MAX_TEMPLATE_CONSUMERS} allowed consumers")
    if spec.secret_names() and not consumers:
        raise InvalidInput("a template that uses secrets must list the consumer contracts allowed to use it")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description must be at most {MAX_DESCRIPTION} characters")
    return OracleTemplate(template_id, tenant_id, spec, consumers, description, now)
