"""``Idempotency-Key`` on key creation with a real enclave: a 5xx is not kept (the retry runs), a
success is replayed with the same key id and no second key is made."""

from __future__ import annotations

from sqlalchemy import text

from tests.http.keys.conftest import Api

BODY = {"kind": "secp256r1", "label": "retried", "purposes": ["message"]}


async def _count(api: Api, key: str) -> int:
    async with api.container.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = :k"), {"k": key}
        )
        return int(found.scalar_one())


async def test_a_5xx_is_not_kept_and_the_retry_runs_then_replays(api: Api) -> None:
    acme = await api.tenant("acme")
    headers = {**(await acme.headers("keys:admin", "keys:read")), "Idempotency-Key": "create-once"}
    api.enclave.kill()
    down = await api.client.post("/api/v1/keys", headers=headers, json=BODY)
    assert down.status_code == 503, down.text
    assert "idempotent-replayed" not in down.headers
    assert await _count(api, "create-once") == 0  # released, not kept
    api.enclave.start()
    created = await api.client.post("/api/v1/keys", headers=headers, json=BODY)
    assert created.status_code == 201, created.text
    assert "idempotent-replayed" not in created.headers
    again = await api.client.post("/api/v1/keys", headers=headers, json=BODY)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["key_id"] == created.json()["key_id"]
    listed = (await api.client.get("/api/v1/keys", headers=headers)).json()
    assert [k["key_id"] for k in listed] == [created.json()["key_id"]]
    rotated = await api.client.post(f"/api/v1/keys/{created.json()['key_id']}/rotate", headers=headers)
    assert rotated.json()["current_version"] == 2
    rotated_again = await api.client.post(f"/api/v1/keys/{created.json()['key_id']}/rotate", headers=headers)
    assert rotated_again.headers["idempotent-replayed"] == "true"
    assert rotated_again.json()["current_version"] == 2
    current = await api.client.get(f"/api/v1/keys/{created.json()['key_id']}", headers=headers)
    assert current.json()["current_version"] == 2
