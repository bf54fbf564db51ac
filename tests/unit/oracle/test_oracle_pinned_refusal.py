"""An on-chain template request whose secret the enclave refuses to send (host not pinned) is answered."""

from __future__ import annotations

from typing import Any

from neo_service_layer.enclave.wire.keys import InvalidKeyRequest
from neo_service_layer.enclave.wire.oracle import OracleResponse, ResultCode
from tests.unit.chain.fakes import FakeEnclave
from tests.unit.oracle.test_oracle_service import Secrets, Templates, make_answerer, onchain, template


class RefusingEnclave(FakeEnclave):
    async def oracle_fetch(self, *args: Any, **kwargs: Any) -> OracleResponse:
        raise InvalidKeyRequest("secret api-token may not be sent to this host: not among its pinned hosts")


async def test_a_secret_refused_for_an_unpinned_host_gives_a_signed_forbidden() -> None:
    enclave = RefusingEnclave()
    secrets = Secrets({("tenant-a", "api-token"): ("secret:api-token:v1", b"blob")})
    answer = await make_answerer(enclave, templates=Templates(template()), secrets=secrets).answer(
        onchain(6, template().url, "")
    )
    assert (answer.code, answer.result) == (ResultCode.FORBIDDEN, b"")
    assert "pinned hosts" in answer.detail
