"""The e-mail channel end to end: subscriptions created over the API, events fanned out by the real
relay and sent by the real Deliverer (SQL store, SQLite and PostgreSQL) through ``aiosmtplib`` to a
real SMTP server (``aiosmtpd``) on 127.0.0.1; the mail verified with the code docs/events.md gives
receivers; a 4xx retried with the same Message-ID, a 550 dead-lettered at once and replayed."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.identity.rules.audit import AuditQuery
from neo_service_layer.services.subscriptions.adapters.mailer import SmtpMailer
from neo_service_layer.services.subscriptions.rules.signing import verify as rules_verify
from tests.http.appclient import app_client
from tests.http.keys.conftest import MovableClock
from tests.http.subscriptions.conftest import Api, Tenant
from tests.http.subscriptions.mailbox import Mailbox, serve

DOC = Path(__file__).resolve().parents[3] / "docs" / "events.md"
SENDER = "events@nsl.example.org"
TO = "ops@acme.example.com"


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    async for box in serve(Mailbox()):
        yield box


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_settings(
    request: pytest.FixtureRequest, subs_settings: Callable[..., Settings], mailbox: Mailbox
) -> Settings:
    """The subscriptions' test settings with the loopback SMTP server (plain: loopback, a test)."""
    smtp = {"smtp_host": "127.0.0.1", "smtp_port": mailbox.port, "smtp_from": SENDER, "smtp_tls": "none"}
    if request.param == "postgres":
        return subs_settings(
            database_url=request.getfixturevalue("postgres_url"), db_app_role="nsl_app", **smtp
        )
    return subs_settings(**smtp)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def documented_verify() -> Callable[..., None]:
    """The ``verify`` receivers are told to copy (the first Python block of docs/events.md)."""
    match = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert match is not None
    namespace: dict[str, Any] = {}
    exec(match.group(1), namespace)
    return namespace["verify"]  # type: ignore[no-any-return]


def body_of(mail: EmailMessage) -> bytes:
    """What the docs tell a receiver to verify: the decoded text/plain part, as bytes."""
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


async def subscribe(tenant: Tenant, types: list[str], to: str = TO) -> tuple[str, str]:
    answer = await tenant.call(
        "POST", "", json={"name": "mail", "source": {"types": types}, "channel": {"email": {"to": to}}}
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["subscription"]["channel"] == {"kind": "email", "url": None, "email": to}
    assert body["webhookSecret"].startswith("whsec_")
    return body["subscription"]["subscriptionId"], body["webhookSecret"]


async def deliveries(tenant: Tenant, sub_id: str, query: str = "") -> list[dict[str, Any]]:
    answer = await tenant.call("GET", f"/{sub_id}/deliveries{query}")
    assert answer.status_code == 200, answer.text
    return answer.json()["deliveries"]  # type: ignore[no-any-return]


async def test_mail_delivered_signed_in_order(api: Api, mailbox: Mailbox) -> None:
    acme = await api.tenant("acme")
    sub_id, secret = await subscribe(acme, ["audit.security", "automation.*"])
    stream = await acme.call(
        "POST", "", json={"name": "s", "source": {"types": ["*"]}, "channel": {"stream": {}}}
    )
    assert stream.status_code == 201
    first, second, _ = await acme.publish("audit.security", "automation.run.failed", "chain.notification")
    relay, sender = api.worker()
    await api.round(relay, sender)
    await api.round(relay, sender)  # one at a time per subscription, in event order
    await api.round(relay, sender)
    assert [m["webhook-id"] for m in mailbox.mails] == [first, second]  # not the unmatched third
    assert mailbox.envelopes == [(SENDER, [TO]), (SENDER, [TO])]
    verify = documented_verify()
    mail = mailbox.mails[0]
    assert mail["From"] == SENDER
    assert mail["To"] == TO
    assert mail["Subject"] == f"[Neo Service Layer] audit.security #{first}"
    assert mail["Message-ID"] == f"<{first}.{sub_id}@nsl.example.org>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Date"] is not None
    assert mail.get_content_type() == "text/plain"
    body = body_of(mail)
    verify(secret, dict(mail.items()), body)  # the receiver's code from the docs
    with pytest.raises(ValueError, match="no valid signature"):
        verify(secret, dict(mail.items()), body.replace(b'"n": 0', b'"n": 1'))
    event = json.loads(body)
    assert event["id"] == int(first)
    assert event["type"] == "audit.security"
    assert event["data"] == {"n": 0}
    assert body == json.dumps(event, indent=2).encode() + b"\n"  # the webhook's JSON, pretty-printed
    assert secret not in mail.as_string()
    listed = await deliveries(acme, sub_id)
    assert [(d["status"], d["lastStatus"], d["attempts"]) for d in listed] == [
        ("delivered", 250, 1),
        ("delivered", 250, 1),
    ]
    # the stream subscription gets no delivery rows, and the e-mail one a signature per secret
    stream_id = stream.json()["subscription"]["subscriptionId"]
    assert await deliveries(acme, stream_id) == []
    rotated = await acme.call("POST", f"/{sub_id}/secret/rotate")
    assert rotated.status_code == 200
    new_secret = rotated.json()["webhookSecret"]
    [third] = await acme.publish("audit.security")
    await api.round(relay, sender)
    last = mailbox.mails[-1]
    assert last["webhook-id"] == third
    for key in (new_secret, secret):  # both verify while the rotation overlaps
        rules_verify(key, dict(last.items()), body_of(last), now=int(api.clock.now().timestamp()))
    audit = await api.container.iam.audit_log.page(AuditQuery(tenant_id=acme.id, limit=50))
    created = next(e for e in audit.entries if e.target == f"subscription:{sub_id}" and "create" in e.action)
    assert created.details["kind"] == "email"
    assert created.details["host"] == "acme.example.com"  # the domain only
    assert TO not in str(created.details)


async def test_a_4xx_is_retried_with_the_same_message_id(api: Api, mailbox: Mailbox) -> None:
    acme = await api.tenant("acme")
    sub_id, secret = await subscribe(acme, ["audit.security"])
    mailbox.data[TO] = "451 4.3.0 Mailbox busy, try later"
    [event] = await acme.publish("audit.security")
    relay, sender = api.worker()
    await api.round(relay, sender)
    [pending] = await deliveries(acme, sub_id)
    assert pending["status"] == "pending"
    assert pending["attempts"] == 1
    assert pending["lastStatus"] == 451
    assert pending["lastError"] == "SMTP 451 4.3.0 Mailbox busy, try later"
    assert pending["nextAttemptAt"] is not None
    await api.round(relay, sender)
    assert len(mailbox.mails) == 1  # not before its retry time
    del mailbox.data[TO]
    api.clock.advance(seconds=6)  # past the first retry's cap (5 s)
    await api.round(relay, sender)
    one, two = mailbox.mails
    assert one["Message-ID"] == two["Message-ID"] == f"<{event}.{sub_id}@nsl.example.org>"
    assert one["webhook-id"] == two["webhook-id"] == event
    assert int(two["webhook-timestamp"]) > int(one["webhook-timestamp"])  # signed again at the retry
    documented_verify()(secret, dict(two.items()), body_of(two))
    [done] = await deliveries(acme, sub_id)
    assert (done["status"], done["attempts"], done["lastStatus"]) == ("delivered", 2, 250)


async def test_a_550_is_dead_lettered_at_once_and_replayed(api: Api, mailbox: Mailbox) -> None:
    acme = await api.tenant("acme")
    sub_id, _ = await subscribe(acme, ["audit.security"])
    mailbox.rcpt[TO] = "550 5.1.1 <ops@acme.example.com>: Recipient address rejected"
    [first] = await acme.publish("audit.security")
    relay, sender = api.worker()
    await api.round(relay, sender)
    [dead] = await deliveries(acme, sub_id, "?status=dead")
    assert str(dead["eventId"]) == first
    assert dead["attempts"] == 1
    assert dead["lastStatus"] == 550
    assert dead["lastError"] == "SMTP 550 5.1.1 <ops@acme.example.com>: Recipient address rejected"
    assert dead["finishedAt"] is not None
    assert mailbox.mails == []
    # a dead letter does not hold the later events; a replay sends it again
    del mailbox.rcpt[TO]
    [second] = await acme.publish("audit.security")
    await api.round(relay, sender)
    assert [m["webhook-id"] for m in mailbox.mails] == [second]
    assert (await acme.call("POST", f"/{sub_id}/deliveries/{first}/replay")).status_code == 202
    await api.round(relay, sender)
    assert [m["webhook-id"] for m in mailbox.mails] == [second, first]
    statuses = {str(d["eventId"]): d["status"] for d in await deliveries(acme, sub_id)}
    assert statuses == {first: "delivered", second: "delivered"}


async def test_a_4xx_recipient_answer_is_retried_and_a_down_server_too(api: Api, mailbox: Mailbox) -> None:
    acme = await api.tenant("acme")
    sub_id, _ = await subscribe(acme, ["audit.security"])
    mailbox.rcpt[TO] = "450 4.2.1 Mailbox temporarily unavailable"
    await acme.publish("audit.security")
    relay, sender = api.worker()
    await api.round(relay, sender)
    [pending] = await deliveries(acme, sub_id)
    assert (pending["status"], pending["lastStatus"]) == ("pending", 450)
    mailbox.rcpt[TO] = "550 5.7.1 unused"  # would dead-letter, but this worker's server is down:
    down = api.sender("w2", mailer=SmtpMailer("127.0.0.1", closed_port(), SENDER, tls="none"))
    api.clock.advance(seconds=6)
    await api.round(relay, down)
    [still] = await deliveries(acme, sub_id)
    assert still["status"] == "pending"  # no reply: retried, never dead at once
    assert still["attempts"] == 2
    assert still["lastStatus"] is None
    assert still["lastError"].startswith("connection failed")
    assert mailbox.mails == []


async def test_the_edge_checks_addresses_and_states_them(api: Api) -> None:
    acme = await api.tenant("acme")
    bad = [
        "no-at-sign",
        "two@@example.org",
        "nodot@localhost",
        "a b@example.org",
        "ops@example.org\r\nBcc: thief@example.net",
        "ops@-example.org",
        "ops@[127.0.0.1]",
        "x" * 65 + "@example.org",  # the local part's limit (the use case's check)
        "o@" + ".".join(["a" * 63] * 4) + ".org",  # 258 characters (each label within 63)
        "",
    ]
    for address in bad:
        answer = await acme.call(
            "POST",
            "",
            json={"name": "m", "source": {"types": ["*"]}, "channel": {"email": {"to": address}}},
        )
        assert answer.status_code == 422, (address, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert address not in answer.text or not address
    extra = await acme.call(
        "POST",
        "",
        json={"name": "m", "source": {"types": ["*"]}, "channel": {"email": {"to": TO, "cc": TO}}},
    )
    assert extra.status_code == 422
    assert (await acme.call("GET", "")).json()["subscriptions"] == []
    spec = (await api.client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    channel = schemas["SubscriptionIn"]["properties"]["channel"]
    assert {"$ref": "#/components/schemas/EmailChannelIn"} in channel["anyOf"]
    to = schemas["EmailIn"]["properties"]["to"]
    assert to["maxLength"] == 254
    assert to["pattern"].startswith("^")
    assert "no-smtp" in to["description"]
    assert schemas["ChannelOut"]["properties"]["kind"]["enum"] == ["webhook", "email", "stream"]
    responses = spec["paths"]["/api/v1/subscriptions"]["post"]["responses"]
    assert "422" in responses


async def test_without_smtp_an_email_channel_is_refused(
    subs_settings: Callable[..., Settings], clock: MovableClock
) -> None:
    app = create_app(subs_settings(), clock=clock)
    async with app_client(app) as client:
        tenant = await Api(app, client, clock).tenant("acme")
        answer = await tenant.call(
            "POST", "", json={"name": "m", "source": {"types": ["*"]}, "channel": {"email": {"to": TO}}}
        )
        assert answer.status_code == 422
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["type"].endswith("no-smtp")
        assert (await tenant.call("GET", "")).json()["subscriptions"] == []
