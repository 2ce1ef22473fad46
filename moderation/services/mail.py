"""Sending mail: through the SMTP server MODERATION_SMTP_URL names, or, without one, into
the log (so that a local install works with nothing configured).

``smtp://host:port`` (plain; 25 by default), ``smtps://host:port`` (TLS from the first
byte; 465) and ``smtp+starttls://host:port`` (STARTTLS; 587). A user and password come
from the URL (``smtp+starttls://user:secret@host``, percent-encoded) or from
MODERATION_SMTP_USER / MODERATION_SMTP_PASSWORD."""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from moderation.services.deliveries import Outcome
from moderation.services.errors import Invalid

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    user: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never the password, in a log or a traceback
        who = f"{self.user}@" if self.user else ""
        return f"SmtpServer({self.scheme}://{who}{self.host}:{self.port})"


def parse_smtp_url(url: str, user: str | None = None, password: str | None = None) -> SmtpServer:
    """The server ``url`` names; ``user``/``password`` apply when the URL has none.
    Raises Invalid for another scheme or a URL without a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise Invalid(f"not an SMTP URL: {exc}", field="SMTP_URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise Invalid(
            "must be smtp://host:port, smtps://host:port or smtp+starttls://host:port",
            field="SMTP_URL",
        )
    return SmtpServer(
        scheme=scheme,
        host=parts.hostname,
        port=port or DEFAULT_PORTS[scheme],
        user=unquote(parts.username) if parts.username else user or None,
        password=unquote(parts.password) if parts.password is not None else password or None,
    )


def send_smtp(server: SmtpServer, message: EmailMessage, timeout: float = TIMEOUT_SECONDS) -> None:
    """Hand ``message`` to ``server``; raises smtplib.SMTPException or OSError."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if server.scheme == "smtps":
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=timeout)
    with client:
        if server.scheme == "smtp+starttls":
            client.starttls(context=context)
        if server.user:
            client.login(server.user, server.password or "")
        client.send_message(message)


@dataclass(frozen=True)
class Mailer:
    """Where mail goes: ``server``, or the log when it is None."""

    server: SmtpServer | None
    sender: str = "moderation@localhost"
    timeout: float = TIMEOUT_SECONDS

    def send(self, message: EmailMessage) -> Outcome:
        """Send (or log) ``message``; an Outcome, never an exception."""
        if "From" not in message:
            message["From"] = self.sender
        started = time.perf_counter()
        if self.server is None:
            log.info(
                "mail not sent (no MODERATION_SMTP_URL): to %s, subject %r\n%s",
                message["To"],
                message["Subject"],
                _text_part(message),
            )
            return Outcome(True, None, None, 0.0)
        try:
            send_smtp(self.server, message, self.timeout)
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            return Outcome(False, exc.smtp_code, f"{exc.smtp_code} {text}"[:500], _ms(started))
        except smtplib.SMTPRecipientsRefused as exc:
            refused = "; ".join(f"{who}: {code}" for who, (code, _) in exc.recipients.items())
            return Outcome(False, None, f"recipients refused: {refused}"[:500], _ms(started))
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))
        return Outcome(True, 250, None, _ms(started))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def mailer_from_config(config: Mapping[str, Any]) -> Mailer:
    """The Mailer the app's settings describe (SMTP_URL, SMTP_USER, SMTP_PASSWORD,
    SMTP_TIMEOUT_SECONDS, MAIL_FROM). Raises Invalid for a bad SMTP_URL."""
    url = config.get("SMTP_URL")
    server = (
        parse_smtp_url(str(url), config.get("SMTP_USER"), config.get("SMTP_PASSWORD"))
        if url
        else None
    )
    return Mailer(
        server=server,
        sender=str(config.get("MAIL_FROM") or "moderation@localhost"),
        timeout=float(config.get("SMTP_TIMEOUT_SECONDS") or TIMEOUT_SECONDS),
    )
