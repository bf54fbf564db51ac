"""Who may call the enclave, and which operations each caller may use (fixed here, not configurable).

Each host process presents its own token (``NSL_ENCLAVE_TOKEN`` of that process); the enclave knows
the tokens by client name from ``NSL_ENCLAVE_CLIENTS`` (JSON ``{"api": "...", "worker": "...",
"cli": "..."}``). What a client may do is written below by name: configuration can give a client a
token, never a wider list.

- ``api`` — tenant operations only: keys of a tenant (create, rotate, disable, enable, destroy, sign), seal
  tenant values, attest, random, status, public keys. Nothing on keys of ``PLATFORM_KEY_OWNER`` except
  the two enclave-composed answers its off-chain routes give, both bound to the off-chain facts only
  (``OFFCHAIN_MAGIC``, ``OFFCHAIN_CONTRACT``: never an answer to, a refusal of, or a preview of an
  on-chain request): ``oracle_fetch`` (the enclave fetches and signs what it fetched) and
  ``randomness_fulfil``. ``automation_grant``: the enclave reads a tenant job's contract call and seals
  it as the only call the worker may have that tenant key sign (``job_signing.py``).
  ``unseal`` only of a tenant's remembered import-source configuration (label ``secret-source:``),
  never of a secret value (``secret:`` labels unseal only inside ``oracle_fetch``).
  For a tenant that switched on enclave-checked credentials, its key operations also need one of the
  tenant's own API keys (``tenant_credentials.py``, checked after this list).
- ``worker`` — the platform operations the jobs need: ``sign_transaction`` (the transaction sender
  signs only allow-listed calls, ``tx_rules.py``), ``oracle_fetch``, ``randomness_fulfil``,
  ``randomness_evm_fulfil`` (Neo X), ``oracle_evm_fetch`` (Neo X), ``evm_sign_transaction`` (the EVM
  sender signs only allow-listed calls it built from their fields, ``evm_tx_rules.py``),
  ``crosschain_sign`` (a cross-chain message or receipt the enclave read from its own nodes),
  ``feed_round``, ``native_oracle_respond`` — no raw ``sign`` at all, so it gets no signature over
  bytes it chose —
  ``create_key`` of platform keys, ``load_key``, ``destroy`` (the key destruction job: only keys their
  tenant disabled at least the grace period before, decided by the enclave), random, status.
  It signs with no tenant key except through ``automation_sign``: a tenant job's transaction, only
  the one call the tenant granted at the job's creation (``job_signing.py``); it unseals nothing itself.
- ``cli`` — provisioning and key administration: platform keys (create, sign the deployment
  transactions raw), ``allow_contracts`` and ``allow_evm_contracts`` (register the deployed service
  contracts), ``sign_transaction``, ``rotate`` (``nsl keys rotate-due``), key migration, status. No seal
  or unseal.

A refusal raises ``OperationNotAllowed`` (wire code ``operation_not_allowed``; the host raises it again
as a ``PolicyDenied``, a 403).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    PLATFORM_ONLY_PURPOSES,
    OperationNotAllowed,
)
from neo_service_layer.enclave.wire.protocol import Args
from neo_service_layer.enclave.wire.randomness import OFFCHAIN_CONTRACT, OFFCHAIN_MAGIC

API = "api"
WORKER = "worker"
CLI = "cli"
CLIENT_NAMES = (API, WORKER, CLI)

#: the label prefix of a tenant's remembered import-source configuration (``secrets.rules``)
SOURCE_LABEL_PREFIX = "secret-source:"

#: the reason an operation is refused with these arguments, or None when it is allowed
Check = Callable[[Args], str | None]


def _tenant(args: Args, field: str = "tenant") -> str | None:
    value = args.raw(field)
    return value if isinstance(value, str) else None


def _not_platform_tenant(args: Args) -> str | None:
    if _tenant(args) == PLATFORM_KEY_OWNER:
        return "platform keys are not available to this client"
    return None


def _only_platform_tenant(args: Args) -> str | None:
    if _tenant(args) != PLATFORM_KEY_OWNER:
        return "this client signs with platform keys only"
    return None


def _policy_not_platform(args: Args) -> str | None:
    policy = args.raw("policy")
    if isinstance(policy, Mapping) and policy.get("tenant") == PLATFORM_KEY_OWNER:
        return "this client cannot create platform keys"
    purposes = policy.get("purposes") if isinstance(policy, Mapping) else None
    if isinstance(purposes, list) and {str(p) for p in purposes} & {p.value for p in PLATFORM_ONLY_PURPOSES}:
        return "a tenant key cannot take a purpose only platform keys have"
    return None


def _policy_platform(args: Args) -> str | None:
    policy = args.raw("policy")
    if not isinstance(policy, Mapping) or policy.get("tenant") != PLATFORM_KEY_OWNER:
        return "this client creates platform keys only"
    return None


def _offchain_randomness_only(args: Args) -> str | None:
    """Every item bound to the off-chain facts (``OFFCHAIN_MAGIC``, ``OFFCHAIN_CONTRACT``): no chain
    accepts such an answer, so the api can neither answer nor foresee an on-chain request."""
    items = args.raw("items")
    if not isinstance(items, list) or not items:
        return "this client answers off-chain randomness only"
    offchain_contract = b64encode(OFFCHAIN_CONTRACT)
    for item in items:
        if not isinstance(item, Mapping) or (
            item.get("magic") != OFFCHAIN_MAGIC or item.get("contract") != offchain_contract
        ):
            return "this client answers off-chain randomness only"
    return None


def _offchain_oracle_only(args: Args) -> str | None:
    """An oracle answer bound to the off-chain facts (``OFFCHAIN_MAGIC``, ``OFFCHAIN_CONTRACT``): no
    contract accepts it, so the api can neither answer nor refuse an on-chain oracle request."""
    if args.raw("magic") != OFFCHAIN_MAGIC or args.raw("contract") != b64encode(OFFCHAIN_CONTRACT):
        return "this client answers off-chain oracle requests only"
    return None


def _offchain_compute_only(args: Args) -> str | None:
    """A compute run without chain facts: its receipt is no answer any compute contract accepts."""
    if args.raw("chain") is not None:
        return "this client runs functions off chain only"
    return None


def _source_config_only(args: Args) -> str | None:
    label = args.raw("label")
    if _tenant(args) == PLATFORM_KEY_OWNER or not (
        isinstance(label, str) and label.startswith(SOURCE_LABEL_PREFIX)
    ):
        return "this client may unseal a remembered import source only"
    return None


def _platform_feed_key(args: Args) -> str | None:
    if _tenant(args, "key_tenant") != PLATFORM_KEY_OWNER:
        return "feed rounds are signed with a platform key only"
    return None


def _allow(args: Args) -> str | None:
    return None


#: op -> check, per client; an op missing from a client's table is refused
ALLOWED: Mapping[str, Mapping[str, Check]] = {
    API: {
        "status": _allow,
        "random": _allow,
        "attest": _allow,  # binds public keys only
        "public_key": _allow,  # public
        "load_key": _allow,  # re-provisions a record the enclave sealed; every use is checked anyway
        "create_key": _policy_not_platform,
        "sign": _not_platform_tenant,
        "sign_batch": _not_platform_tenant,
        "sign_batch_packed": _not_platform_tenant,
        "rotate": _not_platform_tenant,
        "disable": _not_platform_tenant,
        "enable": _not_platform_tenant,  # a cancelled destruction
        "destroy": _not_platform_tenant,
        "seal": _not_platform_tenant,
        "unseal": _source_config_only,
        "oracle_fetch": _offchain_oracle_only,  # POST /oracle/fetch
        "randomness_fulfil": _offchain_randomness_only,  # POST /randomness
        # POST /compute/functions (the enclave hashes and compiles what it is sent) and .../runs
        "compute_load": _allow,
        "compute_run": _offchain_compute_only,
        # POST /automation/jobs with a contract call: the enclave reads the call and seals the grant
        "automation_grant": _not_platform_tenant,
        # enclave-checked tenant credentials (``tenant_credentials.py``): issuing needs the tenant's key
        # once the tenant enforces, switching needs it always, revoking only makes things stricter
        "issue_api_key": _not_platform_tenant,
        "revoke_api_key": _allow,
        "tenant_credentials": _not_platform_tenant,
    },
    WORKER: {
        "status": _allow,
        "random": _allow,
        "public_key": _allow,
        "load_key": _allow,
        "create_key": _policy_platform,
        # no raw signing at all: every signature the worker needs is built (or read) by the enclave:
        # the sender key signs only through sign_transaction, which reads the transaction and allows
        # the services' own calls only; answers, rounds and native Oracle responses have their own ops
        "sign_transaction": _allow,  # the enclave checks the key, the calls, fees and validUntilBlock
        # the key destruction job: the enclave destroys only a key its tenant disabled at least the
        # grace period before (``revocations``), so this token cannot destroy a key in use
        "destroy": _not_platform_tenant,
        "oracle_fetch": _allow,
        "randomness_fulfil": _allow,
        # EVM (Neo X) randomness: the enclave derives the answer from the request's chain facts and
        # signs only the digest the EVM contract rebuilds (``randomness_evm.py``)
        "randomness_evm_fulfil": _allow,
        # EVM (Neo X) oracle answers: the enclave fetches, filters and signs only the digest the EVM
        # contract rebuilds from the request's facts and what it fetched (``oracle_evm.py``)
        "oracle_evm_fetch": _allow,
        # the EVM (Neo X) sender: the enclave builds the EIP-1559 transaction from its fields and signs
        # only calls of registered contracts' service functions, no value, bounded gas and fee
        # (``evm_tx_rules.py``); the key (purpose evm-sender) refuses raw signing
        "evm_sign_transaction": _allow,
        # Neo's native Oracle: the enclave reads the request from its own node, fetches, builds and
        # signs the response; the node key (purpose native-oracle) refuses raw signing
        "native_oracle_respond": _allow,
        # cross-chain messages: the enclave reads the gateway's event from its own node of the source
        # chain (the host names only the transaction) and signs the digest it built (``crosschain.py``)
        "crosschain_sign": _allow,
        "feed_round": _platform_feed_key,  # the enclave fetches, aggregates and signs the round
        # on-chain compute requests: the enclave runs the artefact it hashed itself and signs the answer
        "compute_load": _allow,
        "compute_run": _allow,
        # tenant jobs calling a contract: only the call the tenant granted (``job_signing.py``)
        "automation_sign": _not_platform_tenant,
        # subscriptions: a fresh Standard Webhooks v1a message of one subscription (``wire/webhooks.py``)
        "webhook_sign": _allow,
    },
    CLI: {
        "status": _allow,
        "random": _allow,
        "public_key": _allow,
        "load_key": _allow,
        "attest": _allow,
        "create_key": _policy_platform,
        "sign": _only_platform_tenant,  # deployment transactions of `nsl chain up`
        "sign_batch": _only_platform_tenant,
        "sign_batch_packed": _only_platform_tenant,
        "rotate": _allow,  # `nsl keys rotate-due`
        "allow_contracts": _allow,  # `nsl chain up` registers the deployed service contracts
        "allow_evm_contracts": _allow,  # `nsl chain node` registers the deployed EVM service contracts
        "sign_transaction": _allow,
        "migration_offer": _allow,
        "migration_export": _allow,
        "migration_import": _allow,
    },
}

#: the single token of a development enclave without NSL_ENCLAVE_CLIENTS: every operation
LEGACY = "legacy"


def check_allowed(client: str | None, op: str, args: Args) -> None:
    """Raise ``OperationNotAllowed`` unless ``client`` may call ``op`` with these arguments.

    ``None`` and ``LEGACY`` (a development enclave with one shared token) may call everything.
    """
    if client is None or client == LEGACY:
        return
    table = ALLOWED.get(client)
    check = None if table is None else table.get(op)
    if check is None:
        raise OperationNotAllowed(f"client {client!r} may not call {op[:64]!r}")
    reason = check(args)
    if reason is not None:
        raise OperationNotAllowed(f"{op}: {reason}")


def allowed_ops(client: str) -> frozenset[str]:
    """The operation names on ``client``'s list (for documentation and tests)."""
    return frozenset(ALLOWED.get(client, {}))


def parse_clients(value: Any) -> dict[str, str]:
    """``{"api": token, ...}`` checked: known names, non-empty distinct tokens; raises ``ValueError``."""
    if not isinstance(value, Mapping) or not value:
        raise ValueError("NSL_ENCLAVE_CLIENTS must be a JSON object of client name to token")
    clients: dict[str, str] = {}
    for name, token in value.items():
        if name not in CLIENT_NAMES:
            raise ValueError(
                f"NSL_ENCLAVE_CLIENTS: unknown client {str(name)[:32]!r} (known: api, worker, cli)"
            )
        if not isinstance(token, str) or len(token) < 16:
            raise ValueError(f"NSL_ENCLAVE_CLIENTS: the token of {name} must be at least 16 characters")
        clients[name] = token
    if len(set(clients.values())) != len(clients):
        raise ValueError("NSL_ENCLAVE_CLIENTS: every client needs its own token")
    return clients
