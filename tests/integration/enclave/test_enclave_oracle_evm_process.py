"""``oracle_evm_fetch`` and the ``oracle-evm`` key against a real enclave process with per-client tokens:
only the worker's token gets an EVM oracle answer (fetched by the enclave itself); neither the api nor the
cli credential gets one, a signature over bytes it chose, the purpose on a key of its own, or an export
of the key."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
from enclave_process_fakes import PeerEnclave, running_enclave
from eth_account import Account
from eth_utils.crypto import keccak
from tests.unit.enclave.loopback_http import LoopbackServer, raw_route

from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.oracle import FetchSpec, ResultCode
from neo_service_layer.enclave.wire.oracle_evm import EvmOracleFacts
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.services.randomness.adapters.keys import evm_address

TOKENS = {
    "api": "api-token-oracle-evm-012",
    "worker": "worker-token-oracle-evm0",
    "cli": "cli-token-oracle-evm-012",
}
CHOSEN = b"NSL-ORACLE-EVM-V1 bytes the host chose"


@pytest.fixture
def enclave() -> Iterator[PeerEnclave]:
    extra = {
        "NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS),
        "NSL_ENCLAVE_TOKEN": "",
        # tests only: the loopback server over plain http is an allowed oracle host
        "NSL_ORACLE_ALLOW_HOSTS": "127.0.0.1",
        "NSL_ORACLE_ALLOW_HTTP": "true",
    }
    with running_enclave("nsl-oe-", token="", extra=extra) as process:
        yield process


@pytest.fixture
async def clients(enclave: PeerEnclave) -> AsyncIterator[dict[str, EnclaveClient]]:
    made = {name: EnclaveClient(enclave.socket_path, token, timeout=5) for name, token in TOKENS.items()}
    yield made
    for client in made.values():
        await client.close()


async def test_only_the_worker_gets_an_evm_oracle_answer(clients: dict[str, EnclaveClient]) -> None:
    api, worker, cli = clients["api"], clients["worker"], clients["cli"]
    sealed = await worker.create_key(
        KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.ORACLE_EVM])
    )
    key = sealed.info.key_id
    async with LoopbackServer({"/p": raw_route(b'{"price": 12.5}', "application/json")}) as server:
        facts = EvmOracleFacts(31337, bytes(20), 1, bytes(range(20)), server.url("/p"), "$.price")
        spec = FetchSpec(url=facts.url, filter=facts.filter)
        answer = await worker.oracle_evm_fetch(facts, spec, tenant=PLATFORM_KEY_OWNER, key_id=key)
        assert (answer.code, answer.result, answer.facts) == (ResultCode.SUCCESS, b"12.5", facts)
        digest = keccak(answer.preimage(lambda data: bytes(keccak(data))))
        assert Account._recover_hash(digest, signature=answer.signature) == evm_address(
            sealed.info.public_key
        )
        for client in (api, cli):  # only the worker asks for EVM oracle answers, even for refusals
            with pytest.raises(OperationNotAllowed):
                await client.oracle_evm_fetch(facts, spec, tenant=PLATFORM_KEY_OWNER, key_id=key)
            with pytest.raises(OperationNotAllowed):
                await client.oracle_evm_refuse(facts, ResultCode.NOT_FOUND, key_id=key)
        assert len(server.seen) == 1  # the refused calls fetched nothing
    for fmt, message in ((SignatureFormat.EVM_DIGEST, bytes(32)), (SignatureFormat.EVM_RECOVERABLE, CHOSEN)):
        with pytest.raises(PolicyDenied):  # a digest or message the host chose: never, even for the cli
            await cli.sign(key, message, tenant=PLATFORM_KEY_OWNER, purpose=Purpose.ORACLE_EVM, fmt=fmt)
        with pytest.raises(OperationNotAllowed):
            await api.sign(key, message, tenant=PLATFORM_KEY_OWNER, purpose=Purpose.ORACLE_EVM, fmt=fmt)
        with pytest.raises(OperationNotAllowed):  # the worker has no raw signing at all
            await worker.sign(key, message, tenant=PLATFORM_KEY_OWNER, purpose=Purpose.ORACLE_EVM, fmt=fmt)
    with pytest.raises(OperationNotAllowed):  # no tenant key takes the purpose
        await api.create_key(KeyKind.SECP256K1, KeyPolicy.of("acme", [Purpose.ORACLE_EVM]))
    offer = await cli.migration_offer()  # a real offer: the refusal is the client's, not the offer's
    for name in ("api", "worker"):
        with pytest.raises(OperationNotAllowed):
            await clients[name].migration_export(offer, [(key, sealed.info.version, sealed.sealed_record)])
