"""Tenant keys cannot take a typed-only purpose (``randomness``): those keys sign only in their enclave op."""

from __future__ import annotations

import pytest

from neo_service_layer.enclave.wire.keys import KeyKind, Purpose
from neo_service_layer.services.keys.rules import InvalidKeyInput, check_purposes


@pytest.mark.parametrize("kind", [KeyKind.SECP256R1, KeyKind.BLS12_381])
def test_randomness_is_reserved_for_platform_keys(kind: KeyKind) -> None:
    with pytest.raises(InvalidKeyInput, match="reserved"):
        check_purposes(kind, frozenset({Purpose.RANDOMNESS}))
    with pytest.raises(InvalidKeyInput, match="reserved"):
        check_purposes(kind, frozenset({Purpose.MESSAGE, Purpose.RANDOMNESS}))
    assert check_purposes(kind, frozenset({Purpose.MESSAGE})) == {Purpose.MESSAGE}
