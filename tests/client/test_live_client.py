"""The client against a live ``nsl serve`` (SQLite, a real enclave): sign-in with TOTP and refresh,
API-key auth, the things each service makes, pages, problems, and the async client."""

from __future__ import annotations

import time

import pyotp
import pytest

from nsl_client import AsyncClient, Client, Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from nsl_client.ops import list_functions, list_jobs, list_subscriptions
from tests.client.live import PASSWORD, Live
from tests.unit.enclave.wat_functions import ECHO_FOUR


def test_a_superadmin_enrols_totp_and_signs_in_with_a_code(live: Live) -> None:
    with Client(live.base_url) as client:
        first = client.sign_in(live.fresh_admin, PASSWORD)
        assert first.mfa_enrollment_required
        with pytest.raises(Forbidden):
            client.list_tenants()  # the enrolment-only token allows nothing else
        totp = pyotp.parse_uri(client.enroll_totp().otpauth_uri)
        assert isinstance(totp, pyotp.TOTP)
        backup_codes = client.verify_totp(totp.now()).backup_codes
        assert len(backup_codes) == 10
        with pytest.raises(Unauthorized) as missing:
            client.sign_in(live.fresh_admin, PASSWORD)
        assert missing.value.code == "mfa-required"
        tokens = client.sign_in(live.fresh_admin, PASSWORD, totp_code=totp.at(time.time() + 30))
        assert not tokens.mfa_enrollment_required
        assert "superadmin" in client.me().roles
        assert any(t.id == live.tenant_id for t in client.list_tenants())
        with pytest.raises(Unauthorized) as replayed:  # a step is never accepted twice
            client.sign_in(live.fresh_admin, PASSWORD, totp_code=totp.at(time.time() + 30))
        assert replayed.value.code == "invalid-mfa-code"
        client.sign_in(live.fresh_admin, PASSWORD, backup_code=backup_codes[0])
        client.logout()
        assert client.credentials.access_token is None


def test_an_expired_access_token_is_rotated_and_the_old_refresh_token_is_dead(live: Live) -> None:
    now = [time.monotonic()]
    with Client(live.base_url, clock=lambda: now[0]) as client:
        tokens = client.sign_in(live.developer, PASSWORD, tenant=live.tenant_id)
        assert tokens.refresh_token is not None
        assert client.me().kind == "user"
        now[0] += tokens.expires_in  # the client's clock says the access token has expired
        assert client.me().tenant == live.tenant_id
        assert client.credentials.refresh_token not in (None, tokens.refresh_token)
        assert client.credentials.access_token != tokens.access_token
        with Client(live.base_url) as thief, pytest.raises(Unauthorized) as reused:
            thief.refresh_tokens(tokens.refresh_token)
        assert reused.value.code == "refresh-token-reuse"
        with pytest.raises(Unauthorized):  # reuse ended the whole session, the new token with it
            client.refresh()


def test_api_key_auth_members_and_api_keys(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        who = client.me()
        assert (who.kind, who.tenant) == ("api_key", live.tenant_id)
        assert client.get_tenant(live.tenant_id).name == "client-tests"
        assert {"owner", "dev"} <= {m.username for m in client.list_members(live.tenant_id)}
        created = client.create_api_key(live.tenant_id, "reader", ["keys:read"])
        assert created.key.startswith("nsl_")
        assert created.id in {k.id for k in client.list_api_keys(live.tenant_id)}
        assert client.get_api_key(live.tenant_id, created.id).scopes == ["keys:read"]
        with Client(live.base_url, api_key=created.key) as reader:
            assert isinstance(reader.list_keys(), list)
            with pytest.raises(Forbidden) as denied:
                reader.create_key("secp256r1", "nope", ["message"])
            assert denied.value.correlation_id
        assert client.revoke_api_key(live.tenant_id, created.id).revoked_at is not None
        with Client(live.base_url, api_key=created.key) as revoked, pytest.raises(Unauthorized):
            revoked.list_keys()
    with Client(live.base_url, api_key="nsl_000000000000_not-a-key") as stranger, pytest.raises(Unauthorized):
        stranger.me()


def test_keys_sign_verify_rotate_and_secrets_versions(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        key = client.create_key("secp256r1", "signer", ["message"])
        assert client.get_key(key.key_id).public_key == key.public_key
        assert key.key_id in {k.key_id for k in client.list_keys()}
        signed = client.sign(key.key_id, b"hello")
        assert client.verify_signature(key.key_id, b"hello", signed.signature).valid
        assert not client.verify_signature(key.key_id, b"hellO", signed.signature).valid
        rotated = client.rotate_key(key.key_id)
        assert rotated.current_version == 2
        assert len(rotated.versions) == 2

        client.put_secret("api-token", "s3cret-value", consumers=["oracle"])
        rotated_secret = client.rotate_secret("api-token", b"\x00\x01binary")
        assert rotated_secret.current_version == 2
        assert [v.version for v in client.secret_versions("api-token")] in ([1, 2], [2, 1])
        assert "api-token" in {s.name for s in client.list_secrets()}
        assert "s3cret-value" not in client.get_secret("api-token").model_dump_json()
        client.delete_secret("api-token")
        with pytest.raises(NotFound):
            client.get_secret("api-token")


def test_a_404_carries_the_problem_document(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        with pytest.raises(NotFound) as missing:
            client.get_function("fn_" + "0" * 24)
        with pytest.raises(ValidationFailed) as invalid:
            client.get_function("not-an-id")
    problem = missing.value
    assert problem.status == 404
    assert problem.type.startswith("https://")
    assert problem.title == "Not Found"
    assert problem.detail
    assert problem.instance == "/api/v1/compute/functions/fn_" + "0" * 24
    assert problem.correlation_id == problem.headers["x-request-id"]
    assert invalid.value.status == 422
    assert "errors" in invalid.value.extra


def test_pages_are_followed_to_the_end(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        made = {client.create_function(f"page-{i}", "wasm", module=ECHO_FOUR).function_id for i in range(5)}
        first = client.list_functions(limit=2)
        assert len(first.functions) == 2
        assert first.next is not None
        every = [f.function_id for f in client.iterate(list_functions, limit=2)]
        assert made <= set(every)
        assert len(every) == len(set(every))
        assert every == sorted(every)


def test_automation_jobs_and_subscriptions(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        created = client.create_job(
            "ping", {"everySeconds": 3600}, {"webhook": {"url": "http://127.0.0.1:9/job"}}
        )
        job = created.job
        assert created.webhook_secret
        assert client.pause_job(job.job_id).state == "paused"
        assert client.resume_job(job.job_id).state == "active"
        assert job.job_id in {j.job_id for j in client.iterate(list_jobs, limit=1)}
        client.delete_job(job.job_id)

        made = client.create_subscription(
            "all automation",
            {"types": ["automation.*"]},
            {"webhook": {"url": "http://127.0.0.1:9/sub"}},
        )
        sub = made.subscription
        assert made.webhook_secret
        assert client.get_subscription(sub.subscription_id).name == "all automation"
        assert sub.subscription_id in {s.subscription_id for s in client.iterate(list_subscriptions)}
        assert client.pause_subscription(sub.subscription_id).state == "paused"
        assert client.resume_subscription(sub.subscription_id).state == "active"
        assert client.rotate_webhook_secret(sub.subscription_id).webhook_secret != made.webhook_secret
        assert client.list_deliveries(sub.subscription_id, status="dead").deliveries == []
        with pytest.raises(NotFound):
            client.replay_delivery(sub.subscription_id, 999_999)
        with pytest.raises(NotFound):  # the worker makes the webhook signing key; none runs here
            client.webhook_signing_key()
        client.delete_subscription(sub.subscription_id)


def test_system_info_health_and_templates(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        assert client.system_info().schema_current
        assert client.health()["components"]["enclave"]["status"] == "up"
        template = client.create_oracle_template("https://api.example.com/price", description="price")
        assert template.template_url.startswith("nsl://template/")
        assert client.get_oracle_template(template.id).url == "https://api.example.com/price"
        assert template.id in {t.id for t in client.list_oracle_templates()}


async def test_the_async_client_signs_in_refreshes_and_pages(live: Live) -> None:
    now = [time.monotonic()]
    async with AsyncClient(live.base_url, clock=lambda: now[0]) as client:
        tokens = await client.sign_in(live.developer, PASSWORD, tenant=live.tenant_id)
        now[0] += tokens.expires_in
        assert (await client.me()).tenant == live.tenant_id
        assert client.credentials.refresh_token != tokens.refresh_token
        await client.logout()
    async with AsyncClient(live.base_url, api_key=live.api_key) as client:
        made = [
            (await client.create_function(f"async-{i}", "wasm", module=ECHO_FOUR)).function_id
            for i in range(3)
        ]
        seen = [f.function_id async for f in client.iterate(list_functions, limit=2)]
        assert set(made) <= set(seen)
        with pytest.raises(NotFound):
            await client.get_key("key_missing")
        answer = await client.randomness(2)
        assert len(answer.words) == 2


def test_a_repeated_create_with_the_same_idempotency_key_gets_the_first_answer(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        first = client.create_key("secp256r1", "once", ["message"], idempotency_key="client-test-key-1")
        again = client.create_key("secp256r1", "once", ["message"], idempotency_key="client-test-key-1")
        other = client.create_key("secp256r1", "once", ["message"])
        assert again.key_id == first.key_id
        assert other.key_id != first.key_id
        shown = client.create_api_key(
            live.tenant_id, "once", ["keys:read"], idempotency_key="client-test-key-2"
        )
        with pytest.raises(Conflict) as withheld:  # a secret shown once is not replayed
            client.create_api_key(live.tenant_id, "once", ["keys:read"], idempotency_key="client-test-key-2")
    assert withheld.value.code == "idempotency-key-one-time-secret"
    assert withheld.value.extra["resource_id"] == shown.id
