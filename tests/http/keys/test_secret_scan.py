"""No secret ends up where it must not: database file (and WAL), logs, API responses.

A realistic flow (keys of two kinds created and used, single and batch signatures, rotation, secrets put
and rotated, an import from a moto AWS Secrets Manager with static credentials remembered for re-sync),
then a scan of:

(a) the bytes of the SQLite database file, its ``-wal`` and ``-shm`` files, read while the app is still
    running and again after it closed (checkpointed);
(b) every log line captured during the flow: ``caplog`` (the stdlib logging that structlog feeds), the
    process's stdout/stderr (``capfd``), and the enclave subprocess's own log file;
(c) every API response body.

Looked for, each as raw bytes, lowercase hex and standard base64: every secret value the test stored or
imported, the AWS secret access key given in the import request, the enclave RPC token, the enclave's
sealing secret (``<data_dir>/enclave/sealing.secret``) and its simulated platform private key
(``<data_dir>/enclave/platform.key``). Enclave private keys cannot be known to the test; they are sealed
under the sealing secret, so the scan covers what would expose them (the sealing secret) rather than the
keys themselves.
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

import boto3
import httpx
import pytest

from tests.http.keys.conftest import Api
from tests.http.keys.test_keys_api import create
from tests.integration.secrets_sources.conftest import aws_endpoint, moto_endpoint  # noqa: F401

REGION = "eu-central-1"
AWS_KEY_ID = "AKIAEXAMPLETESTKEY02"
AWS_SECRET = "scanme/AWS+secret+access+key+0123456789"
STORED = ["stored-value-number-one-7f3a", "stored-rotated-value-2b9c"]
IMPORTED = ["imported-from-aws-value-91d0", "imported-after-resync-5e11"]


def needles(secret: bytes) -> list[bytes]:
    return [secret, secret.hex().encode(), base64.b64encode(secret)]


def files(database: Path) -> bytes:
    found = b""
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{database}{suffix}")
        if path.exists():
            found += path.read_bytes()
    return found


async def test_no_secret_in_database_logs_or_responses(
    api: Api,
    aws_endpoint: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)  # whatever level an earlier test left the root logger at
    responses: list[bytes] = []

    async def keep(response: httpx.Response) -> None:
        responses.append(await response.aread())

    api.client.event_hooks["response"].append(keep)
    admin = boto3.client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=aws_endpoint,
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key=AWS_SECRET,
    )
    admin.create_secret(Name="acme/imported", SecretString=IMPORTED[0])

    acme = await api.tenant("acme")
    r1 = await create(acme)
    k1 = await create(acme, "secp256k1")
    for key in (r1, k1):
        path = f"/api/v1/keys/{key['key_id']}"
        assert (
            await acme.call("POST", f"{path}/sign", json={"message": os.urandom(32).hex()})
        ).status_code == 200
        batch = {"messages": [os.urandom(16).hex() for _ in range(10)]}
        assert (await acme.call("POST", f"{path}/sign-batch", json=batch)).status_code == 200
        assert (await acme.call("POST", f"{path}/rotate")).status_code == 200
    put = {"value": STORED[0], "consumers": ["oracle"]}
    assert (await acme.call("PUT", "/api/v1/secrets/stored", json=put)).status_code == 201
    assert (
        await acme.call("POST", "/api/v1/secrets/stored/rotate", json={"value": STORED[1]})
    ).status_code == 200
    source = {
        "provider": "aws",
        "region": REGION,
        "endpoint_url": aws_endpoint,
        "credentials": {"access_key_id": AWS_KEY_ID, "secret_access_key": AWS_SECRET},
        "name_prefix": "acme/",
    }
    body = {"source": source, "names": ["imported"], "remember_as": "aws", "consumers": ["compute"]}
    imported = await acme.call("POST", "/api/v1/secrets/import", json=body)
    assert imported.json()["results"][0]["imported"], imported.text
    admin.put_secret_value(SecretId="acme/imported", SecretString=IMPORTED[1])
    resync = await acme.call(
        "POST", "/api/v1/secrets/import", json={"remembered": "aws", "names": ["imported"]}
    )
    assert resync.json()["results"][0]["version"] == 2
    assert (await acme.call("GET", "/api/v1/secrets")).status_code == 200
    assert (await acme.call("GET", "/api/v1/keys")).status_code == 200
    bad = await acme.call("PUT", "/api/v1/secrets/bad", json={"value": STORED[0] + "!", "encoding": "base64"})
    assert bad.status_code == 422

    enclave_dir = api.settings.data_dir / "enclave"
    secrets = [s.encode() for s in [*STORED, *IMPORTED, AWS_SECRET, api.enclave.token]]
    secrets += [(enclave_dir / "sealing.secret").read_bytes(), (enclave_dir / "platform.key").read_bytes()]
    database = Path(api.settings.effective_database_url.removeprefix("sqlite+aiosqlite:///"))
    while_running = files(database)
    assert len(while_running) > 10_000  # the scan reads the real files

    await api.container.engine.dispose()  # last connection closed: the WAL is checkpointed into the file
    captured = capfd.readouterr()
    haystacks = {
        "database (running)": while_running,
        "database (closed)": files(database),
        "logs": (caplog.text + captured.out + captured.err).encode(),
        "enclave log": api.enclave.log_path.read_bytes(),
        "responses": b"\n".join(responses),
    }
    assert len(responses) >= 15
    assert b"/api/v1/secrets/import" in haystacks["logs"]  # the logs were captured
    for where, haystack in haystacks.items():
        for index, secret in enumerate(secrets):
            for needle in needles(secret):
                assert needle not in haystack, f"secret #{index} found in {where}"
