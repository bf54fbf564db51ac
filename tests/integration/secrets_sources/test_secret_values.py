"""The ``Secret`` wrapper and the configs that hold credentials never show a value in text."""

from __future__ import annotations

import pickle

import pytest

from neo_service_layer.enclave.wire.errors import DependencyUnavailable, NotFound, PermissionDenied
from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.ports import (
    AwsSourceConfig,
    AwsStaticCredentials,
    SecretNotFoundInSource,
    SecretSourceDenied,
    SecretSourceUnavailable,
    SourcedSecret,
    VaultAppRoleAuth,
    VaultSourceConfig,
)


def test_repr_and_str_hide_the_value() -> None:
    secret = Secret("hunter2-long-password")

    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2-long-password"


def test_equality_is_by_value_and_hashing_and_pickling_are_refused() -> None:
    assert Secret(b"abc") == Secret(b"abc")
    assert Secret(b"abc") != Secret(b"abd")
    assert Secret("abc") != Secret(b"abc")
    with pytest.raises(TypeError):
        hash(Secret("abc"))
    with pytest.raises(TypeError):
        pickle.dumps(Secret("abc"))
    with pytest.raises(AttributeError):
        Secret("abc")._value = "other"


def test_configs_and_results_hide_credentials() -> None:
    vault = VaultSourceConfig(
        url="https://vault.example:8200",
        auth=VaultAppRoleAuth(role_id=Secret("role-id-123"), secret_id=Secret("secret-id-456")),
    )
    aws = AwsSourceConfig(
        region="eu-central-1",
        credentials=AwsStaticCredentials("AKIAEXAMPLE", Secret("aws-secret-key"), Secret("aws-session")),
    )
    sourced = SourcedSecret(name="db", value=Secret(b"db-password-789"), version="3")

    text = repr(vault) + repr(aws) + repr(sourced)

    for hidden in ("role-id-123", "secret-id-456", "aws-secret-key", "aws-session", "db-password-789"):
        assert hidden not in text
    assert "AKIAEXAMPLE" in text  # the key id is an identifier, shown on purpose


def test_errors_are_domain_errors_of_the_right_kind() -> None:
    assert issubclass(SecretNotFoundInSource, NotFound)
    assert issubclass(SecretSourceUnavailable, DependencyUnavailable)
    assert issubclass(SecretSourceDenied, PermissionDenied)
    error = SecretSourceDenied("vault read of 'db': permission denied", provider="vault", name="db")
    assert (error.provider, error.name, str(error)) == (
        "vault",
        "db",
        "vault read of 'db': permission denied",
    )
