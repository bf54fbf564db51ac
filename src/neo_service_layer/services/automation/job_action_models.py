"""The action of a job as the API takes and shows it: a webhook, or a contract call with a tenant key.

A contract call's arguments are Neo's JSON contract parameters (``{"type": "Integer", "value": "7"}``);
the schema states their shape and sizes, ``rules.job_actions`` the rest (hex lengths, base64, the
256-bit range), answered as 422 ``invalid-action``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from neo_service_layer.kernel.http.encoding import Strict
from neo_service_layer.services.automation.rules.job_actions import (
    CONTRACT_PATTERN,
    MAX_ARRAY_ITEMS,
    MAX_PARAMS,
    MAX_SYSTEM_FEE,
    MAX_TEXT,
    METHOD_PATTERN,
    MIN_SYSTEM_FEE,
    ContractAction,
    InvalidAction,
    JobAction,
    WebhookAction,
)

Scalar = Annotated[str, Field(max_length=256)] | Annotated[int, Field(ge=-(2**53), le=2**53)] | bool | None
#: base64 of MAX_TEXT bytes is the longest text value a parameter carries
_VALUE_TEXT = 4 * ((MAX_TEXT + 2) // 3)
KEY_ID_PATTERN = "^[A-Za-z0-9_-]{1,64}$"


class WebhookIn(Strict):
    #: the schema states https only; the oracle's ``NSL_ORACLE_ALLOW_HTTP`` (an operator's allowance,
    #: off in production) lets the SSRF guard accept http too, so the pattern is not enforced here
    url: Annotated[
        str,
        Field(min_length=9, max_length=2048, json_schema_extra={"pattern": "^https://"}),
    ]
    data: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=64)], Scalar] | None,
        Field(max_length=32, description="sent as the body's `data`"),
    ] = None


class ScalarParam(Strict):
    type: Literal["Integer", "Boolean", "String", "ByteArray", "Hash160", "Hash256", "PublicKey"]
    value: Annotated[
        Annotated[str, Field(max_length=_VALUE_TEXT)] | int | bool,
        Field(
            description="Integer: integer or decimal string; Boolean: true/false; String: text; ByteArray: "
            "base64; Hash160/Hash256: 0x + big-endian hex; PublicKey: compressed hex"
        ),
    ]


class ArrayParam(Strict):
    type: Literal["Array"]
    value: Annotated[list[ScalarParam], Field(max_length=MAX_ARRAY_ITEMS)]


Param = Annotated[ScalarParam | ArrayParam, Field(discriminator="type")]


class ContractCallIn(Strict):
    contract: Annotated[str, Field(pattern=CONTRACT_PATTERN, description="script hash, 0x + 40 hex")]
    method: Annotated[str, Field(pattern=METHOD_PATTERN)]
    args: Annotated[list[Param], Field(max_length=MAX_PARAMS)] = Field(default_factory=list)
    keyId: Annotated[  # noqa: N815
        str,
        Field(pattern=KEY_ID_PATTERN, description="a secp256r1 key of the tenant with purpose `automation`"),
    ]
    maxSystemFee: Annotated[  # noqa: N815
        int,
        Field(
            ge=MIN_SYSTEM_FEE,
            le=MAX_SYSTEM_FEE,
            description="the most GAS (10^-8 units) one run may burn; the key's account pays",
        ),
    ]


class ActionIn(Strict):
    """Exactly one of ``webhook`` and ``contract``."""

    webhook: WebhookIn | None = None
    contract: ContractCallIn | None = None


class WebhookOut(BaseModel):
    url: str
    data: dict[str, Scalar] | None


class ContractCallOut(BaseModel):
    contract: str
    method: str
    args: list[Param]
    keyId: str  # noqa: N815
    maxSystemFee: int  # noqa: N815
    #: the key's account: it signs and pays for each run (fund it with GAS)
    account: str


class ActionOut(BaseModel):
    webhook: WebhookOut | None = None
    contract: ContractCallOut | None = None


def action_in(given: ActionIn) -> JobAction:
    """The rules' action (``InvalidAction``, 422, for what the schema cannot say)."""
    if (given.webhook is None) == (given.contract is None):
        raise InvalidAction("give exactly one of webhook and contract")
    if given.webhook is not None:
        return WebhookAction(given.webhook.url, given.webhook.data)
    call = given.contract
    assert call is not None
    return ContractAction(
        contract=call.contract,
        method=call.method,
        params=tuple(p.model_dump() for p in call.args),
        key_id=call.keyId,
        max_system_fee=call.maxSystemFee,
    )


def action_out(action: JobAction) -> ActionOut:
    if isinstance(action, WebhookAction):
        return ActionOut(webhook=WebhookOut(url=action.url, data=action.data))
    return ActionOut(
        contract=ContractCallOut(
            contract=action.contract,
            method=action.method,
            args=list(action.params),
            keyId=action.key_id,
            maxSystemFee=action.max_system_fee,
            account=action.account,
        )
    )
