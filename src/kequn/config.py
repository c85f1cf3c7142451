"""Workspace settings: one pydantic model, stored in the workspace's ``kq_settings`` table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator

DEFAULT_WORKSPACE = "kequn.duckdb"
WORKSPACE_ENV = "KEQUN_WORKSPACE"


class Settings(BaseModel):
    """Per-shop settings. Every field has a default; a user changes them with ``kequn config``."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    time_zone: str = "UTC"
    """The shop's time zone: periods are its calendar days; times without a zone are in it."""
    unknown_customers: Literal["create", "quarantine"] = "create"
    """An order or event naming an unknown customer: add a bare customer, or quarantine it."""
    memory_limit: str | None = None
    """DuckDB memory limit for this workspace (e.g. '2GB'); None = DuckDB's default."""
    load_memory_limit: str | None = "512MB"
    """DuckDB memory limit while loading: loads stream, so a small cap keeps them lean."""
    small_cell_k: int | None = None
    """Suppress exported aggregate cells counting fewer than k customers (None = off)."""

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai"
            raise ValueError(msg) from None
        return value


def workspace_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The workspace file: the explicit path, else $KEQUN_WORKSPACE, else ./kequn.duckdb."""
    chosen = explicit or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE
    return Path(chosen)
