"""API writes in the chaos run: secrets (sealed by the enclave, stored in the database) and oracle request
templates (the database), each with a unique name and value, made all through the kills.

A write answered 2xx is acknowledged: at the end it must be there with its value, read back through the
API. A write that got no answer (the API killed under it) or a 503 (the database or the enclave down)
may be there or not, but never twice and never with another value. A secret's value never leaves the
API: it is read back the one way it is used, an off-chain oracle fetch (``POST /api/v1/oracle/fetch``)
that puts it in a header to the loopback server, which records what it received.
"""

from __future__ import annotations

import secrets as tokens
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.e2e.chain.oracle_support import WebServer

SCOPES = ["secrets:read", "secrets:write"]
HEADER = "X-Chaos-Secret"


@dataclass
class Write:
    kind: str  # "secret" or "template"
    name: str  # the secret's name, or the template's description
    value: str  # the secret's value, or the template's URL
    acknowledged: bool = False  # answered 2xx
    template_id: str | None = None  # of an acknowledged template


@dataclass
class WriteReport:
    acknowledged: int = 0  # writes answered 2xx
    failed: int = 0  # writes cut off or answered 503
    failed_present: int = 0  # ... found whole at the end all the same (committed before the cut)
    lost: list[str] = field(default_factory=list)  # acknowledged, not there at the end
    corrupt: list[str] = field(default_factory=list)  # there with another value, or not whole
    duplicated: list[str] = field(default_factory=list)  # one write applied more than once

    @property
    def ok(self) -> bool:
        return not (self.lost or self.corrupt or self.duplicated)


class ApiWrites:
    """The next write to make (secrets and templates in turn) and, at the end, the check of them all."""

    def __init__(self, web: WebServer) -> None:
        self.web = web
        self.writes: list[Write] = []
        self.run = tokens.token_hex(3)  # names unique to this run

    def next(self) -> tuple[Write, str, str, dict[str, Any]]:
        """(the write, method, path, body) of a new write."""
        n = len(self.writes)
        name, value = f"chaos-{self.run}-{n}", f"v{n}-{tokens.token_hex(8)}"
        if n % 2 == 0:
            write = Write("secret", name, value)
            body = {"value": value, "consumers": ["oracle"], "allowed_hosts": ["127.0.0.1"]}
            call = (write, "PUT", f"/api/v1/secrets/{name}", body)
        else:
            write = Write("template", name, self.web.url(f"/chaos/{name}"))
            call = (write, "POST", "/api/v1/oracle/templates", {"url": write.value, "description": name})
        self.writes.append(write)
        return call

    def answered(self, write: Write, answer: httpx.Response | None) -> None:
        """Record the outcome: 2xx acknowledged; no answer or any other status failed."""
        if answer is not None and answer.is_success:
            write.acknowledged = True
            if write.kind == "template":
                write.template_id = str(answer.json()["id"])

    async def check(self, client: httpx.AsyncClient, get: Any, post: Any) -> WriteReport:
        """Read every write back (``get`` / ``post``: calls waited out past the rate limit)."""
        report = WriteReport()
        listed = await get(client, "/api/v1/secrets")
        assert listed.status_code == 200, listed.text
        secrets_there = [s["name"] for s in listed.json()]
        listed = await get(client, "/api/v1/oracle/templates")
        assert listed.status_code == 200, listed.text
        templates: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for template in listed.json():
            templates[template["description"]].append(template)
        for write in self.writes:
            label = f"{write.kind} {write.name}"
            if write.kind == "secret":
                found = secrets_there.count(write.name)
                wrong = await self._secret_wrong(client, write, get, post) if found else None
                times = found and await self._versions(client, write, get)
            else:
                mine = templates.get(write.name, [])
                times = found = len(mine)
                wrong = next((f"{t['id']}: {t['url']}" for t in mine if t["url"] != write.value), None)
                if write.acknowledged and found and mine[0]["id"] != write.template_id:
                    wrong = f"acknowledged as {write.template_id}, found {mine[0]['id']}"
            report.acknowledged += write.acknowledged
            report.failed += not write.acknowledged
            report.failed_present += bool(found and not write.acknowledged)
            if write.acknowledged and not found:
                report.lost.append(label)
            if times > 1:
                report.duplicated.append(f"{label} x{times}")
            if wrong is not None:
                report.corrupt.append(f"{label}: {wrong}")
        return report

    async def _versions(self, client: httpx.AsyncClient, write: Write, get: Any) -> int:
        """How many versions the secret has (one write makes one)."""
        versions = await get(client, f"/api/v1/secrets/{write.name}/versions")
        assert versions.status_code == 200, versions.text
        return len(versions.json())

    async def _secret_wrong(self, client: httpx.AsyncClient, write: Write, get: Any, post: Any) -> str | None:
        """What is wrong with a stored secret (``None``: its value, as sealed, is the one written)."""
        meta = await get(client, f"/api/v1/secrets/{write.name}")
        if meta.status_code != 200 or meta.json().get("allowed_hosts") != ["127.0.0.1"]:
            return f"metadata {meta.status_code} {meta.text[:200]}"
        path = f"/echo/{write.name}"
        self.web.set(path, {"ok": True})
        fetched = await post(
            client,
            "/api/v1/oracle/fetch",
            {"url": self.web.url(path), "headers": [[HEADER, "{{secret:" + write.name + "}}"]]},
        )
        if fetched.status_code != 200 or fetched.json().get("code") != 0:
            return f"fetch {fetched.status_code} {fetched.text[:200]}"
        sent = [headers.get(HEADER.lower()) for seen, headers in self.web.seen if seen == path]
        return None if sent[-1:] == [write.value] else f"the oracle sent {sent!r}"
