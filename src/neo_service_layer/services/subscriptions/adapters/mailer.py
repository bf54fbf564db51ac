"""Sends a subscription's mail through the operator's SMTP server (implements ``ports.Mailer``) with
``aiosmtplib``: one connection per attempt, TLS as ``NSL_SMTP_TLS`` says (``starttls``: the upgrade is
required, a server that does not offer it is never sent the mail; ``tls``: TLS from the start;
``none``: plain), certificates verified (the system's CA store, or ``NSL_SMTP_CA_FILE``), AUTH when
credentials are set, the whole attempt bounded by ``TIMEOUT_SECONDS``.

The body is the exact bytes the Standard Webhooks signatures cover, sent ``base64``-encoded so that no
relay can rewrap its lines or change its line endings: a receiver decodes the text/plain part and
verifies those bytes. The SMTP reply (code and text, never the credentials) is the attempt's result;
``rules.mail.is_permanent`` says which replies end the delivery at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.subscriptions.ports import Mail, Mailed
from neo_service_layer.services.subscriptions.rules.mail import Stage, is_permanent

log = get_logger("nsl.subscriptions")

#: one attempt's whole time (connect, TLS, AUTH, the envelope and the data)
TIMEOUT_SECONDS = 30.0
#: the server's reply text kept in the delivery's error
MAX_REPLY_CHARS = 200
QUIT_TIMEOUT_SECONDS = 2.0

TlsMode = Literal["starttls", "tls", "none"]


def _reply(code: int | None, text: str) -> str:
    shown = " ".join(text.split())[:MAX_REPLY_CHARS]
    return f"SMTP {code} {shown}".strip() if code is not None else shown


def _failed(stage: Stage, code: int | None, text: str) -> Mailed:
    return Mailed(code, _reply(code, text), is_permanent(stage, code))


def message(mail: Mail, sender: str) -> EmailMessage:
    """The mail as sent: From, To, the given headers, the body as text/plain (UTF-8, base64)."""
    built = EmailMessage()
    built["From"] = sender
    built["To"] = mail.to
    for name, value in mail.headers.items():
        built[name] = value
    built.set_content(mail.body, maintype="text", subtype="plain", cte="base64", params={"charset": "utf-8"})
    return built


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        tls: TlsMode = "starttls",
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._ca_file = ca_file
        self._host = host
        self._port = port
        self._sender = sender
        self._tls = tls
        self._username = username
        self._password = password
        self._timeout = timeout

    @property
    def sender(self) -> str:
        return self._sender

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            use_tls=self._tls == "tls",
            start_tls=self._tls == "starttls",
            validate_certs=True,
            cert_bundle=self._ca_file,
            username=self._username,
            password=self._password,
            timeout=self._timeout,
        )

    async def send(self, mail: Mail) -> Mailed:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._send(mail)
        except TimeoutError:
            return Mailed(None, f"no answer within {self._timeout:g} s")

    async def _send(self, mail: Mail) -> Mailed:
        client = self._client()
        try:
            await client.connect()  # closes the connection itself when it fails
        except aiosmtplib.SMTPResponseException as exc:  # a 4xx/5xx greeting, EHLO, STARTTLS or AUTH reply
            return _failed(Stage.SESSION, exc.code, exc.message)
        except aiosmtplib.SMTPTimeoutError:
            return Mailed(None, f"no answer within {self._timeout:g} s")
        except aiosmtplib.SMTPException as exc:  # refused, unreachable, no STARTTLS offered
            log.info("smtp server unreachable", host=self._host, error=type(exc).__name__)
            return Mailed(None, _reply(None, f"connection failed: {exc}"))
        except OSError as exc:  # TLS failed (certificate), network errors
            log.info("smtp server unreachable", host=self._host, error=type(exc).__name__)
            return Mailed(None, f"connection failed: {type(exc).__name__}")
        try:
            await client.sendmail(self._sender, [mail.to], message(mail, self._sender).as_bytes())
        except aiosmtplib.SMTPSenderRefused as exc:
            return _failed(Stage.SENDER, exc.code, exc.message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            return _failed(Stage.RECIPIENT, refused.code, refused.message)
        except aiosmtplib.SMTPDataError as exc:
            return _failed(Stage.DATA, exc.code, exc.message)
        except aiosmtplib.SMTPResponseException as exc:
            return _failed(Stage.SESSION, exc.code, exc.message)
        except aiosmtplib.SMTPTimeoutError:
            return Mailed(None, f"no answer within {self._timeout:g} s")
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Mailed(None, f"connection failed: {type(exc).__name__}")
        finally:
            if client.is_connected:
                await _quit(client)
        return Mailed(250, None)


async def _quit(client: aiosmtplib.SMTP) -> None:
    """A polite QUIT (bounded); its failure changes nothing: the connection is dropped anyway."""
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        await client.quit(timeout=QUIT_TIMEOUT_SECONDS)
    client.close()
