"""Email through an SMTP server (smtplib): one connection per send, one message per recipient.

Each message carries a ``Message-ID`` derived from its idempotency key, so a mail system that
de-duplicates by Message-ID would drop a resend; the send loop still never resends an in-doubt
email on its own. The server's answer decides the outcome: a 5xx reply for the recipient is
permanent, a 4xx reply is a failure that can be retried, a broken connection is in doubt.
"""

from __future__ import annotations

import base64
import hashlib
import smtplib
import ssl
from email.header import Header
from email.utils import formataddr, formatdate

from pydantic import BaseModel, ConfigDict

from kequn.campaigns.channels.base import Message
from kequn.campaigns.errors import ChannelError
from kequn.campaigns.settings import CampaignSettings

__all__ = ["EmailChannel", "EmailOptions", "compose"]


class EmailOptions(BaseModel):
    """Per-campaign overrides of the SMTP settings."""

    model_config = ConfigDict(extra="forbid")

    sender: str | None = None
    """From address (None: the smtp_from setting)."""


class EmailChannel:
    """Sends each message as a plain-text UTF-8 email."""

    name = "email"
    contact_field: str | None = "email"
    idempotent = False  # SMTP servers accept the same message twice

    def __init__(self, settings: CampaignSettings, options: dict[str, object], *,
                 target: str) -> None:
        self.options = EmailOptions(**options)
        if not settings.smtp_host:
            msg = ("email channel needs an SMTP server; set it with "
                   "'kequn campaign config smtp_host HOST' or $KEQUN_SMTP_HOST")
            raise ChannelError(msg, abort=True)
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.user = settings.smtp_user
        self._password = settings.secret("smtp_password")
        self.security = settings.smtp_security
        self.timeout = settings.smtp_timeout_s
        self.sender = self.options.sender or settings.smtp_from or self.user
        if not self.sender:
            msg = "email channel needs a From address; set smtp_from"
            raise ChannelError(msg, abort=True)
        self.sender_name = settings.shop_name
        self.unsubscribe_url = settings.unsubscribe_url
        self._smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:  # never shows the password
        return f"EmailChannel(host={self.host!r}, port={self.port}, user={self.user!r})"

    def open(self) -> None:
        """Connect, secure and log in."""
        self._smtp = self._connect()

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout,
                    context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self._password or "")
        except smtplib.SMTPAuthenticationError:
            msg = f"the SMTP server {self.host}:{self.port} rejected user {self.user!r}"
            raise ChannelError(msg, abort=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            msg = f"cannot connect to the SMTP server {self.host}:{self.port}: {exc}"
            raise ChannelError(msg, abort=True) from None
        return smtp

    def deliver(self, message: Message) -> None:
        """Send one email; the outcome follows the server's reply.

        The envelope (MAIL, RCPT) and the content (DATA) are sent as separate steps: a
        connection lost during the envelope is reconnected and tried once more (nothing
        was sent), one lost during DATA leaves the message in doubt.
        """
        if not message.contact:
            msg = f"customer {message.customer_id} has no email address"
            raise ChannelError(msg, permanent=True)
        try:
            data = compose(message, sender=self.sender, sender_name=self.sender_name,
                           unsubscribe_url=self.unsubscribe_url)
        except UnicodeEncodeError:
            msg = f"the email address of customer {message.customer_id} is not ASCII"
            raise ChannelError(msg, permanent=True) from None
        for attempt in (1, 2):
            stage = "envelope"
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                smtp = self._smtp
                self._envelope(smtp, message.contact)
                stage = "data"
                code, _ = smtp.data(data)
                if code != 250:
                    smtp.rset()
                    msg = f"the SMTP server answered {code} for {message.idem_key}"
                    raise ChannelError(msg, permanent=code >= 500)
                return
            except smtplib.SMTPResponseException as exc:
                self._after_refusal(exc.smtp_code)
                msg = f"the SMTP server answered {exc.smtp_code} for {message.idem_key}"
                raise ChannelError(msg, permanent=exc.smtp_code >= 500) from None
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self._drop()
                if stage == "envelope" and attempt == 1:
                    continue  # nothing left yet: reconnect and try once more
                msg = f"the SMTP connection broke while sending {message.idem_key}: {exc}"
                raise ChannelError(msg, in_doubt=stage == "data") from None
            except smtplib.SMTPException as exc:
                self._after_refusal(0)
                msg = f"the SMTP server did not take {message.idem_key}: {exc}"
                raise ChannelError(msg) from None

    def _envelope(self, smtp: smtplib.SMTP, to: str) -> None:
        smtp.ehlo_or_helo_if_needed()
        code, reply = smtp.mail(self.sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, self.sender)
        code, reply = smtp.rcpt(to)
        if code not in (250, 251):
            raise smtplib.SMTPResponseException(code, reply)

    def close(self) -> None:
        """Say goodbye to the server."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._smtp = None

    def _after_refusal(self, code: int) -> None:
        # 421: the server is closing the connection; otherwise the session is reusable
        if code == 421:
            self._drop()
            return
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None


def message_id(idem_key: str) -> str:
    """The Message-ID of the email for ``idem_key`` (the same on every attempt)."""
    return f"<{hashlib.sha256(idem_key.encode()).hexdigest()[:32]}@kequn>"


def compose(message: Message, *, sender: str, sender_name: str,
            unsubscribe_url: str | None = None) -> bytes:
    """The raw RFC 5322 email: UTF-8 headers (RFC 2047) and a base64 plain-text body.

    Built by hand rather than with ``email.message`` because this runs once per recipient
    and the library's generator is ten times slower.
    """
    headers = [
        ("From", formataddr((str(Header(sender_name, "utf-8")), sender))),
        ("To", message.contact or ""),
        ("Subject", Header(message.subject, "utf-8").encode()),
        ("Date", formatdate(localtime=False)),
        ("Message-ID", message_id(message.idem_key)),
        ("X-Kequn-Key", message.idem_key),
        ("MIME-Version", "1.0"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "base64"),
    ]
    if unsubscribe_url:
        headers.append(("List-Unsubscribe", f"<{unsubscribe_url}>"))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    body = base64.encodebytes(message.body.encode("utf-8")).replace(b"\n", b"\r\n")
    return head.encode("ascii") + b"\r\n" + body
