"""The e-mail channel's rules (addresses, subject, Message-ID, which SMTP answers are final), the mail a
delivery composes (signed over its exact body) and the SMTP settings."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from neo_service_layer.kernel.config import ConfigurationError, load_settings
from neo_service_layer.services.subscriptions.adapters.mailer import message
from neo_service_layer.services.subscriptions.ports import StoredEvent
from neo_service_layer.services.subscriptions.rules.mail import (
    MAX_ADDRESS_LENGTH,
    Stage,
    is_address,
    is_permanent,
    message_id,
    subject,
)
from neo_service_layer.services.subscriptions.rules.signing import InvalidSignature, new_secret, verify
from neo_service_layer.services.subscriptions.use_cases.deliver import event_json
from neo_service_layer.services.subscriptions.use_cases.mail import compose, mail_body

SUB = "sub_0123456789abcdef01234567"


@pytest.mark.parametrize(
    "address",
    [
        "ops@example.org",
        "first.last+tag@mail.example.co.uk",
        "o'brien_1@x-y.example",
        "a@b.cd",
        "x" * 64 + "@example.org",
        "o@" + ".".join(["a" * 63] * 3) + "." + "b" * 60,  # 254 characters
    ],
)
def test_addresses_sent_to(address: str) -> None:
    assert is_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "example.org",
        "@example.org",
        "ops@",
        "ops@localhost",  # no dot: not a domain name on the Internet
        "ops@@example.org",
        ".ops@example.org",
        "ops.@example.org",
        "o..ps@example.org",
        "ops@example..org",
        "ops@-example.org",
        "ops@example-.org",
        "ops@[127.0.0.1]",
        '"quoted"@example.org',
        "o ps@example.org",
        "ops@example.org\r\nBcc: thief@example.net",
        "ops@example.org\n",
        "x" * 65 + "@example.org",
        "o@" + ".".join(["a" * 63] * 3) + "." + "b" * 61,  # 255 characters
        "ops@" + "a" * 64 + ".org",  # a label over 63
        "opé@example.org",
    ],
)
def test_addresses_refused(address: str) -> None:
    assert not is_address(address)


def test_the_length_limit_is_rfc_5321s() -> None:
    assert MAX_ADDRESS_LENGTH == 254


def test_subject_and_a_message_id_that_every_attempt_shares() -> None:
    assert subject("audit.security", 42) == "[Neo Service Layer] audit.security #42"
    first = message_id(SUB, 42, "events@nsl.example.org")
    assert first == f"<42.{SUB}@nsl.example.org>"
    assert message_id(SUB, 42, "events@nsl.example.org") == first
    assert message_id(SUB, 43, "events@nsl.example.org") != first
    assert message_id("sub_" + "f" * 24, 42, "events@nsl.example.org") != first


@pytest.mark.parametrize(
    ("stage", "code", "permanent"),
    [
        (Stage.RECIPIENT, 550, True),
        (Stage.RECIPIENT, 553, True),
        (Stage.DATA, 554, True),
        (Stage.RECIPIENT, 450, False),
        (Stage.RECIPIENT, 452, False),
        (Stage.DATA, 451, False),
        (Stage.RECIPIENT, None, False),
        (Stage.CONNECT, None, False),
        (Stage.CONNECT, 554, False),  # the operator's server refused the session: fixable, retried
        (Stage.SESSION, 535, False),  # the operator's credentials
        (Stage.SENDER, 550, False),  # the operator's From address
        (Stage.DATA, 250, False),
    ],
)
def test_which_answers_end_a_delivery(stage: Stage, code: int | None, permanent: bool) -> None:
    assert is_permanent(stage, code) is permanent


def _event() -> StoredEvent:
    occurred = datetime(2026, 12, 3, 0, 12, 9, 123456, tzinfo=UTC)
    data = json.dumps({"jobId": "job_1", "reason": "gave up: HTTP 500 — ☃", "values": ["a" * 2000]})
    return StoredEvent(42, "automation.run.failed", occurred, data)


def test_the_body_is_the_webhook_json_pretty_printed() -> None:
    webhook = event_json(_event(), SUB)
    body = mail_body(webhook)
    assert json.loads(body) == json.loads(webhook)
    assert body.startswith(b'{\n  "id": 42,\n  "type": "automation.run.failed",')
    assert body.endswith(b"}\n")
    assert body.isascii()  # non-ASCII as \\u escapes


def test_a_composed_mail_verifies_after_transport() -> None:
    """Signed over the body bytes, which survive the MIME round trip exactly (base64), long lines and
    all; a second secret during a rotation signs too; the headers survive folding."""
    current, previous = new_secret(), new_secret()
    now = datetime(2026, 12, 3, 1, 0, 0, tzinfo=UTC)
    mail = compose(
        SUB, _event(), event_json(_event(), SUB), "ops@example.org", "nsl@x.example", [current, previous], now
    )
    assert mail.headers["Subject"] == "[Neo Service Layer] automation.run.failed #42"
    assert mail.headers["Message-ID"] == f"<42.{SUB}@x.example>"
    assert mail.headers["webhook-id"] == "42"
    assert mail.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert mail.headers["Date"] == "Thu, 03 Dec 2026 01:00:00 +0000"
    wire = message(mail, "nsl@x.example").as_bytes(policy=email.policy.SMTP)
    assert b"\r\n\r\n" in wire
    assert all(len(line) <= 998 for line in wire.split(b"\r\n"))
    received = email.message_from_bytes(wire, policy=email.policy.default)
    part = received.get_body(preferencelist=("plain",))
    assert part is not None
    body = part.get_payload(decode=True)
    assert body == mail.body
    headers = dict(received.items())
    for secret in (current, previous):
        verify(secret, headers, body, now=int(now.timestamp()))
    with pytest.raises(InvalidSignature):
        verify(new_secret(), headers, body, now=int(now.timestamp()))
    with pytest.raises(InvalidSignature):
        verify(current, headers, body + b" ", now=int(now.timestamp()))
    assert received["From"] == "nsl@x.example"
    assert received["To"] == "ops@example.org"


def _smtp(**values: object) -> dict[str, object]:
    return {"data_dir": Path("/tmp/nsl-unused"), "env": "test", **values}


def test_smtp_settings() -> None:
    off = load_settings(**_smtp())
    assert off.smtp_host is None
    assert off.smtp_port == 587
    assert off.smtp_tls == "starttls"
    on = load_settings(**_smtp(smtp_host="smtp.example.org", smtp_from="nsl@example.org"))
    assert on.smtp_host == "smtp.example.org"
    blank = load_settings(**_smtp(smtp_host=""))
    assert blank.smtp_host is None
    with pytest.raises(ConfigurationError, match="NSL_SMTP_FROM"):
        load_settings(**_smtp(smtp_host="smtp.example.org"))
    with pytest.raises(ConfigurationError, match="together"):
        load_settings(**_smtp(smtp_host="h.example.org", smtp_from="a@example.org", smtp_username="u"))
    with pytest.raises(ConfigurationError):
        load_settings(**_smtp(smtp_tls="ssl"))
    with pytest.raises(ConfigurationError):
        load_settings(**_smtp(smtp_host="h.example.org", smtp_from="not an address"))
    secret = load_settings(
        **_smtp(smtp_host="h.example.org", smtp_from="a@example.org", smtp_username="u", smtp_password="pw-1")
    )
    assert "pw-1" not in repr(secret)
    assert secret.masked()["smtp_password"] == "********"


def _production(**values: object) -> list[str]:
    settings = load_settings(**_smtp(env="production", **values))
    return [p for p in settings.production_problems() if "SMTP" in p]


def test_plain_smtp_in_production_only_to_loopback() -> None:
    base = {"smtp_from": "nsl@example.org", "smtp_tls": "none"}
    assert _production(smtp_host="smtp.example.org", **base) == [
        "NSL_SMTP_TLS=none in production is allowed for a loopback NSL_SMTP_HOST only"
    ]
    assert _production(smtp_host="10.0.0.5", **base) != []
    for loopback in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.53"):
        assert _production(smtp_host=loopback, **base) == []
    assert _production(smtp_host="smtp.example.org", smtp_from="nsl@example.org") == []  # starttls
    assert _production(smtp_host="smtp.example.org", smtp_from="nsl@example.org", smtp_tls="tls") == []
    # outside production plain SMTP is allowed anywhere
    dev = load_settings(**_smtp(smtp_host="smtp.example.org", smtp_from="a@example.org", smtp_tls="none"))
    assert dev.production_problems() == []
