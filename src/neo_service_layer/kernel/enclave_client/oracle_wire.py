"""The oracle's facts and answers as the enclave RPC carries them (base64 for bytes)."""

from __future__ import annotations

from typing import Any

from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.oracle import OracleFacts, OracleResponse, ResultCode


def facts_args(facts: OracleFacts) -> dict[str, Any]:
    return {
        "magic": facts.magic,
        "contract": b64encode(facts.contract),
        "request_id": facts.request_id,
        "consumer": b64encode(facts.consumer),
        "request_url": facts.url,
        "filter": facts.filter,
    }


def oracle_response(r: dict[str, Any]) -> OracleResponse:
    status, content_type = r.get("status"), r.get("content_type")
    facts = OracleFacts(
        magic=int(r["magic"]),
        contract=b64decode(r["contract"]),
        request_id=int(r["request_id"]),
        consumer=b64decode(r["consumer"]),
        url=str(r["url"]),
        filter=str(r["filter"]),
    )
    return OracleResponse(
        facts=facts,
        code=ResultCode(int(r["code"])),
        result=b64decode(r["result"]),
        timestamp_ms=int(r["timestamp"]),
        signature=b64decode(r["signature"]),
        key_id=str(r["key_id"]),
        key_version=int(r["key_version"]),
        public_key=b64decode(r["public_key"]),
        status=None if status is None else int(status),
        content_type=None if content_type is None else str(content_type),
        detail=str(r.get("detail", "")),
    )
