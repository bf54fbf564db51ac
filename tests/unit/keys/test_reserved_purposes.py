"""Tenant keys cannot take a purpose only platform keys have: the typed-only ones (their keys sign only in
their enclave operation) and ``contract-owner`` (only the cli signs with it)."""

from __future__ import annotations

import pytest

from neo_service_layer.enclave.clients import API, check_allowed
from neo_service_layer.enclave.wire.keys import KeyKind, OperationNotAllowed, Purpose
from neo_service_layer.enclave.wire.protocol import Args
from neo_service_layer.services.keys.rules import InvalidKeyInput, check_purposes


@pytest.mark.parametrize("kind", [KeyKind.SECP256R1, KeyKind.BLS12_381])
def test_randomness_is_reserved_for_platform_keys(kind: KeyKind) -> None:
    with pytest.raises(InvalidKeyInput, match="reserved"):
        check_purposes(kind, frozenset({Purpose.RANDOMNESS}))
    with pytest.raises(InvalidKeyInput, match="reserved"):
        check_purposes(kind, frozenset({Purpose.MESSAGE, Purpose.RANDOMNESS}))
    assert check_purposes(kind, frozenset({Purpose.MESSAGE})) == {Purpose.MESSAGE}


@pytest.mark.parametrize("purpose", [Purpose.NATIVE_ORACLE, Purpose.CONTRACT_OWNER])
def test_platform_purposes_are_refused_by_the_rule_and_by_the_enclave_for_the_api(purpose: Purpose) -> None:
    with pytest.raises(InvalidKeyInput, match="reserved"):
        check_purposes(KeyKind.SECP256R1, frozenset({Purpose.MESSAGE, purpose}))
    policy = {"tenant": "ten_a", "purposes": ["message", purpose.value]}
    with pytest.raises(OperationNotAllowed, match="only platform keys"):
        check_allowed(API, "create_key", Args({"kind": "secp256r1", "policy": policy}))
    check_allowed(
        API, "create_key", Args({"kind": "secp256r1", "policy": {**policy, "purposes": ["message"]}})
    )
