"""The ``kequn`` command line: one Typer app; each command group lives in its own module."""

from __future__ import annotations

from kequn.cli import commands as _commands  # noqa: F401  (registers the command groups)
from kequn.cli._app import app, main

__all__ = ["app", "main"]
