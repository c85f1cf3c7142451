"""Registers every command group on the root app (imported once by :func:`kequn.cli.main`)."""

from __future__ import annotations

from kequn.cli import data  # noqa: F401  load, status, quarantine, config
from kequn.cli import demo  # noqa: F401
