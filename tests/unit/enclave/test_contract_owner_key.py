"""The contracts' development owner key (purpose ``contract-owner``): only the ``cli`` client's raw
signing reaches it; the worker's is refused whatever format it names (``enclave.clients``)."""

from __future__ import annotations

import pytest

from neo_service_layer.enclave.clients import API, CLI, WORKER, check_allowed
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    OperationNotAllowed,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.protocol import Args

SIGNING = ("sign", "sign_batch", "sign_batch_packed")


def owner_args(fmt: SignatureFormat) -> Args:
    return Args({"tenant": PLATFORM_KEY_OWNER, "purpose": Purpose.CONTRACT_OWNER.value, "format": fmt.value})


@pytest.mark.parametrize("op", SIGNING)
@pytest.mark.parametrize("fmt", [SignatureFormat.NEO_TX, SignatureFormat.ECDSA_SHA256])
def test_the_worker_never_signs_as_the_contracts_owner(op: str, fmt: SignatureFormat) -> None:
    with pytest.raises(OperationNotAllowed, match="may not call"):  # the worker has no raw signing at all
        check_allowed(WORKER, op, owner_args(fmt))


@pytest.mark.parametrize("op", SIGNING)
def test_the_api_never_reaches_the_owner_key(op: str) -> None:
    with pytest.raises(OperationNotAllowed, match="platform keys"):
        check_allowed(API, op, owner_args(SignatureFormat.ECDSA_SHA256))


def test_the_cli_signs_owner_transactions() -> None:
    check_allowed(CLI, "sign", owner_args(SignatureFormat.NEO_TX))


def test_the_worker_signs_nothing_raw_with_any_platform_key() -> None:
    """Every signature the worker needs is built or read by the enclave (answers, rounds, native Oracle
    responses, transactions): no platform key signs bytes the worker chose."""
    for purpose in (Purpose.ORACLE, Purpose.NEO_TX, Purpose.MESSAGE, Purpose.NATIVE_ORACLE):
        args = Args({"tenant": PLATFORM_KEY_OWNER, "purpose": purpose.value, "format": "ecdsa-sha256"})
        for op in SIGNING:
            with pytest.raises(OperationNotAllowed, match="may not call"):
                check_allowed(WORKER, op, args)
