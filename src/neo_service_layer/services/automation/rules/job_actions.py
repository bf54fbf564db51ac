"""What a tenant job does when it runs: call a webhook, or call a contract method with a tenant key.

A contract call's arguments are given as Neo's JSON contract parameters (``{"type": "Integer",
"value": "7"}``, the form neo-go and the C# node use in ``invokefunction``), read here into the plain
values a call script pushes: ``int``, ``bool``, ``str``, ``bytes`` (``Hash160``/``Hash256`` little-endian,
as ``UInt160.to_array`` gives them) and lists for ``Array``. Standard library (and the shared domain
errors) only.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from neo_service_layer.enclave.wire.errors import InvalidInput

GAS = 10**8
#: the most GAS one run's transaction may burn (the enclave's bound on a transaction's system fee)
MAX_SYSTEM_FEE = 50 * GAS
MIN_SYSTEM_FEE = GAS // 100
MAX_PARAMS = 16
MAX_ARRAY_ITEMS = 16
MAX_TEXT = 1024  # characters of a String, bytes of a ByteArray
MAX_METHOD_LENGTH = 64
CONTRACT_PATTERN = "^0x[0-9a-fA-F]{40}$"
METHOD_PATTERN = "^[A-Za-z_][A-Za-z0-9_]{0,63}$"
PARAM_TYPES = ("Integer", "Boolean", "String", "ByteArray", "Hash160", "Hash256", "PublicKey", "Array")
_CONTRACT = re.compile(CONTRACT_PATTERN)
_METHOD = re.compile(METHOD_PATTERN)
_INT_LIMIT = 2**255  # NeoVM integers are at most 32 bytes, signed


class InvalidAction(InvalidInput):
    """The action cannot be run as given; the message says why in the caller's terms (422)."""

    code = "invalid-action"


type CallValue = int | bool | str | bytes | list[CallValue]


def _hex(value: Any, size: int, what: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidAction(f"{what}: a hex string")
    text = value.removeprefix("0x")
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise InvalidAction(f"{what}: a hex string") from None
    if len(data) != size:
        raise InvalidAction(f"{what}: {size} bytes")
    return data


def call_value(param: Any, depth: int = 0) -> CallValue:
    """One contract parameter as the value its script pushes; ``InvalidAction`` saying what is wrong."""
    if not isinstance(param, dict) or set(param) - {"type", "value"} or "type" not in param:
        raise InvalidAction('each argument is {"type": ..., "value": ...}')
    kind, value = param["type"], param.get("value")
    if kind == "Integer":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise InvalidAction("Integer: an integer or a decimal string")
        try:
            number = int(value)
        except ValueError:
            raise InvalidAction("Integer: an integer or a decimal string") from None
        if not -_INT_LIMIT <= number < _INT_LIMIT:
            raise InvalidAction("Integer: out of NeoVM's 256-bit range")
        return number
    if kind == "Boolean":
        if not isinstance(value, bool):
            raise InvalidAction("Boolean: true or false")
        return value
    if kind == "String":
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise InvalidAction(f"String: at most {MAX_TEXT} characters")
        return value
    if kind == "ByteArray":
        try:
            data = base64.b64decode(value, validate=True) if isinstance(value, str) else None
        except (binascii.Error, ValueError):
            data = None
        if data is None or len(data) > MAX_TEXT:
            raise InvalidAction(f"ByteArray: base64 of at most {MAX_TEXT} bytes")
        return data
    if kind == "Hash160":
        return _hex(value, 20, "Hash160")[::-1]  # shown big-endian, pushed little-endian
    if kind == "Hash256":
        return _hex(value, 32, "Hash256")[::-1]
    if kind == "PublicKey":
        data = _hex(value, 33, "PublicKey")
        if data[0] not in (2, 3):
            raise InvalidAction("PublicKey: a compressed point (02 or 03 first)")
        return data
    if kind == "Array":
        if depth >= 1:
            raise InvalidAction("Array: one level of nesting at most")
        if not isinstance(value, list) or len(value) > MAX_ARRAY_ITEMS:
            raise InvalidAction(f"Array: a list of at most {MAX_ARRAY_ITEMS} parameters")
        return [call_value(item, depth + 1) for item in value]
    raise InvalidAction(f"unknown parameter type {str(kind)[:32]!r} (one of {', '.join(PARAM_TYPES)})")


@dataclass(frozen=True, slots=True)
class WebhookAction:
    """POST a signed body to ``url``; ``data`` is sent as the body's ``data``."""

    url: str
    data: Any | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"webhook": {"url": self.url, **({"data": self.data} if self.data is not None else {})}}


@dataclass(frozen=True, slots=True)
class ContractAction:
    """Call ``contract.method(*params)`` in a transaction signed by the tenant's key ``key_id``.

    ``account`` and ``public_key`` are the key's, as the enclave told them when it granted the call;
    the account pays the transaction's fees. ``max_system_fee`` bounds one run (GAS fractions).
    """

    contract: str
    method: str
    params: tuple[Any, ...]
    key_id: str
    max_system_fee: int
    account: str = ""
    public_key: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not _CONTRACT.fullmatch(self.contract):
            raise InvalidAction("contract: 0x and 40 hex digits")
        if not _METHOD.fullmatch(self.method):
            raise InvalidAction("method: a name of 1-64 letters, digits and _")
        if len(self.params) > MAX_PARAMS:
            raise InvalidAction(f"at most {MAX_PARAMS} arguments")
        if not MIN_SYSTEM_FEE <= self.max_system_fee <= MAX_SYSTEM_FEE:
            raise InvalidAction(f"maxSystemFee: {MIN_SYSTEM_FEE}-{MAX_SYSTEM_FEE} GAS fractions")
        self.args()  # InvalidAction when an argument is malformed

    def args(self) -> tuple[CallValue, ...]:
        return tuple(call_value(p) for p in self.params)

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract": {
                "contract": self.contract,
                "method": self.method,
                "args": list(self.params),
                "keyId": self.key_id,
                "maxSystemFee": self.max_system_fee,
                "account": self.account,
                "publicKey": self.public_key,
            }
        }


type JobAction = WebhookAction | ContractAction


def action_from_dict(data: dict[str, Any]) -> JobAction:
    """Read back what ``as_dict`` stored."""
    if "webhook" in data:
        hook = data["webhook"]
        return WebhookAction(hook["url"], hook.get("data"))
    call = data["contract"]
    return ContractAction(
        contract=call["contract"],
        method=call["method"],
        params=tuple(call.get("args", [])),
        key_id=call["keyId"],
        max_system_fee=int(call["maxSystemFee"]),
        account=call.get("account", ""),
        public_key=call.get("publicKey", ""),
    )
