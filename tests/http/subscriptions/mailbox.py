"""A real SMTP server (``aiosmtpd``) on 127.0.0.1, in the test's event loop, that keeps every mail it is
given and answers as the test says: a reply per recipient to ``RCPT TO`` (``rcpt``), a reply per
recipient to ``DATA`` after it kept the mail (``data``: a 4xx there makes the client try again with
the same message), AUTH checked against ``credentials`` when set, and TLS when given a context
(STARTTLS, or TLS from the first byte); ``tls`` says which mails came over TLS."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Mailbox:
    port: int = 0
    #: every mail whose DATA the server read (accepted or not), parsed
    mails: list[EmailMessage] = field(default_factory=list)
    #: every envelope sender and recipients, in order
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    rcpt: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    credentials: tuple[str, str] | None = None
    #: the AUTH attempts as (login, whether it succeeded)
    logins: list[tuple[str, bool]] = field(default_factory=list)
    #: whether each mail in ``mails`` came over TLS
    tls: list[bool] = field(default_factory=list)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mails if m["To"] == address]

    # aiosmtpd handler hooks ---------------------------------------------------------------

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(parsed)
        transport = server.transport
        self.tls.append(transport is not None and transport.get_extra_info("ssl_object") is not None)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        for address in envelope.rcpt_tos:
            if address in self.data:
                return self.data[address]
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.credentials is None:
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        ok = (login, password) == self.credentials
        self.logins.append((login, ok))
        return AuthResult(success=ok, handled=False)


async def serve(
    mailbox: Mailbox, *, tls: ssl.SSLContext | None = None, implicit_tls: bool = False
) -> AsyncIterator[Mailbox]:
    """Serve ``mailbox`` on a free loopback port until the generator is closed; with ``tls``, offering
    STARTTLS, or TLS from the first byte (``implicit_tls``)."""
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(
            mailbox,
            hostname="localhost",
            loop=loop,
            authenticator=mailbox.authenticate,
            auth_require_tls=False,  # loopback only, in a test
            tls_context=None if implicit_tls else tls,
        )

    server = await loop.create_server(protocol, "127.0.0.1", 0, ssl=tls if implicit_tls else None)
    mailbox.port = server.sockets[0].getsockname()[1]
    try:
        yield mailbox
    finally:
        server.close()
        server.close_clients()
        await server.wait_closed()
