"""README's command table, run as a user runs it (``nsl`` in a subprocess, its own ``NSL_DATA_DIR``):
``config show``, ``migrate``, ``keys rotate-due`` and ``attest verify`` (the last two against a real
``nsl enclave``). The local chain's commands are in ``test_readme_chain_commands.py``."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from neo_service_layer.bootstrap import open_container
from neo_service_layer.enclave.platforms import simulation_measurement
from neo_service_layer.enclave.wire.keys import KeyKind, Purpose
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import head_revision
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, SUPERADMIN
from neo_service_layer.services.attestation.use_cases import AttestationService
from neo_service_layer.services.keys.adapters.tables import managed_key_versions, managed_keys
from neo_service_layer.services.keys.parts import KeysParts
from tests.e2e.readme_support import Enclave, nsl, nsl_in_process, running_enclave, user_env

# ---------------------------------------------------------------------------------------- config show

SECRETS = {
    "NSL_DATABASE_URL": "postgresql://nsl:db-pass-7f3a9e@db.internal:5432/nsl",
    "NSL_REDIS_URL": "redis://:redis-pass-91c2d0@cache.internal:6379/0",
    "NSL_JWT_KEK": os.urandom(32).hex(),
    "NSL_ENCLAVE_TOKEN": "enclave-token-5be0c1d2e3f4",
    "NSL_BACKUP_KEY": base64.b64encode(os.urandom(32)).decode(),
}
#: what must never be printed: the whole values, and the passwords inside the URLs
NEVER_SHOWN = [*SECRETS.values(), "db-pass-7f3a9e", "redis-pass-91c2d0"]


def test_config_show_masks_every_secret_and_says_what_production_would_refuse(tmp_path: Path) -> None:
    shown = nsl("config", "show", env=user_env(tmp_path, **SECRETS))
    assert shown.returncode == 0, shown.stderr
    for value in NEVER_SHOWN:
        assert value not in shown.stdout + shown.stderr
    config = json.loads(shown.stdout)
    assert config["jwt_kek"] == config["enclave_token"] == config["redis_url"] == "********"
    assert config["backup"]["key"] == "********"
    assert config["database_url"] == config["effective_database_url"]
    assert config["database_url"] == "postgresql://nsl:********@db.internal:5432/nsl"
    assert config["data_dir"] == str(tmp_path)
    assert config["env"] == "development"
    # outside production it still says what production would refuse here (and nothing it would accept)
    assert "production would refuse:" in shown.stderr
    assert "NSL_TEE_PLATFORM=simulation in production needs NSL_TEE_ALLOW_SIMULATION=true" in shown.stderr
    assert "no TLS" in shown.stderr
    assert "SQLite" not in shown.stderr
    assert "NSL_JWT_KEK" not in shown.stderr


def test_config_show_in_production_lists_each_problem_and_bad_values_exit_2(tmp_path: Path) -> None:
    production = nsl_in_process("config", "show", env=user_env(tmp_path, NSL_ENV="production"))
    assert production.returncode == 0, production.stderr
    assert json.loads(production.stdout)["jwt_kek"] is None  # unset secrets stay visibly unset
    assert "not accepted in production:" in production.stderr
    for problem in ("SQLite", "NSL_TEE_ALLOW_SIMULATION", "no TLS", "NSL_ENCLAVE_TOKEN", "NSL_JWT_KEK"):
        assert problem in production.stderr
    accepted = nsl_in_process(
        "config",
        "show",
        env=user_env(
            tmp_path,
            **SECRETS,
            NSL_ENV="production",
            NSL_TEE_ALLOW_SIMULATION="true",
            NSL_TRUSTED_PROXIES='["10.0.0.1"]',
        ),
    )
    assert accepted.returncode == 0, accepted.stderr
    assert "production" not in accepted.stderr
    for bad in ({"NSL_HTTP_PORT": "eighty"}, {"NSL_BACKUP_TARGET": "tape"}):
        refused = nsl_in_process("config", "show", env=user_env(tmp_path, **bad))
        assert refused.returncode == 2
        assert "configuration error" in refused.stderr
        assert "Traceback" not in refused.stderr


# -------------------------------------------------------------------------------------------- migrate


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"
    return str(request.getfixturevalue("postgres_url"))


async def _schema(url: str) -> tuple[list[str], dict[str, list[str]]]:
    """The ``alembic_version`` rows and every table with its columns."""
    engine = create_engine(Settings(database_url=SecretStr(url)))
    try:
        async with engine.connect() as conn:
            versions = list(
                (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars()
            )

            def tables(sync: sa.Connection) -> dict[str, list[str]]:
                inspector = sa.inspect(sync)
                return {t: [c["name"] for c in inspector.get_columns(t)] for t in inspector.get_table_names()}

            return versions, await conn.run_sync(tables)
    finally:
        await engine.dispose()


def test_migrate_brings_a_new_database_to_head_and_is_idempotent(new_database: str, tmp_path: Path) -> None:
    env = user_env(tmp_path / "data", NSL_DATABASE_URL=new_database)
    first = nsl("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert f"database at revision {head_revision()}" in first.stderr
    versions, tables = asyncio.run(_schema(new_database))
    assert versions == [head_revision()]
    assert {"tenants", "audit_events", "managed_keys", "chain_requests", "randomness_requests"} <= set(tables)
    again = nsl_in_process("migrate", env=env)
    assert again.returncode == 0, again.stderr
    assert f"database at revision {head_revision()}" in again.stderr
    assert asyncio.run(_schema(new_database)) == (versions, tables)


# ------------------------------------------------------------------------- enclave: keys and attestation


@pytest.fixture(scope="module")
def enclave() -> Iterator[Enclave]:
    with running_enclave("api", "cli") as running:
        yield running


class SettableClock:
    """The host's clock, set by the test: keys are created as if days ago, through the real code."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at


def _settings(enclave: Enclave, data_dir: Path, client: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        enclave_socket=enclave.socket,
        enclave_token=SecretStr(enclave.tokens[client]),
    )


async def _keys_created_days_ago(settings: Settings, ages: Sequence[int]) -> tuple[Principal, list[str]]:
    """A tenant and its owner, then one secp256r1 key per age (in days), created through the keys service."""
    clock = SettableClock()
    async with open_container(settings, "api", migrate=True, clock=clock) as container:
        scopes = container.iam.scope_catalogue
        admin = Principal(
            PLATFORM_TENANT, "usr_readme", PrincipalKind.USER, frozenset({SUPERADMIN}), scopes.all_scopes
        )
        tenant = await container.iam.identity.create_tenant(admin, "readme")
        owner = Principal(
            tenant.id, "usr_readme", PrincipalKind.USER, frozenset({"owner"}), scopes.tenant_scopes
        )
        keys = container.parts_of("keys", KeysParts).keys
        created = []
        for age in ages:
            clock.at = datetime.now(UTC) - timedelta(days=age)
            view = await keys.create(
                owner, kind=KeyKind.SECP256R1, label=f"{age} days", purposes=frozenset({Purpose.MESSAGE})
            )
            created.append(view.key.key_id)
    return owner, created


async def _versions(settings: Settings) -> dict[str, tuple[int, list[bytes]]]:
    """Each key's current version and the public key of every version, oldest first."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            current = dict(
                (await conn.execute(sa.select(managed_keys.c.key_id, managed_keys.c.current_version))).all()
            )
            rows = await conn.execute(
                sa.select(managed_key_versions.c.key_id, managed_key_versions.c.public_key).order_by(
                    managed_key_versions.c.key_id, managed_key_versions.c.version
                )
            )
            publics: dict[str, list[bytes]] = {}
            for key_id, public in rows:
                publics.setdefault(key_id, []).append(bytes(public))
    finally:
        await engine.dispose()
    return {k: (v, publics[k]) for k, v in current.items()}


def test_keys_rotate_due_rotates_exactly_the_keys_older_than_the_maximum_age(
    enclave: Enclave, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    setup = _settings(enclave, data_dir, "api")
    _, (old, older, young) = asyncio.run(_keys_created_days_ago(setup, [31, 400, 29]))
    env = user_env(
        data_dir,
        NSL_ENCLAVE_SOCKET=str(enclave.socket),
        NSL_ENCLAVE_TOKEN=enclave.tokens["cli"],
        NSL_KEY_MAX_AGE_DAYS="30",
    )
    before = asyncio.run(_versions(setup))

    listed = nsl_in_process("keys", "rotate-due", "--dry-run", env=env)
    assert listed.returncode == 0, listed.stderr
    assert {k["key_id"] for k in json.loads(listed.stdout)["due"]} == {old, older}
    assert "2 key(s) due for rotation" in listed.stderr
    as_json = nsl_in_process("keys", "rotate-due", "--dry-run", "--json", env=env)  # the document alone
    assert (as_json.returncode, json.loads(as_json.stdout)) == (0, json.loads(listed.stdout))
    assert "due for rotation" not in as_json.stderr
    assert asyncio.run(_versions(setup)) == before  # a dry run changes nothing

    rotated = nsl("keys", "rotate-due", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert sorted((k["key_id"], k["version"]) for k in json.loads(rotated.stdout)["rotated"]) == sorted(
        [(old, 2), (older, 2)]
    )
    after = asyncio.run(_versions(setup))
    for key_id in (old, older):
        version, publics = after[key_id]
        assert (version, len(publics), publics[0]) == (2, 2, before[key_id][1][0])
        assert publics[1] != publics[0]  # a new key pair in the enclave, not a relabelled version
    assert after[young] == before[young]

    again = nsl_in_process("keys", "rotate-due", env=env)  # rotated keys are new again: nothing is due
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"rotated": []}


async def _genuine_report(enclave: Enclave, data_dir: Path, nonce: bytes) -> tuple[dict[str, Any], str]:
    """A report from the running enclave, as ``GET /api/v1/attestation`` returns it, and the bound key."""
    settings = _settings(enclave, data_dir, "api")
    owner, [key_id] = await _keys_created_days_ago(settings, [0])
    async with open_container(settings, "api", clock=SettableClock()) as container:
        report = dict(await container.parts_of("attestation", AttestationService).report(owner, nonce))
    [bound] = report["keys"]
    assert bound["key_id"] == key_id
    return report, str(bound["public_key"])


async def test_attest_verify_accepts_a_genuine_report_and_refuses_a_wrong_nonce_or_a_tampered_one(
    enclave: Enclave, tmp_path: Path
) -> None:
    nonce = os.urandom(16)
    report, public_key = await _genuine_report(enclave, tmp_path / "data", nonce)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    env = user_env(enclave.data_dir)  # the machine of the enclave: its simulated platform key is trusted
    trust = ["--accept-simulation", "--measurement", simulation_measurement()]
    args = ["attest", "verify", str(path), "--nonce", nonce.hex()]

    genuine = nsl(*args, *trust, "--expect-key", public_key, env=env)
    assert genuine.returncode == 0, genuine.stderr
    verdict = json.loads(genuine.stdout)
    assert (verdict["ok"], verdict["problems"], verdict["mode"]) == (True, [], "simulation")
    as_json = nsl_in_process(*args, *trust, "--expect-key", public_key, "--json", env=env)
    assert (as_json.returncode, json.loads(as_json.stdout)) == (0, verdict)

    def problems(*args: str) -> list[str]:
        """Run ``nsl ARGS``; it must exit 1 with a verdict that is not ok, whose problems are returned."""
        done = nsl_in_process(*args, env=env)
        assert done.returncode == 1, done.stderr
        verdict = json.loads(done.stdout)
        assert verdict["ok"] is False
        return list(verdict["problems"])

    other_nonce = ["attest", "verify", str(path), "--nonce", os.urandom(16).hex()]
    assert problems(*other_nonce, *trust) == [
        "nonce does not match",
        "report data does not bind these keys and this nonce",
    ]
    tampered = tmp_path / "tampered.json"
    swapped = {**report["keys"][0], "public_key": "02" + "11" * 32}
    tampered.write_text(json.dumps({**report, "keys": [swapped]}))
    assert problems("attest", "verify", str(tampered), "--nonce", nonce.hex(), *trust) == [
        "report data does not bind these keys and this nonce"
    ]
    absent = "03" + "22" * 32
    assert problems(*args, *trust, "--expect-key", absent) == [
        f"public key {absent} is not bound in the report"
    ]
    # no trust given: a simulation report alone is never enough
    assert "simulation reports are not accepted" in problems(*args)

    (tmp_path / "not-json.json").write_text("{ not json")
    unusable = {
        "take hex": [
            ["attest", "verify", str(path), "--nonce", "zz-not-hex"],
            [*args, "--expect-key", "xyz"],
        ],
        "cannot read the report": [
            ["attest", "verify", str(tmp_path / "missing.json"), "--nonce", nonce.hex()],
            ["attest", "verify", str(tmp_path / "not-json.json"), "--nonce", nonce.hex()],
        ],
    }
    for message, commands in unusable.items():
        for bad in commands:
            done = nsl_in_process(*bad, env=env)
            assert (done.returncode, done.stdout) == (2, "")
            assert message in done.stderr
