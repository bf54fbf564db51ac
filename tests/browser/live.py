"""A live installation for the browser tests: ``nsl enclave`` and ``nsl serve`` on loopback (SQLite),
a superadmin created by the CLI and enrolled in TOTP through the API, a tenant, and owners on demand.

Every account is made the way a user makes it (CLI, then HTTP), so a browser test signs in exactly as a
person would. A TOTP code is accepted once per 30 s step and one step either way: enrolment uses the
current step, and each browser sign-in of an account uses the next one (:meth:`Account.next_code`).
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp

from tests.e2e.readme_support import NSL, Enclave, running_enclave, user_env
from tests.http.serverproc import running_server

STEP_SECONDS = 30
#: what the seed API key may do: put keys and secrets in the tenant for the pages to show
SEED_SCOPES = ["keys:admin", "keys:read", "secrets:read", "secrets:write"]
#: the value of the seeded secret: it must never reach a page
SECRET_VALUE = "sv-" + secrets.token_hex(16)


@dataclass
class Account:
    """A user with a password and an enrolled TOTP secret."""

    username: str
    password: str
    totp_secret: str = field(repr=False)

    def code(self, steps_ahead: int = 0) -> str:
        return pyotp.TOTP(self.totp_secret).at(time.time() + steps_ahead * STEP_SECONDS)

    def next_code(self) -> str:
        """The next step's code: accepted now (one step of drift) and never used by enrolment."""
        return self.code(1)


@dataclass
class LiveConsole:
    """The running installation: its URL, the superadmin's token, and the tenant the tests use."""

    base_url: str
    http: httpx.Client
    admin_token: str = ""
    tenant_id: str = ""
    tenant_name: str = "acme"
    seed_key: str = field(default="", repr=False)
    key_label: str = "signer-one"
    secret_name: str = "payments/api-token"
    _counter: int = 0
    #: the enclave of this installation, for the CLI (``new_superadmin``)
    enclave: Enclave | None = None

    def api(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> httpx.Response:
        """Call ``/api/v1`` + ``path`` with ``token`` (the superadmin's by default)."""
        headers = {"authorization": f"Bearer {token or self.admin_token}"}
        return self.http.request(method, f"/api/v1{path}", json=body, headers=headers)

    def ok(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> Any:
        response = self.api(method, path, body, token=token)
        assert response.is_success, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def new_owner(self, prefix: str = "owner") -> Account:
        """A new owner of the tenant, with TOTP enrolled (owners must use MFA)."""
        self._counter += 1
        account = Account(f"{prefix}{self._counter}", secrets.token_urlsafe(18), "")
        body = {"username": account.username, "role": "owner", "password": account.password}
        self.ok("POST", f"/tenants/{self.tenant_id}/members", body)
        account.totp_secret = self._enrol(account)
        return account

    def new_unenrolled(self, role: str = "owner") -> Account:
        """A new member of the tenant with ``role`` and no TOTP yet (``totp_secret`` empty): an owner must
        enrol before anything else, a viewer may sign in with the password alone."""
        self._counter += 1
        account = Account(f"{role}-new{self._counter}", secrets.token_urlsafe(18), "")
        body = {"username": account.username, "role": role, "password": account.password}
        self.ok("POST", f"/tenants/{self.tenant_id}/members", body)
        return account

    def new_superadmin(self) -> Account:
        """A new superadmin, created by the CLI as an operator would, with TOTP enrolled."""
        self._counter += 1
        account = Account(f"operator{self._counter}", secrets.token_urlsafe(18), "")
        assert self.enclave is not None, "an installation started by live_console()"
        _create_superadmin(self.enclave, account)
        account.totp_secret = self._enrol(account)
        return account

    def _enrol(self, account: Account) -> str:
        """Sign in with the password alone (allowed until enrolled), enrol TOTP, confirm with a code."""
        tokens = self.ok(
            "POST", "/auth/token", {"username": account.username, "password": account.password}, token="-"
        )
        assert tokens["mfa_enrollment_required"] is True
        uri = self.ok("POST", "/auth/mfa/totp/enroll", token=tokens["access_token"])["otpauth_uri"]
        secret = str(parse_qs(urlsplit(uri).query)["secret"][0])
        code = pyotp.TOTP(secret).now()
        self.ok("POST", "/auth/mfa/totp/verify", {"code": code}, token=tokens["access_token"])
        return secret


def _create_superadmin(enclave: Enclave, account: Account) -> None:
    """``nsl admin create-superadmin`` with the password on stdin (the installation's data directory)."""
    env = user_env(
        enclave.data_dir, NSL_ENCLAVE_SOCKET=str(enclave.socket), NSL_ENCLAVE_TOKEN=enclave.tokens["cli"]
    )
    result = subprocess.run(
        [str(NSL), "admin", "create-superadmin", "--username", account.username, "--password-stdin"],
        env=env,
        input=account.password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def _bootstrap(live: LiveConsole, root_password: str) -> None:
    """Enrol the superadmin ``root`` in TOTP, sign it in; the tenant, a seed API key, one enclave key
    and one sealed secret."""
    root = Account("root", root_password, "")
    root.totp_secret = live._enrol(root)
    tokens = live.ok(
        "POST",
        "/auth/token",
        {"username": "root", "password": root_password, "totp_code": root.next_code()},
        token="-",
    )
    live.admin_token = tokens["access_token"]
    live.tenant_id = live.ok("POST", "/tenants", {"name": live.tenant_name})["id"]
    seed = {"name": "seed", "scopes": SEED_SCOPES}
    live.seed_key = live.ok("POST", f"/tenants/{live.tenant_id}/api-keys", seed)["key"]
    key = {"kind": "secp256r1", "label": live.key_label, "purposes": ["message"]}
    live.ok("POST", "/keys", key, token=live.seed_key)
    live.ok("PUT", f"/secrets/{live.secret_name}", {"value": SECRET_VALUE}, token=live.seed_key)


@contextmanager
def live_console() -> Iterator[LiveConsole]:
    """Enclave and API up, bootstrapped; everything stopped and removed on exit."""
    with running_enclave("api", "cli") as enclave:
        data_dir = enclave.data_dir
        env = {
            "NSL_ENCLAVE_SOCKET": str(enclave.socket),
            "NSL_ENCLAVE_TOKEN": enclave.tokens["api"],
            # many sign-ins from one address in a few seconds: the per-IP limits are not under test here
            "NSL_RATE_LIMIT_ENABLED": "false",
        }
        with (
            running_server(data_dir, env) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as http,
        ):
            live = LiveConsole(server.base_url, http, enclave=enclave)
            root_password = secrets.token_urlsafe(18)
            _create_superadmin(enclave, Account("root", root_password, ""))
            _bootstrap(live, root_password)
            yield live
