"""The ``v1a`` signature in deliveries: added beside the ``v1`` ones over the exact body, for the
subscription named in the body; when the enclave cannot sign, nothing is sent and the attempt is
retried (a receiver that relies on ``v1a`` never gets a message without it)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from neo_service_layer.kernel.enclave_client.ports import EnclaveUnavailable
from tests.http.subscriptions.conftest import Api, Receiver


@dataclass
class RecordingSigner:
    """Signs ``v1a,<subscription>:<id>.<timestamp>.<body length>`` (what it was asked, readable) while
    ``up``; raises ``EnclaveUnavailable`` otherwise."""

    up: bool = False
    asked: list[tuple[str, str, int, bytes]] = field(default_factory=list)

    async def sign(self, subscription: str, msg_id: str, timestamp: int, body: bytes) -> str:
        if not self.up:
            raise EnclaveUnavailable("enclave socket refused")
        self.asked.append((subscription, msg_id, timestamp, body))
        return f"v1a,{subscription}:{msg_id}.{timestamp}.{len(body)}"


async def test_v1a_is_added_and_an_unsigned_webhook_is_never_sent(api: Api, receiver: Receiver) -> None:
    acme = await api.tenant("acme")
    sub_id, secret = await acme.subscribe(["audit.*"], f"{receiver.base}/a/ok")
    assert secret
    receiver.secrets = {"/a/ok": secret}
    [event_id] = await acme.publish("audit.security")
    signer = RecordingSigner()
    sender = api.sender("w1", signer=signer)
    relay, _ = api.worker()
    await api.round(relay, sender)
    assert receiver.hits == []  # the enclave was down: nothing went out without v1a
    [pending] = (await acme.call("GET", f"/{sub_id}/deliveries")).json()["deliveries"]
    assert pending["status"] == "pending"
    assert "enclave" in pending["lastError"]
    signer.up = True
    api.clock.advance(seconds=6)
    await api.round(relay, sender)
    assert receiver.ids("/a/ok") == [event_id]  # the v1 signature still verifies beside v1a
    [(subscription, msg_id, timestamp, body)] = signer.asked
    assert (subscription, msg_id) == (sub_id, event_id)
    assert json.loads(body)["subscription"] == sub_id
    assert json.loads(body)["id"] == int(event_id)
    assert timestamp > 0
