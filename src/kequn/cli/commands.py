"""Registers every command group on the root app (imported once by :mod:`kequn.cli`)."""

from __future__ import annotations

from kequn.cli import campaign  # noqa: F401  campaign, automation, run, audit
from kequn.cli import data  # noqa: F401  load, status, quarantine, config
from kequn.cli import demo  # noqa: F401  demo
from kequn.cli import metrics  # noqa: F401  metrics, report
from kequn.cli import predict  # noqa: F401  predict fit/show/customers
from kequn.cli import segment  # noqa: F401  segment list/show/create/count/members/...
