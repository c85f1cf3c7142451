"""Campaign settings: frequency cap, quiet hours, measurement defaults and channel credentials.

Stored per workspace under keys prefixed ``campaign.`` (see :data:`SETTINGS_TABLE`); any field
can be overridden by an environment variable ``KEQUN_<FIELD>`` (e.g. ``KEQUN_SMTP_PASSWORD``),
which is where credentials are best kept. Secrets are :class:`pydantic.SecretStr`, so they never
print; :func:`public_settings` is what the CLI shows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from kequn.campaigns.errors import CampaignError
from kequn.campaigns.store import ensure_campaign_tables, to_json

if TYPE_CHECKING:
    from kequn.workspace import Workspace

__all__ = [
    "PREFIX", "SETTINGS_TABLE", "CampaignSettings", "public_settings", "read_settings",
    "write_settings",
]

PREFIX = "campaign."
SETTINGS_TABLE = "kq_campaign_settings"
ENV_PREFIX = "KEQUN_"


class CampaignSettings(BaseModel):
    """Workspace-wide rules every send follows, and where each channel sends to."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    shop_name: str = "本店"
    """Shop name used in message templates as ``{shop}``."""
    default_language: Literal["zh", "en"] = "zh"
    """Message language when a customer has no ``language`` attribute."""
    frequency_cap: int | None = Field(default=2, ge=1)
    """Most messages one customer receives across all campaigns per window; None = no cap."""
    frequency_days: int = Field(default=7, ge=1)
    """The frequency cap's window in days (default: 2 a week)."""
    quiet_hours: str | None = "21:00-09:00"
    """Shop-time hours when nothing is sent (sends wait), 'HH:MM-HH:MM'; None = always send."""
    attribution_days: int = Field(default=14, ge=1)
    """Days after a customer entered a campaign during which their orders count for it."""
    margin_rate: float = Field(default=0.3, ge=0, le=1)
    """Gross margin as a share of paid amount, for incremental margin and ROI."""
    message_cost: dict[str, float] = Field(
        default_factory=lambda: {"sms": 0.045, "email": 0.0, "webhook": 0.0, "export": 0.0})
    """Cost of one delivered message per channel (SMS is billed per message)."""
    export_dir: str = "kequn-exports"
    """Directory the list-export channel writes to (relative: beside the workspace file)."""

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_timeout_s: float = 30.0
    unsubscribe_url: str | None = None
    """Link (https: or mailto:) put in each email's List-Unsubscribe header."""

    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_max_attempts: int = Field(default=5, ge=1)
    webhook_backoff_s: float = Field(default=0.5, ge=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)

    sms_provider: Literal["aliyun"] = "aliyun"
    sms_url: str = "https://dysmsapi.aliyuncs.com/"
    sms_access_key_id: str | None = None
    sms_access_key_secret: SecretStr | None = None
    sms_sign_name: str | None = None
    sms_template_code: str | None = None
    sms_region: str = "cn-hangzhou"

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours_format(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in {"", "none", "off"}:
            return None
        parse_quiet_hours(value)
        return value.strip()

    def quiet_window(self) -> tuple[dt.time, dt.time] | None:
        """The quiet hours as (start, end) times, or None when sends are never held."""
        return None if self.quiet_hours is None else parse_quiet_hours(self.quiet_hours)

    def secret(self, name: str) -> str | None:
        """The plain value of a secret field, for the channel that needs it."""
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else value


def parse_quiet_hours(text: str) -> tuple[dt.time, dt.time]:
    """'21:00-09:00' → (21:00, 09:00); the window may wrap midnight."""
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        msg = f"quiet hours {text!r} are not 'HH:MM-HH:MM'; use e.g. '21:00-09:00' or 'off'"
        raise ValueError(msg) from None
    return start, end


def _fields() -> dict[str, Any]:
    return CampaignSettings.model_fields


def read_settings(ws: Workspace) -> CampaignSettings:
    """The workspace's campaign settings, with ``KEQUN_<FIELD>`` environment overrides."""
    ensure_campaign_tables(ws.con)
    rows = ws.raw.execute(
        f"SELECT key, value FROM {SETTINGS_TABLE} WHERE starts_with(key, ?)", [PREFIX]
    ).fetchall()
    values: dict[str, Any] = {}
    for key, value in rows:
        name = key.removeprefix(PREFIX)
        if name in _fields():
            values[name] = json.loads(value)
    for name in _fields():
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env is not None:
            values[name] = _env_value(env)
    try:
        return CampaignSettings(**values)
    except ValidationError as exc:
        raise CampaignError(_one_line(exc)) from None


def _env_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def write_settings(ws: Workspace, **changes: Any) -> CampaignSettings:
    """Validate and store campaign settings (``None`` restores a field's default).

    Returns the settings as now stored (environment overrides still apply when read).
    """
    unknown = [k for k in changes if k not in _fields()]
    if unknown:
        msg = (f"unknown campaign setting {unknown[0]!r}; choose one of "
               f"{', '.join(_fields())}")
        raise CampaignError(msg)
    ensure_campaign_tables(ws.con)
    current = read_settings(ws).model_dump()
    current.update(changes)
    try:
        updated = CampaignSettings(**{k: v for k, v in current.items() if v is not None})
    except ValidationError as exc:
        raise CampaignError(_one_line(exc)) from None
    with ws.transaction() as raw:
        for key, value in changes.items():
            raw.execute(f"DELETE FROM {SETTINGS_TABLE} WHERE key = ?", [PREFIX + key])
            if value is not None:
                stored = getattr(updated, key)
                if isinstance(stored, SecretStr):
                    stored = stored.get_secret_value()
                raw.execute(f"INSERT INTO {SETTINGS_TABLE} VALUES (?, ?)",
                            [PREFIX + key, to_json(stored)])
    return read_settings(ws)


def public_settings(settings: CampaignSettings) -> dict[str, Any]:
    """Settings safe to print: every secret shown as '***' (set) or None (not set)."""
    out = settings.model_dump(mode="json")
    for name, value in settings:
        if isinstance(value, SecretStr):
            out[name] = "***"
    return out


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "value"
    return f"campaign setting {where}: {err['msg'].lower()}"
