"""Delivery of the outbox: SMTP for email, a signed HTTP POST for webhooks, retried with backoff.

Every message is first written to the `outbox` table (so nothing is lost when SMTP or a customer's
endpoint is down) and then delivered by `OutboxSender`, a component running in every web process.
Rows are leased by compare-and-set, so several processes can run senders against one database.
Without SMTP_URL emails stay in the outbox (and in the log); webhooks are still delivered.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from app.errors import ConfigError
from app.services.ops_tasks import BackgroundLoop
from app.settings import Settings
from app.storage import ops_alerts, ops_outbox
from app.storage.engine import Database
from app.storage.ops_outbox import NewMessage, OutboxMessage

log = logging.getLogger(__name__)

# Seconds to wait after the n-th failed attempt; past the end of the table the message is given up.
BACKOFF = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600)
LEASE_SECONDS = 120
SMTP_TIMEOUT = 15.0
WEBHOOK_TIMEOUT = 10.0
SIGNATURE_HEADER = "X-Tracebin-Signature"
TIMESTAMP_HEADER = "X-Tracebin-Timestamp"


def retry_delay(attempts: int) -> int | None:
    """Seconds before the next try after `attempts` failed ones; None means give up."""
    return BACKOFF[attempts - 1] if 1 <= attempts <= len(BACKOFF) else None


def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value: HMAC-SHA256 over "<timestamp>.<body>" (the timestamp stops replays)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    tls: str  # "none" | "starttls" | "ssl"
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """smtp://[user:pass@]host[:25], smtp+starttls://...[:587] or smtps://...[:465]."""
    parts = urlsplit(url)
    modes = {"smtp": ("none", 25), "smtp+starttls": ("starttls", 587), "smtps": ("ssl", 465)}
    if parts.scheme not in modes or not parts.hostname:
        raise ConfigError("SMTP_URL must look like smtp://user:pass@host:port (or smtp+starttls://, smtps://)")
    tls, default_port = modes[parts.scheme]
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or default_port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def build_email(settings: Settings, message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=settings.public_host.split(":")[0] or None)
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.body)
    return email


def _send_smtp(target: SmtpTarget, email: EmailMessage) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if target.tls == "ssl":
        smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT, context=context)
    else:
        smtp = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
    with smtp:
        if target.tls == "starttls":
            smtp.starttls(context=context)
        if target.username:
            smtp.login(target.username, target.password or "")
        smtp.send_message(email)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A webhook is delivered to the URL the customer configured, never to where it points us next.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _check_public(host: str, port: int) -> None:
    """Refuse hosts that resolve to loopback, private, link-local or reserved addresses (SSRF)."""
    for *_, address in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP):
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global or ip.is_multicast:
            raise ValueError(f"webhook host {host} resolves to a non-public address")


def _post_webhook(url: str, body: bytes, headers: dict[str, str], allow_private: bool) -> int:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("webhook URLs must be http or https")
    if not allow_private:
        _check_public(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    with _opener.open(request, timeout=WEBHOOK_TIMEOUT) as response:
        return int(response.status)


async def enqueue(db: Database, settings: Settings, messages: Sequence[NewMessage], *, now: int | None = None) -> None:
    """Write messages to the outbox (a sender delivers them; without SMTP_URL emails wait there)."""
    await ops_outbox.enqueue(db, messages=list(messages), now=int(time.time()) if now is None else now)
    if settings.smtp_url is None:
        for m in messages:
            if m.channel == "email":
                log.info(
                    "mail kept in the outbox (no SMTP_URL): to=%s kind=%s subject=%r", m.recipient, m.kind, m.subject
                )


class OutboxSender(BackgroundLoop):
    """The component that drains the outbox; `wake()` makes it look at once after an enqueue."""

    name = "outbox-sender"

    def __init__(self, settings: Settings, db: Database, *, poll_interval: float = 5.0, batch: int = 20) -> None:
        super().__init__(interval=poll_interval)
        self.settings = settings
        self.db = db
        self.batch = batch
        self._smtp = parse_smtp_url(settings.smtp_url) if settings.smtp_url else None

    @property
    def channels(self) -> tuple[str, ...]:
        return ("email", "webhook") if self._smtp else ("webhook",)

    async def tick(self) -> None:
        while await self.run_once() == self.batch and not self.stopping:
            pass

    async def run_once(self, *, now: int | None = None) -> int:
        """Lease and deliver the messages due now; returns how many were leased."""
        now = int(time.time()) if now is None else now
        leased = await ops_outbox.lease_due(
            self.db, now=now, channels=self.channels, lease_seconds=LEASE_SECONDS, limit=self.batch
        )
        # Recipients in parallel, each one's messages in order (a "Resolved" never after its "Post-mortem").
        by_recipient: dict[str, list[OutboxMessage]] = {}
        for message in leased:
            by_recipient.setdefault(message.recipient, []).append(message)
        await asyncio.gather(*(self._deliver_in_order(messages) for messages in by_recipient.values()))
        return len(leased)

    async def _deliver_in_order(self, messages: list[OutboxMessage]) -> None:
        for message in messages:
            await self._deliver(message)

    async def _deliver(self, message: OutboxMessage) -> None:
        try:
            if message.channel == "email":
                assert self._smtp is not None
                await asyncio.to_thread(_send_smtp, self._smtp, build_email(self.settings, message))
            else:
                await self._deliver_webhook(message)
        except Exception as exc:
            attempts = message.attempts + 1
            delay = retry_delay(attempts)
            retry_at = None if delay is None else int(time.time()) + delay
            log.warning(
                "outbox: %s #%d to %s failed (attempt %d): %s",
                message.channel,
                message.id,
                message.recipient,
                attempts,
                exc,
            )
            await ops_outbox.mark_failed_attempt(
                self.db, message_id=message.id, error=str(exc) or repr(exc), retry_at=retry_at
            )
            return
        await ops_outbox.mark_sent(self.db, message_id=message.id, now=int(time.time()))

    async def _deliver_webhook(self, message: OutboxMessage) -> None:
        # Signed at delivery time: a retry carries a fresh timestamp and the resource's current secret.
        secret = ""
        if message.resource_id is not None:
            found = await ops_alerts.get_settings(self.db, resource_id=message.resource_id)
            secret = found.webhook_secret if found else ""
        if not secret:
            raise ValueError("no webhook secret configured")
        body = message.body.encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Tracebin-Webhooks/1",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign_webhook(secret, timestamp, body),
            "X-Tracebin-Delivery": str(message.id),
            **message.headers,
        }
        allow_private = self.settings.webhook_allow_private
        status = await asyncio.to_thread(_post_webhook, message.recipient, body, headers, allow_private)
        if not 200 <= status < 300:
            raise ValueError(f"webhook answered HTTP {status}")
