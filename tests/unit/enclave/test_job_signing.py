"""``automation_grant`` / ``automation_sign``: a tenant job's key signs only the call the tenant granted."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from neo3 import vm
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types
from neo3.network.payloads import transaction, verification

from neo_service_layer.enclave import neo_tx
from neo_service_layer.enclave.clients import check_allowed
from neo_service_layer.enclave.job_signing import JobSigning
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.tenant_credentials import TenantCredentials
from neo_service_layer.enclave.tx_rules import TransactionRefused
from neo_service_layer.enclave.tx_signing import TransactionSigning
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    CredentialRequired,
    InvalidKeyRequest,
    KeyDisabled,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
    SealedDataInvalid,
)
from neo_service_layer.enclave.wire.protocol import Args
from neo_service_layer.kernel.chain.adapters.signing import unsigned_bytes

MAGIC = 860833102
HEIGHT = 500
JOB = "job_" + "a" * 24
OTHER_JOB = "job_" + "b" * 24
TARGET = types.UInt160(b"\x44" * 20)
GAS = CONTRACT_HASHES.GAS_TOKEN


def _script(*calls: tuple[types.UInt160, str, list[Any]]) -> bytes:
    builder = vm.ScriptBuilder()  # type: ignore[no-untyped-call]
    for contract, method, args in calls:
        builder.emit_contract_call_with_args(contract, method, args)
    return bytes(builder.to_array())


TICK = _script((TARGET, "tick", [7, b"hello"]))


@pytest.fixture
def transactions(sealer: Sealer, keystore: KeyStore, tmp_path: Path) -> TransactionSigning:
    return TransactionSigning(sealer, keystore, tmp_path / "transactions.sealed")


@pytest.fixture
def jobs(sealer: Sealer, keystore: KeyStore, transactions: TransactionSigning) -> JobSigning:
    return JobSigning(sealer, keystore, transactions.advance, transactions.limits)


def _key(
    keystore: KeyStore, tenant: str = "acme", purposes: tuple[Purpose, ...] = (Purpose.AUTOMATION,)
) -> tuple[str, bytes]:
    sealed = keystore.create(KeyKind.SECP256R1, KeyPolicy.of(tenant, list(purposes)))
    return sealed.info.key_id, sealed.info.public_key


def _grant(
    jobs: JobSigning,
    key_id: str,
    *,
    tenant: str = "acme",
    job: str = JOB,
    script: bytes = TICK,
    max_fee: int = 10**8,
) -> dict[str, Any]:
    return jobs.grant(
        Args(
            {
                "tenant": tenant,
                "job_id": job,
                "key_id": key_id,
                "network_magic": MAGIC,
                "script": b64encode(script),
                "max_system_fee": max_fee,
            }
        )
    )


def _tx(
    public_key: bytes,
    script: bytes = TICK,
    *,
    system_fee: int = 5 * 10**7,
    network_fee: int = 10**6,
    valid_until_block: int = HEIGHT + 10,
    scope: verification.WitnessScope = verification.WitnessScope.CALLED_BY_ENTRY,
    account: types.UInt160 | None = None,
    attributes: list[transaction.TransactionAttribute] | None = None,
) -> transaction.Transaction:
    signer = account if account is not None else types.UInt160(neo_tx.account_of(public_key))
    return transaction.Transaction(
        version=0,
        nonce=9,
        system_fee=system_fee,
        network_fee=network_fee,
        valid_until_block=valid_until_block,
        attributes=attributes,
        signers=[verification.Signer(signer, scope)],
        script=script,
        protocol_magic=MAGIC,
    )


def _sign(
    jobs: JobSigning,
    grant: dict[str, Any],
    tx: transaction.Transaction,
    *,
    tenant: str = "acme",
    job: str = JOB,
    magic: int = MAGIC,
    height: int = HEIGHT,
) -> dict[str, Any]:
    return jobs.sign(
        Args(
            {
                "tenant": tenant,
                "job_id": job,
                "grant": grant["grant"],
                "transaction": b64encode(unsigned_bytes(tx)),
                "network_magic": magic,
                "height": height,
            }
        )
    )


def test_the_granted_call_is_signed_with_the_tenant_key_as_the_chain_checks_it(
    jobs: JobSigning, keystore: KeyStore
) -> None:
    key_id, public_key = _key(keystore)
    grant = _grant(jobs, key_id)
    assert grant["contract"] == f"0x{TARGET}"
    assert (grant["method"], grant["arguments"]) == ("tick", 2)
    assert grant["account"] == "0x" + neo_tx.account_of(public_key)[::-1].hex()
    assert grant["public_key"] == public_key.hex()
    tx = _tx(public_key)
    result = _sign(jobs, grant, tx)
    assert result["hash"] == f"0x{tx.hash()}"
    signature = b64decode(result["signature"])
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key.verify(der, struct.pack("<I", MAGIC) + tx.hash().to_array(), ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"script": _script((TARGET, "tick", [8, b"hello"]))}, "not the job's granted call"),
        ({"script": _script((GAS, "transfer", [b"\x01" * 20, b"\x02" * 20, 10**8, None]))}, "granted call"),
        ({"script": TICK + TICK}, "granted call"),
        ({"system_fee": 10**8 + 1}, "system fee above the job's bound"),
        ({"network_fee": 2 * 10**8}, "network fee above"),
        ({"valid_until_block": HEIGHT}, "validUntilBlock"),
        ({"valid_until_block": HEIGHT + 10_000}, "validUntilBlock"),
        ({"scope": verification.WitnessScope.GLOBAL}, "CalledByEntry only"),
        ({"scope": verification.WitnessScope.NONE}, "CalledByEntry only"),
        ({"account": types.UInt160(b"\x07" * 20)}, "only signer"),
        ({"attributes": [transaction.HighPriorityAttribute()]}, "no attributes"),
    ],
)
def test_anything_but_the_granted_call_within_its_bounds_is_refused(
    jobs: JobSigning, keystore: KeyStore, change: dict[str, Any], reason: str
) -> None:
    key_id, public_key = _key(keystore)
    grant = _grant(jobs, key_id)
    with pytest.raises(TransactionRefused, match=reason):
        _sign(jobs, grant, _tx(public_key, **change))


def test_a_grant_is_bound_to_its_tenant_job_and_network_and_cannot_be_forged(
    jobs: JobSigning, keystore: KeyStore, sealer: Sealer
) -> None:
    key_id, public_key = _key(keystore)
    grant = _grant(jobs, key_id)
    tx = _tx(public_key)
    with pytest.raises(SealedDataInvalid):
        _sign(jobs, grant, tx, job=OTHER_JOB)
    with pytest.raises(SealedDataInvalid):
        _sign(jobs, grant, tx, tenant="globex")
    with pytest.raises(TransactionRefused, match="another network"):
        _sign(jobs, grant, tx, magic=MAGIC + 1)
    tampered = bytearray(b64decode(grant["grant"]))
    tampered[-1] ^= 1
    with pytest.raises(SealedDataInvalid):
        _sign(jobs, {"grant": b64encode(bytes(tampered))}, tx)
    # what the api's generic ``seal`` makes (SealUse.DATA) is never a grant, whatever it says
    forged = sealer.seal(SealUse.DATA, {"name": "automation-grant", "tenant": "acme", "job": JOB}, b"{}")
    with pytest.raises(SealedDataInvalid):
        _sign(jobs, {"grant": b64encode(forged)}, tx)


def test_only_the_tenants_own_active_automation_key_is_granted_and_signs(
    jobs: JobSigning, keystore: KeyStore
) -> None:
    other_key, _ = _key(keystore, tenant="globex")
    with pytest.raises(PolicyDenied, match="another tenant"):
        _grant(jobs, other_key)
    neo_tx_key, _ = _key(keystore, purposes=(Purpose.NEO_TX,))
    with pytest.raises(PolicyDenied, match="purpose automation"):
        _grant(jobs, neo_tx_key)
    ed = keystore.create(KeyKind.ED25519, KeyPolicy.of("acme", [Purpose.AUTOMATION])).info.key_id
    with pytest.raises(PolicyDenied, match="secp256r1"):
        _grant(jobs, ed)
    key_id, public_key = _key(keystore)
    grant = _grant(jobs, key_id)
    keystore.disable(key_id, "acme")
    with pytest.raises(KeyDisabled):
        _sign(jobs, grant, _tx(public_key))


@pytest.mark.parametrize(
    ("script", "max_fee", "reason"),
    [
        (TICK + TICK, 10**8, "exactly one contract call"),
        (b"\x40", 10**8, "call script"),  # RET: not a call
        (TICK, 0, "max_system_fee"),
        (TICK, 51 * 10**8, "max_system_fee"),
    ],
)
def test_a_grant_is_one_readable_call_with_a_bounded_fee(
    jobs: JobSigning, keystore: KeyStore, script: bytes, max_fee: int, reason: str
) -> None:
    key_id, _ = _key(keystore)
    with pytest.raises(InvalidKeyRequest, match=reason):
        _grant(jobs, key_id, script=script, max_fee=max_fee)


def test_the_height_mark_is_the_transaction_senders(
    jobs: JobSigning, keystore: KeyStore, transactions: TransactionSigning
) -> None:
    key_id, public_key = _key(keystore)
    grant = _grant(jobs, key_id)
    transactions.advance(MAGIC, HEIGHT + 100)  # the sender was told a higher height
    with pytest.raises(TransactionRefused, match="validUntilBlock"):
        _sign(jobs, grant, _tx(public_key, valid_until_block=HEIGHT + 10))
    _sign(jobs, grant, _tx(public_key, valid_until_block=HEIGHT + 110))
    assert transactions.mark(MAGIC) == HEIGHT + 100


def test_clients_the_api_grants_the_worker_signs_and_neither_for_platform_keys() -> None:
    grant_args = Args({"tenant": "acme"})
    check_allowed("api", "automation_grant", grant_args)
    check_allowed("worker", "automation_sign", grant_args)
    with pytest.raises(OperationNotAllowed):
        check_allowed("worker", "automation_grant", grant_args)
    with pytest.raises(OperationNotAllowed):
        check_allowed("api", "automation_sign", grant_args)
    with pytest.raises(OperationNotAllowed):
        check_allowed("cli", "automation_sign", grant_args)
    platform = Args({"tenant": PLATFORM_KEY_OWNER})
    with pytest.raises(OperationNotAllowed):
        check_allowed("api", "automation_grant", platform)
    with pytest.raises(OperationNotAllowed):
        check_allowed("worker", "automation_sign", platform)


def test_an_enforcing_tenants_grant_needs_its_key_with_automation_write(sealer: Sealer) -> None:
    credentials = TenantCredentials(sealer, None)

    def key(key_id: str, scopes: list[str]) -> dict[str, Any]:
        secret = credentials.issue(
            tenant="acme", key_id=key_id, prefix="abc", scopes=scopes, expires_at=None, presented=None
        )
        return {
            "api_key": f"nsl_abc_{secret}",
            "tenant": "acme",
            "key_id": key_id,
            "scopes": scopes,
            "expires_at": None,
        }

    admin, writer = key("k1", ["tenants:admin"]), key("k2", ["automation:write"])
    credentials.set_enforcing("acme", True, admin)
    with pytest.raises(CredentialRequired):
        credentials.check_operation("api", "automation_grant", Args({"tenant": "acme"}))
    with pytest.raises(CredentialRequired, match="automation:write"):
        credentials.check_operation("api", "automation_grant", Args({"tenant": "acme", "credential": admin}))
    credentials.check_operation("api", "automation_grant", Args({"tenant": "acme", "credential": writer}))
    # the worker's signing is not the api's: the grant was the check
    credentials.check_operation("worker", "automation_sign", Args({"tenant": "acme"}))
