"""``SmtpMailer`` against real servers on 127.0.0.1: AUTH (a wrong password is retried and never shown),
STARTTLS required (a server that does not offer it never gets the mail), a refused connection and a
server that never answers (both retried), TLS (STARTTLS and from the first byte) checked against the
operator's CA file, and the SMTP replies it reports."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from neo_service_layer.services.subscriptions.adapters.mailer import SmtpMailer
from neo_service_layer.services.subscriptions.ports import Mail
from tests.http.subscriptions.mailbox import Mailbox, serve
from tests.http.tlscerts import self_signed

SENDER = "events@nsl.example.org"
TO = "ops@acme.example.com"
MAIL = Mail(TO, {"Subject": "[Neo Service Layer] audit.security #1", "webhook-id": "1"}, b'{\n  "id": 1\n}\n')


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    async for box in serve(Mailbox()):
        yield box


def plain(port: int, **kwargs: str) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", port, SENDER, tls="none", **kwargs)  # type: ignore[arg-type]


async def test_accepted_and_the_replies_reported(mailbox: Mailbox) -> None:
    mailer = plain(mailbox.port)
    assert mailer.sender == SENDER
    sent = await mailer.send(MAIL)
    assert (sent.code, sent.error, sent.permanent, sent.accepted) == (250, None, False, True)
    [mail] = mailbox.mails
    assert mail["webhook-id"] == "1"
    mailbox.rcpt[TO] = "552 5.2.2 Mailbox full"
    full = await mailer.send(MAIL)
    assert (full.code, full.error, full.permanent) == (552, "SMTP 552 5.2.2 Mailbox full", True)
    mailbox.rcpt[TO] = "452 4.2.2 Over quota, try later"
    later = await mailer.send(MAIL)
    assert (later.code, later.permanent) == (452, False)
    del mailbox.rcpt[TO]
    mailbox.data[TO] = "554 5.6.0 Message rejected"
    rejected = await mailer.send(MAIL)
    assert (rejected.code, rejected.permanent) == (554, True)
    assert len(mailbox.mails) == 2  # the server read the second DATA, then refused it


async def test_auth_and_a_wrong_password_never_shown(mailbox: Mailbox) -> None:
    mailbox.credentials = ("nsl", "right-password-1")
    wrong = await plain(mailbox.port, username="nsl", password="wrong-password-2").send(MAIL)
    assert wrong.code == 535
    assert not wrong.permanent  # the operator's credentials: retried, not the tenant's dead letter
    assert wrong.error is not None
    assert "wrong-password-2" not in wrong.error
    assert mailbox.mails == []
    ok = await plain(mailbox.port, username="nsl", password="right-password-1").send(MAIL)
    assert ok.accepted
    assert mailbox.logins[-1] == ("nsl", True)
    assert not any(ok for _, ok in mailbox.logins[:-1])  # the wrong password (tried per mechanism)
    assert len(mailbox.mails) == 1


async def test_starttls_required_is_never_skipped(mailbox: Mailbox) -> None:
    """The server here offers no STARTTLS: the mail is not sent in the clear, the attempt is retried."""
    sent = await SmtpMailer("127.0.0.1", mailbox.port, SENDER, tls="starttls").send(MAIL)
    assert sent.code is None
    assert not sent.permanent
    assert sent.error is not None
    assert "STARTTLS" in sent.error
    assert mailbox.mails == []
    assert mailbox.envelopes == []


async def test_refused_and_silent_servers_are_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed: int = probe.getsockname()[1]
    refused = await plain(closed).send(MAIL)
    assert (refused.code, refused.permanent) == (None, False)
    assert refused.error is not None
    assert refused.error.startswith("connection failed")

    release = asyncio.Event()
    connected = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        await release.wait()  # never greets
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        mute = SmtpMailer("127.0.0.1", port, SENDER, tls="none", timeout=0.5)
        sent = await mute.send(MAIL)
        assert connected.is_set()
        assert (sent.code, sent.permanent) == (None, False)
        assert sent.error == "no answer within 0.5 s"
    finally:
        release.set()
        server.close()
        server.close_clients()
        await server.wait_closed()


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_tls_with_the_operators_ca_and_never_to_an_unverified_server(mode: str, tmp_path: Path) -> None:
    """STARTTLS (upgraded before anything of the mail is sent) and TLS from the first byte, each checked
    against the operator's CA file; without it (the system's CAs) the server's certificate is refused
    and nothing is sent."""
    cert, key = self_signed(tmp_path)
    async for box in serve(Mailbox(), tls=_server_context(cert, key), implicit_tls=mode == "tls"):
        trusted = SmtpMailer("127.0.0.1", box.port, SENDER, tls=mode, ca_file=str(cert))  # type: ignore[arg-type]
        sent = await trusted.send(MAIL)
        assert sent.accepted, sent.error
        assert box.tls == [True]
        untrusted = SmtpMailer("127.0.0.1", box.port, SENDER, tls=mode)  # type: ignore[arg-type]
        refused = await untrusted.send(MAIL)
        assert (refused.code, refused.permanent) == (None, False)
        assert refused.error is not None
        assert refused.error.startswith("connection failed")
        assert "cert" in refused.error.lower()  # the certificate check, not something else
        assert len(box.mails) == 1
