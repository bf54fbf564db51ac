"""Which transactions the transaction sender signs: the fixed method table, fee and lifetime bounds.

``sign_transaction`` (``tx_signing.py``) parses the transaction the host built and signs it only if
``check_transaction`` accepts it:

- the sender key's account is the only signer, with scope ``CalledByEntry`` or ``None`` (its witness
  then counts in the contracts the script calls directly, never in a contract they call on: a service
  contract cannot move the sender's GAS through ``GAS.transfer``); no attributes;
- every call of the script is on a contract registered for this network (``allow_contracts``, by the
  ``cli`` client at deployment) and its method is in ``SERVICE_METHODS`` for that contract's service:
  what the running services send, never an owner operation (``OWNER_METHODS``);
- system and network fee within ``TxLimits``; ``validUntilBlock`` after the height the enclave knows
  and at most ``valid_until_window`` blocks after it.

Standard library and the enclave's own codec only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from neo_service_layer.enclave.neo_script import ContractCall, MalformedTransaction, contract_calls
from neo_service_layer.enclave.neo_tx_model import Transaction, WitnessScope
from neo_service_layer.enclave.wire.keys import PolicyDenied

GAS = 10**8  # GAS fractions

#: per service (the name its contract is registered under): the methods the sender key may call
SERVICE_METHODS: Mapping[str, frozenset[str]] = {
    "randomness": frozenset({"fulfill", "deliver", "markCallbackFailed"}),
    "oracle": frozenset({"fulfill", "deliver", "markCallbackFailed"}),
    "feed": frozenset({"submit"}),
    "automation": frozenset({"perform"}),
    "compute": frozenset({"fulfill", "deliver", "markCallbackFailed"}),
    # the message gateway: accept a signed message, run it, record an aborting receiver (the sender is
    # its operator), store a signed receipt
    "crosschain": frozenset({"deliver", "execute", "markFailed", "deliverReceipt"}),
}

#: administration (the owner's), money movement and consumers' own calls: never signed with the sender
#: key, whatever the table says (``kernel/chain/contracts/service_admin.py``, ``service_funds.py``)
OWNER_METHODS = frozenset(
    {
        "update",
        "destroy",
        "scheduleUpdate",
        "scheduleDestroy",
        "cancelUpdate",
        "cancelDestroy",
        "setKey",
        "setFeed",
        "rotateKey",
        "setFee",
        "setCallbackGasCap",
        "setOperator",
        "pause",
        "unpause",
        "withdraw",
        "withdrawFees",
        "transfer",
        "request",
        "refund",
        "onNEP17Payment",
        "_deploy",
    }
)

if any(methods & OWNER_METHODS for methods in SERVICE_METHODS.values()):  # pragma: no cover
    raise RuntimeError("SERVICE_METHODS names an owner method")

#: scopes the sender's witness may have: it counts in the entry script's direct calls at most
SENDER_SCOPES = frozenset({WitnessScope.NONE, WitnessScope.CALLED_BY_ENTRY})


class TransactionRefused(PolicyDenied):
    """The transaction is not one the sender key signs (wire code ``policy_denied``)."""


@dataclass(frozen=True, slots=True)
class TxLimits:
    """Bounds on what one signed transaction may cost and how long it stays valid."""

    max_system_fee: int = 50 * GAS
    max_network_fee: int = 1 * GAS
    #: ``validUntilBlock`` at most this many blocks after the highest height the enclave was told
    valid_until_window: int = 5760

    def __post_init__(self) -> None:
        if min(self.max_system_fee, self.max_network_fee) < 0 or self.valid_until_window < 1:
            raise ValueError("transaction limits must be non-negative and the window at least one block")


def check_transaction(
    tx: Transaction,
    *,
    sender: bytes,
    contracts: Mapping[bytes, str],
    limits: TxLimits,
    height: int,
) -> list[ContractCall]:
    """The calls of ``tx`` if the sender key may sign it; ``TransactionRefused`` saying why otherwise.

    ``sender`` is the key's account (``UInt160`` bytes); ``contracts`` maps each registered contract
    (``UInt160`` bytes) of this network to its service; ``height`` is the highest block height known.
    """
    if len(tx.signers) != 1 or tx.signers[0].account != sender:
        raise TransactionRefused("the sender key's account must be the transaction's only signer")
    if tx.signers[0].scopes not in SENDER_SCOPES:
        raise TransactionRefused("the sender signs with scope CalledByEntry or None only")
    if tx.attributes:
        raise TransactionRefused("the sender signs transactions without attributes")
    if tx.system_fee > limits.max_system_fee:
        raise TransactionRefused(f"system fee above the bound of {limits.max_system_fee} GAS fractions")
    if tx.network_fee > limits.max_network_fee:
        raise TransactionRefused(f"network fee above the bound of {limits.max_network_fee} GAS fractions")
    if not height < tx.valid_until_block <= height + limits.valid_until_window:
        raise TransactionRefused(
            f"validUntilBlock must be after block {height} and at most "
            f"{limits.valid_until_window} blocks later"
        )
    try:
        calls = contract_calls(tx.script)
    except MalformedTransaction as exc:
        raise TransactionRefused(str(exc)) from None
    for call in calls:
        service = contracts.get(call.contract)
        if service is None:
            raise TransactionRefused(f"contract {call.contract_text} is not registered for this network")
        if call.method in OWNER_METHODS or call.method not in SERVICE_METHODS.get(service, frozenset()):
            raise TransactionRefused(f"method {call.method[:64]!r} of the {service} contract is not allowed")
    return calls
