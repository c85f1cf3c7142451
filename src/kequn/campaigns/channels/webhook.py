"""Webhook: an HTTP POST per message, signed with HMAC-SHA256, retried with backoff.

The receiver checks ``X-Kequn-Signature: sha256=<hex>``, the HMAC-SHA256 of
``"<X-Kequn-Timestamp>." + body`` under the shared secret (see :func:`verify_signature`), and
de-duplicates by the ``Idempotency-Key`` header: that is what lets a retry after a timeout be
safe. 5xx, 429 and broken connections are retried with exponential backoff (honouring
Retry-After); other 4xx are permanent, and 410 Gone means the customer unsubscribed.

:class:`HttpPoster` is the retrying transport; the SMS adapter sends through it too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict

from kequn.campaigns.channels.base import Message
from kequn.campaigns.errors import ChannelError
from kequn.campaigns.settings import CampaignSettings

__all__ = ["HttpPoster", "Verdict", "WebhookChannel", "WebhookOptions", "sign",
           "verify_signature"]

Verdict = Literal["ok", "retry", "fail", "unsubscribe", "abort"]
SIGNATURE_HEADER = "X-Kequn-Signature"
TIMESTAMP_HEADER = "X-Kequn-Timestamp"
MAX_BACKOFF_S = 60.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver runs to check a request came from this workspace."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def status_verdict(response: httpx.Response) -> Verdict:
    """Classify a plain HTTP answer."""
    code = response.status_code
    if 200 <= code < 300:
        return "ok"
    if code == 410:
        return "unsubscribe"
    if code in (401, 403):
        return "abort"
    if code == 429 or code >= 500 or code == 408:
        return "retry"
    return "fail"


class HttpPoster:
    """POSTs with retries: exponential backoff from ``backoff_s``, at most ``max_attempts``.

    ``retry_uncertain`` says whether a request whose answer was lost (timeout, reset) may be
    sent again: yes for an idempotent receiver, no for one that would act twice.
    """

    def __init__(self, *, max_attempts: int, backoff_s: float, timeout_s: float,
                 retry_uncertain: bool, sleep: Callable[[float], None] = time.sleep) -> None:
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.retry_uncertain = retry_uncertain
        self.sleep = sleep
        self.attempts = 0  # total requests made, for reports and tests
        self._client = httpx.Client(timeout=timeout_s)

    def post(self, url: str, *, content: bytes, headers: Mapping[str, str],
             what: str, verdict: Callable[[httpx.Response], Verdict] = status_verdict,
             auth: tuple[str, str] | None = None) -> httpx.Response:
        """POST until the verdict is final; raise ChannelError unless it is 'ok'."""
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            self.attempts += 1
            wait = self.backoff_s * 2 ** (attempt - 1)
            try:
                response = self._client.post(url, content=content, headers=dict(headers),
                                             auth=auth)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last = f"cannot connect ({type(exc).__name__})"  # never reached: safe to retry
            except httpx.TransportError as exc:
                last = f"no answer ({type(exc).__name__})"
                if not self.retry_uncertain:
                    msg = f"{what}: {last}; it may have been delivered"
                    raise ChannelError(msg, in_doubt=True) from None
            else:
                outcome = verdict(response)
                if outcome == "ok":
                    return response
                last = f"HTTP {response.status_code}"
                if outcome == "unsubscribe":
                    msg = f"{what}: the receiver says the customer opted out ({last})"
                    raise ChannelError(msg, permanent=True, unsubscribe=True)
                if outcome == "abort":
                    msg = f"{what}: the receiver refused our credentials ({last})"
                    raise ChannelError(msg, abort=True)
                if outcome == "fail":
                    msg = f"{what}: the receiver rejected it ({last})"
                    raise ChannelError(msg, permanent=True)
                wait = max(wait, _retry_after(response))
            if attempt < self.max_attempts:
                self.sleep(min(wait, MAX_BACKOFF_S))
        msg = f"{what}: gave up after {self.max_attempts} attempts ({last})"
        raise ChannelError(msg)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", 0))
    except ValueError:
        return 0.0


class WebhookOptions(BaseModel):
    """Per-campaign webhook options."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    """Receiver URL (None: the webhook_url setting)."""
    contact: Literal["phone", "email"] | None = None
    """Also send this contact field (recipients without it are skipped)."""


class WebhookChannel:
    """POSTs each message as JSON to the shop's receiver."""

    name = "webhook"
    idempotent = True  # the receiver de-duplicates by Idempotency-Key (part of the contract)

    def __init__(self, settings: CampaignSettings, options: dict[str, object], *,
                 target: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = WebhookOptions(**options)
        self.url = self.options.url or settings.webhook_url
        if not self.url:
            msg = ("webhook channel needs a URL; set it with "
                   "'kequn campaign config webhook_url URL' or $KEQUN_WEBHOOK_URL")
            raise ChannelError(msg, abort=True)
        self._secret = settings.secret("webhook_secret")
        if not self._secret:
            msg = ("webhook channel needs a signing secret; set $KEQUN_WEBHOOK_SECRET or "
                   "'kequn campaign config webhook_secret ...'")
            raise ChannelError(msg, abort=True)
        self.contact_field: str | None = self.options.contact
        self.poster = HttpPoster(max_attempts=settings.webhook_max_attempts,
                                 backoff_s=settings.webhook_backoff_s,
                                 timeout_s=settings.webhook_timeout_s, retry_uncertain=True,
                                 sleep=sleep)

    def __repr__(self) -> str:  # never shows the secret
        return f"WebhookChannel(url={self.url!r})"

    def open(self) -> None:
        """Nothing to open: connections are pooled per request."""

    def deliver(self, message: Message) -> None:
        """POST the message; retries are inside the poster."""
        payload = {
            "idempotency_key": message.idem_key, "campaign_id": message.campaign_id,
            "customer_id": message.customer_id, "language": message.language,
            "subject": message.subject, "message": message.body,
            "coupon_code": message.coupon_code,
            "fields": {k: v for k, v in message.fields.items() if k != "name"},
        }
        if self.contact_field:
            payload[self.contact_field] = message.contact
        body = json.dumps(payload, ensure_ascii=False, default=str).encode()
        timestamp = str(int(time.time()))
        secret, url = self._secret or "", self.url or ""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": message.idem_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        self.poster.post(url, content=body, headers=headers,
                         what=f"webhook for {message.idem_key}")

    def close(self) -> None:
        """Close the connection pool."""
        self.poster.close()
