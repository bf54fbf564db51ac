"""Randomness, oracle, feeds and compute."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from nsl_client.calls import Call, list_parser, parser, register
from nsl_client.models import (
    ComputeKey,
    ComputeRequestState,
    Feed,
    FeedRounds,
    Function,
    FunctionPage,
    NeoXRandomnessRequestState,
    OracleAnswer,
    OracleRequestState,
    OracleTemplate,
    OracleVerdict,
    RandomnessAnswer,
    RandomnessRequestState,
    RandomnessVerdict,
    Receipt,
    ReceiptVerdict,
    Run,
    RunList,
)

RANDOMNESS = register("randomness", "POST", "/api/v1/randomness", RandomnessAnswer, creates=True)
RANDOMNESS_REQUEST = register(
    "randomness_request", "GET", "/api/v1/randomness/requests/{request_id}", RandomnessRequestState
)
VERIFY_RANDOMNESS = register(
    "verify_randomness_remote", "POST", "/api/v1/randomness/verify", RandomnessVerdict
)
NEOX_RANDOMNESS_REQUEST = register(
    "neox_randomness_request",
    "GET",
    "/api/v1/randomness/neox/requests/{request_id}",
    NeoXRandomnessRequestState,
)
ORACLE_FETCH = register("oracle_fetch", "POST", "/api/v1/oracle/fetch", OracleAnswer)
ORACLE_REQUEST = register("oracle_request", "GET", "/api/v1/oracle/requests/{request_id}", OracleRequestState)
VERIFY_ORACLE = register("verify_oracle_remote", "POST", "/api/v1/oracle/verify", OracleVerdict)
LIST_TEMPLATES = register(
    "list_oracle_templates", "GET", "/api/v1/oracle/templates", OracleTemplate, many=True
)
CREATE_TEMPLATE = register(
    "create_oracle_template", "POST", "/api/v1/oracle/templates", OracleTemplate, creates=True
)
GET_TEMPLATE = register(
    "get_oracle_template", "GET", "/api/v1/oracle/templates/{template_id}", OracleTemplate
)
LIST_FEEDS = register("list_feeds", "GET", "/api/v1/feeds", Feed, many=True)
GET_FEED = register("get_feed", "GET", "/api/v1/feeds/{base}/{quote}", Feed)
FEED_ROUNDS = register("feed_rounds", "GET", "/api/v1/feeds/{base}/{quote}/rounds", FeedRounds)
CREATE_FUNCTION = register("create_function", "POST", "/api/v1/compute/functions", Function, creates=True)
LIST_FUNCTIONS = register("list_functions", "GET", "/api/v1/compute/functions", FunctionPage)
GET_FUNCTION = register("get_function", "GET", "/api/v1/compute/functions/{function_id}", Function)
RUN_FUNCTION = register(
    "run_function", "POST", "/api/v1/compute/functions/{function_id}/runs", Run, creates=True
)
LIST_RUNS = register("list_runs", "GET", "/api/v1/compute/functions/{function_id}/runs", RunList)
GET_RUN = register("get_run", "GET", "/api/v1/compute/runs/{run_id}", Run)
COMPUTE_KEY = register("compute_key", "GET", "/api/v1/compute/key", ComputeKey)
COMPUTE_REQUEST = register(
    "compute_request", "GET", "/api/v1/compute/requests/{request_id}", ComputeRequestState
)
VERIFY_RECEIPT = register("verify_receipt_remote", "POST", "/api/v1/compute/receipts/verify", ReceiptVerdict)


def randomness(
    num_words: int = 1, *, seed: bytes | None = None, idempotency_key: str | None = None
) -> Call[RandomnessAnswer]:
    """Random words off chain with the same proof and signature as on chain."""
    body = {"numWords": num_words, "seed": seed.hex() if seed is not None else None}
    return RANDOMNESS.call(parser(RandomnessAnswer), json=body, idempotency_key=idempotency_key)


def randomness_request(request_id: int) -> Call[RandomnessRequestState]:
    """State of an on-chain randomness request."""
    return RANDOMNESS_REQUEST.call(parser(RandomnessRequestState), path={"request_id": request_id})


def verify_randomness_remote(answer: RandomnessAnswer) -> Call[RandomnessVerdict]:
    """The server's check of an answer (as it came, or an on-chain one rebuilt as a
    ``RandomnessAnswer``) against the service's keys, the BLS pairing of the proof included, which
    ``verify.verify_randomness`` does not make."""
    body = answer.model_dump(by_alias=True)
    return VERIFY_RANDOMNESS.call(parser(RandomnessVerdict), json=body)


def neox_randomness_request(request_id: int) -> Call[NeoXRandomnessRequestState]:
    """State of a request to the Neo X (EVM) randomness contract."""
    return NEOX_RANDOMNESS_REQUEST.call(parser(NeoXRandomnessRequestState), path={"request_id": request_id})


def oracle_fetch(
    url: str | None = None,
    *,
    template: str | None = None,
    filter: str = "",
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    body: str | None = None,
    timeout_seconds: float | None = None,
) -> Call[OracleAnswer]:
    """Fetch ``url`` (or a registered ``template``) in the enclave; the answer is signed."""
    payload: dict[str, Any] = {
        "url": url,
        "template": template,
        "filter": filter,
        "method": method,
        "headers": [list(h) for h in headers],
        "body": body,
    }
    if timeout_seconds is not None:
        payload["timeoutSeconds"] = timeout_seconds
    return ORACLE_FETCH.call(parser(OracleAnswer), json=payload)


def oracle_request(request_id: int) -> Call[OracleRequestState]:
    return ORACLE_REQUEST.call(parser(OracleRequestState), path={"request_id": request_id})


def verify_oracle_remote(answer: OracleAnswer) -> Call[OracleVerdict]:
    """The server's check of an answer's signature against the oracle key (``verify.verify_oracle_answer``
    makes the same check with no server call)."""
    body = {
        "requestId": answer.request_id,
        "code": answer.code,
        "result": answer.result,
        "timestamp": answer.timestamp,
        "networkMagic": answer.network_magic,
        "contract": answer.contract,
        "consumer": answer.consumer,
        "url": answer.url,
        "filter": answer.filter,
        "signature": answer.signature,
    }
    return VERIFY_ORACLE.call(parser(OracleVerdict), json=body)


def list_oracle_templates() -> Call[list[OracleTemplate]]:
    return LIST_TEMPLATES.call(list_parser(OracleTemplate))


def create_oracle_template(
    url: str,
    *,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    body: str | None = None,
    allowed_consumers: Sequence[str] = (),
    description: str = "",
    idempotency_key: str | None = None,
) -> Call[OracleTemplate]:
    """A request template (URL, headers with ``{{secret:name}}`` references) contracts name by id."""
    payload = {
        "url": url,
        "method": method,
        "headers": [list(h) for h in headers],
        "body": body,
        "allowedConsumers": list(allowed_consumers),
        "description": description,
    }
    return CREATE_TEMPLATE.call(parser(OracleTemplate), json=payload, idempotency_key=idempotency_key)


def get_oracle_template(template_id: str) -> Call[OracleTemplate]:
    return GET_TEMPLATE.call(parser(OracleTemplate), path={"template_id": template_id})


def list_feeds() -> Call[list[Feed]]:
    return LIST_FEEDS.call(list_parser(Feed))


def get_feed(base: str, quote: str) -> Call[Feed]:
    return GET_FEED.call(parser(Feed), path={"base": base, "quote": quote})


def feed_rounds(base: str, quote: str, *, count: int | None = None) -> Call[FeedRounds]:
    """A feed's recent rounds on chain, newest first (``count``: how many, 1-100)."""
    return FEED_ROUNDS.call(parser(FeedRounds), path={"base": base, "quote": quote}, params={"count": count})


def create_function(
    name: str,
    language: str,
    *,
    source: str | None = None,
    module: bytes | None = None,
    limits: dict[str, int] | None = None,
    secrets: Sequence[str] = (),
    on_chain: bool = False,
    idempotency_key: str | None = None,
) -> Call[Function]:
    """Upload a function: ``source`` (python, javascript) or a WebAssembly ``module`` (wasm)."""
    payload = {
        "name": name,
        "language": language,
        "source": source,
        "moduleBase64": base64.b64encode(module).decode() if module is not None else None,
        "limits": limits,
        "secrets": list(secrets),
        "onChain": on_chain,
    }
    return CREATE_FUNCTION.call(parser(Function), json=payload, idempotency_key=idempotency_key)


def list_functions(*, after: str | None = None, limit: int | None = None) -> Call[FunctionPage]:
    """One page of functions; ``Client.iterate(list_functions)`` walks them all."""
    return LIST_FUNCTIONS.call(parser(FunctionPage), params={"after": after, "limit": limit})


def get_function(function_id: str) -> Call[Function]:
    return GET_FUNCTION.call(parser(Function), path={"function_id": function_id})


def run_function(function_id: str, input: Any = None, *, idempotency_key: str | None = None) -> Call[Run]:
    """Run a function in the enclave on ``input`` (JSON); the run carries a signed receipt."""
    return RUN_FUNCTION.call(
        parser(Run), path={"function_id": function_id}, json={"input": input}, idempotency_key=idempotency_key
    )


def list_runs(function_id: str, *, limit: int | None = None) -> Call[RunList]:
    return LIST_RUNS.call(parser(RunList), path={"function_id": function_id}, params={"limit": limit})


def get_run(run_id: str) -> Call[Run]:
    return GET_RUN.call(parser(Run), path={"run_id": run_id})


def compute_key() -> Call[ComputeKey]:
    """The public key that signs compute receipts."""
    return COMPUTE_KEY.call(parser(ComputeKey))


def compute_request(request_id: int) -> Call[ComputeRequestState]:
    """State of an on-chain compute request."""
    return COMPUTE_REQUEST.call(parser(ComputeRequestState), path={"request_id": request_id})


def verify_receipt_remote(
    receipt: Receipt, *, result: bytes | None = None, input: Any = None, check_input: bool = False
) -> Call[ReceiptVerdict]:
    """The server's check of a run's receipt against the compute key and, when given, that ``result``
    and ``input`` (``check_input=True``) are the signed ones (as ``verify.verify_compute_receipt``)."""
    body: dict[str, Any] = {"receipt": receipt.model_dump(by_alias=True)}
    if result is not None:
        body["resultBase64"] = base64.b64encode(result).decode()
    if check_input:
        body["input"] = input
    return VERIFY_RECEIPT.call(parser(ReceiptVerdict), json=body)
