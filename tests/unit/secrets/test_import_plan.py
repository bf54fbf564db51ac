"""The import plan: whole secrets asked for by their name, Vault fields as ``path#field`` stored under
the name given, each secret named once, nothing malformed passed on to a source."""

from __future__ import annotations

import pytest

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.services.secrets.use_cases.import_plan import (
    MAX_IMPORT_NAMES,
    ImportItem,
    VaultField,
    import_plan,
)


def test_names_then_fields_in_request_order() -> None:
    plan = import_plan(["api", "db/creds"], [VaultField("db/creds", "password", "db-password")])
    assert plan == [
        ImportItem("api", "api"),
        ImportItem("db/creds", "db/creds"),
        ImportItem("db/creds#password", "db-password"),
    ]


@pytest.mark.parametrize(
    ("names", "fields", "said"),
    [
        ([], [], "at least one"),
        (["a", "a"], [], "named once"),
        (["a"], [VaultField("p", "f", "a")], "named once"),
        ([], [VaultField("p", "f#g", "a")], "a field is"),
        ([], [VaultField("p", "", "a")], "a field is"),
        ([], [VaultField("p#x", "f", "a")], "name"),
        ([], [VaultField("p", "f", "a#b")], "name"),
        ([f"n{i}" for i in range(MAX_IMPORT_NAMES + 1)], [], "at most"),
    ],
)
def test_a_malformed_plan_is_refused(names: list[str], fields: list[VaultField], said: str) -> None:
    with pytest.raises(InvalidInput, match=said):
        import_plan(names, fields)
