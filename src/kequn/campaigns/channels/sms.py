"""SMS through a provider's HTTP API, sent by the webhook adapter's retrying poster.

Chinese SMS providers send pre-approved templates, not free text: the request names a sign
(签名) and a template code and passes the fields as JSON. The built-in provider format is
Alibaba Cloud SMS (Dysmsapi ``SendSms``, RPC style, HMAC-SHA1 signed); another provider is a
new :class:`ProviderFormat` in :data:`PROVIDERS`. Seed 001 warns that SMS gets blocked often:
only connection failures and throttling are retried, never a request whose answer was lost.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, ConfigDict

from kequn.campaigns.channels.base import Message
from kequn.campaigns.channels.webhook import HttpPoster, Verdict
from kequn.campaigns.errors import ChannelError
from kequn.campaigns.settings import CampaignSettings

__all__ = ["PROVIDERS", "ProviderFormat", "SmsChannel", "SmsOptions", "aliyun_signature"]

TEMPLATE_PARAMS = ("name", "shop", "coupon", "code", "deadline", "points", "order_id",
                   "amount")


@dataclass(frozen=True)
class ProviderFormat:
    """How one provider wants a message: form fields in, a verdict out."""

    build: Callable[[CampaignSettings, Message], dict[str, str]]
    verdict: Callable[[httpx.Response], Verdict]
    required: tuple[str, ...]


def _percent(text: str) -> str:
    return quote(text, safe="~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    """Alibaba Cloud RPC signature v1: HMAC-SHA1 of the canonical query, base64."""
    canonical = "&".join(f"{_percent(k)}={_percent(params[k])}" for k in sorted(params))
    to_sign = f"{method}&{_percent('/')}&{_percent(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _aliyun_build(settings: CampaignSettings, message: Message) -> dict[str, str]:
    template_param = {k: str(message.fields[k]) for k in TEMPLATE_PARAMS
                      if message.fields.get(k) not in (None, "")}
    params = {
        "AccessKeyId": settings.sms_access_key_id or "",
        "Action": "SendSms",
        "Format": "JSON",
        "RegionId": settings.sms_region,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "Timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": "2017-05-25",
        "PhoneNumbers": message.contact or "",
        "SignName": settings.sms_sign_name or "",
        "TemplateCode": settings.sms_template_code or "",
        "TemplateParam": json.dumps(template_param, ensure_ascii=False),
        "OutId": message.idem_key[:64],
    }
    params["Signature"] = aliyun_signature(params, settings.secret("sms_access_key_secret") or "")
    return params


# Dysmsapi answer codes: throttling is retried; quota and account problems stop the send.
_ALIYUN_RETRY = {"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR"}
_ALIYUN_ABORT = {"isv.DAY_LIMIT_CONTROL", "isv.MONTH_LIMIT_CONTROL", "isv.OUT_OF_SERVICE",
                 "isv.ACCOUNT_NOT_EXISTS", "isv.ACCOUNT_ABNORMAL", "isp.RAM_PERMISSION_DENY",
                 "isv.PRODUCT_UN_SUBSCRIPT", "InvalidAccessKeyId.NotFound",
                 "SignatureDoesNotMatch", "isv.SMS_SIGN_ILLEGAL",
                 "isv.SMS_TEMPLATE_ILLEGAL"}
_ALIYUN_UNSUBSCRIBED = {"isv.BLACK_KEY_CONTROL_LIMIT"}  # 黑名单管控: the number refuses us


def _aliyun_verdict(response: httpx.Response) -> Verdict:
    try:
        code = str(response.json().get("Code", ""))
    except ValueError:
        return "retry" if response.status_code >= 500 else "fail"
    if code == "OK":
        return "ok"
    if code in _ALIYUN_RETRY or response.status_code >= 500:
        return "retry"
    if code in _ALIYUN_ABORT:
        return "abort"
    if code in _ALIYUN_UNSUBSCRIBED:
        return "unsubscribe"
    return "fail"


PROVIDERS: dict[str, ProviderFormat] = {
    "aliyun": ProviderFormat(
        build=_aliyun_build, verdict=_aliyun_verdict,
        required=("sms_access_key_id", "sms_access_key_secret", "sms_sign_name",
                  "sms_template_code"),
    ),
}


class SmsOptions(BaseModel):
    """Per-campaign SMS options."""

    model_config = ConfigDict(extra="forbid")

    template_code: str | None = None
    """The provider template to use (None: the sms_template_code setting)."""


class SmsChannel:
    """One provider request per message, to the recipient's phone."""

    name = "sms"
    contact_field: str | None = "phone"
    idempotent = False  # providers bill and deliver every request

    def __init__(self, settings: CampaignSettings, options: dict[str, object], *,
                 target: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = SmsOptions(**options)
        if self.options.template_code:
            settings = settings.model_copy(update={"sms_template_code":
                                                   self.options.template_code})
        self.provider = PROVIDERS[settings.sms_provider]
        missing = [f for f in self.provider.required if not getattr(settings, f)]
        if missing:
            msg = (f"sms channel ({settings.sms_provider}) needs {', '.join(missing)}; set them "
                   f"with 'kequn campaign config' or $KEQUN_{missing[0].upper()}")
            raise ChannelError(msg, abort=True)
        self.settings = settings
        self.url = settings.sms_url
        self.poster = HttpPoster(max_attempts=settings.webhook_max_attempts,
                                 backoff_s=settings.webhook_backoff_s,
                                 timeout_s=settings.webhook_timeout_s, retry_uncertain=False,
                                 sleep=sleep)

    def __repr__(self) -> str:
        return f"SmsChannel(provider={self.settings.sms_provider!r}, url={self.url!r})"

    def open(self) -> None:
        """Nothing to open."""

    def deliver(self, message: Message) -> None:
        """Send one provider request for ``message``."""
        if not message.contact:
            msg = f"customer {message.customer_id} has no phone number"
            raise ChannelError(msg, permanent=True)
        form: dict[str, Any] = self.provider.build(self.settings, message)
        self.poster.post(self.url, content=urlencode(form).encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded"},
                         what=f"sms for {message.idem_key}", verdict=self.provider.verdict)

    def close(self) -> None:
        """Close the connection pool."""
        self.poster.close()
