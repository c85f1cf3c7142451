"""Registers every command group on the root app (imported once by :mod:`kequn.cli`)."""

from __future__ import annotations

from kequn.cli import (
    campaign,  # noqa: F401  campaign, automation, run, audit
    data,  # noqa: F401  load, status, quarantine, config
    demo,  # noqa: F401  demo
    engine,  # noqa: F401  engine use/export/show
    metrics,  # noqa: F401  metrics, report
    predict,  # noqa: F401  predict fit/show/customers
    segment,  # noqa: F401  segment list/show/create/count/members/...
    serve,  # noqa: F401  serve, token
)
